import Foundation
import RouterFinding
import RouterJSON
import RouterRules
import RouterSlack
import XCTest

/// A GuardDuty event with the fields the tests vary.
func makeEvent(
    id: String = "0123456789abcdef0123456789abcdef", type: String = "CryptoCurrency:EC2/BitcoinTool.B!DNS",
    severity: Double = 8, account: String = "111122223333", title: String = "EC2 instance i-0abc is querying a domain",
    extraDetail: String = ""
) -> String {
    """
    {"version":"0","id":"e1","detail-type":"GuardDuty Finding","source":"aws.guardduty","account":"999988887777",
     "time":"2026-01-02T03:04:05Z","region":"us-east-1","resources":[],
     "detail":{"schemaVersion":"2.0","accountId":"\(account)","region":"us-east-1","partition":"aws","id":"\(id)",
       "arn":"arn:aws:guardduty:us-east-1:\(account):detector/d1/finding/\(id)","type":"\(type)",
       "resource":{"resourceType":"Instance","instanceDetails":{"instanceId":"i-0abc","tags":[]}},
       "service":{"serviceName":"guardduty","count":3,"archived":false,"eventFirstSeen":"2026-01-01T00:00:00.000Z",
         "eventLastSeen":"2026-01-02T03:00:00.000Z","action":{"actionType":"DNS_REQUEST"},"additionalInfo":{"sample":false},
         "evidence":null,"tags":[]},
       "severity":\(severity),"createdAt":"2026-01-01T00:05:00.000Z","updatedAt":"2026-01-02T03:04:05.000Z",
       "title":"\(title)","description":"desc"\(extraDetail)}}
    """
}

func makeFinding(_ json: String) throws -> Finding {
    let items = InputReader.items(fromBytes: Array(json.utf8), source: "test")
    XCTAssertEqual(items.count, 1)
    return try XCTUnwrap(items.first?.finding, "\(String(describing: items.first?.error))")
}

func engine(_ files: [(String, String)], limits: RuleLimits = .default) throws -> RuleEngine {
    try RuleEngine(sources: files.map { ($0.0, Array($0.1.utf8)) }, limits: limits)
}

func loadErrors(_ files: [(String, String)]) -> [RuleError] {
    do {
        _ = try engine(files)
        XCTFail("expected a load error")
        return []
    } catch let error as RuleLoadError {
        return error.errors
    } catch {
        XCTFail("unexpected \(error)")
        return []
    }
}

let ctx = EvaluationContext(now: 1_767_323_045, mode: "test")

