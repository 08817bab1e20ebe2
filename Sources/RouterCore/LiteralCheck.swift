import RouterDelivery
import RouterFinding
import RouterSlack
import RouterRules

/// Start-up checks of literal names in rule files, reported like a compiler (`file:line: error: ...`): every literal
/// `to = "name"` must be a configured destination, every literal `format = "name"` a built-in or defined format.
/// Names computed at run time are checked when the delivery is made.
public enum LiteralCheck {
    /// The rule files as the engine loaded them (`RuleEngine.sources`).
    public typealias RuleSources = [(path: String, source: [UInt8])]

    /// Calls `check` for each string literal assigned to `key` in the rule files;
    /// `check` returns an error message or nil.
    public static func scan(sources: RuleSources, key: String, check: (String) -> String?) -> [String] {
        scanLines(sources: sources) { path, line, text in
            literals(of: key, in: text).compactMap { value in check(value).map { "\(path):\(line): error: \($0)" } }
        }
    }

    /// Destinations the configuration lacks.
    public static func missingDestinations(sources: RuleSources, destinations: DestinationSet) -> [String] {
        scan(sources: sources, key: "to") { to in
            destinations.resolve(to: to) == nil ? destinations.missingMessage(to: to) : nil
        }
    }

    /// Formats no rule file defines.
    public static func unknownFormats(sources: RuleSources, defined: Set<String>) -> [String] {
        scan(sources: sources, key: "format") { name in
            if name == "detailed" || name == "compact" || defined.contains(name) { return nil }
            let list = defined.sorted()
            return "format '\(name)' is not defined (built in: detailed, compact"
                + (list.isEmpty ? "" : "; defined in rule files: " + list.joined(separator: ", ")) + ")"
        }
    }

    /// Literal `on_update = "..."` values that are not `thread`, `update`, `repost` or `ignore`.
    public static func unknownOnUpdate(sources: RuleSources) -> [String] {
        scan(sources: sources, key: "on_update") { value in
            OnUpdate(rawValue: value) == nil ? "'on_update' must be one of \(OnUpdate.allowedList), not '\(value)'" : nil
        }
    }

    /// Literal `actions = {...}` names that are not actions, and `suppress_by = {...}` names that are not criteria.
    public static func unknownActions(sources: RuleSources) -> [String] {
        let actions = scanLists(sources: sources, key: "actions") { name in
            FindingAction.offerable.contains { $0.rawValue == name } ? nil
                : "'actions' has unknown action '\(name)' (allowed: ack, archive, useful, not_useful, suppress)"
        }
        let criteria = scanLists(sources: sources, key: "suppress_by") { name in
            SuppressCriterion(rawValue: name) != nil ? nil
                : "'suppress_by' has unknown criterion '\(name)' (allowed: type, account, region, resource, action_type)"
        }
        return actions + criteria
    }

    /// `f.name` reads of names the finding view does not have (`f.severty`), with the nearest field.
    public static func unknownFields(sources: RuleSources) -> [String] {
        var problems: [String] = []
        forEachFile(sources: sources) { path, bytes in problems += FieldCheck.check(path: path, source: bytes) }
        return problems
    }

    /// `file:line` of every literal `actions = ...` (the buttons a rule offers), for the start-up warning when buttons
    /// cannot be shown.
    public static func offeredActions(sources: RuleSources) -> [String] {
        var places: [String] = []
        _ = scanLines(sources: sources) { path, n, line in
            if !listLiterals(of: "actions", in: line).isEmpty { places.append("\(path):\(n)") }
            return []
        }
        return places
    }

    /// ``scan(sources:key:check:)`` for a key whose value may also be a table of string literals on one line
    /// (`actions = { "ack", "archive" }`).
    public static func scanLists(sources: RuleSources, key: String, check: (String) -> String?) -> [String] {
        scanLines(sources: sources) { path, n, line in
            listLiterals(of: key, in: line).compactMap { value in check(value).map { "\(path):\(n): error: \($0)" } }
        }
    }

