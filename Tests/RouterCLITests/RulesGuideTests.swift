import Foundation
import RouterJSON
import XCTest

/// Keeps docs/rules.md and the editor support files (rules/.luarc.json, rules/types/router.lua) honest: every complete
/// rule file in the guide loads and runs, and the type definitions name every field of the finding view.
final class RulesGuideTests: XCTestCase {
    /// A ```lua block of docs/rules.md that starts with `-- file: NAME.lua`, and its header directives.
    struct GuideBlock {
        var file: String
        var dir: String?
        var input: String?
        var now: String?
        var expect: [String]
        var source: String
        var line: Int  // 1-based line of the block's first Lua line in docs/rules.md
    }

    static let defaultInput = "examples/high-crypto-mining-ec2.json"

    static func guideBlocks() throws -> [GuideBlock] {
        let text = try String(contentsOf: Paths.root.appendingPathComponent("docs/rules.md"), encoding: .utf8)
        let lines = text.components(separatedBy: "\n")
        var blocks: [GuideBlock] = []
        var i = 0
        while i < lines.count {
            guard lines[i].trimmingCharacters(in: .whitespaces) == "```lua" else { i += 1; continue }
            let indent = lines[i].prefix { $0 == " " }.count
            var body: [String] = []
            var j = i + 1
            while j < lines.count, lines[j].trimmingCharacters(in: .whitespaces) != "```" {
                body.append(String(lines[j].dropFirst(min(indent, lines[j].prefix { $0 == " " }.count))))
                j += 1
            }
            defer { i = j + 1 }
            guard let first = body.first, first.hasPrefix("-- file: ") else { continue }
            var block = GuideBlock(file: String(first.dropFirst("-- file: ".count)).trimmingCharacters(in: .whitespaces),
                                   expect: [], source: body.joined(separator: "\n") + "\n", line: i + 2)
            // Directives: the leading run of `-- key: value` comment lines.
            for header in body.dropFirst() {
                guard header.hasPrefix("-- ") else { break }
                let rest = header.dropFirst(3)
                guard let colon = rest.firstIndex(of: ":") else { break }
                let key = String(rest[..<colon]), value = rest[rest.index(after: colon)...].trimmingCharacters(in: .whitespaces)
                switch key {
                case "dir": block.dir = value
                case "input": block.input = value
                case "now": block.now = value
                case "expect": block.expect.append(value)
                default: break
                }
                if !["dir", "input", "now", "expect"].contains(key) { break }
            }
            blocks.append(block)
        }
        return blocks
    }

    func testGuideHasCheckedRuleFiles() throws {
        let blocks = try Self.guideBlocks()
        XCTAssertGreaterThanOrEqual(blocks.count, 8, "docs/rules.md lost its checked examples")
        for b in blocks {
            XCTAssertTrue(b.file.hasSuffix(".lua") && !b.file.contains("/"), "docs/rules.md:\(b.line - 1): bad file name \(b.file)")
        }
        // Every topic the guide promises has at least one checked example.
        let all = blocks.map(\.source).joined()
        for needle in ["continue = true", "slack.escape(", "mention =", "os.date(\"!*t\"", "f.account", "f.detail", "filter =", "actions =", "permit =", "suppress_by ="] {
            XCTAssertTrue(all.contains(needle), "no checked example uses \(needle)")
        }
    }

    func testEveryGuideRuleFileLoadsAndRuns() throws {
        let blocks = try Self.guideBlocks()
        // Group into rules directories: blocks with the same `-- dir:` share one, the others get their own.
        var groups: [(name: String, blocks: [GuideBlock])] = []
        for b in blocks {
            if let d = b.dir, let k = groups.firstIndex(where: { $0.name == "dir:" + d }) {
                XCTAssertFalse(groups[k].blocks.contains { $0.file == b.file }, "docs/rules.md:\(b.line): \(b.file) twice in dir \(d)")
                groups[k].blocks.append(b)
            } else {
                groups.append((b.dir.map { "dir:" + $0 } ?? "file:\(b.file)@\(b.line)", [b]))
            }
        }
        for group in groups {
            var files: [String: String] = [:]
            for b in group.blocks { files[b.file] = b.source }
            let dir = try writeRules(files)
            defer { try? FileManager.default.removeItem(at: dir) }
            let at = group.blocks.map { "docs/rules.md:\($0.line) (\($0.file))" }.joined(separator: ", ")

            let check = try runRouter(["check", dir.path])
            XCTAssertEqual(check.status, 0, "router check failed for \(at):\n\(check.stdout)\(check.stderr)")
            XCTAssertTrue(check.stdout.contains("\(files.count) rule file\(files.count == 1 ? "" : "s") ok"), "\(at):\n\(check.stdout)")

            for b in group.blocks {
                let input = b.input ?? Self.defaultInput
                XCTAssertTrue(FileManager.default.fileExists(atPath: Paths.root.appendingPathComponent(input).path),
                              "docs/rules.md:\(b.line): no such input \(input)")
                var args = ["test", dir.path, input, "--json"]
                if let now = b.now { args += ["--now", now] }
                let r = try runRouter(args)
                XCTAssertEqual(r.status, 0, "router test failed for \(at) on \(input):\n\(r.stdout)\(r.stderr)")
                let results = r.jsonLines
                XCTAssertFalse(results.isEmpty, "\(at): no results on \(input):\n\(r.stdout)\(r.stderr)")
                var channels: [String] = []
                for line in results {
                    XCTAssertNil(line["error"], "\(at): input error on \(input): \(r.stdout)")
                    XCTAssertEqual(line["errors"]?.arrayValue?.count ?? 0, 0, "\(at): rule errors on \(input): \(r.stdout)\(r.stderr)")
                    for d in line["deliveries"]?.arrayValue ?? [] {
                        XCTAssertNotEqual(d["fallback"], .bool(true), "\(at): fallback delivery on \(input)")
                        if let c = d["channel"]?.stringValue { channels.append(c) }
                    }
                }
                for channel in b.expect {
                    XCTAssertTrue(channels.contains(channel),
                                  "docs/rules.md:\(b.line) (\(b.file)): expected a delivery to \(channel) for \(input), got \(channels)")
                }
                // The plain dry run (what the guide tells readers to type) works too.
                let plain = try runRouter(["test", dir.path, input])
                XCTAssertEqual(plain.status, 0, "\(at) on \(input):\n\(plain.stdout)\(plain.stderr)")
            }
        }
    }