final class RuleEngineTests: XCTestCase {
    func testFilterDropsWithFileAndReasonAndStopsAtFirstFalse() throws {
        let e = try engine([
            ("rules/10-a.lua", "return { filter = function(f, ctx) return true end }"),
            ("rules/20-b.lua", ##"return { filter = function(f, ctx) return f.severity >= 9, "below critical" end }"##),
            ("rules/30-c.lua", ##"return { filter = function(f, ctx) error("must not run") end }"##),
            ("rules/50-r.lua", ##"return { route = function(f, ctx) return { channel = "#x" } end }"##),
        ])
        let r = e.evaluate(try makeFinding(makeEvent(severity: 8)), context: ctx)
        XCTAssertEqual(r.dropped, Evaluation.Drop(file: "rules/20-b.lua", reason: "below critical"))
        XCTAssertTrue(r.deliveries.isEmpty)
        XCTAssertTrue(r.errors.isEmpty)
        XCTAssertFalse(r.unrouted)

        let kept = e.evaluate(try makeFinding(makeEvent(severity: 9.5)), context: ctx)
        XCTAssertNotNil(kept.errors.first)  // 30-c raises
        XCTAssertEqual(kept.errors.first?.file, "rules/30-c.lua")
        XCTAssertEqual(kept.errors.first?.line, 1)
        XCTAssertEqual(kept.errors.first?.phase, .filter)
        XCTAssertEqual(kept.errors.first?.message, "must not run")
    }

    func testFilterWithoutBooleanIsARuleErrorNamingTheFunctionLine() throws {
        let e = try engine([
            ("rules/10-a.lua", "return {\n  filter = function(f, ctx)\n    if f.severity > 100 then return true end\n  end,\n}"),
        ])
        let r = e.evaluate(try makeFinding(makeEvent()), context: ctx)
        let err = try XCTUnwrap(r.errors.first)
        XCTAssertEqual(err.file, "rules/10-a.lua")
        XCTAssertEqual(err.line, 2)
        XCTAssertEqual(err.kind, .result)
        XCTAssertTrue(err.message.contains("returned nothing"), err.message)
        XCTAssertEqual(err.description.prefix(25), "rules/10-a.lua:2: error: ")
        // The finding is not lost: it goes to the fallback delivery with a note.
        XCTAssertEqual(r.deliveries.count, 1)
        XCTAssertTrue(r.deliveries[0].fallback)
        XCTAssertEqual(r.deliveries[0].to, "default")
        XCTAssertEqual(r.deliveries[0].format, "detailed")
        XCTAssertNil(r.deliveries[0].file)
        XCTAssertTrue(r.deliveries[0].payload.serialized().contains("rules/10-a.lua:2"))

        let e2 = try engine([("rules/x.lua", ##"return { filter = function() return "yes" end }"##)])
        XCTAssertTrue(e2.evaluate(try makeFinding(makeEvent()), context: ctx).errors[0].message.contains("returned string"))
        let e3 = try engine([("rules/x.lua", ##"return { filter = function() return true, 42 end }"##)])
        XCTAssertTrue(e3.evaluate(try makeFinding(makeEvent()), context: ctx).errors[0].message.contains("reason"))
    }

    func testRouteShapesAndContinue() throws {
        let e = try engine([
            ("rules/20-crit.lua", ##"return { route = function(f) if f.severity_label == "CRITICAL" then return { channel = "#crit", mention = "here", continue = true } end end }"##),
            ("rules/50-multi.lua", ##"return { route = function(f) return { { channel = "#a" }, { channel = "C0123ABCD", mention = { "@U012AB3CD", "S0GROUP1" }, format = "compact" } } end }"##),
            ("rules/90-never.lua", ##"return { route = function(f) return { channel = "#never" } end }"##),
        ])
        let high = e.evaluate(try makeFinding(makeEvent(severity: 8)), context: ctx)
        XCTAssertEqual(high.deliveries.map(\.channel), ["#a", "C0123ABCD"])
        XCTAssertEqual(high.deliveries.map(\.file), ["rules/50-multi.lua", "rules/50-multi.lua"])
        XCTAssertEqual(high.deliveries[1].mentions, [.user("U012AB3CD"), .group("S0GROUP1")])
        XCTAssertEqual(high.deliveries[1].format, "compact")
        XCTAssertEqual(high.deliveries[0].to, "default")

        let crit = e.evaluate(try makeFinding(makeEvent(severity: 9.2)), context: ctx)
        XCTAssertEqual(crit.deliveries.map(\.channel), ["#crit", "#a", "C0123ABCD"])
        XCTAssertEqual(crit.deliveries[0].mentions, [.here])
        let text = crit.deliveries[0].payload["text"]?.stringValue ?? ""
        XCTAssertTrue(text.hasPrefix("<!here>"), text)
        XCTAssertEqual(crit.deliveries[0].payload["channel"]?.stringValue, "#crit")
    }

    func testUnroutedWhenNoRouteClaims() throws {
        let e = try engine([("rules/50.lua", ##"return { route = function(f) if f.account == "1" then return {} end return nil end }"##)])
        let r = e.evaluate(try makeFinding(makeEvent()), context: ctx)
        XCTAssertTrue(r.unrouted)
        XCTAssertNil(r.dropped)
        XCTAssertTrue(r.errors.isEmpty)
    }

    func testOnUpdateReachesTheDeliveryAndTheFormat() throws {
        let e = try engine([
            ("rules/50.lua", ##"""
            return {
              route = function(f)
                return { { channel = "#a", on_update = "update", format = "echo" }, { channel = "#b" } }
              end,
              formats = { echo = function(f, ctx, d) return "mode " .. tostring(d.on_update) end },
            }
            """##)
        ])
        let r = e.evaluate(try makeFinding(makeEvent()), context: ctx)
        XCTAssertTrue(r.errors.isEmpty, "\(r.errors)")
        XCTAssertEqual(r.deliveries.map(\.onUpdate), [.update, nil], "nil: the destination's default")
        XCTAssertEqual(r.deliveries.first?.message.text, "mode update")
    }

    func testDeliveryValidationNamesTheKey() throws {
        let cases: [(String, String)] = [
            (##"{ chanel = "#a" }"##, "unknown key 'chanel'"),
            (##"{ channel = 5 }"##, "'channel' must be a string, not number"),
            (##"{ channel = "#a", continue = "yes" }"##, "'continue' must be a boolean"),
            (##"{ channel = "#a", mention = "everybody" }"##, "'mention'"),
            (##"{ channel = "#a", mention = { "here", 3 } }"##, "'mention' must be a string or an array of strings"),
            (##"{ channel = "#a", mention = "<!subteam^S123|x> <!channel>" }"##, "'mention'"),
            (##"{ channel = "general" }"##, "'channel' must be '#name'"),
            (##"{ channel = "#a", format = "fancy" }"##, "'format' 'fancy' is not defined"),
            (##"{ channel = "#a", to = "bad name!" }"##, "'to' must be a destination name"),
            (##"{ channel = "#a", on_update = "threads" }"##, "'on_update' must be one of thread, update, repost, ignore, not 'threads'"),
            (##"{ channel = "#a", on_update = true }"##, "'on_update' must be a string, not boolean"),
            (##"{ format = "compact" }"##, "needs a 'channel'"),
            (##"{ { channel = "#a" }, x = 1 }"##, "mixes array items and named keys"),
            (##""#a""##, "returned string"),
        ]
        for (value, expected) in cases {
            let e = try engine([("rules/50.lua", "return {\n route = function(f)\n  return \(value)\n end\n}")])
            let r = e.evaluate(try makeFinding(makeEvent()), context: ctx)
            let err = try XCTUnwrap(r.errors.first, value)
            XCTAssertTrue(err.message.contains(expected), "\(value): \(err.message)")
            XCTAssertEqual(err.file, "rules/50.lua", value)
            XCTAssertEqual(err.line, 2, value)
            XCTAssertEqual(err.phase, .route, value)
            XCTAssertEqual(r.deliveries.filter(\.fallback).count, 1, value)
        }
    }

    func testTooManyDeliveries() throws {
        let e = try engine([("rules/50.lua", ##"return { route = function(f) local t = {} for i = 1, 51 do t[i] = { channel = "#c" .. i } end return t end }"##)])
        let r = e.evaluate(try makeFinding(makeEvent()), context: ctx)
        XCTAssertTrue(r.errors.first?.message.contains("at most 50") ?? false, "\(r.errors)")
        var limits = RuleLimits()
        limits.maxDeliveries = 60
        let e2 = try engine([("rules/50.lua", ##"return { route = function(f) local t = {} for i = 1, 51 do t[i] = { channel = "#c" .. i } end return t end }"##)], limits: limits)
        XCTAssertEqual(e2.evaluate(try makeFinding(makeEvent()), context: ctx).deliveries.count, 51)
    }

    func testCustomFormatsStringTableAndErrors() throws {
        let e = try engine([
            ("rules/50.lua", """
            return {
              route = function(f)
                return { { channel = "#s", format = "short" }, { channel = "#t", format = "tbl", mention = "channel" }, { channel = "#e", format = "broken" } }
              end,
              formats = {
                short = function(f, ctx, d) return f.type .. " -> " .. d.channel end,
                tbl = function(f, ctx, d) return { text = "T " .. slack.escape(f.title), blocks = { { type = "section", text = { type = "mrkdwn", text = "hello" } } } } end,
                broken = function(f, ctx, d) return { txt = "oops" } end,
              },
            }
            """)
        ])
        let r = e.evaluate(try makeFinding(makeEvent(title: "a <!channel> b")), context: ctx)
        XCTAssertEqual(r.deliveries.count, 3)
        XCTAssertEqual(r.deliveries[0].message.text, "CryptoCurrency:EC2/BitcoinTool.B!DNS -> #s")
        XCTAssertEqual(r.deliveries[1].message.text, "<!channel> T a &lt;!channel&gt; b")
        XCTAssertEqual(r.deliveries[1].message.blocks?.count, 1)
        XCTAssertTrue(r.deliveries[2].fallback)
        XCTAssertEqual(r.deliveries[2].channel, "#e")
        let err = try XCTUnwrap(r.errors.first)
        XCTAssertEqual(err.phase, .format)
        XCTAssertTrue(err.message.contains("txt"), err.message)
        XCTAssertFalse(r.deliveries[0].fallback)
    }

    func testFindingViewFieldsAndLazyDetail() throws {
        let e = try engine([
            ("rules/50.lua", ##"""
            return { route = function(f, ctx)
              assert(f.type == "CryptoCurrency:EC2/BitcoinTool.B!DNS")
              assert(f.purpose == "CryptoCurrency" and f.resource_kind == "EC2" and f.family == "BitcoinTool.B" and f.artifact == "DNS")
              assert(f.severity == 8 and math.type(f.severity) == "integer" and f.severity_label == "HIGH")
              assert(f.account == "111122223333" and f.event_account == "999988887777" and f.region == "us-east-1")
              assert(f.count == 3 and f.archived == false and f.sample == false and f.partition == "aws")
              assert(f.resource_type == "Instance" and f.action_type == "DNS_REQUEST")
              assert(f.console_url:find("fId=0123456789abcdef0123456789abcdef", 1, true))
              assert(f.detail.resource.instanceDetails.instanceId == "i-0abc")
              assert(f.detail.service.evidence == json.null)
              assert(#f.detail.service.tags == 0 and getmetatable(f.detail.service.tags) == "json.array")
              assert(json.encode(f.detail.service.tags) == "[]")
              assert(ctx.now == 1767323045 and ctx.mode == "test")
              local n = 0 for k, v in pairs(f) do n = n + 1 end
              assert(n >= 20, "pairs(f) sees the fields")
              return { channel = "#ok" }
            end }
            """##)
        ])
        let r = e.evaluate(try makeFinding(makeEvent()), context: ctx)
        XCTAssertEqual(r.errors, [])
        XCTAssertEqual(r.deliveries.first?.channel, "#ok")
    }

    func testOneEventNeverSeesWhatAPreviousOneLeft() throws {
        let e = try engine([
            ("rules/50.lua", ##"""
            local seen = {}
            local count = 0
            return { route = function(f, ctx)
              count = count + 1
              seen[#seen + 1] = f.id
              return { channel = "#c" .. count .. "-" .. #seen }
            end }
            """##)
        ])
        for i in 0..<3 {
            let r = e.evaluate(try makeFinding(makeEvent(id: String(repeating: "\(i)", count: 32))), context: ctx)
            XCTAssertEqual(r.deliveries.first?.channel, "#c1-1")
        }
    }

    /// Fields read once in an event are kept for the rest of it (f's cache); the next event starts empty, f stays
    /// read-only after a read, and its cache cannot be reached.
    func testFieldsReadInOneEventAreNotSeenByTheNext() throws {
        let e = try engine([
            ("rules/10.lua", ##"""
            return { filter = function(f, ctx)
              local a, b = f.type, f.artifact
              assert(f.type == a and f.artifact == b, "a second read gives the same value")
              assert(rawget(f, "type") == nil, "f itself stays empty")
              assert(getmetatable(f) == "locked")
              -- fields read by a computed name (not named in any source: read one by one) and after the bulk read
              assert(f["cou" .. "nt"] == 3 and f["des" .. "cription"] == "desc" and f["par" .. "tition"] == "aws")
              local ok = pcall(function() f.type = "x" end)
              assert(not ok, "a field already read cannot be assigned")
              return true
            end }
            """##),
            ("rules/50.lua", ##"""
            return { route = function(f, ctx)
              return { channel = "#" .. f.account .. "-" .. tostring(f.artifact):lower() .. "-" .. f.severity_label:lower() .. "-" .. f.detail.type:sub(1, 4):lower() }
            end }
            """##),
        ])
        let first = e.evaluate(try makeFinding(makeEvent(type: "CryptoCurrency:EC2/BitcoinTool.B!DNS", severity: 8, account: "111122223333")), context: ctx)
        XCTAssertEqual(first.errors, [])
        XCTAssertEqual(first.deliveries.first?.channel, "#111122223333-dns-high-cryp")
        let second = e.evaluate(try makeFinding(makeEvent(type: "Recon:EC2/PortProbeUnprotectedPort", severity: 2, account: "444455556666")), context: ctx)
        XCTAssertEqual(second.errors, [])
        XCTAssertEqual(second.deliveries.first?.channel, "#444455556666-nil-low-reco")
    }

    /// One engine evaluating the project's fixture findings one after another (and again in reverse) sees exactly
    /// what a fresh engine sees for each: every field of f, read by name (filled when the event starts), by a
    /// computed name (filled on first read) and through pairs, never carries over from the previous finding.
    func testALongLivedEngineSeesEachFindingAsAFreshOneDoes() throws {
        let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Fixtures/findings")
        let paths = try FileManager.default.contentsOfDirectory(atPath: fixtures.path).filter { $0.hasSuffix(".json") }.sorted()
        var findings: [Finding] = []
        for p in paths {
            let bytes = try Array(Data(contentsOf: fixtures.appendingPathComponent(p)))
            findings += InputReader.items(fromBytes: bytes, source: p).compactMap(\.finding)
        }
        XCTAssertGreaterThan(findings.count, 20)
        let rules = [("rules/10.lua", ##"""
            local names = { "id", "type", "purpose", "resource_kind", "family", "artifact", "severity", "severity_label",
              "title", "description", "account", "event_account", "region", "partition", "resource_type", "action_type",
              "count", "first_seen", "last_seen", "created_at", "updated_at", "archived", "sample", "console_url", "resource" }
            return { route = function(f, ctx)
              local out = { f.id, f.type, f.artifact, f.severity, f.count, f.region, f.resource, f.archived, f.sample,
                            f.severity_label, f.account, f.console_url, f.title }
              for i, n in ipairs(names) do out[#out + 1] = n .. "=" .. tostring(f[n]) end
              for k, v in pairs(f) do if k ~= "detail" then out[#out + 1] = k .. ":" .. tostring(v) end end
              out[#out + 1] = tostring(f.detail and f.detail.id)
              for i = 1, #out do out[i] = tostring(out[i]) end
              print(table.concat(out, "|"))
              return { channel = "#c" }
            end }
            """##)]
        let longLived = try engine(rules)
        for f in findings + findings.reversed() {
            let fresh = try engine(rules).evaluate(f, context: ctx)
            let seen = longLived.evaluate(f, context: ctx)
            XCTAssertEqual(seen.errors, [])
            XCTAssertEqual(seen.output, fresh.output, f.id)
        }
    }

    func testLoadErrorsAreReportedLikeACompiler() throws {
        var errs = loadErrors([("rules/10.lua", "return {\n filter = function(f)\n  return f.x ==\n end\n}")])
        XCTAssertEqual(errs.count, 1)
        XCTAssertEqual(errs[0].file, "rules/10.lua")
        XCTAssertEqual(errs[0].line, 4)
        XCTAssertEqual(errs[0].kind, .syntax)
        XCTAssertTrue(errs[0].description.hasPrefix("rules/10.lua:4: error: "), errs[0].description)

        errs = loadErrors([("rules/a.lua", "return 42"), ("rules/b.lua", "return { rout = function() end }"), ("rules/c.lua", "return { formats = { detailed = function() end } }")])
        XCTAssertEqual(errs.map(\.file), ["rules/a.lua", "rules/b.lua", "rules/c.lua"])
        XCTAssertTrue(errs[0].message.contains("returned number"), errs[0].message)
        XCTAssertTrue(errs[1].message.contains("unknown key 'rout'"), errs[1].message)
        XCTAssertTrue(errs[2].message.contains("built in"), errs[2].message)

        errs = loadErrors([("rules/a.lua", "return { formats = { x = function() end } }"), ("rules/b.lua", "return { formats = { x = function() end } }")])
        XCTAssertEqual(errs.first?.file, "rules/b.lua")
        XCTAssertTrue(errs.first?.message.contains("already defined in rules/a.lua") ?? false)

        errs = loadErrors([("rules/a.lua", "local x = nil\nreturn { route = x.y }")])
        XCTAssertEqual(errs.first?.line, 2)
        XCTAssertEqual(errs.first?.kind, .runtime)

        // Binary chunks are refused.
        errs = loadErrors([("rules/bin.lua", "\u{1B}Lua\u{54}\u{00}")])
        XCTAssertEqual(errs.first?.kind, .syntax)
        XCTAssertTrue(errs.first?.message.contains("binary") ?? false, "\(errs)")
    }

    func testFilesLoadInByteWiseOrderFromADirectory() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("rules-order-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        for name in ["b.lua", "B.lua", "a.lua", "10.lua", "notes.txt"] {
            let body = ##"return { route = function(f) return { channel = "#"## + name.lowercased().replacingOccurrences(of: ".", with: "-") + ##"", continue = true } end }"##
            try body.write(to: dir.appendingPathComponent(name), atomically: true, encoding: .utf8)
        }
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("sub.lua"), withIntermediateDirectories: true)
        let e = try RuleEngine(directory: dir.path)
        XCTAssertEqual(e.files.map { URL(fileURLWithPath: $0.path).lastPathComponent }, ["10.lua", "B.lua", "a.lua", "b.lua"])
        let r = e.evaluate(try makeFinding(makeEvent()), context: ctx)
        XCTAssertEqual(r.deliveries.map(\.channel), ["#10-lua", "#b-lua", "#a-lua", "#b-lua"])
    }

    func testFilesThatCanKeepNoStateAreNotRunAgainPerEvent() throws {
        let e = try engine([
            // Only globals: nothing can survive a call, so the instance from load time is reused.
            ("rules/10-pure.lua", ##"print("pure top") return { filter = function(f) return string.len(f.id) > 0 end }"##),
            // A file-level table: run once, its table put back before every event.
            ("rules/50-state.lua", ##"print("state top") local seen = {} return { route = function(f) seen[#seen + 1] = 1 return { channel = "#n" .. #seen } end }"##),
            // A private _ENV is state the router does not snapshot: run anew for every finding.
            ("rules/60-env.lua", ##"print("env top") local _ENV = { n = 0 } return { route = function(f) n = n + 1 return { channel = "#e" .. n, continue = true } end }"##),
        ])
        for _ in 0..<3 {
            let r = e.evaluate(try makeFinding(makeEvent()), context: ctx)
            XCTAssertEqual(r.errors, [])
            XCTAssertEqual(r.output, "", "neither file runs again: the first is stateless, the second snapshotted")
            XCTAssertEqual(r.deliveries.map(\.channel), ["#n1"])
        }
        let e2 = try engine([("rules/60-env.lua", ##"print("env top") local _ENV = { n = 0, print = print } return { route = function(f) n = n + 1 return { channel = "#e" .. n } end }"##)])
        for _ in 0..<3 {
            let r = e2.evaluate(try makeFinding(makeEvent()), context: ctx)
            XCTAssertEqual(r.deliveries.first?.channel, "#e1")
            XCTAssertEqual(r.output, "env top\n", "run anew for every finding")
        }
    }

    /// A reused (snapshotted) file: whatever one event changes in its file-level state, the next event sees the
    /// state the file had when it was loaded.
    func testSnapshottedFileStateIsPutBackBeforeEveryEvent() throws {
        let source = ##"""
        print("top: printed when the file runs, so never per event once it is snapshotted")
        local counter = 0
        local cfg = { teams = { a = "#a" }, list = { 1, 2, 3 } }
        local M = {}
        local function bump() counter = counter + 1 return counter end
        local helpers = { bump = bump }
        function M.route(f)
          local n = helpers.bump()
          local before = tostring(cfg.teams.a) .. "/" .. #cfg.list .. "/" .. tostring(cfg.extra) .. "/" .. tostring(M.note)
          cfg.teams.a = "#changed"
          cfg.list[#cfg.list + 1] = 4
          table.remove(cfg.list, 1)
          cfg.extra = {}
          cfg.teams = { a = "#replaced" }
          M.note = "left behind"
          helpers.bump = function() return 99 end
          return { channel = "#c" .. n, mention = nil, format = "detailed", continue = false,
                   to = "default", on_update = nil }, print(before)
        end
        return M
        """##
        let e = try engine([("rules/50.lua", source)])
        for _ in 0..<4 {
            let r = e.evaluate(try makeFinding(makeEvent()), context: ctx)
            XCTAssertEqual(r.errors, [])
            XCTAssertEqual(r.deliveries.map(\.channel), ["#c1"], "the counter and the helper are put back")
            XCTAssertEqual(r.output, "#a/3/nil/nil\n", "nested tables, added and removed keys are put back")
        }
    }

    func testAKeyOnlyRemovedFromFileStateIsPutBack() throws {
        let e = try engine([("rules/50.lua", ##"""
            local t = { a = "x", b = "y" }
            return { route = function(f)
              local seen = tostring(t.a) .. tostring(t.b)
              if f.severity > 5 then t.a = nil else t.b = nil end
              return { channel = "#" .. seen }
            end }
            """##)])
        for severity in [8.0, 2, 8, 2] {
            let r = e.evaluate(try makeFinding(makeEvent(severity: severity)), context: ctx)
            XCTAssertEqual(r.deliveries.map(\.channel), ["#xy"], "severity \(severity)")
        }
    }

    /// A file whose table its own functions can reach (the module pattern) may replace its functions during an
    /// event: the replacement is what runs for the rest of that event, and the next event has the original back.
    func testAFileReplacingItsOwnRouteDuringAnEventIsHonouredThenPutBack() throws {
        let e = try engine([("rules/50.lua", ##"""
            local M = {}
            function M.filter(f)
              if f.severity > 5 then M.route = function() return { channel = "#replaced" } end end
              return true
            end
            function M.route(f) return { channel = "#original" } end
            return M
            """##)])
        for (severity, channel) in [(8.0, "#replaced"), (2, "#original"), (8, "#replaced"), (2, "#original")] {
            let r = e.evaluate(try makeFinding(makeEvent(severity: severity)), context: ctx)
            XCTAssertEqual(r.deliveries.map(\.channel), [channel], "severity \(severity)")
        }
    }

    func testLargeFileLevelTablesAreRebuiltPerEventInstead() throws {
        // More entries than the router snapshots: the file runs anew for every finding (the old way), still isolated.
        let source = ##"""
        print("top")
        local big = {}
        for i = 1, 2000 do big[i] = i end
        return { route = function(f) big[1] = big[1] + 1 return { channel = "#b" .. big[1] } end }
        """##
        let e = try engine([("rules/50.lua", source)])
        for _ in 0..<2 {
            let r = e.evaluate(try makeFinding(makeEvent()), context: ctx)
            XCTAssertEqual(r.deliveries.first?.channel, "#b2")
            XCTAssertEqual(r.output, "top\n")
        }
    }

    func testCtxNowIsWholeSecondsSoOsDateAcceptsIt() throws {
        let e = try engine([("rules/50.lua", ##"return { route = function(f, ctx) return { channel = "#h" .. os.date("!%H", ctx.now) .. "-" .. math.type(ctx.now) } end }"##)])
        let r = e.evaluate(try makeFinding(makeEvent()), context: EvaluationContext(now: 1_767_323_045.75, mode: "live"))
        XCTAssertEqual(r.errors, [])
        XCTAssertEqual(r.deliveries.first?.channel, "#h03-integer")
    }

    func testPrintIsCapturedNotWrittenToStdout() throws {
        let e = try engine([("rules/50.lua", ##"return { route = function(f) print("type", f.type, 1) end }"##)])
        let r = e.evaluate(try makeFinding(makeEvent()), context: ctx)
        XCTAssertEqual(r.output, "type\tCryptoCurrency:EC2/BitcoinTool.B!DNS\t1\n")
    }
}
