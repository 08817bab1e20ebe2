/// Who a Slack message notifies. The only way a rendered payload gets `<!...>` or `<@...>` syntax.
public enum Mention: Equatable, Hashable, Sendable, CustomStringConvertible {
    case here, channel, everyone
    /// A user ID (`U012AB3CD`, or `W...` on Enterprise Grid).
    case user(String)
    /// A user-group ID (`SAZ94GDB8`).
    case group(String)

    /// Parses a mention as written in configuration or rules. Accepted, exactly:
    /// `here`, `channel`, `everyone` (optionally with a leading `@`); a user ID `U...`/`W...` (optionally with `@`);
    /// a user-group ID `S...` (IDs: the prefix letter then 2 or more of `A-Z0-9`); or the literal Slack forms
    /// `<!here>`, `<!channel>`, `<!everyone>`, `<@U...>`, `<@W...>`, `<!subteam^S...>` (without `|label`).
    public init(parsing raw: String) throws(MentionError) {
        // Byte-wise (every accepted form is ASCII): rules return mentions for many findings.
        guard let parsed = UTF8Bytes.withBytes(raw, Self.parse) else { throw MentionError(value: raw) }
        self = parsed
    }

    private static func parse(_ b: UnsafeBufferPointer<UInt8>) -> Mention? {
        var lo = 0
        var hi = b.count
        func rest(is literal: StaticString) -> Bool { hi - lo == literal.utf8CodeUnitCount && restStarts(with: literal) }
        func restStarts(with literal: StaticString) -> Bool {
            let n = literal.utf8CodeUnitCount
            guard hi - lo >= n else { return false }
            let l = literal.utf8Start
            for i in 0..<n where b[lo + i] != l[i] { return false }
            return true
        }
        func keyword() -> Mention? {
            if rest(is: "here") { return .here }
            if rest(is: "channel") { return .channel }
            if rest(is: "everyone") { return .everyone }
            return nil
        }
        func id(_ prefixes: StaticString) -> String? {
            let body = UnsafeBufferPointer(rebasing: b[lo..<hi])
            return Self.isID(body, prefixes: prefixes) ? String(decoding: body, as: UTF8.self) : nil
        }
        if hi > 0 && b[0] == UInt8(ascii: "<") {
            guard hi >= 3, b[hi - 1] == UInt8(ascii: ">") else { return nil }
            lo = 1
            hi -= 1
            if restStarts(with: "!subteam^") {
                lo += 9
                return id("S").map { .group($0) }
            }
            if b[lo] == UInt8(ascii: "!") {
                lo += 1
                return keyword()
            }
            if b[lo] == UInt8(ascii: "@") {
                lo += 1
                return id("UW").map { .user($0) }
            }
            return nil
        }
        let at = hi > 0 && b[0] == UInt8(ascii: "@")
        if at { lo = 1 }
        if let k = keyword() { return k }
        if let u = id("UW") { return .user(u) }
        if !at, let g = id("S") { return .group(g) }
        return nil
    }

    /// `^[prefix][A-Z0-9]{2,}$`
    static func isID(_ u: UnsafeBufferPointer<UInt8>, prefixes: StaticString) -> Bool {
        guard u.count >= 3 else { return false }
        let p = prefixes.utf8Start
        var known = false
        for i in 0..<prefixes.utf8CodeUnitCount where p[i] == u[0] { known = true }
        guard known else { return false }
        for c in u.dropFirst() where !((0x41...0x5A).contains(c) || (0x30...0x39).contains(c)) { return false }
        return true
    }

    /// The Slack syntax that renders and notifies: `<!here>`, `<!channel>`, `<!everyone>`, `<@U..>`, `<!subteam^S..>`.
    public var slackSyntax: String {
        switch self {
        case .here: "<!here>"
        case .channel: "<!channel>"
        case .everyone: "<!everyone>"
        case .user(let id): "<@\(id)>"
        case .group(let id): "<!subteam^\(id)>"
        }
    }

    /// Human form: `@here`, `@U012AB3CD`, `@SAZ94GDB8`.
    public var description: String {
        switch self {
        case .here: "@here"
        case .channel: "@channel"
        case .everyone: "@everyone"
        case .user(let id): "@\(id)"
        case .group(let id): "@\(id)"
        }
    }

    /// The mentions' Slack syntax joined by spaces, followed by one space; empty when there are none.
    public static func prefix(_ mentions: [Mention]) -> String {
        if mentions.isEmpty { return "" }
        if mentions.count == 1 {
            switch mentions[0] {
            case .here: return "<!here> "
            case .channel: return "<!channel> "
            case .everyone: return "<!everyone> "
            default: break
            }
        }
        return UTF8Sink.build { putPrefix(mentions, into: &$0) }
    }

    /// Puts ``prefix(_:)``.
    static func putPrefix(_ mentions: [Mention], into out: inout some ByteSink) {
        for m in mentions {
            switch m {
            case .here: out.putLiteral("<!here>")
            case .channel: out.putLiteral("<!channel>")
            case .everyone: out.putLiteral("<!everyone>")
            case .user(let id):
                out.putLiteral("<@")
                out.put(id)
                out.put(UTF8Bytes.gt)
            case .group(let id):
                out.putLiteral("<!subteam^")
                out.put(id)
                out.put(UTF8Bytes.gt)
            }
            out.put(UTF8Bytes.space)
        }
    }
}

/// A mention that is not one of the accepted forms.
public struct MentionError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The rejected value as given.
    public let value: String
    public let message: String

    public init(value: String) {
        self.value = value
        self.message =
            "invalid mention \(MentionError.quote(value)): expected here, channel or everyone (optionally with @), "
            + "a user ID like U012AB3CD or W012AB3CD (optionally with @), a user-group ID like SAZ94GDB8, "
            + "or one of the Slack forms <!here>, <!channel>, <!everyone>, <@U012AB3CD>, <!subteam^SAZ94GDB8>"
    }

    public var description: String { message }

    /// The value in double quotes with `"` and `\` escaped and control characters shown as `\n`, `\t`, `\u{..}`;
    /// long values are cut at 80 characters.
    static func quote(_ s: String) -> String {
        var out = "\""
        var n = 0
        for u in s.unicodeScalars {
            if n == 80 { out += "…"; break }
            n += 1
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            case "\r": out += "\\r"
            default:
                if SlackText.isUnwanted(u) {
                    out += "\\u{" + String(u.value, radix: 16) + "}"
                } else {
                    out.unicodeScalars.append(u)
                }
            }
        }
        return out + "\""
    }
}
