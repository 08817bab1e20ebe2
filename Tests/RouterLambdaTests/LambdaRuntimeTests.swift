import Foundation
import RouterDelivery
import RouterJSON
import XCTest

@testable import RouterLambda

/// The runtime loop and handler against the in-memory Runtime API and Slack transport.
final class LambdaRuntimeTests: XCTestCase {
    var data: URL!
    var logs: LogLines!

    override func setUp() {
        data = FileManager.default.temporaryDirectory.appendingPathComponent("lambda-data-\(UUID().uuidString)")
        logs = LogLines()
    }

    override func tearDown() {
        if let data { try? FileManager.default.removeItem(at: data) }
    }

    func env(rules: URL, _ extra: [String: String] = [:]) -> [String: String] {
        ["ROUTER_RULES": rules.path, "ROUTER_DATA_DIR": data.path, "SLACK_WEBHOOK_URL": LambdaFixtures.webhook]
            .merging(extra) { $1 }
    }

    func run(_ invocations: [LambdaInvocation], rules: [String: String] = LambdaFixtures.oneRoute,
             transport: SlackTransport, extraEnv: [String: String] = [:]) throws -> (Int32, InMemoryLambdaRuntimeAPI) {
        let api = InMemoryLambdaRuntimeAPI(invocations)
        let dir = try LambdaFixtures.rules(rules)
        defer { try? FileManager.default.removeItem(at: dir) }
        let status = LambdaRuntime.run(environment: env(rules: dir, extraEnv), api: api, transport: transport, log: logs.log)
        return (status, api)
    }

    func error(_ answer: InMemoryLambdaRuntimeAPI.Answer?) -> LambdaErrorReport? {
        if case .error(_, let r)? = answer { return r }
        return nil
    }

    func response(_ answer: InMemoryLambdaRuntimeAPI.Answer?) -> JSONValue? {
        if case .response(_, let body)? = answer { return try? JSONValue.parse(String(decoding: body, as: UTF8.self)) }
        return nil
    }

    func assertNoSecret(file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertFalse(logs.text.contains("secretwebhookpath123"), "a log line leaks the webhook", file: file, line: line)
    }

