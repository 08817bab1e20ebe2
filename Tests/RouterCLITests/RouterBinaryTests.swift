import Foundation
import RouterJSON
import XCTest

/// Runs the built `router` binary: exit codes, stdout and stderr, as a user sees them.
struct RunResult {
    var status: Int32
    var stdout: String
    var stderr: String

    var jsonLines: [JSONValue] {
        stdout.split(separator: "\n").compactMap { try? JSONValue.parse(String($0)) }
    }
}

enum Paths {
    /// The repository root (this file is Tests/RouterCLITests/RouterBinaryTests.swift).
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    static var routerBinary: URL {
        let beside = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("router")
        if FileManager.default.isExecutableFile(atPath: beside.path) { return beside }
        return root.appendingPathComponent(".build/debug/router")
    }

    static var corpus: URL? {
        let c = root.deletingLastPathComponent().appendingPathComponent("shared/corpus/guardduty")
        return FileManager.default.fileExists(atPath: c.path) ? c : nil
    }

    static func fixture(_ path: String) -> String { root.appendingPathComponent("Tests/Fixtures/" + path).path }
}

func runRouter(_ args: [String], stdin: Data? = nil, cwd: URL = Paths.root, environment: [String: String] = [:]) throws -> RunResult {
    let p = Process()
    p.executableURL = Paths.routerBinary
    p.arguments = args
    p.currentDirectoryURL = cwd
    // A clean environment: no Slack credentials leak in from the developer's shell.
    var env = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("SLACK_") && !$0.key.hasPrefix("ROUTER_") }
    env.merge(environment) { $1 }
    p.environment = env
    // Output goes to files, so a large output can never block the child.
    let tmp = FileManager.default.temporaryDirectory.appendingPathComponent("router-run-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: tmp, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: tmp) }
    let outURL = tmp.appendingPathComponent("out"), errURL = tmp.appendingPathComponent("err")
    FileManager.default.createFile(atPath: outURL.path, contents: nil)
    FileManager.default.createFile(atPath: errURL.path, contents: nil)
    let outHandle = try FileHandle(forWritingTo: outURL), errHandle = try FileHandle(forWritingTo: errURL)
    let inp = Pipe()
    p.standardOutput = outHandle
    p.standardError = errHandle
    p.standardInput = inp
    try p.run()
    if let stdin { inp.fileHandleForWriting.write(stdin) }
    try inp.fileHandleForWriting.close()
    p.waitUntilExit()
    try outHandle.close()
    try errHandle.close()
    let outData = try Data(contentsOf: outURL), errData = try Data(contentsOf: errURL)
    return RunResult(status: p.terminationStatus, stdout: String(decoding: outData, as: UTF8.self),
                     stderr: String(decoding: errData, as: UTF8.self))
}

