import Foundation
import RouterJSON
import XCTest

/// `router replay`: a history through the rules in `updatedAt` order, with the finding lifecycle and digests
/// simulated under `router send`'s pacing, and `--against` comparisons.
final class ReplayTests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("replay-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }

    override func tearDown() {
        if let dir { try? FileManager.default.removeItem(at: dir) }
    }

    static let rules = ##"""
        return {
          filter = function(f) return f.severity >= 2, "noise" end,
          route = function(f, ctx)
            if f.type:find("Kubernetes") then return nil end
            if f.severity_label == "CRITICAL" then return { channel = "#crit", mention = "here" } end
            return { channel = "#sec", mention = { "S0ONCALL01" } }
          end,
        }
        """##

    /// Start of the test history: 2026-03-01T00:00:00Z.
    static let t0 = 1_772_323_200.0

    /// A bare finding (the S3 export's shape) `id` at `t0 + seconds`.
    func finding(
        _ id: String, at seconds: Double, count: Int = 1, severity: Double = 5, type: String = "CredentialAccess:IAMUser/AnomalousBehavior",
        sample: Bool = false, archived: Bool = false
    ) throws -> JSONValue {
        var e = try JSONValue.parse(
            Array(try Data(contentsOf: Paths.root.appendingPathComponent("examples/medium-iam-anomalous-behavior.json"))))
        var d = e["detail"]!
        d["id"] = .string(id)
        d["type"] = .string(type)
        d["severity"] = .double(severity)
        d["updatedAt"] = .string(Self.iso(Self.t0 + seconds))
        d["createdAt"] = .string(Self.iso(Self.t0))
        d["service"]?["count"] = .int(Int64(count))
        d["service"]?["archived"] = .bool(archived)
        d["service"]?["additionalInfo"] = ["value": .string(sample ? #"{"sample":true}"# : "{}"), "type": "default"]
        e = d
        return e
    }

    static func iso(_ t: Double) -> String {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return f.string(from: Date(timeIntervalSince1970: t))
    }

    func write(_ name: String, _ lines: [JSONValue], gzip: Bool = false) throws -> String {
        let url = dir.appendingPathComponent(name)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        let text = lines.map { $0.serialized() }.joined(separator: "\n") + "\n"
        if gzip {
            let plain = url.deletingPathExtension()
            try text.write(to: plain, atomically: true, encoding: .utf8)
            let r = try LambdaSupport.run("/bin/gzip", ["-f", plain.path], timeout: 30)
            XCTAssertEqual(r.status, 0, r.stderr)
        } else {
            try text.write(to: url, atomically: true, encoding: .utf8)
        }
        return url.path
    }

    func rulesDir(_ source: String = ReplayTests.rules, name: String = "rules") throws -> String {
        let d = dir.appendingPathComponent(name)
        try FileManager.default.createDirectory(at: d, withIntermediateDirectories: true)
        try source.write(to: d.appendingPathComponent("50-route.lua"), atomically: true, encoding: .utf8)
        return d.path
    }

    func replay(_ args: [String], environment: [String: String] = [:]) throws -> (status: Int32, json: JSONValue?, stdout: String, stderr: String) {
        let r = try runRouter(["replay"] + args, environment: environment)
        return (r.status, args.contains("--json") ? try? JSONValue.parse(r.stdout) : nil, r.stdout, r.stderr)
    }

    func channel(_ report: JSONValue?, _ name: String, _ side: String = "new") -> JSONValue? {
        report?[side]?["channels"]?.arrayValue?.first { $0["channel"]?.stringValue == name }
    }

    func testLifecycleDropsUnroutedSamplesAndMentions() throws {
        let rules = try rulesDir()
        // Deliberately out of order in the file: replay sorts by updatedAt.
        let history = try write("history.jsonl", [
            try finding("a3", at: 7200, count: 3, severity: 7.5),
            try finding("a1", at: 0, count: 1),
            try finding("a2", at: 3600, count: 2),
            try finding("b1", at: 100, severity: 1),
            try finding("c1", at: 200, type: "Discovery:Kubernetes/TorIPCaller"),
            try finding("d1", at: 300, severity: 9.5, type: "AttackSequence:S3/CompromisedData"),
            try finding("e1", at: 400, sample: true),
            try finding("a0", at: 10800, count: 4, severity: 7.5, archived: true),
        ].map { f in
            // "a*" are one finding: id "a".
            var f = f
            if let id = f["id"]?.stringValue, id.hasPrefix("a") { f["id"] = "a" }
            return f
        })
        let r = try replay([rules, history, "--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let j = try XCTUnwrap(r.json, r.stdout)
        XCTAssertEqual(j["events"], 8)
        XCTAssertEqual(j["findings"], 5)
        XCTAssertEqual(j["sample"]?["findings"], 1)
        XCTAssertEqual(j["period"]?["first_day"], "2026-03-01")
        let sec = try XCTUnwrap(channel(j, "#sec"), "\(j)")
        // a: first post, then two updates (thread replies with edits; the severity rise broadcast), then archived
        // (an edit, nothing new); e1 (sample): one post.
        XCTAssertEqual(sec["posts"], 2)
        XCTAssertEqual(sec["thread_replies"], 2)
        XCTAssertEqual(sec["broadcasts"], 1)
        XCTAssertEqual(sec["edits"], 3)
        XCTAssertEqual(sec["messages"], 4)
        XCTAssertEqual(sec["findings"], 1)
        XCTAssertEqual(sec["sample_findings"], 1)
        XCTAssertEqual(sec["sample_messages"], 1)
        // The rule's user group: on each post and on the broadcast reply.
        XCTAssertEqual(sec["mentions"]?["user group"], 3)
        XCTAssertEqual(sec["per_day"]?["max"], 4)
        XCTAssertEqual(sec["top_types"]?[0]?["type"], "CredentialAccess:IAMUser/AnomalousBehavior")
        let crit = try XCTUnwrap(channel(j, "#crit"))
        XCTAssertEqual(crit["posts"], 1)
        XCTAssertEqual(crit["mentions"]?["@here"], 1)
        XCTAssertEqual(j["new"]?["dropped"]?[0]?["reason"], "noise")
        XCTAssertEqual(j["new"]?["dropped"]?[0]?["events"], 1)
        XCTAssertEqual(j["new"]?["unrouted"]?["findings"], 1)
        XCTAssertEqual(j["new"]?["unrouted"]?["types"]?[0]?["type"], "Discovery:Kubernetes/TorIPCaller")
        // The text report says the same.
        let text = try replay([rules, history])
        XCTAssertEqual(text.status, 0)
        XCTAssertTrue(text.stdout.contains("Replayed 8 finding events of 5 findings"), text.stdout)
        XCTAssertTrue(text.stdout.contains("#sec: 1 finding (+ 1 sample), 4 messages"), text.stdout)
        XCTAssertTrue(text.stdout.contains("2 thread replies (1 broadcast)"), text.stdout)
        XCTAssertTrue(text.stdout.contains("\"noise\": 1 event (1 finding)"), text.stdout)
        // --since / --until keep a window of the history.
        let window = try replay([rules, history, "--json", "--since", Self.iso(Self.t0 + 3000), "--until", Self.iso(Self.t0 + 9000)])
        XCTAssertEqual(window.json?["events"], 2, window.stdout)
    }

    /// A burst to one channel: beyond what its pace posts in the digest window, waiting first events are listed in
    /// digests; CRITICAL findings are always posted alone; nothing is lost.
    func testBurstsAreDigestedAndCriticalNever() throws {
        let rules = try rulesDir(##"return { route = function(f) return { channel = "#sec" } end }"##)
        var lines: [JSONValue] = []
        for i in 0..<200 {
            lines.append(try finding(String(format: "burst%04d", i), at: Double(i) * 0.05, severity: i % 50 == 0 ? 9.5 : 5))
        }
        let history = try write("burst.jsonl", lines)
        let r = try replay([rules, history, "--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let sec = try XCTUnwrap(channel(r.json, "#sec"), r.stdout)
        let digests = sec["digests"]?.intValue ?? 0, listed = sec["digested_findings"]?.intValue ?? 0, posts = sec["posts"]?.intValue ?? 0
        XCTAssertGreaterThan(digests, 0)
        XCTAssertEqual(listed + posts, 200, "every finding posted alone or listed in a digest: \(sec)")
        XCTAssertGreaterThanOrEqual(posts, 4, "the 4 CRITICAL findings are posted alone")
        XCTAssertLessThan(posts + digests, 60)
        // The same burst, every finding CRITICAL: never digested, each its own post.
        var critical: [JSONValue] = []
        for i in 0..<200 { critical.append(try finding(String(format: "crit%04d", i), at: Double(i) * 0.05, severity: 9.5)) }
        let c = try replay([rules, try write("critical.jsonl", critical), "--json"])
        XCTAssertEqual(channel(c.json, "#sec")?["digests"], 0, c.stdout)
        XCTAssertEqual(channel(c.json, "#sec")?["posts"], 200, c.stdout)
        // Without digests every finding is its own post, paced.
        let plain = try replay([rules, history, "--json", "--digest-window", "0"])
        XCTAssertEqual(channel(plain.json, "#sec")?["posts"], 200)
        XCTAssertEqual(channel(plain.json, "#sec")?["digests"], 0)
        // Paced at 1 message/s (refilled 10% under): 200 posts take more than 3 minutes, so the busiest hour holds
        // them all but no single second could.
        XCTAssertEqual(channel(plain.json, "#sec")?["busiest_hour"]?["messages"], 200)
    }

    /// The S3 export's layout, gzip, days out of order on disk and a finding updated across midnight: replayed in
    /// time order (an older update replayed after a newer one would post nothing).
    func testS3ExportAcrossDaysInTimeOrder() throws {
        let rules = try rulesDir()
        let day1 = "AWSLogs/111122223333/GuardDuty/us-east-1/2026/03/01/0b1c.jsonl.gz"
        let day2 = "AWSLogs/111122223333/GuardDuty/us-east-1/2026/03/02/9f8e.jsonl.gz"
        // x's third event was exported in day 1's folder although stamped after midnight, its second in day 2's: the
        // third is carried into day 2 and replayed after the second (replayed before it, the second would post nothing).
        _ = try write(day1, [try finding("x", at: 86_000, count: 1), try finding("x", at: 86_500, count: 3)], gzip: true)
        _ = try write(day2, [try finding("y", at: 86_450), try finding("x", at: 86_300, count: 2)], gzip: true)
        let r = try replay([rules, dir.appendingPathComponent("AWSLogs").path, "--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let sec = try XCTUnwrap(channel(r.json, "#sec"), r.stdout)
        XCTAssertEqual(sec["posts"], 2, "\(sec)")
        XCTAssertEqual(sec["thread_replies"], 2, "x's two updates, in order")
        XCTAssertEqual(r.json?["events"], 4)
        XCTAssertEqual(r.json?["period"]?["days"], 2)
    }

    func testAgainstOldRulesReportsChangesAndStrictFails() throws {
        let new = try rulesDir(name: "new")
        let old = try rulesDir(
            ##"return { route = function(f) if f.severity_label == "CRITICAL" then return { channel = "#crit", mention = "here" } end return { channel = "#sec" } end }"##,
            name: "old")
        let history = try write("h.jsonl", [
            try finding("k1", at: 0, severity: 8, type: "Discovery:Kubernetes/TorIPCaller"),
            try finding("k2", at: 10, severity: 5, type: "Discovery:Kubernetes/TorIPCaller"),
            try finding("m1", at: 20, severity: 5),
            try finding("l1", at: 30, severity: 1),
        ])
        let r = try replay([new, history, "--against", old, "--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let j = try XCTUnwrap(r.json)
        XCTAssertEqual(j["old"]?["messages"], 4)
        XCTAssertEqual(j["new"]?["messages"], 1)
        let changes = j["changes"]?.arrayValue ?? []
        XCTAssertTrue(changes.contains { $0["type"] == "Discovery:Kubernetes/TorIPCaller" && $0["old"] == "#sec" && $0["new"] == "unrouted" && $0["findings"] == 2 }, "\(changes)")
        XCTAssertTrue(changes.contains { $0["old"] == "#sec" && $0["new"] == "dropped by 50-route.lua: noise" && $0["example"] == "l1" }, "\(changes)")
        // The HIGH finding k1 is no longer delivered: a warning (the MEDIUM one and the LOW one are not).
        XCTAssertEqual(j["warnings"]?.arrayValue?.map { $0["finding"] }, ["k1"])
        XCTAssertTrue(r.stderr.contains("warning: HIGH finding k1 (Discovery:Kubernetes/TorIPCaller): the old rules delivered it (#sec); the new rules leave it unrouted"), r.stderr)
        let strict = try replay([new, history, "--against", old, "--strict"])
        XCTAssertEqual(strict.status, 1, strict.stdout + strict.stderr)
        XCTAssertTrue(strict.stdout.contains("messages 4 -> 1"), strict.stdout)
        // The same rules twice: no change, no warning.
        let same = try replay([new, history, "--against", new, "--strict", "--json"])
        XCTAssertEqual(same.status, 0, same.stderr)
        XCTAssertEqual(same.json?["changes"], [])
    }

    func testRuleErrorsInputProblemsAndUsage() throws {
        let rules = try rulesDir(##"return { route = function(f) if f.severity > 8 then error("boom") end return { channel = "#sec" } end }"##)
        let history = try write("h.jsonl", [try finding("ok", at: 0), try finding("bad", at: 10, severity: 8.5)])
        let broken = dir.appendingPathComponent("h.jsonl").path
        try (String(contentsOfFile: broken, encoding: .utf8) + "{not json\n").write(toFile: broken, atomically: true, encoding: .utf8)
        let r = try replay([rules, history, "--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let errors = r.json?["new"]?["rule_errors"]?.arrayValue ?? []
        XCTAssertEqual(errors.count, 1)
        XCTAssertTrue(errors.first?["message"]?.stringValue?.contains("boom") ?? false, "\(errors)")
        XCTAssertEqual(r.json?["new"]?["fallback_deliveries"], 1)
        XCTAssertEqual(r.json?["input_problems"]?["by_kind"]?["invalid_json"], 1)
        XCTAssertEqual(try replay([rules]).status, 64)
        XCTAssertEqual(try replay([rules, history, "--strict"]).status, 64, "--strict needs --against")
        XCTAssertEqual(try replay([rules, history, "--since", "yesterday"]).status, 64)
        let badRules = try rulesDir("return {", name: "bad")
        let b = try replay([badRules, history])
        XCTAssertEqual(b.status, 1)
        XCTAssertTrue(b.stderr.contains("50-route.lua"), b.stderr)
    }

    /// The page is one self-contained file: tables and inline SVG charts, nothing fetched.
    func testHTMLReportIsSelfContained() throws {
        let rules = try rulesDir()
        let old = try rulesDir(##"return { route = function(f) return { channel = "#all" } end }"##, name: "old")
        var lines: [JSONValue] = []
        for day in 0..<5 {
            for i in 0..<(day + 1) { lines.append(try finding("f\(day)-\(i)", at: Double(day * 86_400 + i * 60))) }
        }
        let history = try write("h.jsonl", lines)
        let page = dir.appendingPathComponent("report.html").path
        let r = try replay([rules, history, "--against", old, "--html", page])
        XCTAssertEqual(r.status, 0, r.stderr)
        let html = try String(contentsOfFile: page, encoding: .utf8)
        XCTAssertTrue(html.hasPrefix("<!DOCTYPE html>"))
        XCTAssertTrue(html.contains("<svg"))
        XCTAssertTrue(html.contains("<polyline"))
        XCTAssertTrue(html.contains("#sec") && html.contains("#all"))
        for external in ["src=", "<link", "<script", "url(", "@import"] {
            XCTAssertFalse(html.contains(external), "the page must not load anything: \(external)")
        }
        try ChromiumCheck.check(page: page)
    }
}

/// Headless Chromium (Debian's, installed by scripts/test.sh) loads a page: no console error, and the screenshot is
/// not blank (enough pixels that are neither white nor near-white).
enum ChromiumCheck {
    static func chromium() throws -> String {
        for path in ["/usr/bin/chromium", "/usr/bin/chromium-browser"] where FileManager.default.isExecutableFile(atPath: path) {
            return path
        }
        if ProcessInfo.processInfo.environment["CI"] == "true" {
            XCTFail("chromium is missing: scripts/test.sh installs it")
        }
        throw XCTSkip("chromium not installed (scripts/test.sh installs it)")
    }

    static func check(page: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let browser = try chromium()
        let shot = FileManager.default.temporaryDirectory.appendingPathComponent("shot-\(UUID().uuidString).png").path
        defer { try? FileManager.default.removeItem(atPath: shot) }
        let profile = FileManager.default.temporaryDirectory.appendingPathComponent("chromium-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: profile) }
        let r = try LambdaSupport.run(
            browser,
            [
                "--headless=new", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run",
                "--user-data-dir=\(profile)", "--window-size=1200,1400", "--enable-logging=stderr", "--v=0",
                "--virtual-time-budget=2000", "--screenshot=\(shot)", "file://\(page)",
            ], timeout: 90)
        XCTAssertEqual(r.status, 0, r.stderr, file: file, line: line)
        // Console messages are logged as `CONSOLE(...)` / `Uncaught ...`; none may appear.
        let console = r.stderr.split(separator: "\n").filter { $0.contains(":CONSOLE") || $0.contains("Uncaught") || $0.contains("Failed to load resource") }
        XCTAssertEqual(console, [], "console errors: \(console)", file: file, line: line)
        let png = try Data(contentsOf: URL(fileURLWithPath: shot))
        let ink = try PNGInk.fraction(png)
        XCTAssertGreaterThan(ink, 0.01, "the screenshot is blank (\(ink) of the pixels drawn)", file: file, line: line)
    }
}

/// The fraction of a PNG screenshot's pixels that are not near-white (decoded with the test Python's zlib).
enum PNGInk {
    static func fraction(_ png: Data) throws -> Double {
        let script = #"""
            import struct, sys, zlib
            data = open(sys.argv[1], "rb").read()
            assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
            pos, idat, width, height, ctype = 8, b"", 0, 0, 0
            while pos < len(data):
                n, kind = struct.unpack(">I4s", data[pos:pos + 8]); body = data[pos + 8:pos + 8 + n]; pos += 12 + n
                if kind == b"IHDR": width, height, depth, ctype = struct.unpack(">IIBB", body[:10])
                elif kind == b"IDAT": idat += body
            raw = zlib.decompress(idat); bpp = {2: 3, 6: 4}[ctype]; stride = width * bpp
            prev = bytearray(stride); ink = 0; i = 0
            for y in range(height):
                f = raw[i]; line = bytearray(raw[i + 1:i + 1 + stride]); i += 1 + stride
                for x in range(stride):
                    a = line[x - bpp] if x >= bpp else 0; b = prev[x]; c = prev[x - bpp] if x >= bpp else 0
                    if f == 1: line[x] = (line[x] + a) & 255
                    elif f == 2: line[x] = (line[x] + b) & 255
                    elif f == 3: line[x] = (line[x] + (a + b) // 2) & 255
                    elif f == 4:
                        p = a + b - c; pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                        line[x] = (line[x] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
                for x in range(0, stride, bpp):
                    if min(line[x], line[x + 1], line[x + 2]) < 200: ink += 1
                prev = line
            print(ink / (width * height))
            """#
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("png-\(UUID().uuidString).png")
        try png.write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }
        let r = try LambdaSupport.run("/usr/bin/python3", ["-c", script, file.path], timeout: 120)
        guard r.status == 0, let value = Double(r.stdout.trimmingCharacters(in: .whitespacesAndNewlines)) else {
            XCTFail("cannot decode the screenshot: \(r.stderr)")
            return 0
        }
        return value
    }
}
