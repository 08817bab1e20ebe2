import Foundation
import RouterJSON
import XCTest

/// `router send` and `router dlq` end to end, against the fake Slack on loopback.
final class SendTests: XCTestCase {
    var fake: FakeSlackServer!
    var data: URL!

    override func setUpWithError() throws {
        fake = try FakeSlackServer()
        data = FileManager.default.temporaryDirectory.appendingPathComponent("router-data-\(UUID().uuidString)")
    }

    override func tearDown() {
        fake?.stop()
        if let data { try? FileManager.default.removeItem(at: data) }
    }

    /// Fast retries so tests take seconds.
    var fastRetry: [String] { ["--retry-base", "0.05", "--retry-cap", "0.2", "--rate", "50", "--burst", "5"] }

    func webhookEnv() -> [String: String] { ["SLACK_WEBHOOK_URL": fake.webhookURL] }
    func apiEnv() -> [String: String] { ["SLACK_BOT_TOKEN": FakeSlackServer.token, "SLACK_API_URL": fake.apiURL] }

    func send(_ inputs: [String], rules: String = "rules", env: [String: String], extra: [String] = []) throws -> RunResult {
        try runRouter(["send", rules] + inputs + ["--data", data.path] + fastRetry + extra, environment: env)
    }

    /// Distinct deliveries `router test` shows (the examples repeat a finding inside the SQS batch: the queue's
    /// idempotency key, finding id + updatedAt + destination + channel, posts it once).
    func expectedDeliveries(_ inputs: [String], rules: String = "rules") throws -> Int {
        let r = try runRouter(["test", rules] + inputs + ["--json"])
        var keys = Set<String>()
        for line in r.jsonLines {
            for d in line["deliveries"]?.arrayValue ?? [] {
                keys.insert((line["finding"]?["id"]?.stringValue ?? "") + "|" + (d["channel"]?.stringValue ?? ""))
            }
        }
        return keys.count
    }

