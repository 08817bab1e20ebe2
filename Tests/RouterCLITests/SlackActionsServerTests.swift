import Foundation
import RouterJSON
import RouterTestSupport
import Synchronization
import XCTest

/// `POST /slack/actions` of `router serve`, end to end: the fake Slack posts and edits messages, the fake GuardDuty
/// (botocore recomputes every signature) takes the calls, and clicks are real block_actions payloads of the posted
/// message's buttons, signed like Slack signs them.
final class SlackActionsServerTests: XCTestCase {
    var slack: FakeSlackServer!
    var guardDuty: FakeGuardDuty!
    var server: ServerProcess!
    var data: URL!
    var rules: URL!

    override func setUpWithError() throws {
        slack = try FakeSlackServer()
        guardDuty = try FakeGuardDuty()
        rules = try writeRules(["50.lua": SlackClicks.rules])
        data = FileManager.default.temporaryDirectory.appendingPathComponent("actions-\(UUID().uuidString)")
        server = try ServerProcess(
            ["--rules", rules.path, "--data", data.path],
            environment: [
                "ROUTER_API_TOKEN": ServerProcess.token, "SLACK_BOT_TOKEN": FakeSlackServer.token, "SLACK_API_URL": slack.apiURL,
                "SLACK_SIGNING_SECRET": SlackClicks.signingSecret, "AWS_ACCESS_KEY_ID": FakeGuardDuty.accessKey,
                "AWS_SECRET_ACCESS_KEY": FakeGuardDuty.secretKey, "AWS_SESSION_TOKEN": "session-token-never-logged",
                "ROUTER_GUARDDUTY_ENDPOINT": guardDuty.endpoint,
            ])
    }

    override func tearDown() {
        if let server {
            let err = server.stderr
            for secret in [SlackClicks.signingSecret, FakeGuardDuty.secretKey, "session-token-never-logged", FakeSlackServer.token] {
                XCTAssertFalse(err.contains(secret), "a secret in the server's log")
            }
        }
        server = nil
        slack?.stop()
        guardDuty = nil
        for dir in [data, rules] { if let dir { try? FileManager.default.removeItem(at: dir) } }
    }

    /// Posts a finding through /events and waits for its message; returns it as the fake Slack keeps it.
    func postFinding(_ id: String = "a0000000000000000000000000000001") throws -> JSONValue {
        var event = try lifecycleEvent(id, count: 1, minute: 0)
        event["region"] = "eu-west-1"
        event["detail"]?["region"] = "eu-west-1"
        let reply = try server.post(event.serializedBytes())
        XCTAssertEqual(reply.status, 202, reply.text)
        var message: JSONValue?
        XCTAssertTrue(try eventually(timeout: 15) {
            message = try messages().first { ($0["text"]?.stringValue ?? "").contains(id) || $0.serialized().contains(id) }
            return message != nil
        }, "the finding was never posted: \(server.stderr)")
        return try XCTUnwrap(message)
    }

    func messages() throws -> [JSONValue] { try slack.control("GET", "/_control/messages")["messages"]?.arrayValue ?? [] }

    var responseURL: String { slack.base + "/services/T1/response/0123456789" }

    func click(_ message: JSONValue, _ action: String, user: String = "U0ALICE", team: String = "T1") throws -> (ServerProcess.Reply, Double) {
        let (body, headers) = SlackClicks.request(
            try SlackClicks.payload(message: message, actionID: action, user: user, team: team, responseURL: responseURL))
        let start = Date()
        let reply = try server.request("POST", "/slack/actions", headers: headers, body: body)
        return (reply, Date().timeIntervalSince(start))
    }

    func ephemerals() throws -> [String] {
        try slack.requests().filter { ($0["path"]?.stringValue ?? "").hasPrefix("/services/T1/response/") }
            .compactMap { $0["body"]?["text"]?.stringValue }
    }

