import Foundation
import RouterFinding
import RouterRules
import XCTest

/// Hostile and broken rules: each ends as a rule error, within the limits, and the engine keeps serving.
final class SandboxTests: XCTestCase {
    /// Runs `body` as a route function's body; returns the evaluation and the time it took.
    func run(_ body: String, limits: RuleLimits = .default, file: StaticString = #filePath, line: UInt = #line) throws
        -> (Evaluation, Double)
    {
        let e = try engine([("rules/50-evil.lua", "return { route = function(f, ctx)\n\(body)\nreturn { channel = \"#ok\" }\nend }")], limits: limits)
        let finding = try makeFinding(makeEvent())
        let start = Date()
        let r = e.evaluate(finding, context: ctx)
        let elapsed = Date().timeIntervalSince(start)
        // The same engine keeps serving afterwards.
        let healthy = try engine([("rules/50.lua", ##"return { route = function(f) return { channel = "#ok" } end }"##)])
        XCTAssertEqual(healthy.evaluate(finding, context: ctx).deliveries.first?.channel, "#ok", file: file, line: line)
        return (r, elapsed)
    }

    func expectError(_ body: String, kind: RuleError.Kind, contains text: String, limits: RuleLimits = .default,
                     file: StaticString = #filePath, line: UInt = #line) throws {
        let (r, elapsed) = try run(body, limits: limits, file: file, line: line)
        let err = try XCTUnwrap(r.errors.first, "no error for: \(body)", file: file, line: line)
        XCTAssertEqual(err.kind, kind, "\(body): \(err)", file: file, line: line)
        XCTAssertTrue(err.message.contains(text), "\(body): \(err.message)", file: file, line: line)
        XCTAssertEqual(err.file, "rules/50-evil.lua", file: file, line: line)
        XCTAssertTrue(r.deliveries.contains(where: \.fallback), "the finding goes to the fallback", file: file, line: line)
        // The contract is "within one second"; allow for a loaded CI machine.
        XCTAssertLessThan(elapsed, 2.0, "\(body) took \(elapsed) s", file: file, line: line)
    }

    func testInfiniteLoop() throws {
        try expectError("while true do end", kind: .instructions, contains: "instruction budget")
    }

    func testPcallWrappedInfiniteLoop() throws {
        try expectError("while true do pcall(function() while true do end end) end", kind: .instructions, contains: "instruction budget")
    }

    func testXpcallHandlerCannotEscapeTheBudget() throws {
        try expectError("xpcall(function() while true do end end, function() while true do end end)", kind: .instructions, contains: "instruction budget")
    }

    func testWallClockLimit() throws {
        var limits = RuleLimits()
        limits.instructions = Int.max / 2
        limits.wallSeconds = 0.05
        try expectError("while true do end", kind: .timeout, contains: "time limit", limits: limits)
    }

    func testHugeAllocation() throws {
        try expectError(##"local s = string.rep("x", 1e9)"##, kind: .memory, contains: "memory limit")
        try expectError(##"local s = "x" for i = 1, 40 do s = s .. s end"##, kind: .memory, contains: "memory limit")
        try expectError(##"local t = {} for i = 1, 1e8 do t[i] = i end"##, kind: .memory, contains: "memory limit")
    }

    func testGarbageIsCollectedBeforeTheCapIsEnforced() throws {
        var limits = RuleLimits()
        limits.memoryBytes = 8 << 20
        limits.wallSeconds = 5
        // 60 MB allocated over the call, never more than ~2 MB live: the collector keeps it under the 8 MB cap.
        let (r, _) = try run(#"for i = 1, 60 do local s = string.rep("x", 1000000 + i) end"#, limits: limits)
        XCTAssertEqual(r.errors, [])
        XCTAssertEqual(r.deliveries.first?.channel, "#ok")
    }

    func testMemoryErrorCaughtByPcallStillFails() throws {
        try expectError(##"pcall(string.rep, "x", 1e9)"##, kind: .memory, contains: "memory limit")
    }

    func testCatastrophicPatterns() throws {
        try expectError(##"local s = ("a"):rep(400) s:find(".-.-.-b$")"##, kind: .runtime, contains: "pattern too complex")
        try expectError(##"local s = ("a"):rep(100000) s:match(".-b$")"##, kind: .runtime, contains: "pattern too complex")
        try expectError(##"local s = ("a"):rep(3000) s:gsub(".-.-b", "")"##, kind: .runtime, contains: "pattern too complex")
        try expectError(##"local s = ("a"):rep(3000) for x in s:gmatch(".-.-.-b") do end"##, kind: .runtime, contains: "pattern too complex")
        // Ordinary patterns still work.
        let (r, _) = try run(##"assert(("CryptoCurrency:EC2/BitcoinTool.B"):match("^(%w+):") == "CryptoCurrency") assert(("a,b,c"):gsub(",", ";") == "a;b;c")"##)
        XCTAssertEqual(r.errors, [])
    }

    func testForbiddenFunctionsAreAbsent() throws {
        for name in ["load", "loadstring", "dofile", "loadfile", "require", "collectgarbage", "rawset", "setmetatable",
                     "io", "debug", "package", "coroutine"] {
            try expectError("local x = \(name)", kind: .runtime, contains: "undefined global '\(name)'")
        }
        try expectError("string.dump(function() end)", kind: .runtime, contains: "dump")
        try expectError("os.execute('true')", kind: .runtime, contains: "execute")
        try expectError("os.exit(1)", kind: .runtime, contains: "exit")
        try expectError("os.getenv('HOME')", kind: .runtime, contains: "getenv")
        let (r, _) = try run("assert(type(os.time()) == 'number') assert(os.date('!%Y', 0) == '1970') assert(type(os.clock()) == 'number')")
        XCTAssertEqual(r.errors, [])
    }

    func testNoGlobalsAndNoMutationOfSharedTables() throws {
        try expectError("leaked = 1", kind: .runtime, contains: "cannot assign global 'leaked'")
        try expectError("_G.leaked = 1", kind: .runtime, contains: "cannot assign global 'leaked'")
        try expectError("string.upper = nil", kind: .runtime, contains: "read-only")
        try expectError("table.insert = print", kind: .runtime, contains: "read-only")
        try expectError("math.pi = 3", kind: .runtime, contains: "read-only")
        try expectError("json.null.x = 1", kind: .runtime, contains: "read-only")
        try expectError("getmetatable('').__index = {}", kind: .runtime, contains: "attempt to index")
        try expectError("f.id = 'x'", kind: .runtime, contains: "read-only")
        try expectError("ctx.now = 0", kind: .runtime, contains: "read-only")
        try expectError("local y = f.severty", kind: .runtime, contains: "f has no field 'severty'")
        XCTAssertEqual(try run("assert(getmetatable(f) == 'locked') assert(getmetatable('') == 'locked')").0.errors, [])
    }

    func testErrorValuesThatAreNotStrings() throws {
        try expectError("error({ code = 1 })", kind: .runtime, contains: "table: ")
        try expectError("error()", kind: .runtime, contains: "error(nil)")
        try expectError("error(42)", kind: .runtime, contains: "42")
    }

    func testDeepRecursionIsContained() throws {
        let (r, _) = try run("local function g(n) return g(n + 1) + 1 end g(1)")
        XCTAssertEqual(r.errors.count, 1)
        XCTAssertTrue([.runtime, .memory].contains(r.errors[0].kind), "\(r.errors)")
    }

    func testLimitsDoNotLeakIntoTheNextEvent() throws {
        let e = try engine([("rules/50.lua", ##"""
        return { route = function(f)
          if f.account == "000000000000" then while true do end end
          local s = 0 for i = 1, 1e5 do s = s + i end
          return { channel = "#ok" }
        end }
        """##)])
        let bad = e.evaluate(try makeFinding(makeEvent(account: "000000000000")), context: ctx)
        XCTAssertEqual(bad.errors.first?.kind, .instructions)
        for _ in 0..<3 {
            let good = e.evaluate(try makeFinding(makeEvent()), context: ctx)
            XCTAssertEqual(good.errors, [])
            XCTAssertEqual(good.deliveries.first?.channel, "#ok")
        }
        XCTAssertLessThan(e.memoryUsed, 8 << 20)
    }

    func testJsonHelpers() throws {
        let (r, _) = try run(##"""
        local v = json.decode('{"a":[1,2.5,null,{}],"b":[]}')
        assert(v.a[1] == 1 and math.type(v.a[1]) == "integer" and v.a[2] == 2.5 and v.a[3] == json.null)
        assert(json.encode(v) == '{"a":[1,2.5,null,{}],"b":[]}', json.encode(v))
        assert(json.encode(json.array({})) == "[]")
        assert(not pcall(json.decode, "{bad"))
        assert(not pcall(json.encode, { f = print }))
        assert(slack.escape("<!here> & <@U1>") == "&lt;!here&gt; &amp; &lt;@U1&gt;")
        local plain = "nothing to escape"
        assert(slack.escape(plain) == plain and slack.escape("") == "")
        assert(slack.escape(42) == "42" and type(slack.escape(2.5)) == "string", "a number comes back as a string")
        assert(not pcall(slack.escape, nil) and not pcall(slack.escape, {}))
        """##)
        XCTAssertEqual(r.errors, [])
    }
}
