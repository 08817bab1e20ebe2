import Foundation
import RouterJSON
import RouterTestSupport
import XCTest

@testable import RouterActions
import RouterDelivery

/// Clicks reaching the Lambda as function URL requests (payload format 2.0), end to end: the bootstrap run by the fake
/// Runtime API, its state in DynamoDB (moto_server), the fake Slack and the fake GuardDuty. The click is answered
/// first (statusCode 200), then carried out before the function asks for its next event.
final class SlackActionsLambdaTests: XCTestCase {
    var slack: FakeSlackServer!
    var guardDuty: FakeGuardDuty!
    var dir: URL!
    var table = ""
    var motoPort = ""
    let findingId = "c0000000000000000000000000000001"

    override func setUpWithError() throws {
        motoPort = try MotoServer.port()
        slack = try FakeSlackServer()
        guardDuty = try FakeGuardDuty()
        dir = try LambdaSupport.bootstrapDirectory("lambda-actions")
        table = try LambdaSupport.createStateTable(port: motoPort, prefix: "router-actions")
    }

    override func tearDown() {
        slack?.stop()
        guardDuty = nil
        if let dir { try? FileManager.default.removeItem(at: dir) }
    }

    override class func tearDown() { MotoServer.stop() }

    /// A function URL request carrying `body` with Slack's headers (base64, as Lambda sends form bodies).
    func functionURLEvent(_ body: [UInt8], headers: [String: String]) -> String {
        var h: JSONObject = ["content-type": "application/x-www-form-urlencoded", "user-agent": "Slackbot 1.0 (+https://api.slack.com/robots)"]
        for (k, v) in headers { h[k.lowercased()] = .string(v) }
        let event: JSONValue = [
            "version": "2.0", "routeKey": "$default", "rawPath": "/", "rawQueryString": "", "headers": .object(h),
            "requestContext": [
                "accountId": "anonymous", "apiId": "abcdefgh", "domainName": "abcdefgh.lambda-url.eu-west-1.on.aws",
                "http": ["method": "POST", "path": "/", "protocol": "HTTP/1.1", "sourceIp": "203.0.113.9", "userAgent": "Slackbot 1.0"],
                "requestId": "req-1", "routeKey": "$default", "stage": "$default", "timeEpoch": 1_767_323_045_000,
            ],
            "body": .string(Data(body).base64EncodedString()), "isBase64Encoded": true,
        ]
        return event.serialized()
    }

    func click(_ action: String, user: String, secret: String = SlackClicks.signingSecret, finding: String? = nil) -> (body: [UInt8], headers: [String: String]) {
        let value = JSONValue.object(["f": .string(finding ?? findingId), "c": .string("slack-api\u{1F}#sec")]).serialized()
        let payload: JSONValue = [
            "type": "block_actions",
            "user": ["id": .string(user), "username": "alice", "team_id": "T1"], "team": ["id": "T1"],
            "container": ["type": "message", "channel_id": "C0SEC", "message_ts": "1.2"],
            "response_url": .string(slack.base + "/services/T1/response/lambda"),
            "actions": [["action_id": .string(action), "block_id": "router.actions", "value": .string(value), "type": "button"]],
        ]
        return SlackClicks.request(payload, secret: secret)
    }

    func run(_ events: [String], rules: URL) throws -> JSONValue {
        let args = try LambdaSupport.runtimeArguments(
            dir: dir, events: events, rules: rules,
            env: [
                "SLACK_BOT_TOKEN=\(FakeSlackServer.token)", "SLACK_API_URL=\(slack.apiURL)",
                "SLACK_SIGNING_SECRET=\(SlackClicks.signingSecret)", "ROUTER_STATE_TABLE=\(table)", "AWS_REGION=eu-west-1",
                "ROUTER_DYNAMODB_ENDPOINT=http://127.0.0.1:\(motoPort)", "ROUTER_GUARDDUTY_ENDPOINT=\(guardDuty.endpoint)",
                "AWS_ACCESS_KEY_ID=\(FakeGuardDuty.accessKey)", "AWS_SECRET_ACCESS_KEY=\(FakeGuardDuty.secretKey)",
                "AWS_SESSION_TOKEN=session-token-never-logged",
            ])
        let r = try LambdaSupport.json(try LambdaSupport.run(try LambdaSupport.python(), args, timeout: 120))
        let log = (r["log"]?.arrayValue ?? []).compactMap(\.stringValue).joined(separator: "\n")
        for secret in [SlackClicks.signingSecret, FakeGuardDuty.secretKey, "session-token-never-logged"] {
            XCTAssertFalse(log.contains(secret), "a secret in the function's log")
        }
        return r
    }

