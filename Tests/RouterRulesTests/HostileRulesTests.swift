import Foundation
import RouterFinding
import RouterRules
import XCTest

/// Every hostile rule in `Tests/Fixtures/hostile/` (one category of expensive work each: one C call that ran for
/// seconds before the limits reached into C functions, or a cheap-looking loop around one) ends as the rule error its
/// first line names, soon after the limit, at the file and line of the expensive statement, and the finding still goes
/// to the fallback. `scripts/bench-limits.sh` prints how long each takes with the default limits.
final class HostileRulesTests: XCTestCase {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/hostile")

    struct Case {
        var name: String
        var source: String
        /// The limits that may end it (empty: it must not end with an error at all).
        var kinds: [RuleError.Kind]
    }

    static func cases() throws -> [Case] {
        let names = try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.hasSuffix(".lua") }.sorted()
        return try names.map { name in
            let source = try String(contentsOf: directory.appendingPathComponent(name), encoding: .utf8)
            let first = source.split(separator: "\n", maxSplits: 1).first.map(String.init) ?? ""
            guard let expect = first.range(of: "expect: ") else { throw NSError(domain: "no expect: line in \(name)", code: 1) }
            let what = first[expect.upperBound...].prefix { $0 != "." }
            var kinds: [RuleError.Kind] = []
            if what.contains("time") { kinds.append(.timeout) }
            if what.contains("memory") { kinds.append(.memory) }
            if what.contains("instructions") { kinds.append(.instructions) }
            return Case(name: String(name.dropLast(4)), source: source, kinds: kinds)
        }
    }

    func testEveryHostileRuleEndsSoonAfterItsLimit() throws {
        let cases = try Self.cases()
        XCTAssertGreaterThanOrEqual(cases.count, 30)
        let finding = try makeFinding(makeEvent())
        for c in cases {
            // A short time limit, except where the memory limit is to end it first (filling 64 MiB takes longer
            // than 100 ms in a sanitizer build).
            var limits = RuleLimits()
            limits.wallSeconds = c.kinds == [.memory] ? 2 : 0.1
            let path = "rules/50-\(c.name).lua"
            let e = try engine([(path, c.source)], limits: limits)
            let start = Date()
            let r = e.evaluate(finding, context: ctx)
            let elapsed = Date().timeIntervalSince(start)
            // Without the limits inside C functions these ran for 1 to more than 40 seconds (bench-limits.sh); the
            // bound allows for a loaded machine and sanitizer builds, far below that.
            XCTAssertLessThan(elapsed, limits.wallSeconds + 0.9, "\(c.name) took \(elapsed) s")
            if c.kinds.isEmpty {
                XCTAssertEqual(r.errors, [], c.name)
                continue
            }
            guard let err = r.errors.first else {
                XCTFail("\(c.name): no rule error, routed to \(r.deliveries.map(\.channel))")
                continue
            }
            XCTAssertTrue(c.kinds.contains(err.kind), "\(c.name): \(err.kind): \(err.message)")
            XCTAssertEqual(err.file, path, c.name)
            // The line of a statement inside the route function (lines 3 and on), not 0 or the function's own line.
            XCTAssertGreaterThanOrEqual(err.line ?? 0, 3, "\(c.name): \(err)")
            let named = ["time limit exceeded", "memory limit exceeded", "instruction budget exceeded"]
            XCTAssertTrue(named.contains { err.message.contains($0) }, "\(c.name): \(err.message)")
            XCTAssertTrue(r.deliveries.contains(where: \.fallback), "\(c.name): the finding goes to the fallback")
            // The engine serves the next finding: the limits are reset (it ends the same way, not earlier or later).
            let again = e.evaluate(finding, context: ctx)
            XCTAssertEqual(again.errors.first?.kind, err.kind, c.name)
        }
    }

    /// The library functions that now charge the work meter still do what Lua's do.
    func testBoundedFunctionsKeepLuaSemantics() throws {
        let e = try engine([("rules/50.lua", ##"""
        return { route = function(f)
          assert(string.rep("ab", 3, ",") == "ab,ab,ab" and string.rep("x", 0) == "" and string.rep("", 1e15) == "")
          assert(string.rep("", 3, "-") == "--" and ("x"):rep(2) == "xx")
          assert(("aBc"):upper() == "ABC" and ("aBc"):lower() == "abc" and ("abc"):reverse() == "cba")
          local a, b, c = ("abc"):byte(1, -1)
          assert(a == 97 and c == 99 and select("#", ("abc"):byte(2, 10)) == 2 and string.char(104, 105) == "hi")
          assert(string.format("%d-%s-%q-%5.1f-%%", 7, "x", "a\n", 2.25) == '7-x-"a\\\n"-  2.2-%')
          assert(string.unpack("i4", string.pack("i4", 42)) == 42 and string.packsize("i4i8") == 12)
          local t = { 3, 1, 2 }
          table.insert(t, 1, 0); table.insert(t, 9)
          assert(table.concat(t, ",") == "0,3,1,2,9" and table.remove(t, 1) == 0 and table.remove(t) == 9)
          table.sort(t)
          assert(table.concat(t, ",") == "1,2,3")
          table.sort(t, function(x, y) return x > y end)
          assert(table.concat(t, ",", 2, 3) == "2,1")
          local m = table.move({ 1, 2, 3 }, 1, 3, 2, {})
          assert(m[1] == nil and m[4] == 3 and select("#", table.unpack({ 1, 2, 3 })) == 3 and table.pack(1, nil).n == 2)
          assert(not pcall(table.sort, { 1, "x" }) and not pcall(table.concat, { {} }))
          assert(not pcall(table.insert, { 1 }, 5, 2), "position out of bounds is still Lua's error")
          local s = "h\u{E9}\u{20AC}!"
          assert(utf8.len(s) == 4 and utf8.offset(s, 3) == 4 and utf8.offset(s, -1) == #s and utf8.char(72, 233) == "H\u{E9}")
          local cps = { utf8.codepoint(s, 1, -1) }
          assert(#cps == 4 and cps[3] == 0x20AC)
          local n = 0
          for p, c in utf8.codes(s) do n = n + 1 end
          assert(n == 4 and utf8.len("\xff") == nil)
          assert(not pcall(function() for _ in utf8.codes("\x80a") do end end), "a stray continuation byte is an error")
          assert(not pcall(function() for _ in utf8.codes("a\x80") do end end), "also after a character")
          assert(os.date("!%Y-%m-%d", 86400) == "1970-01-02" and tonumber("0x10") == 16 and tonumber("z", 36) == 35)
          assert(tonumber("1e2") == 100 and tonumber("x") == nil)
          return { channel = "#ok" }
        end }
        """##)])
        let r = e.evaluate(try makeFinding(makeEvent()), context: ctx)
        XCTAssertEqual(r.errors, [])
        XCTAssertEqual(r.deliveries.first?.channel, "#ok")
    }

    /// One string may hold at most a quarter of the heap cap: the error says so, with the file and line.
    func testLongestString() throws {
        var limits = RuleLimits()
        limits.memoryBytes = 16 << 20
        let e = try engine([("rules/50.lua", ##"""
        return { route = function(f)
          local ok = string.rep("x", 4 * 1024 * 1024 - 64)
          local s = ok .. string.rep("y", 1024)
          return { channel = "#x" }
        end }
        """##)], limits: limits)
        let r = e.evaluate(try makeFinding(makeEvent()), context: ctx)
        let err = try XCTUnwrap(r.errors.first)
        XCTAssertEqual(err.kind, .memory)
        XCTAssertEqual(err.line, 3)
        XCTAssertTrue(err.message.contains("one string may hold at most 4 MiB"), err.message)
    }

    /// json.decode's parse tape is memory of the rule state: a document whose tape does not fit is the memory limit,
    /// and nothing of it stays allocated.
    func testJsonDecodeTapeCountsAgainstTheCap() throws {
        var limits = RuleLimits()
        limits.memoryBytes = 32 << 20
        let e = try engine([("rules/50.lua", ##"""
        return { route = function(f)
          local s = "[" .. string.rep("0,", 3e6) .. "0]"
          local v = json.decode(s)
          return { channel = "#x" }
        end }
        """##)], limits: limits)
        let r = e.evaluate(try makeFinding(makeEvent()), context: ctx)
        let err = try XCTUnwrap(r.errors.first)
        XCTAssertEqual(err.kind, .memory, err.message)
        XCTAssertEqual(err.line, 3)
        // An event that leaves more than half the cap allocated is collected when it ends: the tape went with it.
        XCTAssertLessThanOrEqual(e.memoryUsed, limits.memoryBytes / 2)
    }

    /// A memory error caught by the rule's own pcall ends the event all the same (sticky), at the line that hit it.
    func testMemoryLimitIsStickyAndLocated() throws {
        var limits = RuleLimits()
        limits.wallSeconds = 5
        limits.memoryBytes = 16 << 20
        let e = try engine([("rules/50.lua", ##"""
        return { route = function(f)
          local ok = pcall(function()
            local t = {} for i = 1, 1e9 do t[i] = { i } end
          end)
          local after = 1
          return { channel = "#x" }
        end }
        """##)], limits: limits)
        let r = e.evaluate(try makeFinding(makeEvent()), context: ctx)
        let err = try XCTUnwrap(r.errors.first)
        XCTAssertEqual(err.kind, .memory)
        XCTAssertTrue([3, 5].contains(err.line ?? 0), "\(err)")
    }

    /// The time limit inside a format's JSON encoding (a custom format returning a huge table) is a limit error of
    /// that format, not "a value that cannot be sent".
    func testTimeLimitWhileEncodingAFormatResult() throws {
        var limits = RuleLimits()
        limits.wallSeconds = 0.05
        let e = try engine([("rules/50.lua", ##"""
        local function big()
          local t = { string.byte(string.rep("a", 9e5), 1, -1) }
          local blocks = {}
          for i = 1, 12 do blocks[i] = t end
          return blocks
        end
        return {
          route = function(f) return { channel = "#x", format = "huge" } end,
          formats = { huge = function(f, ctx, d) return { text = "x", blocks = big() } end },
        }
        """##)], limits: limits)
        let r = e.evaluate(try makeFinding(makeEvent()), context: ctx)
        let err = try XCTUnwrap(r.errors.first)
        XCTAssertTrue([.timeout, .memory].contains(err.kind), "\(err)")
        XCTAssertTrue(err.message.contains("while encoding format 'huge'"), err.message)
    }
}
