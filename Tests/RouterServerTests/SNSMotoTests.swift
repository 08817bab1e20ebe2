import Foundation
import RouterDelivery
import XCTest

@testable import RouterServer

/// SNS messages signed by an independent implementation: PyPI moto[server] (`ROUTER_TEST_MOTO_SERVER`, exported by
/// scripts/test.sh). moto 5.x facts these tests rely on (see moto/sns/models.py): it signs with SignatureVersion 2 over
/// Message, MessageId, Timestamp, TopicArn, Type and leaves Subject out even when it sends one; its SigningCertURL is
/// `https://sns.<region>.amazonaws.com/SimpleNotificationService-<id>.pem`, which moto_server itself serves over http
/// to SigV4-signed requests for the `sns` service (unsigned requests are routed to its S3); it auto-confirms http
/// subscriptions (no SubscriptionConfirmation is posted) and omits the `x-amz-sns-message-type` header.
final class SNSMotoTests: XCTestCase {
    private var children: ChildProcesses!
    private var directory: URL { children.directory }

    override func setUpWithError() throws { children = try ChildProcesses() }
    override func tearDown() { children.stop() }

    private func motoServerPath() throws -> String {
        let env = ProcessInfo.processInfo.environment
        if let path = env["ROUTER_TEST_MOTO_SERVER"], FileManager.default.isExecutableFile(atPath: path) {
            return path
        }
        if env["CI"] == "true" {
            XCTFail("ROUTER_TEST_MOTO_SERVER is not set to moto_server (run scripts/test.sh)")
            throw XCTSkip("moto_server missing")
        }
        throw XCTSkip("ROUTER_TEST_MOTO_SERVER not set (scripts/test.sh installs moto[server])")
    }

    /// A SigV4-signed (dummy credentials) request to moto's SNS.
    private func moto(_ port: String, _ request: HTTPRequest) -> HTTPResponse? {
        var r = request
        r.awsSigV4 = "aws:amz:us-east-1:sns"
        r.credentials = ("AKIDROUTERTEST", "router-test-secret")
        r.connectTimeout = 5
        r.totalTimeout = 10
        guard case .success(let response) = HTTPClient().send(r) else { return nil }
        return response
    }

    private func action(_ port: String, _ form: [(String, String)]) throws -> String {
        let allowed = CharacterSet.alphanumerics.union(CharacterSet(charactersIn: "-._~"))
        let body = form.map { "\($0.0)=\($0.1.addingPercentEncoding(withAllowedCharacters: allowed) ?? "")" }
            .joined(separator: "&")
        let request = HTTPRequest(
            method: .post, url: "http://127.0.0.1:\(port)/",
            headers: ["Content-Type: application/x-www-form-urlencoded"], body: Array(body.utf8))
        let response = try XCTUnwrap(moto(port, request), "moto did not answer \(form[0].1)")
        let text = String(decoding: response.body, as: UTF8.self)
        XCTAssertEqual(response.status, 200, text)
        return text
    }

    private func element(_ name: String, in xml: String) throws -> String {
        let start = try XCTUnwrap(xml.range(of: "<\(name)>"), "no <\(name)> in \(xml)")
        let end = try XCTUnwrap(xml.range(of: "</\(name)>", range: start.upperBound..<xml.endIndex))
        return String(xml[start.upperBound..<end.lowerBound])
    }

    /// The verifier's fetch for moto: `https://sns.us-east-1.amazonaws.com/<path>` (the only host it maps) is read
    /// from moto_server over http, SigV4-signed so that moto routes it to SNS. Anything else is refused.
    private func motoFetch(_ port: String, log: FetchLog) -> @Sendable (String) -> Result<[UInt8], SNSError> {
        { url in
            log.add(url)
            let prefix = "https://sns.us-east-1.amazonaws.com/"
            guard url.hasPrefix(prefix) else { return .failure(SNSError("test fetch: unexpected URL")) }
            var request = HTTPRequest(method: .get, url: "http://127.0.0.1:\(port)/" + url.dropFirst(prefix.count))
            request.awsSigV4 = "aws:amz:us-east-1:sns"
            request.credentials = ("AKIDROUTERTEST", "router-test-secret")
            request.connectTimeout = 5
            request.totalTimeout = 10
            switch HTTPClient().send(request) {
            case .failure(let e): return .failure(SNSError("test fetch: \(e.name)"))
            case .success(let r) where (200..<300).contains(r.status): return .success(r.body)
            case .success(let r): return .failure(SNSError("GET answered HTTP \(r.status)"))
            }
        }
    }

