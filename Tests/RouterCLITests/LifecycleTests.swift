import Foundation
import RouterJSON
import XCTest

/// One Slack conversation per finding, end to end: `router send` (state in the data directory's SQLite, beside the
/// queue) against the fake Slack's Web API, and `router test`'s simulation of a sequence.
final class LifecycleTests: XCTestCase {
    var fake: FakeSlackServer!
    var data: URL!
    var inputs: URL!
    var rules: String!

    override func setUpWithError() throws {
        fake = try FakeSlackServer()
        data = FileManager.default.temporaryDirectory.appendingPathComponent("router-life-\(UUID().uuidString)")
        inputs = FileManager.default.temporaryDirectory.appendingPathComponent("router-life-in-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: inputs, withIntermediateDirectories: true)
        rules = try writeRules([
            "50.lua": ##"""
            return { route = function(f)
              if f.severity_label == "HIGH" then return { channel = "#sec", mention = "here" } end
              return { channel = "#sec" }
            end }
            """##
        ]).path
    }

    override func tearDown() {
        fake?.stop()
        for u in [data, inputs] { if let u { try? FileManager.default.removeItem(at: u) } }
    }

    var apiEnv: [String: String] { ["SLACK_BOT_TOKEN": FakeSlackServer.token, "SLACK_API_URL": fake.apiURL] }

    func finding(_ id: String = "life-1", count: Int, minute: Int, severity: Double = 5, archived: Bool = false) throws -> JSONValue {
        try lifecycleEvent(id, count: count, minute: minute, severity: severity, archived: archived)
    }

    func write(_ events: [JSONValue], _ name: String) throws -> String {
        let url = inputs.appendingPathComponent(name)
        try JSONValue.array(events).serialized().write(to: url, atomically: true, encoding: .utf8)
        return url.path
    }

    func send(_ path: String) throws -> RunResult {
        let r = try runRouter(
            ["send", rules, path, "--data", data.path, "--rate", "50", "--burst", "5", "--retry-base", "0.05", "--retry-cap", "0.2"],
            environment: apiEnv)
        XCTAssertEqual(r.status, 0, r.stdout + r.stderr)
        return r
    }

    /// The fake's API requests since the start: (method, body).
    func apiCalls() throws -> [(String, JSONValue)] {
        try fake.requests().filter { $0["kind"]?.stringValue == "api" }.map {
            (String(($0["path"]?.stringValue ?? "").dropFirst(5)), $0["body"] ?? .null)
        }
    }

    func messages() throws -> [JSONValue] { try fake.control("GET", "/_control/messages")["messages"]?.arrayValue ?? [] }

    func testCountsOneTwoThreeAcrossRunsAreOnePostTwoEditsAndTwoThreadReplies() throws {
        for (n, minute) in [(1, 0), (2, 15), (3, 30)] {
            _ = try send(try write([try finding(count: n, minute: minute)], "c\(n).json"))
        }
        let calls = try apiCalls()
        XCTAssertEqual(calls.map(\.0), ["chat.postMessage", "chat.update", "chat.postMessage", "chat.update", "chat.postMessage"])
        let root = try XCTUnwrap(messages().first { $0["thread_ts"] == nil })
        let rootTs = try XCTUnwrap(root["ts"]?.stringValue)
        let channelID = try XCTUnwrap(root["channel"]?.stringValue)
        XCTAssertTrue(channelID.hasPrefix("C"), "Slack answers with the channel's ID: \(channelID)")
        XCTAssertEqual(root["edited_count"]?.intValue, 2, "the first message was edited twice")
        XCTAssertTrue((root["text"]?.stringValue ?? "").contains("MEDIUM"), "edited with the new rendering")
        for i in [1, 3] {
            XCTAssertEqual(calls[i].1["ts"]?.stringValue, rootTs)
            XCTAssertEqual(calls[i].1["channel"]?.stringValue, channelID, "chat.update uses the ID Slack answered with")
        }
        for i in [2, 4] { XCTAssertEqual(calls[i].1["thread_ts"]?.stringValue, rootTs, "a reply in the finding's thread") }
        let replies = try messages().filter { $0["thread_ts"]?.stringValue == rootTs }
        XCTAssertEqual(replies.count, 2)
        XCTAssertTrue(replies.contains { ($0["text"]?.stringValue ?? "").contains("Seen 3 times (was 2)") })
        // The first message's blocks show the latest count.
        XCTAssertTrue(root.serialized().contains("*Count*\\n3"), "the first message shows the latest count: \(root.serialized())")
    }

    func testOneInputWithASequenceAndASeverityRaiseBroadcastsWithTheMention() throws {
        let path = try write(
            [try finding(count: 1, minute: 0), try finding(count: 5, minute: 10), try finding(count: 6, minute: 20, severity: 8)],
            "seq.json")
        let r = try send(path)
        XCTAssertTrue(r.stdout.contains("3 delivered"), r.stdout)
        let calls = try apiCalls()
        XCTAssertEqual(calls.map(\.0), ["chat.postMessage", "chat.update", "chat.postMessage", "chat.update", "chat.postMessage"])
        let broadcast = calls[4].1
        XCTAssertEqual(broadcast["reply_broadcast"], true)
        let text = broadcast["text"]?.stringValue ?? ""
        XCTAssertTrue(text.hasPrefix("<!here> "), text)
        XCTAssertTrue(text.contains("*MEDIUM* -> *HIGH*"), text)
        XCTAssertNil(calls[2].1["reply_broadcast"], "the count-only reply stays in the thread")
    }

    func testDuplicatesAndOlderEventsPostNothing() throws {
        _ = try send(try write([try finding(count: 3, minute: 30)], "new.json"))
        let r = try send(try write([try finding(count: 3, minute: 30), try finding(count: 2, minute: 20)], "old.json"))
        XCTAssertEqual(try apiCalls().count, 1, "only the first post")
        XCTAssertTrue(r.stdout.contains("1 already sent or queued"), r.stdout)
        XCTAssertTrue(r.stdout.contains("1 needed nothing posted"), r.stdout)
    }

    func testArchivedEditsOnlyAndAGoneMessageIsPostedAgain() throws {
        _ = try send(try write([try finding(count: 1, minute: 0)], "a1.json"))
        _ = try send(try write([try finding(count: 1, minute: 5, archived: true)], "a2.json"))
        XCTAssertEqual(try apiCalls().map(\.0), ["chat.postMessage", "chat.update"])
        let root = try XCTUnwrap(messages().first)
        XCTAssertTrue(root.serialized().contains("Archived"), "the edit shows it archived: \(root.serialized())")

        // Someone deletes the message; the next event posts a new one and later events edit that one.
        _ = try fake.control("POST", "/_control/delete", ["channel": root["channel"] ?? .null, "ts": root["ts"] ?? .null])
        _ = try send(try write([try finding(count: 2, minute: 10)], "a3.json"))
        _ = try send(try write([try finding(count: 3, minute: 15)], "a4.json"))
        let calls = try apiCalls()
        XCTAssertEqual(calls.map(\.0), ["chat.postMessage", "chat.update", "chat.update", "chat.postMessage", "chat.update", "chat.postMessage"])
        let requests = try fake.requests().filter { $0["kind"]?.stringValue == "api" }
        XCTAssertEqual(requests[2]["error"]?.stringValue, "message_not_found")
        XCTAssertNil(calls[3].1["thread_ts"], "a new top-level message")
        let newTs = try XCTUnwrap(messages().first { $0["thread_ts"] == nil }?["ts"]?.stringValue)
        XCTAssertNotEqual(newTs, root["ts"]?.stringValue)
        XCTAssertEqual(calls[4].1["ts"]?.stringValue, newTs, "the next update edits the new message")
        XCTAssertEqual(calls[5].1["thread_ts"]?.stringValue, newTs)
    }

    func testRouterTestShowsTheSequenceAndStartsFromASavedState() throws {
        let seq = try write(
            [try finding(count: 1, minute: 0), try finding(count: 5, minute: 10), try finding(count: 20, minute: 20),
             try finding(count: 20, minute: 20)], "seq.json")
        let r = try runRouter(["test", rules, seq, "--json"], environment: apiEnv)
        XCTAssertEqual(r.status, 0, r.stderr)
        let actions = r.jsonLines.map { $0["deliveries"]?[0]?["lifecycle"]?["action"]?.stringValue ?? "?" }
        XCTAssertEqual(actions, ["post", "edit+reply", "edit+reply", "nothing"])
        XCTAssertTrue(
            r.jsonLines[2]["deliveries"]?[0]?["lifecycle"]?["reply"]?.stringValue?.contains("Seen 20 times (was 5)") ?? false)
        XCTAssertEqual(try apiCalls().count, 0, "a dry run sends nothing")

        // A saved state: the finding was posted with count 5 by `router send`.
        _ = try send(try write([try finding(count: 5, minute: 10)], "saved.json"))
        let next = try write([try finding(count: 6, minute: 30)], "next.json")
        let fromState = try runRouter(["test", rules, next, "--state", data.path], environment: apiEnv)
        XCTAssertEqual(fromState.status, 0, fromState.stderr)
        XCTAssertTrue(fromState.stdout.contains("lifecycle: edit + thread reply"), fromState.stdout)
        XCTAssertTrue(fromState.stdout.contains("Seen 6 times (was 5)"), fromState.stdout)
        let fresh = try runRouter(["test", rules, next], environment: apiEnv)
        XCTAssertTrue(fresh.stdout.contains("lifecycle: new post"), "without --state it is a first event: \(fresh.stdout)")
        let again = try runRouter(["test", rules, next, "--state", data.path], environment: apiEnv)
        XCTAssertTrue(again.stdout.contains("Seen 6 times (was 5)"), "the saved state is only read, never changed: \(again.stdout)")

        let missing = try runRouter(["test", rules, next, "--state", inputs.appendingPathComponent("nowhere").path])
        XCTAssertEqual(missing.status, 64)
        XCTAssertTrue(missing.stderr.contains("no saved state there"), missing.stderr)
    }

    func testAWebhookPostsTheFirstEventAndASeverityRaiseOnly() throws {
        let env = ["SLACK_WEBHOOK_URL": fake.webhookURL]
        for (i, e) in [try finding(count: 1, minute: 0), try finding(count: 2, minute: 5), try finding(count: 3, minute: 9, severity: 8)].enumerated() {
            let r = try runRouter(
                ["send", rules, try write([e], "w\(i).json"), "--data", data.path, "--rate", "50"], environment: env)
            XCTAssertEqual(r.status, 0, r.stderr)
        }
        let hooks = try fake.requests().filter { $0["kind"]?.stringValue == "webhook" }
        XCTAssertEqual(hooks.count, 2, "first event and the raise to HIGH; the count update is ignored by default")
    }

    func testAMisspelledOnUpdateIsACompilerStyleErrorBeforeAnythingRuns() throws {
        let bad = try writeRules(["50.lua": "return { route = function(f)\n  return { channel = \"#sec\", on_update = \"threads\" }\nend }\n"])
        defer { try? FileManager.default.removeItem(at: bad) }
        let check = try runRouter(["check", bad.path])
        XCTAssertEqual(check.status, 1, check.stdout + check.stderr)
        XCTAssertTrue(
            check.stderr.contains("50.lua:2: error: 'on_update' must be one of thread, update, repost, ignore, not 'threads'"),
            check.stderr)
        let send = try runRouter(["send", bad.path, try write([try finding(count: 1, minute: 0)], "x.json"), "--data", data.path], environment: apiEnv)
        XCTAssertEqual(send.status, 1, "router send refuses to start: \(send.stderr)")
        XCTAssertEqual(try apiCalls().count, 0)
    }
}