func writeRules(_ files: [String: String]) throws -> URL {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("router-rules-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    for (name, body) in files { try body.write(to: dir.appendingPathComponent(name), atomically: true, encoding: .utf8) }
    return dir
}

final class RouterBinaryTests: XCTestCase {
    func testShippedRulesOverShippedExamples() throws {
        let r = try runRouter(["test", "rules", "examples"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("-> #sec-critical mention <!here> format detailed (rules/20-critical.lua)"), r.stdout)
        XCTAssertTrue(r.stdout.contains("dropped by rules/10-noise.lua: archived in GuardDuty"), r.stdout)
        let summary = try XCTUnwrap(r.stdout.split(separator: "\n").last)
        XCTAssertTrue(summary.contains("0 rule errors, 0 input errors"), String(summary))
        XCTAssertTrue(r.stderr.isEmpty, r.stderr)
    }

    func testJSONLinesHaveTheDocumentedShape() throws {
        let r = try runRouter(["test", "rules", "examples", "--json", "--now", "2026-01-02T03:04:05Z"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let lines = r.jsonLines
        XCTAssertEqual(lines.count, r.stdout.split(separator: "\n").count, "every line is JSON")
        XCTAssertGreaterThanOrEqual(lines.count, 8)
        for line in lines {
            let keys = line.objectValue?.keys ?? []
            XCTAssertEqual(keys, ["source", "finding", "dropped", "dropped_by", "unrouted", "deliveries", "errors"])
            XCTAssertEqual(line["finding"]?.objectValue?.keys, ["id", "type", "severity", "severity_label", "account", "region"])
            for d in line["deliveries"]?.arrayValue ?? [] {
                // `actions` and `buttons` only on deliveries that offer buttons.
                let withButtons = d["actions"] != nil
                XCTAssertEqual(
                    d.objectValue?.keys,
                    ["channel", "mention", "format", "to", "file", "fallback", "payload"] + (withButtons ? ["actions", "buttons"] : []) + ["lifecycle"])
                if withButtons {
                    XCTAssertFalse(d["actions"]?.arrayValue?.isEmpty ?? true)
                    XCTAssertEqual(d["buttons"]?.stringValue?.hasPrefix("not shown: "), true, "no bot token or signing secret here: \(d)")
                }
                XCTAssertEqual(d["lifecycle"]?.objectValue?.keys, ["action", "detail", "on_update", "reply"])
                XCTAssertEqual(d["payload"]?["channel"], d["channel"])
                XCTAssertNotNil(d["payload"]?["text"]?.stringValue)
            }
        }
        let critical = try XCTUnwrap(lines.first { $0["finding"]?["severity_label"]?.stringValue == "CRITICAL" })
        XCTAssertEqual(critical["deliveries"]?[0]?["channel"]?.stringValue, "#sec-critical")
        XCTAssertEqual(critical["deliveries"]?[0]?["mention"], ["<!here>"])
        XCTAssertEqual(critical["deliveries"]?[0]?["actions"], ["ack", "archive"], "rules/20-critical.lua offers two buttons")
        let archived = try XCTUnwrap(lines.first { $0["dropped"] == .bool(true) })
        XCTAssertEqual(archived["dropped_by"]?["file"]?.stringValue, "rules/10-noise.lua")
        // The SQS batch yields one result per record.
        XCTAssertEqual(lines.filter { $0["source"]?.stringValue?.hasPrefix("examples/sqs-batch-two-findings.json#") ?? false }.count, 2)
    }

    func testRuleErrorsExitOneAndKeepTheFinding() throws {
        let rules = try writeRules(["50-bad.lua": "return {\n  route = function(f)\n    return { channel = f.nothing_here }\n  end,\n}\n"])
        let r = try runRouter(["test", rules.path, "examples/high-crypto-mining-ec2.json", "--json"])
        XCTAssertEqual(r.status, 1)
        XCTAssertTrue(r.stderr.contains("\(rules.path)/50-bad.lua:3: error: f has no field 'nothing_here'"), r.stderr)
        let line = try XCTUnwrap(r.jsonLines.first)
        XCTAssertEqual(line["errors"]?[0]?["line"], .int(3))
        XCTAssertEqual(line["errors"]?[0]?["phase"]?.stringValue, "route")
        XCTAssertEqual(line["deliveries"]?[0]?["fallback"], .bool(true))
        XCTAssertEqual(line["deliveries"]?[0]?["to"]?.stringValue, "default")
    }

    func testLoadErrorsExitOneWithCompilerStyleMessages() throws {
        let rules = try writeRules(["10-a.lua": "return {\n filter = function(f)\n  return f.severity >\n end }\n", "20-b.lua": "return 1\n"])
        let r = try runRouter(["test", rules.path, "examples"])
        XCTAssertEqual(r.status, 1)
        XCTAssertTrue(r.stderr.contains("\(rules.path)/10-a.lua:4: error: "), r.stderr)
        XCTAssertTrue(r.stderr.contains("\(rules.path)/20-b.lua: error: "), r.stderr)
        XCTAssertTrue(r.stdout.isEmpty)
        let check = try runRouter(["check", rules.path])
        XCTAssertEqual(check.status, 1)
        XCTAssertTrue(check.stderr.contains("10-a.lua:4: error:"), check.stderr)
        let ok = try runRouter(["check", "rules"])
        XCTAssertEqual(ok.status, 0, ok.stderr)
        // Literal format names are checked without any event.
        let badFormat = try writeRules(["50.lua": "return {\n  route = function(f)\n    return { channel = \"#x\", format = \"fancy\" } -- typo\n  end,\n  formats = { plain = function() return \"x\" end },\n}\n"])
        let fc = try runRouter(["check", badFormat.path])
        XCTAssertEqual(fc.status, 1)
        XCTAssertTrue(fc.stderr.contains("50.lua:3: error: format 'fancy' is not defined (built in: detailed, compact; defined in rule files: plain)"), fc.stderr)
        // A name the finding view does not have, before any finding arrives, with the nearest field; and the same
        // refusal at start-up (router send).
        let typo = try writeRules(["50.lua": "return {\n  route = function(f, ctx)\n    if f.severty >= 7 then return { channel = \"#x\" } end\n  end,\n}\n"])
        let tc = try runRouter(["check", typo.path])
        XCTAssertEqual(tc.status, 1)
        XCTAssertTrue(tc.stderr.contains("50.lua:3: error: f has no field 'severty' (did you mean 'severity'?)"), tc.stderr)
        let send = try runRouter(["send", typo.path, "examples/high-crypto-mining-ec2.json"], environment: ["SLACK_WEBHOOK_URL": "http://127.0.0.1:9/services/x"])
        XCTAssertEqual(send.status, 1, send.stderr)
        XCTAssertTrue(send.stderr.contains("50.lua:3: error: f has no field 'severty'"), send.stderr)
    }

    /// `router` (every command but `serve`, and the Lambda's bootstrap) stays free of Foundation and its ICU data:
    /// they cost start-up time and package size (the server executable has them).
    func testRouterDoesNotLinkFoundation() throws {
        let r = try LambdaSupport.run("/usr/bin/readelf", ["-d", Paths.routerBinary.path], timeout: 30)
        XCTAssertEqual(r.status, 0, r.stderr)
        let needed = r.stdout.split(separator: "\n").filter { $0.contains("(NEEDED)") }
        XCTAssertFalse(needed.isEmpty, r.stdout)
        for library in ["libFoundation.so", "libFoundationInternationalization.so", "lib_FoundationICU.so", "libFoundationNetworking.so"] {
            XCTAssertFalse(needed.contains { $0.contains("[\(library)]") }, "router links \(library)")
        }
    }

    func testInputErrorsExitTwo() throws {
        let r = try runRouter(["test", "rules", Paths.fixture("invalid/malformed.json"), "examples/high-crypto-mining-ec2.json", "--json"])
        XCTAssertEqual(r.status, 2, r.stderr)
        let lines = r.jsonLines
        XCTAssertEqual(lines.count, 2)
        XCTAssertEqual(lines[0]["error"]?["kind"]?.stringValue, "invalid_json")
        XCTAssertEqual(lines[0].objectValue?.keys, ["source", "error"])
        XCTAssertNotNil(lines[1]["finding"])
        let missing = try runRouter(["test", "rules", "/nonexistent/file.json"])
        XCTAssertEqual(missing.status, 2)
        XCTAssertTrue(missing.stdout.contains("unreadable"), missing.stdout)
        let nonFinding = try runRouter(["test", "rules", Paths.fixture("invalid/cloudtrail-event.json"), "--json"])
        XCTAssertEqual(nonFinding.status, 2)
        XCTAssertEqual(nonFinding.jsonLines.first?["error"]?["kind"]?.stringValue, "not_a_finding")
    }

    func testUsageErrorsExit64() throws {
        let noCases = try writeRules(["50.lua": "return {}"])
        let r = try runRouter(["test", noCases.path])
        XCTAssertEqual(r.status, 64)
        XCTAssertTrue(r.stderr.contains("no test cases"), r.stderr)
        XCTAssertEqual(try runRouter(["test", "rules", "examples", "--now", "yesterday"]).status, 64)
        XCTAssertEqual(try runRouter(["test", "rules", "examples", "--bogus"]).status, 64)
        XCTAssertEqual(try runRouter(["frobnicate"]).status, 64)
    }

    func testStdinNowAndExplain() throws {
        let rules = try writeRules([
            "10-f.lua": "return { filter = function(f, ctx) return true end }",
            "50-r.lua": ##"return { route = function(f, ctx) return { channel = "#t" .. ctx.now .. "-" .. ctx.mode } end }"##,
        ])
        let event = try Data(contentsOf: URL(fileURLWithPath: "examples/high-crypto-mining-ec2.json", relativeTo: Paths.root))
        let r = try runRouter(["test", rules.path, "-", "--now", "2026-01-02T03:04:05Z", "--explain"], stdin: event)
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("-> #t1767323045-test"), r.stdout)
        XCTAssertTrue(r.stdout.contains("filter \(rules.path)/10-f.lua:1 -> true (keep)"), r.stdout)
        XCTAssertTrue(r.stdout.contains("route \(rules.path)/50-r.lua:1 -> 1 delivery"), r.stdout)
        XCTAssertTrue(r.stdout.hasPrefix("-: "), r.stdout)
    }

    func testHostileFindingCannotInjectMentions() throws {
        let r = try runRouter(["test", "rules", Paths.fixture("findings/hostile-strings.json"), "--json"])
        XCTAssertNotEqual(r.status, 1, r.stderr)
        let line = try XCTUnwrap(r.jsonLines.first)
        for d in line["deliveries"]?.arrayValue ?? [] {
            let payload = d["payload"]!.serialized()
            let ours = (d["mention"]?.arrayValue ?? []).compactMap(\.stringValue)
            var stripped = payload
            for m in ours { stripped = stripped.replacingOccurrences(of: m, with: "") }
            XCTAssertFalse(stripped.contains("<!"), payload)
            XCTAssertFalse(stripped.contains("<@"), payload)
        }
    }
}