    /// One detailed delivery per finding.
    func oneDeliveryRules() throws -> String {
        try writeRules(["50.lua": ##"return { route = function(f) return { channel = "#one" } end }"##]).path
    }

    func assertNoSecrets(_ r: RunResult, file: StaticString = #filePath, line: UInt = #line) {
        for secret in ["secretwebhookpath123", FakeSlackServer.token] {
            XCTAssertFalse(r.stdout.contains(secret), "stdout leaks a secret", file: file, line: line)
            XCTAssertFalse(r.stderr.contains(secret), "stderr leaks a secret", file: file, line: line)
        }
    }

    func testWebhookDeliversEverythingOnceAndIsIdempotent() throws {
        let expected = try expectedDeliveries(["examples"])
        XCTAssertGreaterThan(expected, 5)
        let r = try send(["examples"], env: webhookEnv())
        XCTAssertEqual(r.status, 0, r.stdout + r.stderr)
        assertNoSecrets(r)
        XCTAssertTrue(r.stdout.contains("\(expected) delivered, 0 dead-lettered"), r.stdout)
        let posted = try fake.requests()
        XCTAssertEqual(posted.count, expected)
        for p in posted {
            XCTAssertEqual(p["status"]?.intValue, 200)
            XCTAssertNil(p["body"]?["channel"], "webhook bodies carry no channel")
            XCTAssertNotNil(p["body"]?["text"]?.stringValue)
        }
        // The same findings again (an EventBridge retry): nothing is posted twice.
        let again = try send(["examples"], env: webhookEnv())
        XCTAssertEqual(again.status, 0, again.stderr)
        XCTAssertTrue(again.stdout.contains("; 0 deliveries queued ("), again.stdout)
        XCTAssertTrue(again.stdout.contains(" 0 delivered, 0 dead-lettered"), again.stdout)
        XCTAssertEqual(try fake.requests().count, expected)
    }

    func testWebAPIPostsToEachChannelInOrder() throws {
        let r = try send(["examples"], env: apiEnv())
        XCTAssertEqual(r.status, 0, r.stdout + r.stderr)
        assertNoSecrets(r)
        let posted = try fake.requests()
        XCTAssertEqual(posted.count, try expectedDeliveries(["examples"]))
        for p in posted {
            XCTAssertEqual(p["path"]?.stringValue, "/api/chat.postMessage")
            XCTAssertEqual(p["headers"]?["Authorization"]?.stringValue, "Bearer ***")
            XCTAssertTrue(p["body"]?["channel"]?.stringValue?.hasPrefix("#") ?? false)
        }
        XCTAssertTrue(posted.contains { $0["body"]?["channel"]?.stringValue == "#sec-critical" })
    }

    func testPermanentErrorsGoToTheDeadLetterWithSlacksCode() throws {
        try fake.script([["error": "channel_not_found"]], channel: "#sec-critical", repeat: true)
        let r = try send(["examples/critical-attack-sequence-s3.json"], env: apiEnv())
        XCTAssertEqual(r.status, 3, r.stdout + r.stderr)
        assertNoSecrets(r)
        let list = try runRouter(["dlq", "list", "--data", data.path])
        XCTAssertEqual(list.status, 0)
        XCTAssertTrue(list.stdout.contains("channel_not_found"), list.stdout)
        XCTAssertTrue(list.stdout.contains("#sec-critical"), list.stdout)
        XCTAssertTrue(list.stdout.contains("AttackSequence:S3/CompromisedData"), list.stdout)
        XCTAssertTrue(list.stdout.contains("attempts 1"), list.stdout)
        let json = try runRouter(["dlq", "list", "--json", "--data", data.path]).jsonLines
        XCTAssertEqual(json.count, 1)
        XCTAssertEqual(json[0]["last_error"]?.stringValue, "channel_not_found")
        XCTAssertEqual(json[0]["destination"]?.stringValue, "slack-api")
        let id = try XCTUnwrap(json[0]["id"]?.intValue)

        // Fixed: replay it, deliver it.
        try fake.control("POST", "/_control/reset")
        XCTAssertEqual(try runRouter(["dlq", "replay", String(id), "--data", data.path]).status, 0)
        let again = try send(["examples/critical-attack-sequence-s3.json"], env: apiEnv())
        XCTAssertEqual(again.status, 0, again.stdout + again.stderr)
        XCTAssertTrue(try runRouter(["dlq", "list", "--json", "--data", data.path]).jsonLines.isEmpty)
        XCTAssertEqual(try fake.requests().filter { $0["body"]?["channel"]?.stringValue == "#sec-critical" }.count, 1)
    }

    func testInvalidBlocksIsRetriedOnceAsTextOnly() throws {
        try fake.script([["error": "invalid_blocks"]], pathPrefix: "/services/")
        let r = try send(["examples/high-crypto-mining-ec2.json"], rules: try oneDeliveryRules(), env: webhookEnv())
        XCTAssertEqual(r.status, 0, r.stdout + r.stderr)
        let posted = try fake.requests()
        XCTAssertEqual(posted.count, 2)
        XCTAssertNotNil(posted[0]["body"]?["attachments"] ?? posted[0]["body"]?["blocks"])
        XCTAssertEqual(posted[1]["body"]?.objectValue?.keys, ["text"])
    }

    func testRateLimitWaitsRetryAfterThenDelivers() throws {
        try fake.script([["status": 429, "retry_after": 1]], pathPrefix: "/services/")
        let start = Date()
        let r = try send(["examples/high-crypto-mining-ec2.json", "examples/medium-iam-anomalous-behavior.json"],
                         rules: try oneDeliveryRules(), env: webhookEnv())
        XCTAssertEqual(r.status, 0, r.stdout + r.stderr)
        let posted = try fake.requests()
        // One webhook is one lane: the 429 holds back both findings, which then arrive in order.
        XCTAssertEqual(posted.map { $0["status"]?.intValue }, [429, 200, 200])
        let gap = (posted[1]["t"]?.doubleValue ?? 0) - (posted[0]["t"]?.doubleValue ?? 0)
        XCTAssertGreaterThanOrEqual(gap, 0.95, "waited Retry-After")
        XCTAssertEqual(posted[0]["body"]?["text"], posted[1]["body"]?["text"], "the refused message is retried first")
        XCTAssertLessThan(Date().timeIntervalSince(start), 30)
    }

    func testOutageRecoversWithNothingLostAndOrderPerChannelKept() throws {
        // Every request fails with 503 for the first 6, then Slack recovers.
        try fake.script([["status": 503], ["status": 503], ["status": 503], ["status": 503], ["status": 503], ["status": 503]])
        let r = try send(["examples"], env: apiEnv())
        XCTAssertEqual(r.status, 0, r.stdout + r.stderr)
        let posted = try fake.requests()
        let ok = posted.filter { $0["status"]?.intValue == 200 }
        XCTAssertEqual(ok.count, try expectedDeliveries(["examples"]))
        // Per channel, successful posts arrive in the order the findings were queued: compare with a run that had no outage.
        let clean = try FakeSlackServer()
        defer { clean.stop() }
        let data2 = FileManager.default.temporaryDirectory.appendingPathComponent("router-data-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: data2) }
        let r2 = try runRouter(["send", "rules", "examples", "--data", data2.path] + fastRetry,
                               environment: ["SLACK_BOT_TOKEN": FakeSlackServer.token, "SLACK_API_URL": clean.apiURL])
        XCTAssertEqual(r2.status, 0)
        func order(_ reqs: [JSONValue]) -> [String: [String]] {
            var m: [String: [String]] = [:]
            for q in reqs where q["status"]?.intValue == 200 {
                m[q["body"]?["channel"]?.stringValue ?? "", default: []].append(q["body"]?["text"]?.stringValue ?? "")
            }
            return m
        }
        XCTAssertEqual(order(ok), order(try clean.requests()))
    }

    func testPacingPerChannelAndChannelsInParallel() throws {
        // Slack's own limit, enforced by the fake: 5 messages/s per channel with a burst of 3; the router paces at 5/s
        // with a burst of 2, so network jitter never pushes it over.
        try fake.control("POST", "/_control/config", ["rate_limit": ["per_second": 5, "burst": 3]])
        let rules = try writeRules(["50.lua": ##"""
            return { route = function(f)
              local d = {}
              for i = 1, 4 do d[i] = { channel = "#c" .. i, format = "compact" } end
              return d
            end }
            """##])
        let events = FileManager.default.temporaryDirectory.appendingPathComponent("events-\(UUID().uuidString).jsonl")
        defer { try? FileManager.default.removeItem(at: events) }
        let template = try String(contentsOf: URL(fileURLWithPath: "examples/high-crypto-mining-ec2.json", relativeTo: Paths.root), encoding: .utf8)
        let one = try JSONValue.parse(template)
        var lines = ""
        for i in 0..<6 {
            var e = one
            var detail = e["detail"]!
            detail["id"] = .string(String(format: "%032x", i + 1))
            e["detail"] = detail
            lines += e.serialized() + "\n"
        }
        try lines.write(to: events, atomically: true, encoding: .utf8)
        let start = Date()
        let r = try runRouter(["send", rules.path, events.path, "--data", data.path, "--rate", "5", "--burst", "2"], environment: webhookEnvForChannels())
        let elapsed = Date().timeIntervalSince(start)
        XCTAssertEqual(r.status, 0, r.stdout + r.stderr)
        let posted = try fake.requests()
        XCTAssertEqual(posted.count, 24)
        XCTAssertEqual(posted.filter { $0["status"]?.intValue == 429 }.count, 0, "the router's pacing never trips Slack's limit")
        // 6 per channel at 5/s after a burst of 2: about 0.8 s; 4 channels in parallel, not 4 x that.
        XCTAssertLessThan(elapsed, 8)
        for c in 1...4 {
            let times = posted.filter { $0["channel"]?.stringValue == "#c\(c)" }.compactMap { $0["t"]?.doubleValue }
            XCTAssertEqual(times.count, 6)
            XCTAssertGreaterThanOrEqual((times.last ?? 0) - (times.first ?? 0), 0.7, "paced at 5/s after the burst")
        }
    }

    /// Web API so the channel is part of the request (webhooks have one channel each).
    func webhookEnvForChannels() -> [String: String] { apiEnv() }

    func testNoDestinationIsAConfigurationError() throws {
        let r = try runRouter(["send", "rules", "examples", "--data", data.path])
        XCTAssertEqual(r.status, 78)
        XCTAssertTrue(r.stderr.contains("SLACK_WEBHOOK_URL"), r.stderr)
        let rules = try writeRules(["50.lua": ##"return { route = function(f) return { channel = "#x", to = "team-a" } end }"##])
        let r2 = try runRouter(["send", rules.path, "examples", "--data", data.path], environment: webhookEnv())
        XCTAssertEqual(r2.status, 78)
        XCTAssertTrue(r2.stderr.contains("50.lua:1: error: destination 'team-a' is not configured: set SLACK_WEBHOOK_URL_TEAM_A"), r2.stderr)
        let check = try runRouter(["check", rules.path], environment: webhookEnv())
        XCTAssertEqual(check.status, 1)
        XCTAssertTrue(check.stderr.contains("50.lua:1: error: destination 'team-a' is not configured"), check.stderr)
        let r3 = try runRouter(["send", rules.path, "examples/high-crypto-mining-ec2.json", "--data", data.path] + fastRetry,
                               environment: webhookEnv().merging(["SLACK_WEBHOOK_URL_TEAM_A": fake.base + "/services/TEAM/A/otherhook"]) { $1 })
        XCTAssertEqual(r3.status, 0, r3.stderr)
        XCTAssertEqual(try fake.requests().first?["path"]?.stringValue, "/services/TEAM/A/otherhook")
    }

    func testUnroutedFindingsAreLoggedCountedAndSentToTheFallbackChannel() throws {
        let rules = try writeRules(["50.lua": "return { route = function(f) return nil end }"])
        let quiet = try send(["examples/high-crypto-mining-ec2.json"], rules: rules.path, env: apiEnv())
        XCTAssertEqual(quiet.status, 0, quiet.stderr)
        XCTAssertTrue(quiet.stderr.contains("unrouted: finding 749163aa3b70f7a71165e0c587cd8c94 CryptoCurrency:EC2/BitcoinTool.B!DNS"), quiet.stderr)
        XCTAssertTrue(quiet.stdout.contains("1 unrouted"), quiet.stdout)
        XCTAssertEqual(try fake.requests().count, 0, "no fallback channel configured: nothing posted")

        let r = try send(["examples/high-crypto-mining-ec2.json"], rules: rules.path, env: apiEnv(), extra: ["--fallback-channel", "#sec-unrouted"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let posted = try fake.requests()
        XCTAssertEqual(posted.count, 1)
        XCTAssertEqual(posted.first?["body"]?["channel"]?.stringValue, "#sec-unrouted")
        XCTAssertTrue(posted.first?["body"]?.serialized().contains("Unrouted") ?? false)
    }

    func testKillMinusNineLosesNothing() throws {
        // Slow Slack: every post takes 0.3 s, so the kill lands mid-delivery.
        try fake.script([["delay": 0.3, "ok": true]], repeat: true)
        let expected = try expectedDeliveries(["examples"])
        let p = Process()
        p.executableURL = Paths.routerBinary
        p.arguments = ["send", "rules", "examples", "--data", data.path, "--workers", "2"] + fastRetry
        var env = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("SLACK_") }
        env.merge(apiEnv()) { $1 }
        p.environment = env
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        // Wait until some, but not all, deliveries have reached Slack.
        let deadline = Date().addingTimeInterval(20)
        while Date() < deadline {
            let n = try fake.requests().count
            if n >= 2 { break }
            usleep(20_000)
        }
        kill(p.processIdentifier, SIGKILL)
        p.waitUntilExit()
        let before = try fake.requests()
        XCTAssertLessThan(before.filter { $0["status"]?.intValue == 200 }.count, expected, "killed mid-delivery")

        try fake.control("POST", "/_control/reset")
        let r = try send(["examples"], env: apiEnv())
        XCTAssertEqual(r.status, 0, r.stdout + r.stderr)
        let after = try fake.requests()
        // Every delivery reached Slack; duplicates at most the requests in flight at the kill (2 workers).
        var seen: [String: Int] = [:]
        for q in before + after where q["status"]?.intValue == 200 || q["outcome"]?.stringValue == "pending" {
            let key = (q["body"]?["channel"]?.stringValue ?? "") + "|" + (q["body"]?["text"]?.stringValue ?? "")
            seen[key, default: 0] += 1
        }
        XCTAssertEqual(seen.count, expected)
        let duplicates = seen.values.reduce(0) { $0 + $1 - 1 }
        XCTAssertLessThanOrEqual(duplicates, 2)
    }

    func testFakeAgreesWithTheIndependentSlackClient() throws {
        guard let python = ProcessInfo.processInfo.environment["ROUTER_TEST_PYTHON"],
            FileManager.default.isExecutableFile(atPath: python)
        else { throw XCTSkip("ROUTER_TEST_PYTHON (a Python with slack-sdk, set by scripts/test.sh) is not set") }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: python)
        p.arguments = [Paths.root.appendingPathComponent("Tests/FakeSlack/crosscheck.py").path]
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("crosscheck-\(UUID().uuidString)")
        FileManager.default.createFile(atPath: out.path, contents: nil)
        let h = try FileHandle(forWritingTo: out)
        p.standardOutput = h
        p.standardError = h
        try p.run()
        p.waitUntilExit()
        try h.close()
        let report = try String(contentsOf: out, encoding: .utf8)
        XCTAssertEqual(p.terminationStatus, 0, report)
        XCTAssertTrue(report.split(separator: "\n").last?.hasSuffix(" passed, 0 failed") ?? false, report)
    }
}
