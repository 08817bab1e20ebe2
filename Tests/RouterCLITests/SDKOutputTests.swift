import Foundation
import RouterJSON
import XCTest

/// `router test` on what `aws guardduty get-findings` prints routes exactly as the same findings arriving from
/// EventBridge. The CLI output is made by Tests/SDK/cli_output.py from the events' own findings with botocore's
/// response parser (an implementation independent of the router's translation), 50 findings per call as GetFindings
/// allows; the service-model table the router carries agrees with the botocore installed for the tests.
final class SDKOutputTests: XCTestCase {
    func python() throws -> String {
        guard let python = ProcessInfo.processInfo.environment["ROUTER_TEST_PYTHON"] else {
            throw XCTSkip("ROUTER_TEST_PYTHON not set (run through scripts/test.sh)")
        }
        return python
    }

    func run(_ executable: String, _ args: [String]) throws -> (status: Int32, stdout: String, stderr: String) {
        let r = try LambdaSupport.run(executable, args, timeout: 120)
        return (r.status, r.stdout, r.stderr)
    }

    /// GuardDuty Finding events: the examples, the project's fixtures, and the corpus when it is there.
    func eventFiles() throws -> [String] {
        var dirs = [Paths.root.appendingPathComponent("examples"), Paths.root.appendingPathComponent("Tests/Fixtures/findings")]
        if let corpus = Paths.corpus { dirs.append(corpus.appendingPathComponent("eventbridge")) }
        var files: [String] = []
        for dir in dirs {
            for name in try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted() where name.hasSuffix(".json") {
                let path = dir.appendingPathComponent(name).path
                guard let v = try? JSONValue.parse(try Array(Data(contentsOf: URL(fileURLWithPath: path)))),
                    v["detail-type"]?.stringValue == "GuardDuty Finding", v["detail"]?["id"] != nil
                else { continue }
                files.append(path)
            }
        }
        return files
    }

    func testCLIOutputRoutesLikeTheEvents() throws {
        let python = try python()
        let files = try eventFiles()
        XCTAssertGreaterThan(files.count, 20)
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("sdk-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let script = Paths.root.appendingPathComponent("Tests/SDK/cli_output.py").path
        var exact = 0, routedOnly = 0
        for (batch, start) in stride(from: 0, to: files.count, by: 50).enumerated() {
            let chunk = Array(files[start..<min(start + 50, files.count)])
            let out = dir.appendingPathComponent("get-findings-\(batch).json"), unmodeled = dir.appendingPathComponent("unmodeled-\(batch).json")
            let gen = try run(python, [script, "guardduty", "--unmodeled", unmodeled.path] + chunk)
            XCTAssertEqual(gen.status, 0, gen.stderr)
            try gen.stdout.write(to: out, atomically: true, encoding: .utf8)
            let lost = try JSONValue.parse(Array(Data(contentsOf: unmodeled)))
            let now = ["--now", "2026-01-02T03:04:05Z", "--json"]
            let cli = try run(Paths.routerBinary.path, ["test", "rules", out.path] + now)
            let events = try run(Paths.routerBinary.path, ["test", "rules"] + chunk + now)
            XCTAssertEqual(cli.status, events.status, cli.stderr + events.stderr)
            let a = cli.stdout.split(separator: "\n").map { try? JSONValue.parse(String($0)) }
            let b = events.stdout.split(separator: "\n").map { try? JSONValue.parse(String($0)) }
            XCTAssertEqual(a.count, chunk.count, "one line per finding")
            XCTAssertEqual(a.count, b.count)
            for (i, (x, y)) in zip(a, b).enumerated() {
                guard var x, var y else { XCTFail("not JSON"); continue }
                XCTAssertEqual(x["source"]?.stringValue, out.path + "#\(i)")
                x["source"] = nil
                y["source"] = nil
                XCTAssertNil(x["error"], "\(chunk[i]): \(x)")
                if lost["\(i)"] == nil {
                    // Everything the event says reaches the CLI: the whole result is the same, payloads included.
                    XCTAssertEqual(x, y, chunk[i])
                    exact += 1
                } else {
                    // botocore (so the CLI) drops members the model lacks (old `additionalInfo` forms: `sample`,
                    // `threatListName`, ...): the decision is still the same.
                    for key in ["finding", "dropped", "dropped_by", "unrouted", "errors"] {
                        XCTAssertEqual(x[key], y[key], "\(chunk[i]): \(key)")
                    }
                    let route = { (v: JSONValue) in (v["deliveries"]?.arrayValue ?? []).map { [$0["channel"], $0["mention"], $0["format"], $0["to"], $0["file"]] } }
                    XCTAssertEqual(route(x), route(y), chunk[i])
                    routedOnly += 1
                }
            }
        }
        XCTAssertGreaterThanOrEqual(exact, 20, "whole results compared for the findings the model covers completely")
        print("SDK output: \(exact) findings identical, \(routedOnly) with the same routing (members outside the model dropped by botocore)")
    }

    /// The table in Sources/RouterFinding/GuardDutySDKModel.swift (scripts/gen-sdk-model.py) names every member as
    /// the installed botocore's model does: no wire name or shape differs (a newer botocore may add members).
    func testCarriedModelAgreesWithBotocore() throws {
        let python = try python()
        let gen = try run(python, [Paths.root.appendingPathComponent("scripts/gen-sdk-model.py").path])
        XCTAssertEqual(gen.status, 0, gen.stderr)
        let carried = try String(contentsOf: Paths.root.appendingPathComponent("Sources/RouterFinding/GuardDutySDKModel.swift"), encoding: .utf8)
        func table(_ text: String) -> [String: Set<String>] {
            var out: [String: Set<String>] = [:]
            let body = text.components(separatedBy: "static let shapes = \"\"\"\n").last?.components(separatedBy: "\n\"\"\"").first ?? ""
            for line in body.split(separator: "\n") {
                let parts = line.split(separator: " ").map(String.init)
                guard parts.count >= 2 else { continue }
                out[parts[0]] = Set(parts.dropFirst())
            }
            return out
        }
        let mine = table(carried), current = table(gen.stdout)
        XCTAssertGreaterThan(mine.count, 150)
        XCTAssertGreaterThan(current.count, 150)
        for (shape, entries) in mine {
            guard let now = current[shape] else { continue }  // a shape the newer model renamed or dropped
            // Every member the carried table knows is spelled the same now (members may have been added since).
            XCTAssertTrue(entries.isSubset(of: now), "\(shape): carried \(entries.subtracting(now).sorted()) vs botocore \(now.subtracting(entries).sorted())")
        }
        XCTAssertEqual(mine["Finding"]?.contains("S"), true)
    }
}
