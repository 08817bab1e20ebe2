import Foundation
import RouterJSON
import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// `router serve` end to end: the built binary on a free loopback port, the fake Slack behind it.
final class ServerTests: XCTestCase {
    var fake: FakeSlackServer!
    var data: URL!

    override func setUpWithError() throws {
        fake = try FakeSlackServer()
        data = FileManager.default.temporaryDirectory.appendingPathComponent("router-serve-data-\(UUID().uuidString)")
    }

    override func tearDown() {
        fake?.stop()
        if let data { try? FileManager.default.removeItem(at: data) }
    }

    var fastRetry: [String] { ["--retry-base", "0.05", "--retry-cap", "0.2", "--rate", "50", "--burst", "5"] }
    var env: [String: String] { ["SLACK_WEBHOOK_URL": fake.webhookURL, "ROUTER_API_TOKEN": ServerProcess.token] }
    var bearer: [String: String] { ["Authorization": "Bearer \(ServerProcess.token)"] }

    /// One detailed delivery per finding.
    func oneDeliveryRules() throws -> URL {
        try writeRules(["50.lua": ##"return { route = function(f) return { channel = "#one" } end }"##])
    }

    func start(rules: URL? = nil, extra: [String] = [], env: [String: String]? = nil) throws -> ServerProcess {
        let rules = try rules ?? oneDeliveryRules()
        return try ServerProcess(["--rules", rules.path, "--data", data.path] + fastRetry + extra, environment: env ?? self.env)
    }

    /// A real GuardDuty event from examples/ with a finding id of our own.
    static func finding(id: String) -> [UInt8] {
        let text = (try? String(contentsOf: Paths.root.appendingPathComponent("examples/high-crypto-mining-ec2.json"), encoding: .utf8)) ?? ""
        return Array(text.replacingOccurrences(of: "749163aa3b70f7a71165e0c587cd8c94", with: id).utf8)
    }

    func assertNoSecrets(_ text: String, file: StaticString = #filePath, line: UInt = #line) {
        for secret in ["secretwebhookpath123", ServerProcess.token] {
            XCTAssertFalse(text.contains(secret), "the log leaks a secret", file: file, line: line)
        }
    }

    // MARK: - Start-up

    func testRefusesToStartWithoutAToken() throws {
        let rules = try oneDeliveryRules()
        let r = try runRouter(
            ["serve", "--rules", rules.path, "--listen", "127.0.0.1:0", "--data", data.path],
            environment: ["SLACK_WEBHOOK_URL": fake.webhookURL])
        XCTAssertEqual(r.status, 78, r.stderr)
        XCTAssertTrue(r.stderr.contains("ROUTER_API_TOKEN is not set"), r.stderr)
        XCTAssertFalse(r.stdout.contains("listening"))
    }

    func testNoAuthRefusesANonLoopbackAddressAndServesOnLoopback() throws {
        let rules = try oneDeliveryRules()
        let r = try runRouter(
            ["serve", "--rules", rules.path, "--listen", "0.0.0.0:0", "--no-auth", "--data", data.path],
            environment: ["SLACK_WEBHOOK_URL": fake.webhookURL])
        XCTAssertEqual(r.status, 78, r.stderr)
        XCTAssertTrue(r.stderr.contains("loopback"), r.stderr)

        let server = try start(rules: rules, extra: ["--no-auth"], env: ["SLACK_WEBHOOK_URL": fake.webhookURL])
        let reply = try server.post(Self.finding(id: "noauth1"), headers: [:])
        XCTAssertEqual(reply.status, 202, reply.text)
    }

    func testRulesThatDoNotLoadExitOneWithFileAndLine() throws {
        let rules = try writeRules(["30-bad.lua": "return { route = function(f) return { channel = \"#x\" } end\n"])
        let r = try runRouter(
            ["serve", "--rules", rules.path, "--listen", "127.0.0.1:0", "--data", data.path], environment: env)
        XCTAssertEqual(r.status, 1, r.stderr)
        XCTAssertTrue(r.stderr.contains("30-bad.lua:"), r.stderr)
        XCTAssertTrue(r.stderr.contains("error"), r.stderr)
    }

    // MARK: - Auth

    func testAuthMissingWrongAndRight() throws {
        let server = try start(extra: ["--api-key-header", "X-Router-Key"])
        let body = Self.finding(id: "auth1")
        XCTAssertEqual(try server.post(body, headers: [:]).status, 401)
        let missing = try server.post(body, headers: [:])
        XCTAssertNotNil(missing.headers["www-authenticate"])
        XCTAssertEqual(try server.post(body, headers: ["Authorization": "Bearer wrong-token"]).status, 401)
        XCTAssertEqual(try server.post(body, headers: ["Authorization": "Bearer \(ServerProcess.token)x"]).status, 401)
        XCTAssertEqual(try server.post(body, headers: ["Authorization": "Bearer " + ServerProcess.token.dropLast()]).status, 401)
        XCTAssertEqual(try server.post(body, headers: ["X-Router-Key": "wrong"]).status, 401)
        XCTAssertEqual(try server.post(body, headers: ["X-Other-Key": ServerProcess.token]).status, 401)

        let right = try server.post(body, headers: bearer)
        XCTAssertEqual(right.status, 202, right.text)
        XCTAssertEqual(right.json?["accepted"], ["auth1"])
        let header = try server.post(Self.finding(id: "auth2"), headers: ["x-router-key": ServerProcess.token])
        XCTAssertEqual(header.status, 202, header.text)
        let basic = Data("sns:\(ServerProcess.token)".utf8).base64EncodedString()
        let viaBasic = try server.post(Self.finding(id: "auth3"), headers: ["Authorization": "Basic \(basic)"])
        XCTAssertEqual(viaBasic.status, 202, viaBasic.text)
        XCTAssertEqual(try server.metric("router_http_requests_total", [("status", "401")]), 7)
        assertNoSecrets(server.stderr)
    }

    // MARK: - Status codes and hostile input

    func testStatusCodesAndHostileInputKeepTheServerServing() throws {
        let server = try start()
        XCTAssertEqual(try server.request("GET", "/healthz").status, 200)
        let ready = try server.request("GET", "/readyz")
        XCTAssertEqual(ready.status, 200, ready.text)
        XCTAssertEqual(try server.request("GET", "/nothing-here").status, 404)

        func expect400(_ body: [UInt8], _ reason: String, file: StaticString = #filePath, line: UInt = #line) throws {
            let r = try server.post(body)
            XCTAssertEqual(r.status, 400, r.text, file: file, line: line)
            XCTAssertTrue(r.json?["error"]?.stringValue?.contains(reason) == true, r.text, file: file, line: line)
        }
        try expect400(Array("{\"detail-type\": ".utf8), "invalid_json")
        try expect400(Array("".utf8), "invalid_json")
        try expect400(Array(#"{"detail-type":"AWS API Call via CloudTrail","detail":{}}"#.utf8), "not_a_finding")
        try expect400(Array("[1, 2]".utf8), "no finding in 2 items")
        // Deep nesting, a huge string, invalid UTF-8.
        try expect400(Array(repeating: UInt8(ascii: "["), count: 200_000) + Array(repeating: UInt8(ascii: "]"), count: 200_000), "invalid_json")
        try expect400(Array("{\"type\": \"".utf8) + Array(repeating: UInt8(ascii: "A"), count: 900_000) + Array("\"}".utf8), "not_a_finding")
        var invalidUTF8 = Self.finding(id: "utf8")
        if let i = invalidUTF8.firstIndex(of: UInt8(ascii: "C")) { invalidUTF8.insert(contentsOf: [0xC3, 0x28, 0xFF], at: i) }
        try expect400(invalidUTF8, "invalid_json")

        // A batch mixing a finding and a non-finding: the finding is accepted, the other item listed as rejected.
        let good = String(decoding: Self.finding(id: "mixed1"), as: UTF8.self)
        let mixed = try server.post(Array("[\(good), {\"hello\": 1}]".utf8))
        XCTAssertEqual(mixed.status, 202, mixed.text)
        XCTAssertEqual(mixed.json?["accepted"], ["mixed1"])
        XCTAssertEqual(mixed.json?["rejected"]?.arrayValue?.count, 1)
        XCTAssertEqual(mixed.json?["rejected"]?[0]?["source"]?.stringValue, "body#1")

        // Still serving.
        let after = try server.post(Self.finding(id: "after1"))
        XCTAssertEqual(after.status, 202, after.text)
        XCTAssertTrue(server.process.isRunning)
        XCTAssertEqual(try server.metric("router_http_requests_total", [("status", "400")]), 7)
    }

    func testBodyExactlyAtTheLimitIsAcceptedAndOneByteMoreIs413() throws {
        let limit = 4096
        let server = try start(extra: ["--max-body", String(limit)])
        var body = Self.finding(id: "size1")
        XCTAssertLessThan(body.count, limit)
        body += Array(repeating: UInt8(ascii: " "), count: limit - body.count)
        let at = try server.post(body)
        XCTAssertEqual(at.status, 202, at.text)

        var over = Self.finding(id: "size2")
        over += Array(repeating: UInt8(ascii: " "), count: limit + 1 - over.count)
        let tooLarge = try server.post(over)
        XCTAssertEqual(tooLarge.status, 413, tooLarge.text)
        // Without Content-Length (chunked): the streamed size is checked.
        let chunked = try server.request(
            "POST", "/events", headers: bearer, body: over + Array(repeating: UInt8(ascii: " "), count: 10_000),
            contentLength: false)
        XCTAssertEqual(chunked.status, 413, chunked.text)
        var chunkedAt = Self.finding(id: "size3")
        chunkedAt += Array(repeating: UInt8(ascii: " "), count: limit - chunkedAt.count)
        XCTAssertEqual(try server.request("POST", "/events", headers: bearer, body: chunkedAt, contentLength: false).status, 202)
        XCTAssertEqual(try server.post(Self.finding(id: "size4")).status, 202)
    }

    // MARK: - Delivery and metrics

    func testDeliveryReachesSlackAndMetricsMove() throws {
        let rules = try writeRules([
            "10-filter.lua": ##"return { filter = function(f) if f.id == "drop-me" then return false, "test" end return true end }"##,
            "50.lua": ##"return { route = function(f) if f.id ~= "nobody" then return { channel = "#one" } end end }"##,
        ])
        let server = try start(rules: rules)
        XCTAssertEqual(try server.metric("router_findings_received_total"), 0)
        XCTAssertEqual(try server.post(Self.finding(id: "deliver1")).status, 202)
        XCTAssertEqual(try server.post(Self.finding(id: "deliver2")).status, 202)
        let dropped = try server.post(Self.finding(id: "drop-me"))
        XCTAssertEqual(dropped.json?["dropped"], 1)
        let unrouted = try server.post(Self.finding(id: "nobody"))
        XCTAssertEqual(unrouted.json?["unrouted"], 1)
        XCTAssertEqual(unrouted.status, 202)

        XCTAssertTrue(try eventually(timeout: 10) { try fake.requests().count >= 2 })
        XCTAssertEqual(try fake.requests().count, 2)
        XCTAssertTrue(try eventually(timeout: 5) {
            try server.metric("router_deliveries_total", [("outcome", "delivered"), ("destination", "default")]) == 2
        })
        XCTAssertEqual(try server.metric("router_findings_received_total"), 4)
        XCTAssertEqual(try server.metric("router_findings_dropped_total", [("file", "10-filter.lua")]), 1)
        XCTAssertEqual(try server.metric("router_findings_unrouted_total"), 1)
        XCTAssertEqual(try server.metric("router_http_requests_total", [("status", "202")]), 4)
        XCTAssertEqual(try server.metric("router_queue_depth"), 0)

        // A 429 then success: a retry and a rate-limited count.
        try fake.script([["status": 429, "retry_after": 0]])
        XCTAssertEqual(try server.post(Self.finding(id: "deliver3")).status, 202)
        XCTAssertTrue(try eventually(timeout: 10) {
            try server.metric("router_deliveries_total", [("outcome", "delivered"), ("destination", "default")]) == 3
        })
        XCTAssertEqual(try server.metric("router_slack_rate_limited_total", [("destination", "default")]), 1)
        XCTAssertEqual(try server.metric("router_delivery_retries_total", [("destination", "default")]), 1)

        // A permanent error: dead letter.
        try fake.script([["status": 404, "error": "no_service"]])
        XCTAssertEqual(try server.post(Self.finding(id: "deliver4")).status, 202)
        XCTAssertTrue(try eventually(timeout: 10) {
            try server.metric("router_deliveries_total", [("outcome", "dead_lettered"), ("destination", "default")]) == 1
        })
        XCTAssertEqual(try server.metric("router_dead_letter_depth"), 1)
        assertNoSecrets(server.stderr)
    }

    func testTheSameFindingTwiceIsQueuedOnce() throws {
        let server = try start()
        let first = try server.post(Self.finding(id: "twice"))
        XCTAssertEqual(first.json?["deliveries"]?["queued"], 1)
        let second = try server.post(Self.finding(id: "twice"))
        XCTAssertEqual(second.status, 202)
        XCTAssertEqual(second.json?["deliveries"]?["duplicates"], 1)
        XCTAssertTrue(try eventually(timeout: 10) { try fake.requests().count == 1 })
    }

    func testAnUpdatedFindingEditsItsMessageAndRepliesInTheThread() throws {
        let server = try start(env: ["SLACK_BOT_TOKEN": FakeSlackServer.token, "SLACK_API_URL": fake.apiURL, "ROUTER_API_TOKEN": ServerProcess.token])
        let base = String(decoding: Self.finding(id: "srv-life"), as: UTF8.self)
        XCTAssertEqual(try server.post(Array(base.utf8)).status, 202)
        XCTAssertTrue(try eventually(timeout: 10) { try fake.requests().count == 1 })
        // GuardDuty publishes it again, later and with a higher count.
        var later = try JSONValue.parse(base)
        later["detail"]?["updatedAt"] = "2030-01-01T00:00:00.000Z"
        later["detail"]?["service"]?["count"] = 99
        XCTAssertEqual(try server.post(Array(later.serialized().utf8)).status, 202)
        XCTAssertTrue(try eventually(timeout: 10) { try fake.requests().count == 3 })
        let paths = try fake.requests().map { $0["path"]?.stringValue ?? "" }
        XCTAssertEqual(paths, ["/api/chat.postMessage", "/api/chat.update", "/api/chat.postMessage"])
        let reply = try fake.requests()[2]["body"]
        XCTAssertEqual(reply?["thread_ts"]?.stringValue, try fake.requests()[0]["ts"]?.stringValue)
        XCTAssertTrue((reply?["text"]?.stringValue ?? "").contains("Seen 99 times"), "\(String(describing: reply))")
    }

    // MARK: - SNS

    /// SNS messages whose signature does not verify are refused (403): a forged notification queues nothing and a
    /// forged subscription confirmation never makes the server fetch its SubscribeURL.
    func testForgedSNSMessagesAreRefused() throws {
        let server = try start()
        let event = String(decoding: Self.finding(id: "sns1"), as: UTF8.self)
        let notification: JSONValue = [
            "Type": "Notification", "MessageId": "m-1", "TopicArn": "arn:aws:sns:us-east-1:111122223333:findings",
            "Message": .string(event), "Timestamp": "2026-01-01T00:00:00.000Z", "SignatureVersion": "2",
            "Signature": "Zm9yZ2Vk", "SigningCertURL": "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-x.pem",
        ]
        var headers = bearer
        headers["x-amz-sns-message-type"] = "Notification"
        let forged = try server.post(notification.serializedBytes(), headers: headers)
        XCTAssertEqual(forged.status, 403, forged.text)
        XCTAssertEqual(try server.metric("router_findings_received_total"), 0)

        let confirmURL = fake.base + "/confirm-subscription"
        let confirmation: JSONValue = [
            "Type": "SubscriptionConfirmation", "MessageId": "m-2", "TopicArn": "arn:aws:sns:us-east-1:111122223333:findings",
            "Message": "You have chosen to subscribe", "Token": "abc", "SubscribeURL": .string(confirmURL),
            "Timestamp": "2026-01-01T00:00:00.000Z", "SignatureVersion": "1", "Signature": "Zm9yZ2Vk",
            "SigningCertURL": "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-x.pem",
        ]
        headers["x-amz-sns-message-type"] = "SubscriptionConfirmation"
        let refused = try server.post(confirmation.serializedBytes(), headers: headers)
        XCTAssertEqual(refused.status, 403, refused.text)
        XCTAssertEqual(try fake.requests().count, 0)

        // The header and the message disagree; and the SNS path still needs the API credential.
        headers["x-amz-sns-message-type"] = "Notification"
        XCTAssertEqual(try server.post(confirmation.serializedBytes(), headers: headers).status, 400)
        XCTAssertEqual(try server.post(notification.serializedBytes(), headers: ["x-amz-sns-message-type": "Notification"]).status, 401)
        XCTAssertEqual(try server.post(Array("{".utf8), headers: headers).status, 400)
    }

    // MARK: - Reload

    func testSighupKeepsOldRulesOnErrorAndSwapsInGoodOnes() throws {
        let rules = try oneDeliveryRules()
        let server = try start(rules: rules)
        XCTAssertEqual(try server.post(Self.finding(id: "r1")).json?["dropped"], 0)

        // Broken: the old rules keep routing, the failure is logged with file:line and counted.
        try "return { filter = function(f) return false end\n".write(
            to: rules.appendingPathComponent("10-drop.lua"), atomically: true, encoding: .utf8)
        server.signal(SIGHUP)
        XCTAssertTrue(try eventually(timeout: 10) {
            try server.metric("router_rule_reloads_total", [("result", "failed")]) == 1
        })
        XCTAssertTrue(server.stderr.contains("10-drop.lua:"), server.stderr)
        let stillOld = try server.post(Self.finding(id: "r2"))
        XCTAssertEqual(stillOld.status, 202)
        XCTAssertEqual(stillOld.json?["dropped"], 0)
        XCTAssertEqual(try server.metric("router_rule_reloads_total", [("result", "ok")]), 0)

        // Fixed: the new set (which drops everything) is active.
        try "return { filter = function(f) return false, \"all\" end }\n".write(
            to: rules.appendingPathComponent("10-drop.lua"), atomically: true, encoding: .utf8)
        server.signal(SIGHUP)
        XCTAssertTrue(try eventually(timeout: 10) {
            try server.metric("router_rule_reloads_total", [("result", "ok")]) == 1
        })
        let new = try server.post(Self.finding(id: "r3"))
        XCTAssertEqual(new.status, 202)
        XCTAssertEqual(new.json?["dropped"], 1)
        XCTAssertEqual(try server.metric("router_findings_dropped_total", [("file", "10-drop.lua")]), 1)
    }

    // MARK: - Shutdown and restart

    func testSigtermLeavesQueuedWorkAndARestartDeliversIt() throws {
        // Slack down: a port nothing listens on.
        let closed = try Self.closedPort()
        let down = [
            "SLACK_WEBHOOK_URL": "http://127.0.0.1:\(closed)/services/T0FAKE/B0FAKE/secretwebhookpath123",
            "ROUTER_API_TOKEN": ServerProcess.token,
        ]
        let first = try start(env: down)
        for i in 0..<5 { XCTAssertEqual(try first.post(Self.finding(id: "queued\(i)")).status, 202) }
        XCTAssertTrue(try eventually(timeout: 10) {
            try first.metric("router_delivery_retries_total", [("destination", "default")]) >= 1
        })
        let started = Date()
        first.signal(SIGTERM)
        let status = first.waitForExit(timeout: 10)
        XCTAssertEqual(status, 0, first.stderr)
        XCTAssertLessThan(Date().timeIntervalSince(started), 10)
        XCTAssertEqual(try fake.requests().count, 0)
        assertNoSecrets(first.stderr)

        XCTAssertTrue(first.stderr.contains("stopped; 5 deliveries stay queued"), first.stderr)
        let second = try start()
        XCTAssertTrue(try eventually(timeout: 15) { try fake.requests().count >= 5 }, second.stderr)
        XCTAssertEqual(try fake.requests().count, 5)
        XCTAssertTrue(try eventually(timeout: 5) { try second.metric("router_queue_depth") == 0 })
        second.signal(SIGINT)
        XCTAssertEqual(second.waitForExit(timeout: 10), 0)
    }

    func testSigtermFinishesRequestsInFlight() throws {
        let server = try start()
        let group = DispatchGroup()
        let statuses = NSLock()
        nonisolated(unsafe) var codes: [Int] = []
        for i in 0..<20 {
            group.enter()
            DispatchQueue.global().async {
                let s = (try? server.post(Self.finding(id: "inflight\(i)")).status) ?? -1
                statuses.lock()
                codes.append(s)
                statuses.unlock()
                group.leave()
            }
        }
        usleep(5_000)
        server.signal(SIGTERM)
        XCTAssertEqual(group.wait(timeout: .now() + 15), .success)
        XCTAssertEqual(server.waitForExit(timeout: 10), 0)
        // Every request was either answered 202 (and is queued) or refused before it was read (connection refused).
        let accepted = codes.filter { $0 == 202 }.count
        XCTAssertTrue(codes.allSatisfy { $0 == 202 || $0 == -1 }, "\(codes)")
        let restarted = try start()
        XCTAssertTrue(try eventually(timeout: 15) { try fake.requests().count >= accepted })
        _ = restarted
    }

    /// A client that stalls in the middle of its request does not keep the server from exiting within 10 s.
    func testSigtermExitsWithin10sDespiteAStalledRequest() throws {
        let server = try start()
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(server.port).bigEndian)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let c = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        XCTAssertEqual(c, 0)
        let partial = Array("POST /events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \(ServerProcess.token)\r\nContent-Length: 100\r\n\r\n{".utf8)
        XCTAssertEqual(partial.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, 0) }, partial.count)
        // A round trip on another connection: the server has read the partial request by then.
        XCTAssertEqual(try server.request("GET", "/healthz").status, 200)
        let started = Date()
        server.signal(SIGTERM)
        XCTAssertEqual(server.waitForExit(timeout: 12), 0, server.stderr)
        XCTAssertLessThan(Date().timeIntervalSince(started), 10)
        XCTAssertTrue(server.stderr.contains("requests still in flight"), server.stderr)
    }

    static func closedPort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = 0
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        _ = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) }
        }
        return Int(UInt16(bigEndian: addr.sin_port))
    }
}
