import Foundation
import RouterFinding
import RouterRules
import XCTest

/// JSONTestSuite (../shared/corpus/json/JSONTestSuite, see its MANIFEST): the input reader rejects every `n_` file as
/// invalid JSON and never reports invalid JSON for a `y_` file; `json.decode` inside the sandbox agrees on both; no
/// `i_` file crashes, hangs or gets a verdict that differs between the two. Runs when ../shared exists.
final class JSONConformanceTests: XCTestCase {
    static let suite = FuzzRegressionTests.root.deletingLastPathComponent()
        .appendingPathComponent("shared/corpus/json/JSONTestSuite/test_parsing")

    func testJSONTestSuite() throws {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: Self.suite.path) else {
            throw XCTSkip("../shared/corpus/json/JSONTestSuite is not here")
        }
        let e = try engine([("rules/50-decode.lua", ##"""
        return { route = function(f)
          local ok, err = pcall(json.decode, f.detail.payload)
          return { channel = ok and "#accepted" or "#rejected" }
        end }
        """##)])
        var counts: [Character: Int] = [:]
        for name in names.sorted() where name.hasSuffix(".json") {
            let bytes = Array(try Data(contentsOf: Self.suite.appendingPathComponent(name)))
            let items = InputReader.items(fromBytes: bytes, source: name)
            let invalid = items.contains { $0.error?.kind == .invalidJSON }
            let r = e.evaluate(try FuzzRegressionTests.finding(FuzzRegressionTests.event(payload: bytes)), context: ctx)
            XCTAssertEqual(r.errors, [], name)
            let decoded = r.deliveries.first?.channel == "#accepted"
            let kind = name.first!
            counts[kind, default: 0] += 1
            switch kind {
            case "y":
                XCTAssertFalse(invalid, "\(name): the reader says invalid_json: \(items.compactMap(\.error?.message))")
                XCTAssertTrue(decoded, "\(name): json.decode refuses it")
            case "n":
                XCTAssertTrue(invalid && items.count == 1, "\(name): the reader accepts it: \(items.map(\.source))")
                XCTAssertFalse(decoded, "\(name): json.decode accepts it")
            default:
                // implementation-defined: either verdict, the same in both
                XCTAssertEqual(invalid, !decoded, "\(name): the reader and json.decode disagree")
            }
        }
        XCTAssertEqual(counts["y"], 95)
        XCTAssertEqual(counts["n"], 188)
        XCTAssertEqual(counts["i"], 35)
    }
}
