import Foundation
import RouterJSON
import XCTest

/// The corpus check: real GuardDuty events from public sources (../shared/corpus, present in CI) through the binary,
/// and every rendered payload through an independent Block Kit validator (PyPI slack-sdk).
final class CorpusTests: XCTestCase {
    /// Routes every finding to every built-in format and to a custom format that returns oversized content.
    static let allFormatsRules: [String: String] = [
        "50-all.lua": ##"""
        return {
          route = function(f, ctx)
            return {
              { channel = "#detailed", mention = { "here", "S0GROUP01" } },
              { channel = "#compact", format = "compact", mention = "U012AB3CD" },
              { channel = "#custom", format = "huge" },
            }
          end,
          formats = {
            huge = function(f, ctx, d)
              local blocks = {}
              for i = 1, 80 do
                blocks[i] = { type = "section", text = { type = "mrkdwn", text = string.rep(slack.escape(f.description) .. " ", 3) } }
              end
              local fields = {}
              for i = 1, 30 do fields[i] = { type = "mrkdwn", text = "*" .. i .. "* " .. slack.escape(f.title) } end
              blocks[81] = { type = "section", fields = fields }
              blocks[82] = { type = "header", text = { type = "plain_text", text = string.rep(f.type, 20) } }
              return { text = string.rep(f.title, 2000), blocks = blocks }
            end,
          },
        }
        """##
    ]

    func corpusOrSkip() throws -> URL {
        guard let corpus = Paths.corpus else { throw XCTSkip("../shared/corpus/guardduty is not present") }
        return corpus
    }

    func testEveryCorpusEventYieldsFindingsAndOnlyNonFindingsAreRefused() throws {
        let corpus = try corpusOrSkip()
        let r = try runRouter(["test", "rules", corpus.appendingPathComponent("eventbridge").path,
                               corpus.appendingPathComponent("wrappers").path, "--json"])
        XCTAssertNotEqual(r.status, 1, r.stderr)
        var findingsPerFile: [String: Int] = [:]
        var errors: [(String, String)] = []
        for line in r.jsonLines {
            let source = line["source"]?.stringValue ?? ""
            let file = String(source.split(separator: "#").first ?? "")
            if let kind = line["error"]?["kind"]?.stringValue {
                errors.append((file, kind))
            } else {
                findingsPerFile[file, default: 0] += 1
                XCTAssertEqual(line["errors"]?.arrayValue?.count, 0, "\(source): \(line["errors"]!)")
            }
        }
        for (file, kind) in errors {
            XCTAssertTrue(file.contains("/wrappers/other-detail-types/"), "\(file): \(kind)")
            XCTAssertEqual(kind, "not_a_finding", file)
        }
        let eventFiles = try FileManager.default.contentsOfDirectory(atPath: corpus.appendingPathComponent("eventbridge").path)
            .filter { $0.hasSuffix(".json") }
        XCTAssertEqual(eventFiles.count, 130)
        for name in eventFiles {
            XCTAssertEqual(findingsPerFile[corpus.appendingPathComponent("eventbridge/" + name).path], 1, name)
        }
        for sub in ["sns", "sqs", "securityhub"] {
            let dir = corpus.appendingPathComponent("wrappers/" + sub)
            for name in try FileManager.default.contentsOfDirectory(atPath: dir.path) where name.hasSuffix(".json") {
                XCTAssertGreaterThanOrEqual(findingsPerFile[dir.appendingPathComponent(name).path] ?? 0, 1, name)
            }
        }
        XCTAssertEqual(errors.count, 3, "the three other-detail-types events")
    }

    func testVariantsNeverCrash() throws {
        let corpus = try corpusOrSkip()
        let r = try runRouter(["test", "rules", corpus.appendingPathComponent("variants").path, "--json"])
        XCTAssertTrue([0, 2].contains(r.status), "status \(r.status): \(r.stderr)")
        XCTAssertFalse(r.jsonLines.isEmpty)
    }

    func testEveryCorpusPayloadPassesTheIndependentBlockKitValidator() throws {
        let corpus = try corpusOrSkip()
        guard let python = ProcessInfo.processInfo.environment["ROUTER_TEST_PYTHON"],
            FileManager.default.isExecutableFile(atPath: python)
        else {
            throw XCTSkip("ROUTER_TEST_PYTHON (a Python with slack-sdk, set by scripts/test.sh) is not set")
        }
        let rules = try writeRules(Self.allFormatsRules)
        var payloadLines = ""
        for ruleDir in ["rules", rules.path] {
            let r = try runRouter(["test", ruleDir, corpus.appendingPathComponent("eventbridge").path,
                                   corpus.appendingPathComponent("wrappers").path, "--json"])
            XCTAssertNotEqual(r.status, 1, r.stderr)
            payloadLines += r.stdout
        }
        // The shipped rules again with buttons on (a bot token and a signing secret): every message with its
        // Acknowledge, Archive and Suppress buttons and their confirm dialogs is valid Block Kit too.
        let withButtons = try runRouter(
            ["test", "rules", corpus.appendingPathComponent("eventbridge").path, "--json"],
            environment: ["SLACK_BOT_TOKEN": "xoxb-test", "SLACK_SIGNING_SECRET": "test-secret"])
        XCTAssertNotEqual(withButtons.status, 1, withButtons.stderr)
        XCTAssertGreaterThan(withButtons.stdout.components(separatedBy: "router.actions").count - 1, 30, "buttons were rendered")
        payloadLines += withButtons.stdout
        // The oversized custom format really was truncated, not dropped.
        let custom = payloadLines.split(separator: "\n").compactMap { try? JSONValue.parse(String($0)) }
            .flatMap { $0["deliveries"]?.arrayValue ?? [] }.filter { $0["channel"]?.stringValue == "#custom" }
        XCTAssertGreaterThanOrEqual(custom.count, 130)
        for d in custom {
            XCTAssertFalse(d["fallback"] == .bool(true))
            XCTAssertLessThanOrEqual(d["payload"]?["blocks"]?.arrayValue?.count ?? 99, 50)
        }

        let p = Process()
        p.executableURL = URL(fileURLWithPath: python)
        p.arguments = [Paths.root.appendingPathComponent("scripts/validate_blocks.py").path]
        let input = Pipe()
        let outFile = FileManager.default.temporaryDirectory.appendingPathComponent("validate-\(UUID().uuidString)")
        FileManager.default.createFile(atPath: outFile.path, contents: nil)
        let out = try FileHandle(forWritingTo: outFile)
        p.standardInput = input
        p.standardOutput = out
        p.standardError = out
        try p.run()
        input.fileHandleForWriting.write(Data(payloadLines.utf8))
        try input.fileHandleForWriting.close()
        p.waitUntilExit()
        try out.close()
        let report = try String(contentsOf: outFile, encoding: .utf8)
        XCTAssertEqual(p.terminationStatus, 0, String(report.suffix(4000)))
        let last = report.split(separator: "\n").last.map(String.init) ?? ""
        XCTAssertTrue(last.hasSuffix(" passed, 0 failed"), last)
        let passed = Int(last.split(separator: " ").first ?? "") ?? 0
        XCTAssertGreaterThan(passed, 400, last)
    }
}
