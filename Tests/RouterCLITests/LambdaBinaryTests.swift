import Foundation
import RouterJSON
import XCTest

/// The router binary started as a Lambda `bootstrap` against a fake Runtime API (Tests/FakeLambda/runtime_api.py)
/// and the fake Slack, over real HTTP on loopback.
final class LambdaBinaryTests: XCTestCase {
    var fake: FakeSlackServer!
    var dir: URL!

    override func setUpWithError() throws {
        fake = try FakeSlackServer()
        dir = try LambdaSupport.bootstrapDirectory("lambda-bin")
    }

    override func tearDown() {
        fake?.stop()
        if let dir { try? FileManager.default.removeItem(at: dir) }
    }

    func event(_ id: String) throws -> String {
        let text = try String(contentsOf: Paths.root.appendingPathComponent("examples/high-crypto-mining-ec2.json"), encoding: .utf8)
        return try JSONValue.parse(text.replacingOccurrences(of: "749163aa3b70f7a71165e0c587cd8c94", with: id)).serialized()
    }

    func runBootstrap(events: [String], rules: URL, extra: [String] = []) throws -> JSONValue {
        let args =
            try LambdaSupport.runtimeArguments(
                dir: dir, events: events, rules: rules, timeout: 20, env: ["SLACK_WEBHOOK_URL=\(fake.webhookURL)"])
            + extra
        return try LambdaSupport.json(try LambdaSupport.run(try LambdaSupport.python(), args, timeout: 90))
    }

    func testEachEventIsAnsweredOnceOverHTTPAndRetriesAreNotPostedAgain() throws {
        let r = try runBootstrap(
            events: [try event("b1000000000000000000000000000001"), try event("b1000000000000000000000000000001"), #"{"hello":"world"}"#],
            rules: Paths.root.appendingPathComponent("rules"))
        XCTAssertNotNil(r["init_ms"]?.arrayValue?.first?.doubleValue, "reached GET /next")
        let inv = try XCTUnwrap(r["invocations"]?.arrayValue)
        XCTAssertEqual(inv.map { $0["kind"]?.stringValue }, ["response", "response", "error"], "\(r)")
        let delivered = try JSONValue.parse(inv[0]["body"]?.stringValue ?? "")["delivered"]?.intValue
        XCTAssertEqual(inv[2]["errorType"]?.stringValue, "Router.InvalidInput", "Lambda-Runtime-Function-Error-Type header")
        XCTAssertEqual(try JSONValue.parse(inv[2]["body"]?.stringValue ?? "")["errorType"]?.stringValue, "Router.InvalidInput")
        let posted = try fake.requests()
        XCTAssertEqual(posted.count, Int(delivered ?? -1), "each delivery posted once, the retried event not again")
        let log = (r["log"]?.arrayValue ?? []).compactMap(\.stringValue)
        XCTAssertFalse(log.joined().contains("secretwebhookpath123"), "the webhook never reaches the log")
        XCTAssertTrue(log.contains { $0.contains(#""message":"invocation handled""#) && $0.contains(#""requestId":""#) }, "\(log)")
    }

    func testRulesThatDoNotLoadArePostedAsTheInitErrorAndTheProcessExits() throws {
        let rules = try writeRules(["50.lua": "return { route = function(f)\n  return {\nend\n"])
        defer { try? FileManager.default.removeItem(at: rules) }
        let r = try runBootstrap(events: [try event("b2000000000000000000000000000001")], rules: rules)
        XCTAssertEqual(r["init_error"]?["header"]?.stringValue, "Runtime.ConfigInvalid", "\(r)")
        let body = try JSONValue.parse(r["init_error"]?["body"]?.stringValue ?? "")
        XCTAssertTrue(body["errorMessage"]?.stringValue?.contains("50.lua:3:") ?? false, "\(body)")
        XCTAssertEqual(r["exit_code"]?.intValue, 78)
        XCTAssertEqual(r["invocations"]?.arrayValue?.count, 0)
        XCTAssertTrue(try fake.requests().isEmpty)
    }
}
