#if canImport(Glibc)
import Glibc
#endif
import RouterDelivery
import RouterFinding
import RouterSlack
import RouterRules

/// Start-up checks of literal names in rule files, reported like a compiler (`file:line: error: ...`): every literal
/// `to = "name"` must be a configured destination, every literal `format = "name"` a built-in or defined format.
/// Names computed at run time are checked when the delivery is made.
public enum LiteralCheck {
    /// Calls `check` for each string literal assigned to `key` in the `*.lua` files directly in `rulesDirectory`;
    /// `check` returns an error message or nil.
    public static func scan(rulesDirectory: String, key: String, check: (String) -> String?) -> [String] {
        scanLines(rulesDirectory: rulesDirectory) { path, line, text in
            literals(of: key, in: text).compactMap { value in check(value).map { "\(path):\(line): error: \($0)" } }
        }
    }

    /// Destinations the configuration lacks.
    public static func missingDestinations(rulesDirectory: String, destinations: DestinationSet) -> [String] {
        scan(rulesDirectory: rulesDirectory, key: "to") { to in
            destinations.resolve(to: to) == nil ? destinations.missingMessage(to: to) : nil
        }
    }

    /// Formats no rule file defines.
    public static func unknownFormats(rulesDirectory: String, defined: Set<String>) -> [String] {
        scan(rulesDirectory: rulesDirectory, key: "format") { name in
            if name == "detailed" || name == "compact" || defined.contains(name) { return nil }
            let list = defined.sorted()
            return "format '\(name)' is not defined (built in: detailed, compact"
                + (list.isEmpty ? "" : "; defined in rule files: " + list.joined(separator: ", ")) + ")"
        }
    }

    /// Literal `on_update = "..."` values that are not `thread`, `update`, `repost` or `ignore`.
    public static func unknownOnUpdate(rulesDirectory: String) -> [String] {
        scan(rulesDirectory: rulesDirectory, key: "on_update") { value in
            OnUpdate(rawValue: value) == nil ? "'on_update' must be one of \(OnUpdate.allowedList), not '\(value)'" : nil
        }
    }

    /// Literal `actions = {...}` names that are not actions, and `suppress_by = {...}` names that are not criteria.
    public static func unknownActions(rulesDirectory: String) -> [String] {
        let actions = scanLists(rulesDirectory: rulesDirectory, key: "actions") { name in
            FindingAction.offerable.contains { $0.rawValue == name } ? nil
                : "'actions' has unknown action '\(name)' (allowed: ack, archive, useful, not_useful, suppress)"
        }
        let criteria = scanLists(rulesDirectory: rulesDirectory, key: "suppress_by") { name in
            SuppressCriterion(rawValue: name) != nil ? nil
                : "'suppress_by' has unknown criterion '\(name)' (allowed: type, account, region, resource, action_type)"
        }
        return actions + criteria
    }

    /// `f.name` reads of names the finding view does not have (`f.severty`), with the nearest field.
    public static func unknownFields(rulesDirectory: String) -> [String] {
        var problems: [String] = []
        forEachFile(rulesDirectory: rulesDirectory) { path, bytes in problems += FieldCheck.check(path: path, source: bytes) }
        return problems
    }

    /// `file:line` of every literal `actions = ...` (the buttons a rule offers), for the start-up warning when buttons
    /// cannot be shown.
    public static func offeredActions(rulesDirectory: String) -> [String] {
        var places: [String] = []
        _ = scanLines(rulesDirectory: rulesDirectory) { path, n, line in
            if !listLiterals(of: "actions", in: line).isEmpty { places.append("\(path):\(n)") }
            return []
        }
        return places
    }

    /// ``scan(rulesDirectory:key:check:)`` for a key whose value may also be a table of string literals on one line
    /// (`actions = { "ack", "archive" }`).
    public static func scanLists(rulesDirectory: String, key: String, check: (String) -> String?) -> [String] {
        scanLines(rulesDirectory: rulesDirectory) { path, n, line in
            listLiterals(of: key, in: line).compactMap { value in check(value).map { "\(path):\(n): error: \($0)" } }
        }
    }

    /// Every line (1-based) of the `*.lua` files directly in `rulesDirectory`, in file order; the problems `body` finds.
    static func scanLines(rulesDirectory: String, _ body: (String, Int, Substring) -> [String]) -> [String] {
        var problems: [String] = []
        forEachFile(rulesDirectory: rulesDirectory) { path, bytes in
            let text = String(decoding: bytes, as: UTF8.self)
            for (n, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
                problems += body(path, n + 1, line)
            }
        }
        return problems
    }

    /// The `*.lua` files directly in `rulesDirectory`, in byte-wise name order (the order the engine loads them).
    static func forEachFile(rulesDirectory: String, _ body: (String, [UInt8]) -> Void) {
        guard let dir = opendir(rulesDirectory) else { return }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(cString: $0.baseAddress!.assumingMemoryBound(to: CChar.self)) }
            if name.hasSuffix(".lua") { names.append(name) }
        }
        closedir(dir)
        for name in names.sorted(by: { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }) {
            let path = rulesDirectory.hasSuffix("/") ? rulesDirectory + name : rulesDirectory + "/" + name
            guard let bytes = RuleEngine.readFile(path) else { continue }
            body(path, bytes)
        }
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
