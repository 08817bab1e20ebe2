import Foundation
import RouterDelivery
import RouterTestSupport
import Synchronization
import XCTest

/// Slack secrets named by Secrets Manager ARNs: parsing the references, reading them (a JSON key included), the
/// errors that name the ARN and AWS's code, and reading a secret again when Slack refuses it (rotation).
final class SecretsTests: QueueTestCase {
    static let arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:slack-bot-AbCdEf"

    func testReferences() throws {
        let plain = try XCTUnwrap(SecretReference(parsing: Self.arn))
        XCTAssertEqual(plain.arn, Self.arn)
        XCTAssertNil(plain.key)
        XCTAssertEqual(plain.region, "eu-west-1")
        let keyed = try XCTUnwrap(SecretReference(parsing: Self.arn + ":token"))
        XCTAssertEqual(keyed.arn, Self.arn)
        XCTAssertEqual(keyed.key, "token")
        XCTAssertEqual(SecretReference(parsing: "arn:aws-us-gov:secretsmanager:us-gov-west-1:123456789012:secret:x")?.region, "us-gov-west-1")
        for bad in ["", "slack-bot", "arn:aws:ssm:eu-west-1:123456789012:parameter/x", "arn:aws:secretsmanager:eu-west-1:1234:secret:x",
                    "arn:aws:secretsmanager::123456789012:secret:x", "arn:aws:secretsmanager:eu-west-1:123456789012:secret:"] {
            XCTAssertNil(SecretReference(parsing: bad), bad)
        }
        XCTAssertTrue(SlackSecrets.isReferenceVariable("SLACK_WEBHOOK_URL_TEAM_A_SECRET_ARN"))
        XCTAssertTrue(SlackSecrets.isReferenceVariable("SLACK_SIGNING_SECRET_ARN"))
        XCTAssertFalse(SlackSecrets.isReferenceVariable("OTHER_SECRET_ARN"))
    }

    func testResolvingTheEnvironment() throws {
        let secrets = InMemorySecrets([
            Self.arn: "xoxb-from-secrets-manager",
            "arn:aws:secretsmanager:eu-west-1:123456789012:secret:slack-AbCdEf": #"{"webhook": "https://hooks.slack.com/services/T/B/X", "signing": "sign-me"}"#,
        ])
        let env = [
            "SLACK_BOT_TOKEN_SECRET_ARN": Self.arn,
            "SLACK_WEBHOOK_URL_TEAM_A_SECRET_ARN": "arn:aws:secretsmanager:eu-west-1:123456789012:secret:slack-AbCdEf:webhook",
            "SLACK_SIGNING_SECRET_ARN": "arn:aws:secretsmanager:eu-west-1:123456789012:secret:slack-AbCdEf:signing",
            "UNRELATED": "x",
        ]
        let values = try SlackSecrets.resolve(env, reader: secrets).get()
        XCTAssertEqual(values, [
            "SLACK_BOT_TOKEN": "xoxb-from-secrets-manager", "SLACK_WEBHOOK_URL_TEAM_A": "https://hooks.slack.com/services/T/B/X",
            "SLACK_SIGNING_SECRET": "sign-me",
        ])
        // The references are not destinations themselves; the values are.
        let destinations = DestinationSet.fromEnvironment(env.merging(values) { $1 })
        XCTAssertEqual(destinations.named.keys.sorted(), ["TEAM_A"])
        XCTAssertNotNil(destinations.webAPI)
        XCTAssertTrue(DestinationSet.fromEnvironment(env).isEmpty, "an unread reference configures nothing")

        // Failures name the variable, the ARN and AWS's error; never a value.
        func failure(_ env: [String: String]) -> String {
            if case .failure(let f) = SlackSecrets.resolve(env, reader: secrets) { return f.description }
            return "no failure"
        }
        let missing = failure(["SLACK_BOT_TOKEN_SECRET_ARN": "arn:aws:secretsmanager:eu-west-1:123456789012:secret:gone-XyZ"])
        XCTAssertTrue(missing.contains("arn:aws:secretsmanager:eu-west-1:123456789012:secret:gone-XyZ"), missing)
        XCTAssertTrue(missing.contains("ResourceNotFoundException"), missing)
        XCTAssertTrue(failure(["SLACK_BOT_TOKEN_SECRET_ARN": "not-an-arn"]).contains("InvalidARN"))
        let noKey = failure(["SLACK_BOT_TOKEN_SECRET_ARN": Self.arn + ":token"])
        XCTAssertTrue(noKey.contains("NotJSON") && !noKey.contains("xoxb-from"), noKey)
        let wrongKey = failure(["SLACK_SIGNING_SECRET_ARN": "arn:aws:secretsmanager:eu-west-1:123456789012:secret:slack-AbCdEf:nope"])
        XCTAssertTrue(wrongKey.contains("NoSuchKey") && !wrongKey.contains("sign-me"), wrongKey)
        XCTAssertTrue(
            (try? SlackSecrets.resolve(["SLACK_BOT_TOKEN_SECRET_ARN": Self.arn], reader: nil).get()) == nil,
            "no credentials to read with")
    }

