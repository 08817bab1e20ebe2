import CRouterLua

/// `f.<name>` in rule source where `<name>` is not a field of the finding view: a mistake that would otherwise show
/// only when a finding arrives (`f has no field 'severty'`). Found by a Lua tokenizer (comments, short and long
/// strings skipped), not by running anything. `f` is the finding wherever it is a function's parameter (the
/// convention of every rule function: `filter(f, ctx)`, `route(f, ctx)`, `permit(action, user, f, ctx)`, formats'
/// `(f, ctx, d)`, helpers taking `f`); a `local f`, a `for ... f ...` loop variable or a parameter list without `f`
/// hides it for the rest of that block, so a different `f` is never checked.
public enum FieldCheck {
    /// The names `f` has: every field of the view, and `detail`.
    public static let fieldNames: [String] = (0..<Int(RL_FIELD_COUNT)).compactMap { i in
        rl_field_name(Int32(i)).map { String(cString: $0) }
    } + ["detail"]

    public struct Problem: Equatable, Sendable {
        public var line: Int
        public var name: String
        public var suggestion: String?

        public var message: String {
            "f has no field '\(name)'" + (suggestion.map { " (did you mean '\($0)'?)" } ?? " (the fields are listed in docs/rules.md)")
        }
    }

    /// `path:line: error: f has no field 'x' (did you mean 'y'?)` for each unknown name read from `f` in `source`.
    public static func check(path: String, source: [UInt8]) -> [String] {
        problems(in: source).map { "\(path):\($0.line): error: \($0.message)" }
    }

    public static func problems(in source: [UInt8]) -> [Problem] {
        let known = Set(fieldNames)
        let tokens = LuaTokens.scan(source)
        var out: [Problem] = []
        // Blocks: whether `f` names the finding inside each (inherited from the enclosing block).
        var scopes: [Bool] = [true]
        // A `for` whose `do` opens the block its variables live in.
        var pendingForScope: Bool?
        var i = 0
        func isFinding() -> Bool { scopes.last ?? false }
        while i < tokens.count {
            let t = tokens[i]
            switch t.kind {
            case .name:
                switch t.text {
                case "function":
                    // Skip the function's name (a, a.b, a:b), then read its parameters.
                    var j = i + 1
                    while j < tokens.count, tokens[j].kind == .name || tokens[j].text == "." || tokens[j].text == ":" { j += 1 }
                    if j < tokens.count, tokens[j].text == "(" {
                        var params: [String] = []
                        var k = j + 1
                        while k < tokens.count, tokens[k].text != ")" {
                            if tokens[k].kind == .name { params.append(tokens[k].text) }
                            k += 1
                        }
                        // `f` among the parameters: the finding (by convention); otherwise the enclosing meaning.
                        scopes.append(params.contains("f") ? true : isFinding())
                        i = k + 1
                        continue
                    }
                    scopes.append(isFinding())
                case "do":
                    scopes.append(pendingForScope ?? isFinding())
                    pendingForScope = nil
                case "if", "repeat":
                    scopes.append(isFinding())
                case "end", "until":
                    if scopes.count > 1 { scopes.removeLast() }
                case "for":
                    // Variables up to `in` or `=`: a loop variable `f` is not the finding inside the loop.
                    var j = i + 1
                    var names: [String] = []
                    while j < tokens.count, tokens[j].text != "in", tokens[j].text != "=" {
                        if tokens[j].kind == .name { names.append(tokens[j].text) }
                        j += 1
                    }
                    pendingForScope = names.contains("f") ? false : isFinding()
                    i = j
                    continue
                case "local":
                    // `local f = ...` / `local a, f`: a different f from here to the end of the block.
                    var j = i + 1
                    if j < tokens.count, tokens[j].text == "function" { break }
                    while j < tokens.count, tokens[j].kind == .name || tokens[j].text == "," || tokens[j].text == "<" || tokens[j].text == ">" {
                        if tokens[j].text == "f" { scopes[scopes.count - 1] = false }
                        j += 1
                    }
                    i = j
                    continue
                case "f":
                    let previous = i > 0 ? tokens[i - 1].text : ""
                    guard isFinding(), previous != ".", previous != ":", previous != "goto", previous != "::" else { break }
                    var name: String?
                    if i + 2 < tokens.count, tokens[i + 1].text == ".", tokens[i + 2].kind == .name {
                        name = tokens[i + 2].text
                    } else if i + 3 < tokens.count, tokens[i + 1].text == "[", tokens[i + 2].kind == .string, tokens[i + 3].text == "]" {
                        name = tokens[i + 2].text
                    }
                    if let name, !known.contains(name) {
                        out.append(Problem(line: t.line, name: name, suggestion: nearest(name, in: fieldNames)))
                    }
                default:
                    break
                }
            case .string, .symbol, .number:
                break
            }
            i += 1
        }
        return out
    }

