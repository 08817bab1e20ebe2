#if canImport(Glibc)
import Glibc
#endif
import RouterFinding
import RouterJSON
import RouterRules
import RouterSlack

/// `router test RULES_DIR` with no inputs: runs the rule author's test cases in `RULES_DIR/tests/*.json`.
///
/// A case file is one JSON object:
/// ```json
/// {"name": "crypto mining goes to #sec-crypto",
///  "input": "../../examples/high-crypto-mining-ec2.json",      // or the event itself, inline
///  "now": "2026-01-02T03:04:05Z",                                // optional
///  "expect": {"deliveries": [{"channel": "#sec-crypto", "mention": ["S0PLATFORM1"]}]},
///  "snapshot": "snapshots/crypto.json"}                          // optional golden payloads, compared exactly
/// ```
/// `expect` is one of `{"dropped": true, "dropped_by": "10-noise.lua"}` (file optional), `{"unrouted": true}`, or
/// `{"deliveries": [...]}`: one entry per delivery, in order, each matched on the keys it lists (`channel`,
/// `mention`, `format`, `to`, `file`, `fallback`, `actions`). An input path is relative to the case file.
///
/// A case with `"click": {"action": "archive", "user": "U123", "name": "alice", "team": "T1"}` (name and team
/// optional) tests `permit` instead: `expect` is `{"permit": true|false}`, optionally with `"reason"` (the text the
/// deciding file gave) and `"file"` (which file decided).
public enum RuleTests {
    public struct Options: Sendable {
        public var rulesDirectory: String
        public var json = false
        public var updateSnapshots = false
        public var limits: RuleLimits = .default
        public init(rulesDirectory: String) { self.rulesDirectory = rulesDirectory }
    }

    struct CaseResult {
        var name: String
        var file: String
        var failures: [String]
    }

    public static func run(_ options: Options, out: OutputSink, err: OutputSink) -> Int32 {
        defer {
            out.flush()
            err.flush()
        }
        let dir = options.rulesDirectory.hasSuffix("/") ? String(options.rulesDirectory.dropLast()) : options.rulesDirectory
        let engine: RuleEngine
        do { engine = try RuleEngine(directory: dir, limits: options.limits) } catch {
            for e in error.errors { err.line(e.description) }
            return ExitStatus.ruleError
        }
        let testsDir = dir + "/tests"
        let caseFiles = listJSON(testsDir)
        if caseFiles.isEmpty {
            err.line("\(testsDir): no test cases (*.json); give INPUT files to dry-run findings instead")
            return ExitStatus.usage
        }
        var results: [CaseResult] = []
        for path in caseFiles {
            results.append(runCase(path: path, engine: engine, updateSnapshots: options.updateSnapshots))
        }
        for r in results {
            if options.json {
                let v: JSONValue = [
                    "name": .string(r.name), "file": .string(r.file), "ok": .bool(r.failures.isEmpty),
                    "failures": .array(r.failures.map(JSONValue.string)),
                ]
                out.line(v.serialized())
            } else if r.failures.isEmpty {
                out.line("ok   \(r.name)")
            } else {
                out.line("FAIL \(r.name) (\(r.file))")
                for f in r.failures { out.line("     \(f)") }
            }
        }
        let failed = results.filter { !$0.failures.isEmpty }.count
        if !options.json { out.line("\(results.count - failed) passed, \(failed) failed") }
        return failed > 0 ? ExitStatus.ruleError : ExitStatus.ok
    }

