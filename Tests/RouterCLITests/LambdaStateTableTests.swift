import Foundation
import RouterJSON
import RouterTestSupport
import Synchronization
import XCTest

/// The Lambda's finding lifecycle in DynamoDB: two router processes (two Lambda instances, each with its own /tmp
/// queue) started as `bootstrap` against the fake Runtime API, sharing one table in PyPI moto_server on loopback, and
/// the fake Slack's Web API.
final class LambdaStateTableTests: XCTestCase {
    var fake: FakeSlackServer!
    var dir: URL!
    var table = ""
    var motoPort = ""

    override func setUpWithError() throws {
        motoPort = try MotoServer.port()
        fake = try FakeSlackServer()
        dir = try LambdaSupport.bootstrapDirectory("lambda-state")
        table = try LambdaSupport.createStateTable(port: motoPort, prefix: "router-state")
    }

    override func tearDown() {
        fake?.stop()
        if let dir { try? FileManager.default.removeItem(at: dir) }
    }

    override class func tearDown() { MotoServer.stop() }

    func event(_ id: String, count: Int, minute: Int) throws -> String {
        try lifecycleEvent(id, count: count, minute: minute).serialized()
    }

    /// One Lambda instance: the bootstrap run by the fake Runtime API over `events`, with its own data directory.
    func instance(_ name: String, events: [String], rules: URL) throws -> JSONValue {
        try Self.run(try instanceArguments(name, events: events, rules: rules))
    }

    /// The fake Runtime API's command line for one instance (its events file written).
    func instanceArguments(_ name: String, events: [String], rules: URL) throws -> [String] {
        try LambdaSupport.runtimeArguments(
            dir: dir, name: name, events: events, rules: rules, data: "data-\(name)",
            env: [
                "SLACK_BOT_TOKEN=\(FakeSlackServer.token)", "SLACK_API_URL=\(fake.apiURL)", "ROUTER_STATE_TABLE=\(table)",
                "AWS_REGION=eu-west-1", "ROUTER_DYNAMODB_ENDPOINT=http://127.0.0.1:\(motoPort)",
                "AWS_ACCESS_KEY_ID=AKIDTEST", "AWS_SECRET_ACCESS_KEY=secret-test-key-never-logged",
                "AWS_SESSION_TOKEN=session-token-never-logged",
            ])
    }

    static func run(_ args: [String]) throws -> JSONValue {
        let r = try LambdaSupport.json(try LambdaSupport.run(try LambdaSupport.python(), args, timeout: 120))
        let log = (r["log"]?.arrayValue ?? []).compactMap(\.stringValue).joined(separator: "\n")
        XCTAssertFalse(log.contains("secret-test-key-never-logged") || log.contains("session-token-never-logged"), log)
        XCTAssertTrue(log.contains("finding lifecycle state in DynamoDB"), log)
        return r
    }

    func rules() throws -> URL {
        try writeRules(["50.lua": ##"return { route = function(f) return { channel = "#sec" } end }"##])
    }

    func apiCalls() throws -> [(String, JSONValue)] {
        try fake.requests().filter { $0["kind"]?.stringValue == "api" }.map {
            (String(($0["path"]?.stringValue ?? "").dropFirst(5)), $0["body"] ?? .null)
        }
    }

    func kinds(_ r: JSONValue) -> [String] { (r["invocations"]?.arrayValue ?? []).map { $0["kind"]?.stringValue ?? "?" } }

    func testTheSameSequenceAcrossTwoInstancesIsOneConversation() throws {
        let rules = try rules()
        defer { try? FileManager.default.removeItem(at: rules) }
        let a = try instance("a", events: [try event("dyn-1", count: 1, minute: 0), try event("dyn-1", count: 2, minute: 5)], rules: rules)
        XCTAssertEqual(kinds(a), ["response", "response"], "\(a)")
        // The other instance: a newer event, then the older one again (a retry that reached another instance).
        let b = try instance("b", events: [try event("dyn-1", count: 3, minute: 10), try event("dyn-1", count: 2, minute: 5)], rules: rules)
        XCTAssertEqual(kinds(b), ["response", "response"], "\(b)")
        let calls = try apiCalls()
        XCTAssertEqual(calls.map(\.0), ["chat.postMessage", "chat.update", "chat.postMessage", "chat.update", "chat.postMessage"])
        let rootTs = try XCTUnwrap(fake.requests().first?["ts"]?.stringValue ?? messagesRootTs())
        XCTAssertEqual(calls[1].1["ts"]?.stringValue, rootTs)
        XCTAssertEqual(calls[3].1["ts"]?.stringValue, rootTs, "the second instance edits the first instance's message")
        XCTAssertEqual(calls[4].1["thread_ts"]?.stringValue, rootTs, "and replies in its thread")
        XCTAssertTrue((calls[4].1["text"]?.stringValue ?? "").contains("Seen 3 times (was 2)"))
    }

    func messagesRootTs() throws -> String? {
        let messages = try fake.control("GET", "/_control/messages")["messages"]?.arrayValue ?? []
        return messages.first { $0["thread_ts"] == nil }?["ts"]?.stringValue
    }

    func testTwoConcurrentFirstEventsPostOneRootMessage() throws {
        let rules = try rules()
        defer { try? FileManager.default.removeItem(at: rules) }
        // Slack slow to answer the first posts: both instances are inside the window at once.
        try fake.script([["delay": 1.0]], pathPrefix: "/api/chat.postMessage", repeat: false)
        try fake.script([["delay": 1.0]], pathPrefix: "/api/chat.postMessage", repeat: false)
        let events = [try event("race-1", count: 1, minute: 0), try event("race-2", count: 1, minute: 0)]
        let results = Mutex<[JSONValue]>([])
        let group = DispatchGroup()
        for name in ["a", "b"] {
            let args = try instanceArguments(name, events: events, rules: rules)
            group.enter()
            DispatchQueue.global().async {
                defer { group.leave() }
                if let r = try? Self.run(args) { results.withLock { $0.append(r) } }
            }
        }
        XCTAssertEqual(group.wait(timeout: .now() + 150), .success)
        let both = results.withLock { $0 }
        XCTAssertEqual(both.count, 2)
        for r in both { XCTAssertEqual(kinds(r), ["response", "response"], "\(r)") }
        let messages = try fake.control("GET", "/_control/messages")["messages"]?.arrayValue ?? []
        XCTAssertEqual(messages.count, 2, "one root message per finding: \(messages.map { $0["text"]?.stringValue ?? "" })")
        XCTAssertEqual(try apiCalls().filter { $0.0 == "chat.postMessage" }.count, 2)
    }
}
