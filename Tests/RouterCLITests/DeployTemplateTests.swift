import Foundation
import XCTest

/// `deploy/template.yaml` passes the independent CloudFormation linter (PyPI `cfn-lint`, installed by scripts/test.sh
/// and found through `ROUTER_TEST_CFN_LINT`), and keeps the Slack secret out of the template's text.
final class DeployTemplateTests: XCTestCase {
    static let template = Paths.root.appendingPathComponent("deploy/template.yaml")

    func cfnLint() throws -> String {
        if let path = ProcessInfo.processInfo.environment["ROUTER_TEST_CFN_LINT"], FileManager.default.isExecutableFile(atPath: path) {
            return path
        }
        if ProcessInfo.processInfo.environment["CI"] == "true" {
            XCTFail("cfn-lint is missing: scripts/test.sh installs it and exports ROUTER_TEST_CFN_LINT")
        }
        throw XCTSkip("cfn-lint not available (run through scripts/test.sh)")
    }

    func lint(_ file: URL, linter: String) throws -> (status: Int32, output: String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: linter)
        p.arguments = ["--format", "parseable", file.path]
        let out = Pipe()
        p.standardOutput = out
        p.standardError = out
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    func testTemplatePassesCfnLint() throws {
        let linter = try cfnLint()
        let r = try lint(Self.template, linter: linter)
        XCTAssertEqual(r.status, 0, r.output)
    }

    /// The linter really reads the template: the same template referring to a parameter that does not exist is refused.
    func testLinterRejectsABrokenCopy() throws {
        let linter = try cfnLint()
        let text = try String(contentsOf: Self.template, encoding: .utf8)
        XCTAssertTrue(text.contains("MaximumRetryAttempts: !Ref RetryAttempts"))
        let broken = FileManager.default.temporaryDirectory.appendingPathComponent("template-\(UUID().uuidString).yaml")
        defer { try? FileManager.default.removeItem(at: broken) }
        try text.replacingOccurrences(of: "MaximumRetryAttempts: !Ref RetryAttempts", with: "MaximumRetryAttempts: !Ref NoSuchParameter")
            .write(to: broken, atomically: true, encoding: .utf8)
        let r = try lint(broken, linter: linter)
        XCTAssertNotEqual(r.status, 0, "cfn-lint accepted a template with an undefined reference:\n\(r.output)")
    }

    /// What the template sets up, and that the secret parameters are NoEcho and empty by default.
    func testTemplateShape() throws {
        let text = try String(contentsOf: Self.template, encoding: .utf8)
        for needle in [
            "Type: AWS::GuardDuty::Detector", "FindingPublishingFrequency: !Ref FindingPublishingFrequency",
            "source: [aws.guardduty]", "detail-type: [GuardDuty Finding]", "Runtime: provided.al2023",
            "Handler: bootstrap", "OnFailure:", "Type: AWS::SQS::Queue",
            // Secrets as ARNs read at run time (never resolved into the function's configuration).
            "SLACK_WEBHOOK_URL_SECRET_ARN: !If", "SLACK_BOT_TOKEN_SECRET_ARN: !If", "SLACK_SIGNING_SECRET_ARN: !If",
            "secretsmanager:GetSecretValue",
            // Slack actions: the function URL Slack posts clicks to, and the GuardDuty calls they make.
            "Type: AWS::Lambda::Url", "AuthType: NONE", "guardduty:ArchiveFindings", "guardduty:CreateFilter",
            // The finding lifecycle's state table, handed to the function with the rights it needs.
            "Type: AWS::DynamoDB::Table", "AttributeName: pk", "AttributeName: expires_at",
            "ROUTER_STATE_TABLE: !Ref FindingStateTable", "dynamodb:GetItem, dynamodb:PutItem]",
            "Resource: !GetAtt FindingStateTable.Arn",
        ] {
            XCTAssertTrue(text.contains(needle), "template lacks \(needle)")
        }
        for secret in ["SlackWebhookUrl:", "SlackBotToken:"] {
            guard let start = text.range(of: "  " + secret + "\n") else {
                XCTFail("no parameter \(secret)")
                continue
            }
            let block = text[start.upperBound...].split(separator: "\n").prefix(4).joined(separator: "\n")
            XCTAssertTrue(block.contains("NoEcho: true"), "\(secret) is not NoEcho:\n\(block)")
            XCTAssertTrue(block.contains("Default: \"\""), "\(secret) must default to empty:\n\(block)")
        }
        XCTAssertFalse(text.contains("{{resolve:secretsmanager:"), "a secret resolved into the function's environment")
        XCTAssertFalse(text.contains("hooks.slack.com/services/T"), "a webhook URL in the template text")
        XCTAssertFalse(text.contains("xoxb-1"), "a bot token in the template text")
    }
    /// deploy/slack-app-manifest.yaml is a Slack app manifest with what the router needs: a bot with the scopes of the
    /// Web API methods it calls (chat.postMessage, chat.update: `chat:write`), and interactivity on, pointed at an
    /// https Request URL. Parsed by PyYAML (installed with cfn-lint by scripts/test.sh).
    func testSlackAppManifest() throws {
        guard let python = ProcessInfo.processInfo.environment["ROUTER_TEST_PYTHON"] else {
            throw XCTSkip("ROUTER_TEST_PYTHON not set (run through scripts/test.sh)")
        }
        let manifest = Paths.root.appendingPathComponent("deploy/slack-app-manifest.yaml").path
        let script = """
            import json, sys, yaml
            m = yaml.safe_load(open(sys.argv[1]))
            print(json.dumps(m))
            """
        let p = Process()
        p.executableURL = URL(fileURLWithPath: python)
        p.arguments = ["-c", script, manifest]
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        let errors = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        XCTAssertEqual(p.terminationStatus, 0, errors)
        let m = try XCTUnwrap(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        XCTAssertEqual(Set(m.keys), ["display_information", "features", "oauth_config", "settings"])
        let name = (m["display_information"] as? [String: Any])?["name"] as? String
        XCTAssertFalse((name ?? "").isEmpty, "an app needs a name")
        XCTAssertNotNil((m["features"] as? [String: Any])?["bot_user"], "a bot user holds the token")
        let scopes = ((m["oauth_config"] as? [String: Any])?["scopes"] as? [String: Any])?["bot"] as? [String] ?? []
        XCTAssertTrue(scopes.contains("chat:write"), "chat.postMessage and chat.update need chat:write: \(scopes)")
        XCTAssertTrue(Set(scopes).isSubset(of: ["chat:write", "chat:write.public"]), "no scope the router does not use: \(scopes)")
        let interactivity = ((m["settings"] as? [String: Any])?["interactivity"] as? [String: Any]) ?? [:]
        XCTAssertEqual(interactivity["is_enabled"] as? Bool, true)
        XCTAssertTrue((interactivity["request_url"] as? String ?? "").hasPrefix("https://"), "Slack only calls https URLs")
        XCTAssertEqual((m["settings"] as? [String: Any])?["socket_mode_enabled"] as? Bool, false, "clicks come over HTTP")
        let readme = try String(contentsOf: Paths.root.appendingPathComponent("README.md"), encoding: .utf8)
        XCTAssertTrue(readme.contains("deploy/slack-app-manifest.yaml"), "the README's set-up walkthrough uses the manifest")
    }
}
