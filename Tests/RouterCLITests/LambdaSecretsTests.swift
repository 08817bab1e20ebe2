import Foundation
import RouterJSON
import RouterTestSupport
import XCTest

/// The Lambda reading its Slack secrets from Secrets Manager at init (PyPI moto_server on loopback): the bot token
/// comes from a plain secret, the signing secret from a JSON secret's key; the values reach Slack and never the log;
/// a secret that cannot be read fails init with its ARN and AWS's error code.
final class LambdaSecretsTests: XCTestCase {
    var slack: FakeSlackServer!
    var dir: URL!
    var motoPort = ""

    override func setUpWithError() throws {
        motoPort = try MotoServer.port()
        slack = try FakeSlackServer()
        dir = try LambdaSupport.bootstrapDirectory("lambda-secrets")
    }

    override func tearDown() {
        slack?.stop()
        if let dir { try? FileManager.default.removeItem(at: dir) }
    }

    override class func tearDown() { MotoServer.stop() }

    /// Creates a secret in moto; its ARN.
    func createSecret(_ name: String, _ value: String) throws -> String {
        let r = try LambdaSupport.run(
            try MotoServer.python(),
            [
                "-c",
                """
                import boto3, sys
                sm = boto3.client("secretsmanager", endpoint_url=sys.argv[1], region_name="eu-west-1", aws_access_key_id="AKIDTEST",
                    aws_secret_access_key="secret-test")
                print(sm.create_secret(Name=sys.argv[2], SecretString=sys.argv[3])["ARN"])
                """,
                "http://127.0.0.1:\(motoPort)", name, value,
            ], timeout: 30)
        XCTAssertEqual(r.status, 0, r.stderr)
        return r.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    func run(_ env: [String: String], events: [String]) throws -> JSONValue {
        let rules = try writeRules(["50.lua": ##"return { route = function(f) return { channel = "#sec" } end }"##])
        defer { try? FileManager.default.removeItem(at: rules) }
        let args = try LambdaSupport.runtimeArguments(
            dir: dir, events: events, rules: rules,
            env: [
                "SLACK_API_URL=\(slack.apiURL)", "AWS_REGION=eu-west-1",
                "ROUTER_SECRETSMANAGER_ENDPOINT=http://127.0.0.1:\(motoPort)", "AWS_ACCESS_KEY_ID=AKIDTEST",
                "AWS_SECRET_ACCESS_KEY=secret-test-never-logged",
            ] + env.map { "\($0.key)=\($0.value)" })
        return try LambdaSupport.json(try LambdaSupport.run(try LambdaSupport.python(), args, timeout: 120))
    }

    func testSecretsAreReadAtInitAndNeverLogged() throws {
        let token = try createSecret("slack-bot-\(UUID().uuidString.prefix(6))", FakeSlackServer.token)
        let signing = try createSecret("slack-app-\(UUID().uuidString.prefix(6))", #"{"signing": "signing-secret-never-logged", "other": "x"}"#)
        let r = try run(
            ["SLACK_BOT_TOKEN_SECRET_ARN": token, "SLACK_SIGNING_SECRET_ARN": signing + ":signing"],
            events: [try lifecycleEvent("s0000000000000000000000000000001", count: 1, minute: 0).serialized()])
        XCTAssertNil(r["init_error"]?.objectValue, "\(r)")
        let invocations = r["invocations"]?.arrayValue ?? []
        XCTAssertEqual(invocations.first?["kind"]?.stringValue, "response", "\(r)")
        // The fake Slack accepts only its token: the secret's value reached it.
        let posts = try slack.requests().filter { $0["path"]?.stringValue == "/api/chat.postMessage" }
        XCTAssertEqual(posts.count, 1)
        XCTAssertEqual(posts.first?["status"]?.intValue, 200)
        let log = (r["log"]?.arrayValue ?? []).compactMap(\.stringValue).joined(separator: "\n")
        XCTAssertTrue(log.contains("Slack secrets read from Secrets Manager"), log)
        for secret in [FakeSlackServer.token, "signing-secret-never-logged", "secret-test-never-logged"] {
            XCTAssertFalse(log.contains(secret), "a secret value in the log")
        }
    }

    func testASecretThatCannotBeReadFailsInitWithItsARNAndAWSsCode() throws {
        let missing = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:no-such-secret-AbCdEf"
        let r = try run(["SLACK_BOT_TOKEN_SECRET_ARN": missing], events: [#"{"detail-type": "GuardDuty Finding"}"#])
        let error = try XCTUnwrap(r["init_error"], "\(r)")
        let message = error.serialized()
        XCTAssertTrue(message.contains(missing), message)
        XCTAssertTrue(message.contains("ResourceNotFoundException"), message)
        XCTAssertTrue(message.contains("Runtime.ConfigInvalid"), message)
    }
}
