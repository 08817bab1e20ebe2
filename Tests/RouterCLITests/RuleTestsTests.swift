import Foundation
import RouterJSON
import XCTest

/// `router test RULES_DIR` without inputs: the rule author's test cases.
final class RuleTestsTests: XCTestCase {
    func testShippedRulesPassTheirOwnCases() throws {
        let r = try runRouter(["test", "rules"])
        XCTAssertEqual(r.status, 0, r.stdout + r.stderr)
        let lines = r.stdout.split(separator: "\n")
        XCTAssertEqual(lines.last.map(String.init), "\(lines.count - 1) passed, 0 failed")
        XCTAssertGreaterThanOrEqual(lines.count - 1, 6)
        XCTAssertTrue(lines.dropLast().allSatisfy { $0.hasPrefix("ok   ") }, r.stdout)
    }

    func makeRules(cases: [String: String]) throws -> URL {
        let dir = try writeRules(["50.lua": ##"return { route = function(f) if f.severity >= 7 then return { channel = "#high", mention = "here" } end end }"##])
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("tests"), withIntermediateDirectories: true)
        for (name, body) in cases {
            try body.write(to: dir.appendingPathComponent("tests/" + name), atomically: true, encoding: .utf8)
        }
        return dir
    }

    var example: String { Paths.root.appendingPathComponent("examples/high-crypto-mining-ec2.json").path }
    var lowExample: String { Paths.root.appendingPathComponent("examples/low-port-probe-ec2.json").path }

    func testFailuresShowExpectedAndActualAndExitOne() throws {
        let dir = try makeRules(cases: [
            "a-right.json": ##"{"name": "right", "input": "\##(example)", "expect": {"deliveries": [{"channel": "#high", "mention": ["<!here>"]}]}}"##,
            "b-wrong-channel.json": ##"{"name": "wrong channel", "input": "\##(example)", "expect": {"deliveries": [{"channel": "#low", "format": "compact"}]}}"##,
            "c-wrong-decision.json": ##"{"name": "wrong decision", "input": "\##(lowExample)", "expect": {"dropped": true}}"##,
            "d-unrouted.json": ##"{"name": "unrouted ok", "input": "\##(lowExample)", "expect": {"unrouted": true}}"##,
        ])
        let r = try runRouter(["test", dir.path])
        XCTAssertEqual(r.status, 1, r.stdout)
        XCTAssertTrue(r.stdout.contains("ok   right"), r.stdout)
        XCTAssertTrue(r.stdout.contains("FAIL wrong channel"), r.stdout)
        XCTAssertTrue(r.stdout.contains("deliveries[0].channel: expected #low, actual #high"), r.stdout)
        XCTAssertTrue(r.stdout.contains("deliveries[0].format: expected compact, actual detailed"), r.stdout)
        XCTAssertTrue(r.stdout.contains("expected: dropped; actual: unrouted"), r.stdout)
        XCTAssertTrue(r.stdout.contains("ok   unrouted ok"), r.stdout)
        XCTAssertTrue(r.stdout.hasSuffix("2 passed, 2 failed\n"), r.stdout)

        let json = try runRouter(["test", dir.path, "--json"]).jsonLines
        XCTAssertEqual(json.count, 4)
        XCTAssertEqual(json.filter { $0["ok"] == .bool(false) }.map { $0["name"]?.stringValue }, ["wrong channel", "wrong decision"])
    }

    func testSnapshotsAreComparedExactlyAndUpdatable() throws {
        let dir = try makeRules(cases: [
            "snap.json": ##"{"name": "snap", "input": "\##(example)", "expect": {"deliveries": [{"channel": "#high"}]}, "snapshot": "golden/snap.json"}"##
        ])
        let missing = try runRouter(["test", dir.path])
        XCTAssertEqual(missing.status, 1)
        XCTAssertTrue(missing.stdout.contains("does not exist (run with --update-snapshots"), missing.stdout)
        XCTAssertEqual(try runRouter(["test", dir.path, "--update-snapshots"]).status, 0)
        let golden = dir.appendingPathComponent("tests/golden/snap.json")
        let payloads = try JSONValue.parse(String(contentsOf: golden, encoding: .utf8))
        XCTAssertEqual(payloads[0]?["channel"]?.stringValue, "#high")
        XCTAssertEqual(try runRouter(["test", dir.path]).status, 0)
        // A changed payload fails with a diff.
        var text = try String(contentsOf: golden, encoding: .utf8)
        text = text.replacingOccurrences(of: "\"#high\"", with: "\"#elsewhere\"")
        try text.write(to: golden, atomically: true, encoding: .utf8)
        let changed = try runRouter(["test", dir.path])
        XCTAssertEqual(changed.status, 1)
        XCTAssertTrue(changed.stdout.contains("payloads differ from golden/snap.json"), changed.stdout)
        XCTAssertTrue(changed.stdout.contains("- ") && changed.stdout.contains("#elsewhere"), changed.stdout)
    }
}