    /// Every line (1-based) of the rule files, in load order; the problems `body` finds.
    static func scanLines(sources: RuleSources, _ body: (String, Int, Substring) -> [String]) -> [String] {
        var problems: [String] = []
        forEachFile(sources: sources) { path, bytes in
            let text = String(decoding: bytes, as: UTF8.self)
            for (n, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
                problems += body(path, n + 1, line)
            }
        }
        return problems
    }

    /// The rule files, in load order.
    static func forEachFile(sources: RuleSources, _ body: (String, [UInt8]) -> Void) {
        for (path, bytes) in sources { body(path, bytes) }
    }

    /// The literals of `key = "x"` or `key = { "x", 'y' }` on this line.
    static func listLiterals(of key: String, in line: Substring) -> [String] {
        var found = literals(of: key, in: line)
        var u = Array(line.utf8)
        if let c = (0..<max(0, u.count - 1)).first(where: { u[$0] == UInt8(ascii: "-") && u[$0 + 1] == UInt8(ascii: "-") }) {
            u = Array(u[..<c])
        }
        let k = Array(key.utf8)
        var i = 0
        while i + k.count <= u.count {
            defer { i += 1 }
            guard Array(u[i..<(i + k.count)]) == k, i == 0 || !isIdent(u[i - 1]), i + k.count >= u.count || !isIdent(u[i + k.count])
            else { continue }
            var j = i + k.count
            while j < u.count, u[j] == 0x20 || u[j] == 0x09 { j += 1 }
            guard j + 1 < u.count, u[j] == UInt8(ascii: "="), u[j + 1] != UInt8(ascii: "=") else { continue }
            j += 1
            while j < u.count, u[j] == 0x20 || u[j] == 0x09 { j += 1 }
            guard j < u.count, u[j] == UInt8(ascii: "{") else { continue }
            var e = j + 1
            while e < u.count, u[e] != UInt8(ascii: "}") {
                if u[e] == UInt8(ascii: "\"") || u[e] == UInt8(ascii: "'") {
                    let quote = u[e]
                    var end = e + 1
                    while end < u.count, u[end] != quote, u[end] != UInt8(ascii: "\\") { end += 1 }
                    guard end < u.count, u[end] == quote else { break }
                    found.append(String(decoding: u[(e + 1)..<end], as: UTF8.self))
                    e = end
                }
                e += 1
            }
        }
        return found
    }

    /// The string literals assigned to `key` on this line (`to = "team-a"`, `to="x"`, `to = 'x'`), ignoring a
    /// trailing `--` comment.
    static func literals(of key: String, in line: Substring) -> [String] {
        var u = Array(line.utf8)
        if let c = (0..<max(0, u.count - 1)).first(where: { u[$0] == UInt8(ascii: "-") && u[$0 + 1] == UInt8(ascii: "-") }) {
            u = Array(u[..<c])
        }
        let k = Array(key.utf8)
        var found: [String] = []
        var i = 0
        while i + k.count <= u.count {
            if Array(u[i..<(i + k.count)]) == k, i == 0 || !isIdent(u[i - 1]), i + k.count >= u.count || !isIdent(u[i + k.count]) {
                var j = i + k.count
                while j < u.count, u[j] == 0x20 || u[j] == 0x09 { j += 1 }
                if j < u.count, u[j] == UInt8(ascii: "="), j + 1 < u.count, u[j + 1] != UInt8(ascii: "=") {
                    j += 1
                    while j < u.count, u[j] == 0x20 || u[j] == 0x09 { j += 1 }
                    if j < u.count, u[j] == UInt8(ascii: "\"") || u[j] == UInt8(ascii: "'") {
                        let quote = u[j]
                        var e = j + 1
                        while e < u.count, u[e] != quote, u[e] != UInt8(ascii: "\\") { e += 1 }
                        if e < u.count, u[e] == quote { found.append(String(decoding: u[(j + 1)..<e], as: UTF8.self)) }
                    }
                }
            }
            i += 1
        }
        return found
    }

    private static func isIdent(_ c: UInt8) -> Bool {
        (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) || c == 0x5F
    }
}