    func testFindingIsDeliveredAndARetryIsNotPostedAgainInOneWarmInstance() throws {
        let slack = TraceRecordingTransport()
        let event = try LambdaFixtures.event()
        let (status, api) = try run(
            [
                LambdaFixtures.invocation(event, id: "req-1", trace: "Root=1-5e1b4151-5ac6c58f5b3f0d4c0e2a3b4c"),
                LambdaFixtures.invocation(event, id: "req-2"),
            ], transport: slack)
        XCTAssertEqual(status, LambdaRuntime.Exit.finished)
        XCTAssertEqual(api.answers.count, 2)
        for (i, a) in api.answers.enumerated() {
            let r = try XCTUnwrap(response(a), "answer \(i) is a success: \(a)")
            XCTAssertEqual(r["findings"]?.intValue, 1)
        }
        XCTAssertEqual(slack.inner.callCount, 1, "the retried event is not posted again")
        XCTAssertEqual(slack.seenTraces, ["Root=1-5e1b4151-5ac6c58f5b3f0d4c0e2a3b4c"], "_X_AMZN_TRACE_ID set while handling")
        XCTAssertNil(getenv("_X_AMZN_TRACE_ID"), "an invocation without a trace header unsets it")
        XCTAssertTrue(logs.text.contains(#""alreadyDelivered":"1""#), logs.text)
        assertNoSecret()
    }

    func testEveryLogLineIsJSONAndInvocationLinesCarryTheRequestId() throws {
        let (_, _) = try run([LambdaFixtures.invocation(try LambdaFixtures.event(), id: "req-log")], transport: InMemorySlackTransport())
        let lines = logs.all
        XCTAssertFalse(lines.isEmpty)
        for line in lines {
            XCTAssertTrue(line.hasSuffix("\n"))
            let v = try JSONValue.parse(String(line.dropLast()))
            XCTAssertNotNil(v["timestamp"]?.stringValue)
            XCTAssertNotNil(v["message"]?.stringValue)
        }
        let handled = try XCTUnwrap(lines.first { $0.contains("invocation handled") })
        XCTAssertEqual(try JSONValue.parse(handled)["requestId"]?.stringValue, "req-log")
    }

    func testPermanentSlackErrorFailsTheInvocationWithSlacksCode() throws {
        let slack = InMemorySlackTransport()
        slack.enqueue(.permanent(code: "channel_not_found", httpStatus: 404))
        let (_, api) = try run([LambdaFixtures.invocation(try LambdaFixtures.event(), id: "req-p")], transport: slack)
        let e = try XCTUnwrap(error(api.answers.first), "\(api.answers)")
        XCTAssertEqual(e.errorType, "Router.SlackPermanentError")
        XCTAssertTrue(e.errorMessage.contains("channel_not_found"), e.errorMessage)
        XCTAssertTrue(logs.text.contains(#""code":"channel_not_found (HTTP 404)""#), logs.text)
        assertNoSecret()
    }

    func testARetryAfterAFailureTriesTheDeadLetteredDeliveryAgain() throws {
        let slack = InMemorySlackTransport()
        slack.enqueue(.permanent(code: "channel_not_found", httpStatus: 404))
        let event = try LambdaFixtures.event()
        let (_, api) = try run(
            [LambdaFixtures.invocation(event, id: "req-a"), LambdaFixtures.invocation(event, id: "req-b")], transport: slack)
        XCTAssertNotNil(error(api.answers.first))
        XCTAssertNotNil(response(api.answers.last), "\(api.answers)")
        XCTAssertEqual(slack.callCount, 2)
    }

    func testDeliveryStillFailingAtTheDeadlineFailsTheInvocationWithinItsTime() throws {
        let slack = InMemorySlackTransport()
        slack.enqueue(Array(repeating: SlackOutcome.retryable(code: "http_503"), count: 1000))
        let start = Date()
        let (_, api) = try run([LambdaFixtures.invocation(try LambdaFixtures.event(), id: "req-t", seconds: 3)], transport: slack)
        let elapsed = Date().timeIntervalSince(start)
        let e = try XCTUnwrap(error(api.answers.first), "\(api.answers)")
        XCTAssertEqual(e.errorType, "Router.DeliveryFailed")
        XCTAssertTrue(e.errorMessage.contains("http_503"), e.errorMessage)
        XCTAssertTrue(e.errorMessage.contains("1 still pending"), e.errorMessage)
        XCTAssertLessThan(elapsed, 3, "answered before the deadline")
        XCTAssertGreaterThanOrEqual(slack.callCount, 1)
    }

    func testSQSBatchNamesOnlyTheRecordsThatFailed() throws {
        let slack = InMemorySlackTransport()
        // One webhook is one lane: deliveries go in enqueue order (record 0's, then record 3's).
        slack.enqueue(.delivered(ts: nil, channel: nil), .permanent(code: "invalid_payload", httpStatus: 400))
        let body = LambdaFixtures.sqsEvent([
            (id: "m-good", body: try LambdaFixtures.event(findingId: "a1")),
            (id: "m-poison", body: "this is not JSON"),
            (id: "m-other", body: #"{"detail-type":"AWS API Call via CloudTrail","detail":{}}"#),
            (id: "m-refused", body: try LambdaFixtures.event(findingId: "b2")),
            (id: "m-empty", body: "[]"),
        ])
        let (_, api) = try run([LambdaFixtures.invocation(body, id: "req-sqs")], transport: slack)
        let r = try XCTUnwrap(response(api.answers.first), "\(api.answers)")
        let ids = r["batchItemFailures"]?.arrayValue?.compactMap { $0["itemIdentifier"]?.stringValue }
        XCTAssertEqual(ids, ["m-poison", "m-other", "m-refused", "m-empty"])
        XCTAssertEqual(slack.callCount, 2)
    }

    func testSQSBatchThatAllSucceededAnswersAnEmptyList() throws {
        let body = LambdaFixtures.sqsEvent([
            (id: "m1", body: try LambdaFixtures.event(findingId: "c1")), (id: "m2", body: try LambdaFixtures.event(findingId: "c2")),
        ])
        let slack = InMemorySlackTransport()
        let (_, api) = try run([LambdaFixtures.invocation(body, id: "req-ok")], transport: slack)
        guard case .response(_, let bytes)? = api.answers.first else { return XCTFail("\(api.answers)") }
        XCTAssertEqual(String(decoding: bytes, as: UTF8.self), #"{"batchItemFailures":[]}"#)
        XCTAssertEqual(slack.callCount, 2)
    }

    func testDirectInvokeWithSomethingElseIsAPreciseInputError() throws {
        let slack = InMemorySlackTransport()
        let (_, api) = try run(
            [
                LambdaFixtures.invocation(#"{"hello":"world"}"#, id: "req-x"),
                LambdaFixtures.invocation("{not json", id: "req-y"),
                LambdaFixtures.invocation(#"{"detail-type":"EC2 Instance State-change Notification","detail":{}}"#, id: "req-z"),
            ], transport: slack)
        XCTAssertEqual(api.answers.count, 3)
        for a in api.answers {
            let e = try XCTUnwrap(error(a), "\(a)")
            XCTAssertEqual(e.errorType, "Router.InvalidInput")
            XCTAssertTrue(e.errorMessage.hasPrefix("not a GuardDuty finding: event: "), e.errorMessage)
        }
        XCTAssertTrue(error(api.answers[1])!.errorMessage.contains("invalid_json"), error(api.answers[1])!.errorMessage)
        XCTAssertTrue(error(api.answers[2])!.errorMessage.contains("EC2 Instance State-change Notification"))
        XCTAssertEqual(slack.callCount, 0)
    }

    func testDroppedFindingIsASuccessWithoutPosting() throws {
        let slack = InMemorySlackTransport()
        let (_, api) = try run(
            [LambdaFixtures.invocation(try LambdaFixtures.event(), id: "req-d")],
            rules: ["10.lua": ##"return { filter = function(f) return false, "noise" end }"##], transport: slack)
        XCTAssertEqual(response(api.answers.first)?["dropped"]?.intValue, 1, "\(api.answers)")
        XCTAssertEqual(slack.callCount, 0)
    }

    func testRuleErrorIsLoggedAndTheFallbackDeliveryStillGoesOut() throws {
        let slack = InMemorySlackTransport()
        let (_, api) = try run(
            [LambdaFixtures.invocation(try LambdaFixtures.event(), id: "req-r")],
            rules: ["50.lua": ##"return { route = function(f) error("boom") end }"##], transport: slack)
        XCTAssertNotNil(response(api.answers.first), "\(api.answers)")
        XCTAssertEqual(slack.callCount, 1)
        XCTAssertTrue(logs.text.contains("rule error"), logs.text)
        XCTAssertTrue(logs.text.contains("50.lua:1"), logs.text)
    }

    func testRulesThatDoNotLoadAreAnInitErrorWithFileAndLine() throws {
        let (status, api) = try run(
            [LambdaFixtures.invocation(try LambdaFixtures.event(), id: "req-i")],
            rules: ["50.lua": "return { route = function(f) return { channel = \"#x\" } end\n"], transport: InMemorySlackTransport())
        XCTAssertEqual(status, LambdaRuntime.Exit.initFailed)
        XCTAssertEqual(api.nextCalls, 0, "no event is taken after an init error")
        guard case .initError(let e)? = api.answers.first, api.answers.count == 1 else { return XCTFail("\(api.answers)") }
        XCTAssertEqual(e.errorType, "Runtime.ConfigInvalid")
        XCTAssertTrue(e.errorMessage.contains("50.lua:"), e.errorMessage)
        XCTAssertTrue(e.errorMessage.contains("error"), e.errorMessage)
    }

    func testNoDestinationIsAnInitError() throws {
        let api = InMemoryLambdaRuntimeAPI([])
        let dir = try LambdaFixtures.rules(LambdaFixtures.oneRoute)
        defer { try? FileManager.default.removeItem(at: dir) }
        let status = LambdaRuntime.run(
            environment: ["ROUTER_RULES": dir.path, "ROUTER_DATA_DIR": data.path], api: api, log: logs.log)
        XCTAssertEqual(status, LambdaRuntime.Exit.initFailed)
        guard case .initError(let e)? = api.answers.first else { return XCTFail("\(api.answers)") }
        XCTAssertTrue(e.errorMessage.contains("SLACK_WEBHOOK_URL"), e.errorMessage)
    }

    func testUndefinedDestinationInARuleIsAnInitError() throws {
        let (status, api) = try run(
            [], rules: ["50.lua": ##"return { route = function(f) return { to = "team-b" } end }"##],
            transport: InMemorySlackTransport())
        XCTAssertEqual(status, LambdaRuntime.Exit.initFailed)
        guard case .initError(let e)? = api.answers.first else { return XCTFail("\(api.answers)") }
        XCTAssertTrue(e.errorMessage.contains("SLACK_WEBHOOK_URL_TEAM_B"), e.errorMessage)
    }

    func testBadMarginIsAnInitError() throws {
        let (status, api) = try run([], transport: InMemorySlackTransport(), extraEnv: ["ROUTER_LAMBDA_MARGIN_MS": "soon"])
        XCTAssertEqual(status, LambdaRuntime.Exit.initFailed)
        guard case .initError(let e)? = api.answers.first else { return XCTFail("\(api.answers)") }
        XCTAssertTrue(e.errorMessage.contains("ROUTER_LAMBDA_MARGIN_MS"), e.errorMessage)
    }

    func testPacingDigestAndStateTableSettingsFromTheEnvironment() {
        func config(_ env: [String: String]) -> Result<LambdaConfig, LambdaErrorReport> {
            LambdaConfig.fromEnvironment(["ROUTER_RULES": "r"].merging(env) { $1 })
        }
        guard case .success(let c) = config(["ROUTER_SLACK_RATE": "2.5", "ROUTER_SLACK_BURST": "4", "ROUTER_DIGEST_WINDOW": "0"])
        else { return XCTFail("valid settings refused") }
        XCTAssertEqual(c.policy.ratePerSecond, 2.5)
        XCTAssertEqual(c.policy.burst, 4)
        XCTAssertEqual(c.policy.digestWindow, 0, "0 turns digests off")
        XCTAssertNil(c.stateTable, "no ROUTER_STATE_TABLE: no state table")
        for (name, bad, expected) in [
            ("ROUTER_SLACK_RATE", "0", "messages per second from 0.000001 to 10000"), ("ROUTER_SLACK_BURST", "2.5", "a whole number"),
            ("ROUTER_SLACK_BURST", "0", "from 1 to 10000"), ("ROUTER_DIGEST_WINDOW", "-1", "seconds from 0 to 3600"),
            ("ROUTER_DIGEST_WINDOW", "soon", "not 'soon'"),
        ] {
            guard case .failure(let e) = config([name: bad]) else { return XCTFail("\(name)=\(bad) accepted") }
            XCTAssertEqual(e.errorType, "Runtime.ConfigInvalid")
            XCTAssertTrue(e.errorMessage.hasPrefix(name + " must be") && e.errorMessage.contains(expected), e.errorMessage)
        }
        guard case .failure(let e) = config(["ROUTER_STATE_TABLE": "router-state", "AWS_ACCESS_KEY_ID": "AKID", "AWS_SECRET_ACCESS_KEY": "s"])
        else { return XCTFail("a state table without a region accepted") }
        XCTAssertTrue(e.errorMessage.contains("region"), e.errorMessage)
    }

    func testOversizedEventIsAnInputError() throws {
        var inv = LambdaFixtures.invocation("", id: "req-big")
        inv.bodyTooLarge = true
        let (_, api) = try run([inv], transport: InMemorySlackTransport())
        XCTAssertEqual(error(api.answers.first)?.errorType, "Router.InvalidInput")
    }

    func testBudgetKeepsTheLastSlackRequestInsideTheDeadline() {
        var config = LambdaConfig(rulesDirectory: "r", dataDirectory: "d", destinations: DestinationSet())
        config.margin = 1.5
        for remaining in [0.5, 1.0, 3.0, 10.0, 30.0, 900.0] {
            let b = config.budget(remaining: remaining)
            XCTAssertGreaterThanOrEqual(b.slackTimeout, 1, "\(remaining)")
            XCTAssertLessThanOrEqual(b.slackTimeout, 10, "\(remaining)")
            XCTAssertGreaterThan(b.stopBefore, b.slackTimeout, "some margin is kept for \(remaining) s")
            if remaining >= 3 {
                XCTAssertLessThanOrEqual(b.stopBefore, remaining * 0.85, "deliveries get time in a \(remaining) s invocation")
            }
        }
        XCTAssertEqual(config.budget(remaining: 900).slackTimeout, 10)
        XCTAssertEqual(config.budget(remaining: 30).stopBefore, 1.5 + 8.5)
    }
}
