import Foundation
import XCTest

@testable import RouterRules

/// `router check` finds `f.<name>` reads of names the finding view does not have, with the nearest field, without
/// running the rule; and never flags a different `f` or text inside comments and strings.
final class FieldCheckTests: XCTestCase {
    func problems(_ source: String) -> [FieldCheck.Problem] { FieldCheck.problems(in: Array(source.utf8)) }

    func testFieldNamesComeFromTheEngine() {
        XCTAssertEqual(FieldCheck.fieldNames.count, 26)
        for name in ["severity", "severity_label", "account", "resource", "detail", "console_url"] {
            XCTAssertTrue(FieldCheck.fieldNames.contains(name), name)
        }
    }

    func testATypoIsReportedWithItsLineAndTheNearestField() {
        let source = """
            return {
              filter = function(f, ctx)
                return f.severty >= 4
              end,
              route = function(f, ctx)
                if f.severityLabel == "HIGH" and f["acount"] == "1" then return { channel = "#x" } end
                return { channel = "#" .. f.region .. f.detail.anything .. f.zzzzzzzz }
              end,
            }
            """
        let p = problems(source)
        XCTAssertEqual(p.map(\.line), [3, 6, 6, 7])
        XCTAssertEqual(p.map(\.name), ["severty", "severityLabel", "acount", "zzzzzzzz"])
        XCTAssertEqual(p.map(\.suggestion), ["severity", "severity_label", "account", nil])
        XCTAssertEqual(p[0].message, "f has no field 'severty' (did you mean 'severity'?)")
        XCTAssertEqual(FieldCheck.check(path: "rules/50.lua", source: Array(source.utf8)).first,
                       "rules/50.lua:3: error: f has no field 'severty' (did you mean 'severity'?)")
    }

    func testCommentsStringsAndOtherTablesAreNotChecked() {
        let source = """
            -- f.severty in a comment
            --[==[ f.nothing
               f.nothing ]==]
            local s = "f.severty" .. 'f.acount' .. [[
              f.nothing ]]
            local t = { f = { x = 1 } }
            return {
              route = function(f, ctx)
                local y = t.f.x + ctx.f  -- other tables' f
                return { channel = "#a" .. f.account }
              end,
            }
            """
        XCTAssertEqual(problems(source), [])
    }

    func testADifferentFIsNotTheFinding() {
        let source = """
            local function list(items)
              for _, f in ipairs(items) do print(f.name) end   -- a loop variable
              local f = { whatever = 1 }
              return f.whatever                                 -- a local
            end
            return {
              route = function(f, ctx)
                for i = 1, 2 do print(f.severty) end            -- the finding again
                return { channel = "#a" }
              end,
              formats = { x = function(f, ctx, d) return f.titel end },
              permit = function(action, user, f, ctx) return f.archive end,
            }
            """
        XCTAssertEqual(problems(source).map(\.line), [8, 11, 12])
        XCTAssertEqual(problems(source).map(\.suggestion), ["severity", "title", "archived"])
    }

    func testLinesAfterLongStringsAndCommentsAreRight() {
        let source = "local a = [[\none\ntwo]]\n--[[\n\n]]\nreturn { route = function(f) return f.regoin end }\n"
        XCTAssertEqual(problems(source).map(\.line), [7])
        XCTAssertEqual(problems(source).first?.suggestion, "region")
    }

    /// No false alarm on any Lua the project ships or documents.
    func testShippedRulesGuideAndFixturesHaveNoProblems() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        var files: [URL] = []
        for dir in ["rules", "Tests/Fixtures/hostile"] {
            let d = root.appendingPathComponent(dir)
            for name in try FileManager.default.contentsOfDirectory(atPath: d.path) where name.hasSuffix(".lua") {
                files.append(d.appendingPathComponent(name))
            }
        }
        XCTAssertGreaterThan(files.count, 10)
        for file in files {
            let p = FieldCheck.problems(in: Array(try Data(contentsOf: file)))
            XCTAssertEqual(p, [], file.path)
        }
        // The guide's Lua blocks, each on its own (its prose is not Lua: a word like "for" would make the tokenizer
        // skip text and miss names).
        let guide = try String(contentsOf: root.appendingPathComponent("docs/rules.md"), encoding: .utf8)
        var blocks: [String] = []
        var current: [Substring]?
        for line in guide.split(separator: "\n", omittingEmptySubsequences: false) {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if current == nil, trimmed == "```lua" {
                current = []
            } else if current != nil, trimmed == "```" {
                blocks.append(current!.joined(separator: "\n"))
                current = nil
            } else {
                current?.append(line)
            }
        }
        XCTAssertGreaterThanOrEqual(blocks.count, 8, "docs/rules.md's Lua blocks")
        for block in blocks {
            // `f.severty` is the guide's own example of the mistake `router check` reports.
            XCTAssertEqual(FieldCheck.problems(in: Array(block.utf8)).filter { $0.name != "severty" }, [], block)
        }
    }

    func testTheEngineSuggestsTheSameAtRunTime() throws {
        let e = try engine([("10.lua", "return { filter = function(f) return f.severityLabel ~= 'LOW' end }\n")])
            .evaluate(try makeFinding(makeEvent(severity: 8)), context: EvaluationContext(now: 0))
        XCTAssertTrue(e.errors.first?.message.contains("f has no field 'severityLabel' (did you mean 'severity_label'?)") ?? false, "\(e.errors)")
    }
}