    func testArchiveFromTheButtonCallsGuardDutyEditsTheMessageAndReplies() throws {
        let message = try postFinding()
        let (reply, seconds) = try click(message, "router.archive")
        XCTAssertEqual(reply.status, 200, reply.text)
        XCTAssertLessThan(seconds, 3, "Slack waits 3 s for the acknowledgement")
        var updated: JSONValue?
        XCTAssertTrue(try eventually(timeout: 15) {
            updated = try messages().first { $0["ts"] == message["ts"] && ($0["edited_count"]?.intValue ?? 0) > 0 }
            return updated?.serialized().contains("Archived by <@U0ALICE>") == true
        }, "\(server.stderr)")
        let text = try XCTUnwrap(updated).serialized()
        XCTAssertTrue(text.contains("router.unarchive"), "the button now unarchives")
        // The GuardDuty calls, signed for the finding's region (botocore agrees with the signature).
        let calls = try guardDuty.log()
        XCTAssertEqual(calls.map { $0["path"]?.stringValue ?? "" }, ["/detector", "/detector/\(FakeGuardDuty.detector)/findings/archive"])
        for c in calls {
            XCTAssertEqual(c["valid"]?.boolValue, true, "\(c["why"]?.stringValue ?? "")")
            XCTAssertTrue((c["scope"]?.stringValue ?? "").hasSuffix("/eu-west-1/guardduty/aws4_request"), "\(c["scope"] ?? .null)")
            XCTAssertEqual(c["securityToken"]?.stringValue, "session-token-never-logged")
        }
        XCTAssertEqual(calls.last?["body"]?["findingIds"], ["a0000000000000000000000000000001"])
        // The thread reply.
        XCTAssertTrue(try eventually(timeout: 5) {
            try slack.requests().contains { r in
                r["path"]?.stringValue == "/api/chat.postMessage" && r["body"]?["thread_ts"] == message["ts"]
                    && (r["body"]?["text"]?.stringValue ?? "").contains("Archived in GuardDuty by <@U0ALICE>")
            }
        })
        // The click is in the action log.
        let log = try LambdaSupport.run(Paths.routerBinary.path, ["actions", "log", "--json", "--data", data.path], timeout: 20)
        XCTAssertEqual(log.status, 0, log.stderr)
        let entry = try JSONValue.parse(log.stdout.split(separator: "\n").last.map(String.init) ?? "")
        XCTAssertEqual(entry["outcome"]?.stringValue, "done")
        XCTAssertEqual(entry["action"]?.stringValue, "archive")
        XCTAssertEqual(entry["user"]?.stringValue, "U0ALICE")
        XCTAssertEqual(try server.metric("router_slack_actions_total", [("outcome", "done")]), 1)
    }

    func testForgedRequestsAreRefusedWithNoSideEffect() throws {
        let message = try postFinding()
        let before = try slack.requests().count
        let payload = try SlackClicks.payload(message: message, actionID: "router.archive", user: "U0ALICE", responseURL: responseURL)
        let good = SlackClicks.request(payload)
        var cases: [(String, [UInt8], [String: String])] = []
        cases.append(("no signature", good.body, good.headers.filter { $0.key != "X-Slack-Signature" }))
        cases.append(("no timestamp", good.body, good.headers.filter { $0.key != "X-Slack-Request-Timestamp" }))
        let now = Int(Date().timeIntervalSince1970)
        let stale = SlackClicks.request(payload, timestamp: now - 600)
        cases.append(("stale", stale.body, stale.headers))
        let future = SlackClicks.request(payload, timestamp: now + 600)
        cases.append(("future", future.body, future.headers))
        var tampered = good.body
        tampered[tampered.count - 3] = tampered[tampered.count - 3] == UInt8(ascii: "A") ? UInt8(ascii: "B") : UInt8(ascii: "A")
        cases.append(("tampered body", tampered, good.headers))
        let wrong = SlackClicks.request(payload, secret: "another-signing-secret")
        cases.append(("wrong secret", wrong.body, wrong.headers))
        for (name, body, headers) in cases {
            let reply = try server.request("POST", "/slack/actions", headers: headers, body: body)
            XCTAssertEqual(reply.status, 401, "\(name): \(reply.text)")
        }
        usleep(500_000)
        XCTAssertEqual(try guardDuty.log().count, 0, "no AWS call")
        XCTAssertEqual(try slack.requests().count, before, "no Slack change")
        XCTAssertEqual(try server.metric("router_slack_actions_total", [("outcome", "unauthorized")]), Double(cases.count))
    }

    func testDeniedFailedAndUnknownClicksTellOnlyTheClickingUser() throws {
        let message = try postFinding()
        // Denied by the rules.
        XCTAssertEqual(try click(message, "router.archive", user: "UBLOCKED").0.status, 200)
        // Denied: no rule says yes for another team.
        XCTAssertEqual(try click(message, "router.ack", user: "U0CAROL", team: "T2").0.status, 200)
        // GuardDuty refuses.
        try guardDuty.fail("archive", status: 403, type: "AccessDeniedException", message: "User: arn:aws:sts::111122223333:assumed-role/router is not authorized to perform: guardduty:ArchiveFindings")
        XCTAssertEqual(try click(message, "router.archive").0.status, 200)
        // A message the router does not know (its finding id changed in the button).
        var unknown = message
        let blocks = unknown.serialized().replacingOccurrences(of: "a0000000000000000000000000000001", with: "b0000000000000000000000000000009")
        unknown = try JSONValue.parse(blocks)
        XCTAssertEqual(try click(unknown, "router.archive").0.status, 200)
        var texts: [String] = []
        XCTAssertTrue(try eventually(timeout: 15) {
            texts = try ephemerals()
            return texts.count == 4
        }, "\(texts)")
        XCTAssertTrue(texts.contains { $0.contains("blocked users may not act") }, "\(texts)")
        XCTAssertTrue(texts.contains { $0.contains("no rule permits ack") }, "\(texts)")
        XCTAssertTrue(texts.contains { $0.contains("AccessDeniedException") && $0.contains("not authorized to perform: guardduty:ArchiveFindings") }, "\(texts)")
        XCTAssertTrue(texts.contains { $0.contains("does not know this message") }, "\(texts)")
        for r in try slack.requests() where (r["path"]?.stringValue ?? "").hasPrefix("/services/T1/response/") {
            XCTAssertEqual(r["body"]?["response_type"]?.stringValue, "ephemeral")
        }
        // Nothing changed in Slack or in GuardDuty.
        XCTAssertFalse(try slack.requests().contains { $0["path"]?.stringValue == "/api/chat.update" })
        XCTAssertEqual(try guardDuty.get("/_state")["archived"]?.arrayValue?.count, 0)
        XCTAssertEqual(try guardDuty.calls("/findings/archive").count, 1, "only the permitted click reached GuardDuty")
    }

