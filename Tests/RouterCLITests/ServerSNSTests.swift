import Foundation
import RouterJSON
import RouterTestSupport
import XCTest

/// `router serve` accepting genuinely signed SNS HTTPS messages: a notification (SignatureVersion 2) is verified and
/// its finding queued and delivered; a subscription confirmation (SignatureVersion 1) is verified and confirmed by
/// fetching its SubscribeURL. The certificate is made and served on loopback by the test (Tests/SNS/), the messages
/// signed with PyPI `cryptography` (in the test venv with moto).
final class ServerSNSTests: XCTestCase {
    var fake: FakeSlackServer!
    var endpoint: Process?
    var endpointInput = Pipe()
    var dir: URL!
    var data: URL!

    override func setUpWithError() throws {
        fake = try FakeSlackServer()
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("router-sns-\(UUID().uuidString)")
        data = dir.appendingPathComponent("data")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }

    override func tearDown() {
        fake?.stop()
        try? endpointInput.fileHandleForWriting.close()
        endpoint?.stop(grace: 2)
        if let dir { try? FileManager.default.removeItem(at: dir) }
    }

    func python() throws -> String {
        let env = ProcessInfo.processInfo.environment
        if let p = env["ROUTER_TEST_PYTHON"], FileManager.default.isExecutableFile(atPath: p) {
            let check = Process()
            check.executableURL = URL(fileURLWithPath: p)
            check.arguments = ["-c", "import cryptography"]
            try check.run()
            check.waitUntilExit()
            if check.terminationStatus == 0 { return p }
        }
        if env["CI"] == "true" { XCTFail("ROUTER_TEST_PYTHON with PyPI cryptography is required (scripts/test.sh sets it up)") }
        throw XCTSkip("no Python with PyPI cryptography (run through scripts/test.sh)")
    }

    /// Starts Tests/SNS/sns_endpoint.py (serves DIR/serve/*) and returns its base URL.
    func startEndpoint(python: String) throws -> String {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: python)
        p.arguments = [Paths.root.appendingPathComponent("Tests/SNS/sns_endpoint.py").path, dir.path]
        let out = Pipe()
        p.standardOutput = out
        p.standardInput = endpointInput
        try p.run()
        endpoint = p
        var line = Data()
        while !line.contains(0x0A) {
            let chunk = out.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            line.append(chunk)
        }
        let text = String(decoding: line, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        guard text.hasPrefix("PORT "), let port = Int(text.dropFirst(5)) else {
            throw XCTSkip("the SNS endpoint did not start: \(text)")
        }
        return "http://127.0.0.1:\(port)"
    }

    func testSignedNotificationIsDeliveredAndConfirmationIsConfirmed() throws {
        let python = try python()
        let base = try startEndpoint(python: python)
        let event = dir.appendingPathComponent("event.json")
        try Data(ServerTests.finding(id: "snsSigned01")).write(to: event)
        let sign = Process()
        sign.executableURL = URL(fileURLWithPath: python)
        sign.arguments = [Paths.root.appendingPathComponent("Tests/SNS/sign_messages.py").path, dir.path, base, event.path]
        try sign.run()
        sign.waitUntilExit()
        XCTAssertEqual(sign.terminationStatus, 0)
        let notification = try Array(Data(contentsOf: dir.appendingPathComponent("notification.json")))
        let confirmation = try Array(Data(contentsOf: dir.appendingPathComponent("confirmation.json")))

        let rules = try writeRules(["50.lua": ##"return { route = function(f) return { channel = "#one" } end }"##])
        let server = try ServerProcess(
            ["--rules", rules.path, "--data", data.path, "--rate", "50", "--burst", "5", "--sns-allowed-hosts", base],
            environment: ["SLACK_WEBHOOK_URL": fake.webhookURL, "ROUTER_API_TOKEN": ServerProcess.token])
        var headers = ["Authorization": "Bearer \(ServerProcess.token)", "x-amz-sns-message-type": "Notification"]

        let accepted = try server.post(notification, headers: headers)
        XCTAssertEqual(accepted.status, 202, accepted.text)
        XCTAssertTrue(accepted.text.contains("snsSigned01"), accepted.text)
        XCTAssertTrue(try eventually(timeout: 10) { try fake.requests().count == 1 }, "the finding did not reach Slack")

        // The same notification with its Message changed no longer verifies.
        var tampered = try JSONValue.parse(String(decoding: notification, as: UTF8.self))
        if case .object(var o) = tampered {
            o["Message"] = .string(String(decoding: ServerTests.finding(id: "snsForged02"), as: UTF8.self))
            tampered = .object(o)
        }
        let refused = try server.post(tampered.serializedBytes(), headers: headers)
        XCTAssertEqual(refused.status, 403, refused.text)

        // Confirmation: refused (502) while the SubscribeURL answers 404, confirmed once it answers 200.
        headers["x-amz-sns-message-type"] = "SubscriptionConfirmation"
        let notYet = try server.post(confirmation, headers: headers)
        XCTAssertEqual(notYet.status, 502, notYet.text)
        try Data("<ConfirmSubscriptionResponse/>".utf8).write(to: dir.appendingPathComponent("serve/confirm"))
        let confirmed = try server.post(confirmation, headers: headers)
        XCTAssertEqual(confirmed.status, 200, confirmed.text)
        XCTAssertTrue(confirmed.text.contains("guardduty-findings"), confirmed.text)
        XCTAssertEqual(try fake.requests().count, 1, "a confirmation must not post to Slack")
        server.signal(SIGTERM)
        XCTAssertEqual(server.waitForExit(timeout: 10), 0)
    }
}