    /// The known name closest to `name` by edit distance (insertions, deletions, substitutions, and swaps of two
    /// neighbours), when it is close enough to be a typo: at most 1 edit for names up to 4 characters, 2 up to 8,
    /// 3 beyond. Also matches a camelCase spelling of a snake_case field (`severityLabel` -> `severity_label`).
    public static func nearest(_ name: String, in names: [String]) -> String? {
        let lowered = name.lowercased()
        if let same = names.first(where: { String($0.filter { $0 != "_" }) == lowered }) { return same }
        let a = Array(lowered.utf8)
        var best: (String, Int)?
        for candidate in names {
            let d = distance(a, Array(candidate.utf8))
            if d < (best?.1 ?? .max) { best = (candidate, d) }
        }
        guard let (candidate, d) = best else { return nil }
        let allowed = a.count <= 4 ? 1 : a.count <= 8 ? 2 : 3
        return d <= allowed ? candidate : nil
    }

    /// Optimal string alignment distance.
    static func distance(_ a: [UInt8], _ b: [UInt8]) -> Int {
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var d = [[Int]](repeating: [Int](repeating: 0, count: b.count + 1), count: a.count + 1)
        for i in 0...a.count { d[i][0] = i }
        for j in 0...b.count { d[0][j] = j }
        for i in 1...a.count {
            for j in 1...b.count {
                let cost = a[i - 1] == b[j - 1] ? 0 : 1
                d[i][j] = min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost)
                if i > 1, j > 1, a[i - 1] == b[j - 2], a[i - 2] == b[j - 1] { d[i][j] = min(d[i][j], d[i - 2][j - 2] + 1) }
            }
        }
        return d[a.count][b.count]
    }
}

/// Lua 5.4 source as tokens (names and keywords, strings with their value, numbers, symbols), with comments dropped
/// and lines counted. Enough to find `name.field` patterns; it does not validate (the Lua parser does that).
enum LuaTokens {
    enum Kind { case name, string, number, symbol }
    struct Token {
        var kind: Kind
        var text: String
        var line: Int
    }