    func testTypeDefinitionsNameEveryFindingField() throws {
        let metaURL = Paths.root.appendingPathComponent("rules/types/router.lua")
        let meta = try String(contentsOf: metaURL, encoding: .utf8)
        XCTAssertTrue(meta.hasPrefix("---@meta"), "rules/types/router.lua must start with ---@meta")
        let sandbox = try String(contentsOf: Paths.root.appendingPathComponent("Sources/CRouterLua/view.c"), encoding: .utf8)
        let start = try XCTUnwrap(sandbox.range(of: "field_names[RL_FIELD_COUNT] = {"), "field_names not found in view.c")
        let end = try XCTUnwrap(sandbox.range(of: "};", range: start.upperBound..<sandbox.endIndex))
        let names = sandbox[start.upperBound..<end.lowerBound].split(separator: "\"").enumerated()
            .filter { $0.offset % 2 == 1 }.map { String($0.element) }
        XCTAssertEqual(names.count, 25, "field_names: \(names)")
        let fieldLines = Set(meta.split(separator: "\n").compactMap { line -> String? in
            guard line.hasPrefix("---@field ") else { return nil }
            return line.dropFirst("---@field ".count).split(separator: " ").first.map(String.init)
        })
        for name in names + ["detail"] {
            XCTAssertTrue(fieldLines.contains(name), "rules/types/router.lua has no ---@field \(name)")
        }
        for cls in ["Finding", "Ctx", "Delivery", "RuleFile"] {
            XCTAssertTrue(meta.contains("---@class \(cls)\n"), "no ---@class \(cls)")
        }
        // The meta file must not be a rule: nothing directly in rules/ may be it.
        XCTAssertFalse(FileManager.default.fileExists(atPath: Paths.root.appendingPathComponent("rules/router.lua").path))
    }

    func testTypeDefinitionsCompileInTheSandbox() throws {
        // The meta file is never run, but it must be valid Lua 5.4: compile it through the router's own loader,
        // wrapped in a function that is never called (its global assignments would fail in the locked sandbox).
        let meta = try String(contentsOf: Paths.root.appendingPathComponent("rules/types/router.lua"), encoding: .utf8)
        let dir = try writeRules(["types.lua": "local _ = function()\n" + meta + "\nend\nreturn {}\n"])
        defer { try? FileManager.default.removeItem(at: dir) }
        let r = try runRouter(["check", dir.path])
        XCTAssertEqual(r.status, 0, r.stdout + r.stderr)
    }

    func testLuarcIsJSONForLua54WithTheTypes() throws {
        let data = try Data(contentsOf: Paths.root.appendingPathComponent("rules/.luarc.json"))
        let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        XCTAssertEqual(object["runtime.version"] as? String, "Lua 5.4")
        XCTAssertEqual(object["workspace.library"] as? [String], ["types"])
        let builtin = try XCTUnwrap(object["runtime.builtin"] as? [String: String])
        for lib in ["io", "debug", "package", "coroutine", "os"] {
            XCTAssertEqual(builtin[lib], "disable", lib)
        }
    }

    func testShippedRulesStillLoadWithTypesSubdirectory() throws {
        XCTAssertTrue(FileManager.default.fileExists(atPath: Paths.root.appendingPathComponent("rules/types/router.lua").path))
        let r = try runRouter(["check", "rules"])
        XCTAssertEqual(r.status, 0, r.stdout + r.stderr)
        let loaded = r.stdout.split(separator: "\n").filter { $0.contains(": ok: ") }
            .map { String($0.prefix { $0 != ":" }) }
        // Exactly the files directly in rules/, never rules/types/router.lua (a definition file, not a rule).
        let top = try FileManager.default.contentsOfDirectory(atPath: Paths.root.appendingPathComponent("rules").path)
            .filter { $0.hasSuffix(".lua") }.sorted().map { "rules/" + $0 }
        XCTAssertGreaterThanOrEqual(top.count, 4)
        XCTAssertEqual(loaded, top, r.stdout)
        XCTAssertFalse(loaded.contains { $0.contains("types") }, r.stdout)
        XCTAssertTrue(r.stdout.contains("\(top.count) rule files ok"), r.stdout)
    }
}