    /// Waits (bounded) until the endpoint has stored `count` POSTs; returns their bodies and header texts in order.
    private func posts(_ count: Int, timeout: Double = 15) throws -> [(body: [UInt8], headers: String)] {
        let dir = directory.appendingPathComponent("endpoint/posts")
        let deadline = Date().addingTimeInterval(timeout)
        var names: [String] = []
        while Date() < deadline {
            names = ((try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? [])
                .filter { $0.hasSuffix(".json") }.sorted()
            if names.count >= count { break }
            Thread.sleep(forTimeInterval: 0.05)
        }
        XCTAssertEqual(names.count, count, "POSTs received from moto")
        return try names.map { name in
            let body = try [UInt8](Data(contentsOf: dir.appendingPathComponent(name)))
            let headers = try String(
                contentsOf: dir.appendingPathComponent(name.replacingOccurrences(of: ".json", with: ".headers")),
                encoding: .utf8)
            return (body, headers)
        }
    }

    func testMotoSignedNotificationsVerifyAndConfirmationGoesThroughMoto() throws {
        let motoServer = try motoServerPath()
        let python = URL(fileURLWithPath: motoServer).deletingLastPathComponent().appendingPathComponent("python").path
        let endpointPort = try children.start(
            python, [ChildProcesses.endpointHelper, directory.appendingPathComponent("endpoint").path], waitFor: #"PORT (\d+)"#)
        let port = try children.start(motoServer, ["-H", "127.0.0.1", "-p", "0"], waitFor: #"Running on http://127\.0\.0\.1:(\d+)"#)

        let topicArn = try element(
            "TopicArn", in: action(port, [("Action", "CreateTopic"), ("Name", "guardduty-\(UUID().uuidString.prefix(8))")]))
        _ = try action(
            port,
            [
                ("Action", "Subscribe"), ("TopicArn", topicArn), ("Protocol", "http"),
                ("Endpoint", "http://127.0.0.1:\(endpointPort)/events"),
            ])
        let finding = #"{"version":"0","detail-type":"GuardDuty Finding","detail":{"title":"Ünïcode\nand \"quotes\"","severity":8}}"#
        let plainId = try element(
            "MessageId", in: action(port, [("Action", "Publish"), ("TopicArn", topicArn), ("Message", finding)]))
        let subjectId = try element(
            "MessageId",
            in: action(port, [("Action", "Publish"), ("TopicArn", topicArn), ("Message", "second"), ("Subject", "GuardDuty")]))

        let received = try posts(2)
        let messages = try received.map { try SNSMessage.parse($0.body) }
        let plain = try XCTUnwrap(messages.first { $0.messageId == plainId })
        let withSubject = try XCTUnwrap(messages.first { $0.messageId == subjectId })
        XCTAssertEqual(plain.type, "Notification")
        XCTAssertEqual(plain.message, finding)
        XCTAssertEqual(plain.topicArn, topicArn)
        XCTAssertEqual(plain.signatureVersion, "2")
        XCTAssertNil(plain.subject)
        XCTAssertEqual(withSubject.subject, "GuardDuty")
        XCTAssertFalse(received[0].headers.contains("x-amz-sns-message-type"), "moto now sends the type header: update the note")
        XCTAssertTrue(received[0].headers.contains("content-type: text/plain"), received[0].headers)

        let log = FetchLog()
        let verifier = SNSVerifier(allowedHosts: SNSVerifier.defaultAllowedHosts, fetch: motoFetch(port, log: log))
        XCTAssertNoThrow(try verifier.verify(plain))
        XCTAssertEqual(log.urls, [plain.signingCertURL], "the certificate came from moto")

        var tampered = plain
        tampered.message = finding.replacingOccurrences(of: "8}", with: "2}")
        assertSNSError("does not match") { try verifier.verify(tampered) }

        // moto's quirk: it signs without Subject, so AWS's canonical form does not verify; without Subject it does.
        assertSNSError("does not match") { try verifier.verify(withSubject) }
        var subjectDropped = withSubject
        subjectDropped.subject = nil
        XCTAssertNoThrow(try verifier.verify(subjectDropped))

        // moto signs every message of one subscription with one key (a new certificate each time), so only the
        // locally generated keys of SNSVerifierTests cover a wrong certificate.

        // Confirmation: moto posts none (it auto-confirms http endpoints), so confirm a SubscriptionConfirmation whose
        // SubscribeURL has AWS's form; moto answers ConfirmSubscription for its topic and 404 for an unknown one.
        let token = "2336412f37fb687f5d51e6e241d09c80"
        func confirmation(_ arn: String) throws -> SNSMessage {
            let url = "https://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription&TopicArn=\(arn)&Token=\(token)"
            return try SNSMessage.parse(
                SNSFixtures.json([
                    "Type": "SubscriptionConfirmation", "MessageId": "m-1", "Token": token, "TopicArn": arn,
                    "Message": "confirm", "SubscribeURL": url, "Timestamp": plain.timestamp, "SignatureVersion": "2",
                    "Signature": plain.signature, "SigningCertURL": plain.signingCertURL,
                ]))
        }
        XCTAssertNoThrow(try verifier.confirm(confirmation(topicArn)))
        let missing = try confirmation(topicArn + "-missing")
        assertSNSError("SNS confirm: GET answered HTTP 404") { try verifier.confirm(missing) }
    }
}

final class FetchLog: @unchecked Sendable {
    private let lock = NSLock()
    private var list: [String] = []
    func add(_ url: String) { lock.withLock { list.append(url) } }
    var urls: [String] { lock.withLock { list } }
}