    static func scan(_ s: [UInt8]) -> [Token] {
        var out: [Token] = []
        var i = 0
        var line = 1
        let n = s.count
        func isNameStart(_ c: UInt8) -> Bool { (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || c == 95 }
        func isDigit(_ c: UInt8) -> Bool { c >= 48 && c <= 57 }
        /// At `[`: the level of a long bracket `[==[` (and its length), or nil.
        func longBracket(_ at: Int) -> (level: Int, length: Int)? {
            guard at < n, s[at] == UInt8(ascii: "[") else { return nil }
            var j = at + 1
            while j < n, s[j] == UInt8(ascii: "=") { j += 1 }
            return j < n && s[j] == UInt8(ascii: "[") ? (j - at - 1, j - at + 1) : nil
        }
        /// Skips a long string/comment body after its opening bracket; returns its text.
        func skipLong(_ level: Int) -> [UInt8] {
            var body: [UInt8] = []
            while i < n {
                if s[i] == UInt8(ascii: "]") {
                    var j = i + 1
                    while j < n, s[j] == UInt8(ascii: "="), j - i - 1 < level { j += 1 }
                    if j - i - 1 == level, j < n, s[j] == UInt8(ascii: "]") {
                        i = j + 1
                        return body
                    }
                }
                if s[i] == 10 { line += 1 }
                body.append(s[i])
                i += 1
            }
            return body
        }
        while i < n {
            let c = s[i]
            if c == 10 { line += 1; i += 1; continue }
            if c == 32 || c == 9 || c == 13 || c == 11 || c == 12 { i += 1; continue }
            if c == UInt8(ascii: "-"), i + 1 < n, s[i + 1] == UInt8(ascii: "-") {
                i += 2
                if let (level, length) = longBracket(i) {
                    i += length
                    _ = skipLong(level)
                } else {
                    while i < n, s[i] != 10 { i += 1 }
                }
                continue
            }
            if isNameStart(c) {
                let start = i
                while i < n, isNameStart(s[i]) || isDigit(s[i]) { i += 1 }
                out.append(Token(kind: .name, text: String(decoding: s[start..<i], as: UTF8.self), line: line))
                continue
            }
            if isDigit(c) || (c == UInt8(ascii: ".") && i + 1 < n && isDigit(s[i + 1])) {
                let start = i
                while i < n, isNameStart(s[i]) || isDigit(s[i]) || s[i] == UInt8(ascii: ".")
                    || ((s[i] == UInt8(ascii: "+") || s[i] == UInt8(ascii: "-")) && "eEpP".utf8.contains(s[i - 1]))
                {
                    i += 1
                }
                out.append(Token(kind: .number, text: String(decoding: s[start..<i], as: UTF8.self), line: line))
                continue
            }
            if c == UInt8(ascii: "\"") || c == UInt8(ascii: "'") {
                let startLine = line
                var body: [UInt8] = []
                i += 1
                while i < n, s[i] != c {
                    if s[i] == 10 { line += 1; break }  // unfinished string: Lua's parser reports it
                    if s[i] == UInt8(ascii: "\\"), i + 1 < n {
                        if s[i + 1] == 10 { line += 1 }
                        if s[i + 1] == UInt8(ascii: "z") {  // \z skips the following whitespace
                            i += 2
                            while i < n, s[i] == 32 || s[i] == 9 || s[i] == 10 || s[i] == 13 {
                                if s[i] == 10 { line += 1 }
                                i += 1
                            }
                            continue
                        }
                        body.append(s[i + 1])  // escapes only matter for field names, which are plain
                        i += 2
                        continue
                    }
                    body.append(s[i])
                    i += 1
                }
                if i < n, s[i] == c { i += 1 }
                out.append(Token(kind: .string, text: String(decoding: body, as: UTF8.self), line: startLine))
                continue
            }
            if let (level, length) = longBracket(i) {
                let startLine = line
                i += length
                if i < n, s[i] == 10 { line += 1; i += 1 }  // a newline right after the bracket is skipped
                let body = skipLong(level)
                out.append(Token(kind: .string, text: String(decoding: body, as: UTF8.self), line: startLine))
                continue
            }
            // Symbols: the multi-character ones that matter here (`::`, `..`, `...`) kept whole.
            if c == UInt8(ascii: ":"), i + 1 < n, s[i + 1] == UInt8(ascii: ":") {
                out.append(Token(kind: .symbol, text: "::", line: line))
                i += 2
                continue
            }
            if c == UInt8(ascii: "."), i + 1 < n, s[i + 1] == UInt8(ascii: ".") {
                let dots = i + 2 < n && s[i + 2] == UInt8(ascii: ".") ? 3 : 2
                out.append(Token(kind: .symbol, text: String(repeating: ".", count: dots), line: line))
                i += dots
                continue
            }
            out.append(Token(kind: .symbol, text: String(UnicodeScalar(c)), line: line))
            i += 1
        }
        return out
    }
}