    /// A transport that answers invalid_auth to one token and records the tokens it saw.
    final class TokenCheckingSlack: SlackTransport, @unchecked Sendable {
        let good: String
        let seen = Mutex<[String]>([])
        init(good: String) { self.good = good }
        func send(_ request: SlackRequest) -> SlackOutcome {
            guard case .webAPI(let token, _) = request.destination.kind else { return .permanent(code: "unexpected", httpStatus: nil) }
            seen.withLock { $0.append(token.reveal()) }
            return token.reveal() == good ? .delivered(ts: "1.1", channel: "C1") : .permanent(code: "invalid_auth", httpStatus: 200)
        }
    }

    func testARotatedTokenIsReadAgainBeforeTheDeliveryFails() throws {
        let secrets = InMemorySecrets([Self.arn: "xoxb-new-token"])
        let env = ["SLACK_BOT_TOKEN_SECRET_ARN": Self.arn]
        let destinations = DestinationSet(
            webAPI: Destination(name: "slack-api", kind: .webAPI(token: Secret("xoxb-old-token"), baseURL: "https://slack.example/api")))
        let slack = TokenCheckingSlack(good: "xoxb-new-token")
        _ = try queue.enqueue(
            [NewDelivery(key: "k1", findingId: "f1", findingType: "T", severityLabel: "HIGH", destination: "slack-api", channel: "#sec",
                         payload: Array(#"{"text":"m"}"#.utf8))],
            now: Date().timeIntervalSince1970)
        let engine = DeliveryEngine(queue: queue, destinations: destinations, transport: slack, policy: fast)
        engine.secrets = SecretRefresher(environment: env, reader: secrets)
        let summary = engine.drain()
        XCTAssertEqual(summary.delivered, 1)
        XCTAssertEqual(summary.deadLettered, 0)
        XCTAssertEqual(slack.seen.withLock { $0 }, ["xoxb-old-token", "xoxb-new-token"])
        XCTAssertEqual(secrets.readCount, 1)
    }

    func testAnUnchangedSecretStillFails() throws {
        let secrets = InMemorySecrets([Self.arn: "xoxb-old-token"])
        let destinations = DestinationSet(
            webAPI: Destination(name: "slack-api", kind: .webAPI(token: Secret("xoxb-old-token"), baseURL: "https://slack.example/api")))
        let slack = TokenCheckingSlack(good: "xoxb-other")
        _ = try queue.enqueue(
            [NewDelivery(key: "k1", findingId: "f1", findingType: "T", severityLabel: "HIGH", destination: "slack-api", channel: "#sec",
                         payload: Array(#"{"text":"m"}"#.utf8))],
            now: Date().timeIntervalSince1970)
        let engine = DeliveryEngine(queue: queue, destinations: destinations, transport: slack, policy: fast)
        engine.secrets = SecretRefresher(environment: ["SLACK_BOT_TOKEN_SECRET_ARN": Self.arn], reader: secrets)
        let summary = engine.drain()
        XCTAssertEqual(summary.deadLettered, 1)
        XCTAssertEqual(slack.seen.withLock { $0 }.count, 1)
        XCTAssertEqual(try queue.deadLetters().first?.lastError, "invalid_auth")
    }
}