    static func listJSON(_ dir: String) -> [String] {
        guard let d = opendir(dir) else { return [] }
        defer { closedir(d) }
        var names: [String] = []
        while let entry = readdir(d) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(cString: $0.baseAddress!.assumingMemoryBound(to: CChar.self)) }
            if name.hasSuffix(".json") && !name.hasPrefix(".") { names.append(name) }
        }
        return names.sorted { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }.map { dir + "/" + $0 }
    }

    static func parentDirectory(_ path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return String(path[..<slash])
    }

    static func runCase(path: String, engine: RuleEngine, updateSnapshots: Bool) -> CaseResult {
        var result = CaseResult(name: path, file: path, failures: [])
        guard let bytes = RuleEngine.readFile(path) else {
            result.failures.append("cannot read the case file")
            return result
        }
        let spec: JSONValue
        do { spec = try JSONValue.parse(bytes) } catch {
            result.failures.append("invalid JSON: \(error)")
            return result
        }
        if let name = spec["name"]?.stringValue { result.name = name }
        // The input: inline, or a path relative to the case file.
        let items: [InputItem]
        switch spec["input"] {
        case .string(let p)?:
            let resolved = p.hasPrefix("/") ? p : parentDirectory(path) + "/" + p
            items = InputReader.items(fromPath: resolved)
        case let v? where v.objectValue != nil || v.arrayValue != nil:
            items = InputReader.items(fromBytes: v.serializedBytes(), source: path)
        default:
            result.failures.append("'input' must be an event (inline) or a path relative to the case file")
            return result
        }
        let findings = items.compactMap(\.finding)
        if let bad = items.first(where: { $0.error != nil })?.error {
            result.failures.append("input: \(bad.kind.rawValue): \(bad.message)")
            return result
        }
        guard findings.count == 1, let finding = findings.first else {
            result.failures.append("input must hold exactly one finding (it holds \(findings.count))")
            return result
        }
        var now = Timestamps.now()
        if let n = spec["now"]?.stringValue {
            guard let t = Timestamps.parse(n) else {
                result.failures.append("'now' is not an ISO-8601 time: \(n)")
                return result
            }
            now = t
        }
        if let click = spec["click"] {
            runClick(click, expect: spec["expect"], finding: finding, now: now, engine: engine, into: &result.failures)
            return result
        }
        let evaluation = engine.evaluate(finding, context: EvaluationContext(now: now, mode: "test"))
        for e in evaluation.errors { result.failures.append("rule error: \(e)") }
        guard let expect = spec["expect"]?.objectValue else {
            result.failures.append("'expect' is missing (dropped, unrouted or deliveries)")
            return result
        }
        compare(expect, evaluation, into: &result.failures)
        if let snapshot = spec["snapshot"]?.stringValue {
            let snapPath = snapshot.hasPrefix("/") ? snapshot : parentDirectory(path) + "/" + snapshot
            let actual = JSONValue.array(evaluation.deliveries.map(\.payload)).serialized(pretty: true) + "\n"
            if updateSnapshots {
                if !writeFile(snapPath, actual) { result.failures.append("cannot write snapshot \(snapPath)") }
            } else if let golden = RuleEngine.readFile(snapPath) {
                let expected = String(decoding: golden, as: UTF8.self)
                if expected != actual {
                    result.failures.append("payloads differ from \(snapshot) (run with --update-snapshots to accept):")
                    result.failures.append(contentsOf: lineDiff(expected, actual))
                }
            } else {
                result.failures.append("snapshot \(snapshot) does not exist (run with --update-snapshots to create it)")
            }
        }
        return result
    }

    /// A `click` case: the rules' permit verdict against `expect.permit` (and `reason`, `file`).
    static func runClick(
        _ click: JSONValue, expect: JSONValue?, finding: Finding, now: Double, engine: RuleEngine, into failures: inout [String]
    ) {
        guard let name = click["action"]?.stringValue, let action = FindingAction(rawValue: name) else {
            failures.append("'click.action' must be one of ack, archive, unarchive, useful, not_useful, suppress")
            return
        }
        guard let user = click["user"]?.stringValue, !user.isEmpty else {
            failures.append("'click.user' must be a Slack user ID such as U0123ABCD")
            return
        }
        guard let wanted = expect?["permit"]?.boolValue else {
            failures.append("a click case expects {\"permit\": true} or {\"permit\": false}")
            return
        }
        let decision = engine.permit(
            action, user: PermitUser(id: user, name: click["name"]?.stringValue, team: click["team"]?.stringValue),
            finding: finding, context: EvaluationContext(now: now, mode: "test"))
        for e in decision.errors { failures.append("rule error: \(e)") }
        if decision.allowed != wanted {
            failures.append(
                "expected: \(wanted ? "permitted" : "denied"); actual: \(decision.allowed ? "permitted" : "denied")"
                    + (decision.file.map { " by \($0)" } ?? "") + (decision.reason.map { ": \($0)" } ?? ""))
        }
        if let reason = expect?["reason"]?.stringValue, decision.reason != reason {
            failures.append("expected reason: \(reason); actual: \(decision.reason ?? "(none)")")
        }
        if let file = expect?["file"]?.stringValue, !(decision.file == file || (decision.file?.hasSuffix("/" + file) ?? false)) {
            failures.append("expected the verdict from \(file); actual: \(decision.file ?? "no file")")
        }
    }

    static func compare(_ expect: JSONObject, _ e: Evaluation, into failures: inout [String]) {
        let actualDecision = e.dropped != nil ? "dropped by \(e.dropped!.file)" : e.unrouted ? "unrouted" : "routed (\(e.deliveries.count) deliveries)"
        if expect["dropped"]?.boolValue == true {
            guard let drop = e.dropped else {
                failures.append("expected: dropped; actual: \(actualDecision)")
                return
            }
            if let by = expect["dropped_by"]?.stringValue, !(drop.file == by || drop.file.hasSuffix("/" + by)) {
                failures.append("expected: dropped by \(by); actual: dropped by \(drop.file)")
            }
            if let reason = expect["reason"]?.stringValue, drop.reason != reason {
                failures.append("expected reason: \(reason); actual: \(drop.reason ?? "(none)")")
            }
            return
        }
        if expect["unrouted"]?.boolValue == true {
            if !e.unrouted { failures.append("expected: unrouted; actual: \(actualDecision)") }
            return
        }
        guard let wanted = expect["deliveries"]?.arrayValue else {
            failures.append("'expect' needs one of: dropped, unrouted, deliveries")
            return
        }
        if e.dropped != nil || e.unrouted {
            failures.append("expected: \(wanted.count) deliveries; actual: \(actualDecision)")
            return
        }
        if wanted.count != e.deliveries.count {
            failures.append("expected \(wanted.count) deliveries; actual \(e.deliveries.count): "
                + e.deliveries.map { ($0.channel ?? "(default)") + " " + $0.format }.joined(separator: ", "))
        }
        for (i, (w, d)) in zip(wanted, e.deliveries).enumerated() {
            guard let w = w.objectValue else {
                failures.append("deliveries[\(i)] must be an object")
                continue
            }
            func check(_ key: String, _ expected: String?, _ actual: String?) {
                if expected != actual {
                    failures.append("deliveries[\(i)].\(key): expected \(expected ?? "null"), actual \(actual ?? "null")")
                }
            }
            if let v = w["channel"] { check("channel", v.stringValue, d.channel) }
            if let v = w["format"] { check("format", v.stringValue, d.format) }
            if let v = w["to"] { check("to", v.stringValue, d.to) }
            if let v = w["file"] {
                let f = v.stringValue
                if !(d.file == f || (f != nil && (d.file?.hasSuffix("/" + f!) ?? false))) { check("file", f, d.file) }
            }
            if let v = w["fallback"] { check("fallback", v.boolValue.map(String.init), String(d.fallback)) }
            if let v = w["actions"] {
                let expected = v.arrayValue?.compactMap(\.stringValue) ?? v.stringValue.map { [$0] } ?? []
                let actual = d.actions.map(\.rawValue)
                if expected != actual { failures.append("deliveries[\(i)].actions: expected \(expected), actual \(actual)") }
            }
            if let v = w["mention"] {
                let raw = v.arrayValue?.compactMap(\.stringValue) ?? v.stringValue.map { [$0] } ?? []
                let expected = raw.map { (try? Mention(parsing: $0).slackSyntax) ?? $0 }
                let actual = d.mentions.map(\.slackSyntax)
                if expected != actual {
                    failures.append("deliveries[\(i)].mention: expected \(expected), actual \(actual)")
                }
            }
        }
    }

    /// A short line diff (first differences) between two texts.
    static func lineDiff(_ a: String, _ b: String) -> [String] {
        let x = a.split(separator: "\n", omittingEmptySubsequences: false)
        let y = b.split(separator: "\n", omittingEmptySubsequences: false)
        var out: [String] = []
        for i in 0..<max(x.count, y.count) where out.count < 12 {
            let l = i < x.count ? String(x[i]) : nil
            let r = i < y.count ? String(y[i]) : nil
            if l != r {
                if let l { out.append("  line \(i + 1) - \(l)") }
                if let r { out.append("  line \(i + 1) + \(r)") }
            }
        }
        return out
    }

    static func writeFile(_ path: String, _ text: String) -> Bool {
        var dir = parentDirectory(path)
        if !dir.isEmpty { _ = mkdir(dir, 0o755) }
        dir = ""
        guard let f = fopen(path, "w") else { return false }
        defer { fclose(f) }
        let bytes = Array(text.utf8)
        return fwrite(bytes, 1, bytes.count, f) == bytes.count
    }
}