    /// A denied user, an AWS error, a click on a message the router does not know, and a repeated click, through the
    /// function URL: each answered 200 at once, changing nothing it may not, told to the clicking user only, and recorded.
    func testDeniedFailedUnknownAndRepeatedClicks() throws {
        let rules = try writeRules(["50.lua": SlackClicks.rules])
        defer { try? FileManager.default.removeItem(at: rules) }
        var finding = try lifecycleEvent(findingId, count: 1, minute: 0)
        finding["region"] = "eu-west-1"
        finding["detail"]?["region"] = "eu-west-1"
        try guardDuty.fail("archive", status: 403, type: "AccessDeniedException", message: "User: arn:aws:sts::111122223333:assumed-role/router is not authorized to perform: guardduty:ArchiveFindings")
        let clicks = [
            click("router.archive", user: "UBLOCKED"),
            click("router.archive", user: "U0ALICE"),
            click("router.archive", user: "U0ALICE", finding: "d0000000000000000000000000000009"),
            click("router.ack", user: "U0ALICE"),
            click("router.ack", user: "U0ALICE"),
        ]
        let r = try run(
            [finding.serialized()] + clicks.map { functionURLEvent($0.body, headers: $0.headers) } + [#"{"sentinel": "last"}"#],
            rules: rules)
        let invocations = r["invocations"]?.arrayValue ?? []
        XCTAssertEqual(invocations.count, 7, "\(r)")
        for i in 1...5 {
            XCTAssertEqual(try JSONValue.parse(invocations[i]["body"]?.stringValue ?? "")["statusCode"]?.intValue, 200, "\(invocations[i])")
        }
        let requests = try slack.requests()
        let ephemerals = requests.filter { ($0["path"]?.stringValue ?? "").hasPrefix("/services/T1/response/") }
            .compactMap { $0["body"]?["text"]?.stringValue }
        XCTAssertTrue(ephemerals.contains { $0.contains("blocked users may not act") }, "\(ephemerals)")
        XCTAssertTrue(ephemerals.contains { $0.contains("AccessDeniedException") && $0.contains("not authorized to perform: guardduty:ArchiveFindings") }, "\(ephemerals)")
        XCTAssertTrue(ephemerals.contains { $0.contains("does not know this message") }, "\(ephemerals)")
        // Only the permitted archive reached GuardDuty, which refused: nothing archived.
        XCTAssertEqual(try guardDuty.calls("/findings/archive").count, 1)
        XCTAssertEqual(try guardDuty.get("/_state")["archived"]?.arrayValue?.count, 0)
        // The acknowledgement, then taken back by the same user's second click: two edits of the message.
        let updates = requests.filter { $0["path"]?.stringValue == "/api/chat.update" }
        XCTAssertEqual(updates.count, 2, "\(updates)")
        XCTAssertTrue(updates[0]["body"]?.serialized().contains("Acknowledged by <@U0ALICE>") == true)
        XCTAssertFalse(updates[1]["body"]?.serialized().contains("Acknowledged by") == true)
        // Every click recorded with its outcome.
        let scan = try LambdaSupport.run(
            try MotoServer.python(),
            [
                "-c",
                """
                import boto3, json, sys
                items = boto3.client("dynamodb", endpoint_url=sys.argv[1], region_name="eu-west-1", aws_access_key_id="AKIDTEST",
                    aws_secret_access_key="secret-test").scan(TableName=sys.argv[2])["Items"]
                print(json.dumps(sorted(i["outcome"]["S"] for i in items if i.get("kind", {}).get("S") == "click")))
                """,
                "http://127.0.0.1:\(motoPort)", table,
            ], timeout: 30)
        XCTAssertEqual(try JSONValue.parse(scan.stdout), ["denied", "done", "done", "failed", "unknown"], scan.stderr)
    }

    func testAClickIsAnsweredFirstThenCarriedOut() throws {
        let rules = try writeRules(["50.lua": SlackClicks.rules])
        defer { try? FileManager.default.removeItem(at: rules) }
        var finding = try lifecycleEvent(findingId, count: 1, minute: 0)
        finding["region"] = "eu-west-1"
        finding["detail"]?["region"] = "eu-west-1"
        let good = click("router.archive", user: "U0ALICE")
        let forged = click("router.archive", user: "U0MALLORY", secret: "not-the-signing-secret")
        let r = try run(
            [finding.serialized(), functionURLEvent(forged.body, headers: forged.headers), functionURLEvent(good.body, headers: good.headers),
             #"{"sentinel": "the next event, handed out once the click is done"}"#],
            rules: rules)
        let invocations = r["invocations"]?.arrayValue ?? []
        XCTAssertEqual(invocations.count, 4, "\(r)")
        // The forged click: 401, nothing else.
        let refused = try JSONValue.parse(invocations[1]["body"]?.stringValue ?? "")
        XCTAssertEqual(refused["statusCode"]?.intValue, 401, "\(invocations[1])")
        // The real one: 200 at once.
        let answer = try JSONValue.parse(invocations[2]["body"]?.stringValue ?? "")
        XCTAssertEqual(answer["statusCode"]?.intValue, 200, "\(invocations[2])")
        let ms = try XCTUnwrap(invocations[2]["ms"]?.doubleValue ?? invocations[2]["ms"]?.intValue.map(Double.init))
        XCTAssertLessThan(ms, 3000)
        print("figure: Lambda click acknowledged in \(String(format: "%.1f", ms)) ms (fake Runtime API)")
        // Carried out: GuardDuty (signed for the finding's region), the message edited, the thread reply.
        let calls = try guardDuty.log()
        XCTAssertEqual(calls.map { $0["path"]?.stringValue ?? "" }, ["/detector", "/detector/\(FakeGuardDuty.detector)/findings/archive"])
        XCTAssertTrue(calls.allSatisfy { $0["valid"]?.boolValue == true }, "\(calls)")
        let requests = try slack.requests()
        let update = try XCTUnwrap(requests.first { $0["path"]?.stringValue == "/api/chat.update" })
        XCTAssertTrue(update["body"]?.serialized().contains("Archived by <@U0ALICE>") == true)
        XCTAssertTrue(requests.contains { ($0["body"]?["text"]?.stringValue ?? "").contains("Archived in GuardDuty by <@U0ALICE>") })
        // The click is recorded in the state table and the log.
        let log = (r["log"]?.arrayValue ?? []).compactMap(\.stringValue).joined(separator: "\n")
        XCTAssertTrue(log.contains("\"click\"") && log.contains("U0ALICE"), log)
        let scan = try LambdaSupport.run(
            try MotoServer.python(),
            [
                "-c",
                """
                import boto3, json, sys
                items = boto3.client("dynamodb", endpoint_url=sys.argv[1], region_name="eu-west-1", aws_access_key_id="AKIDTEST",
                    aws_secret_access_key="secret-test").scan(TableName=sys.argv[2])["Items"]
                print(json.dumps([i for i in items if i.get("kind", {}).get("S") == "click"]))
                """,
                "http://127.0.0.1:\(motoPort)", table,
            ], timeout: 30)
        let clicks = try JSONValue.parse(scan.stdout).arrayValue ?? []
        XCTAssertEqual(clicks.count, 1, scan.stderr)
        XCTAssertEqual(clicks.first?["outcome"]?["S"]?.stringValue, "done")
    }
}