    func testARepeatedClickIsHarmlessAndSlowGuardDutyDoesNotDelayTheAnswer() throws {
        let message = try postFinding()
        try guardDuty.delay(2.5)
        let (first, seconds) = try click(message, "router.archive")
        XCTAssertEqual(first.status, 200)
        XCTAssertLessThan(seconds, 1.5, "answered before GuardDuty did")
        XCTAssertEqual(try click(message, "router.archive").0.status, 200)
        XCTAssertTrue(try eventually(timeout: 20) { try guardDuty.calls("/findings/archive").count == 2 })
        XCTAssertTrue(try eventually(timeout: 10) {
            let log = try LambdaSupport.run(Paths.routerBinary.path, ["actions", "log", "--json", "--data", data.path], timeout: 20)
            return log.stdout.split(separator: "\n").filter { $0.contains("\"done\"") }.count == 2
        })
        XCTAssertEqual(try guardDuty.get("/_state")["archived"], ["a0000000000000000000000000000001"])
        let replies = try slack.requests().filter { ($0["body"]?["text"]?.stringValue ?? "").contains("Archived in GuardDuty") }
        XCTAssertEqual(replies.count, 2, "each click is recorded in the thread")
    }

    /// 50 people click at once: every click is answered within Slack's 3 s, and every one is carried out.
    func testFiftyConcurrentClicks() throws {
        let message = try postFinding()
        try guardDuty.delay(0.3)
        let users = (0..<50).map { String(format: "U0USER%04d", $0) }
        let requests = try users.enumerated().map { i, u in
            SlackClicks.request(try SlackClicks.payload(message: message, actionID: i % 5 == 0 ? "router.useful" : "router.ack", user: u, responseURL: responseURL))
        }
        let times = Mutex<[Double]>([])
        let statuses = Mutex<[Int]>([])
        let server = self.server!
        // 50 threads, released together.
        let go = DispatchSemaphore(value: 0)
        let group = DispatchGroup()
        for i in requests.indices {
            let thread = Thread {
                go.wait()
                let start = Date()
                let reply = try? server.request("POST", "/slack/actions", headers: requests[i].headers, body: requests[i].body)
                let t = Date().timeIntervalSince(start)
                times.withLock { $0.append(t) }
                statuses.withLock { $0.append(reply?.status ?? -1) }
                group.leave()
            }
            group.enter()
            thread.start()
        }
        usleep(200_000)
        for _ in requests.indices { go.signal() }
        XCTAssertEqual(group.wait(timeout: .now() + 60), .success)
        XCTAssertEqual(statuses.withLock { $0 }.filter { $0 == 200 }.count, 50)
        let sorted = times.withLock { $0 }.sorted()
        XCTAssertLessThan(sorted.last ?? 99, 3.0, "every click acknowledged within 3 s")
        let p50 = sorted[sorted.count / 2] * 1000, p99 = sorted[min(sorted.count - 1, Int(Double(sorted.count) * 0.99))] * 1000
        print("figure: 50 concurrent clicks acknowledged in p50 \(String(format: "%.1f", p50)) ms, p99 \(String(format: "%.1f", p99)) ms")
        XCTAssertTrue(try eventually(timeout: 30) {
            let log = try LambdaSupport.run(Paths.routerBinary.path, ["actions", "log", "--json", "--data", data.path], timeout: 20)
            return log.stdout.split(separator: "\n").filter { $0.contains("\"done\"") }.count == 50
        }, "every click carried out")
        // The message ends up naming all 40 who acknowledged (conditional writes lost none).
        XCTAssertTrue(try eventually(timeout: 10) {
            let m = try messages().first { $0["ts"] == message["ts"] }?.serialized() ?? ""
            return users.enumerated().filter { $0.offset % 5 != 0 }.allSatisfy { m.contains("<@\($0.element)>") }
        })
    }
}
