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
        var s = Substring(raw)
        var literal = false
        if s.hasPrefix("<") {
            guard s.hasSuffix(">"), s.count >= 3 else { throw MentionError(value: raw) }
            s = s.dropFirst().dropLast()
            literal = true
        }
        if literal {
            if s.hasPrefix("!subteam^") {
                let id = s.dropFirst("!subteam^".count)
                guard Self.isID(id, prefixes: "S") else { throw MentionError(value: raw) }
                self = .group(String(id))
                return
            }
            if s.hasPrefix("!") {
                switch s.dropFirst() {
                case "here": self = .here
                case "channel": self = .channel
                case "everyone": self = .everyone
                default: throw MentionError(value: raw)
                }
                return
            }
            if s.hasPrefix("@") {
                let id = s.dropFirst()
                guard Self.isID(id, prefixes: "UW") else { throw MentionError(value: raw) }
                self = .user(String(id))
                return
            }
            throw MentionError(value: raw)
        }
        let at = s.hasPrefix("@")
        let body = at ? s.dropFirst() : s
        switch body {
        case "here": self = .here
        case "channel": self = .channel
        case "everyone": self = .everyone
        default:
            if Self.isID(body, prefixes: "UW") {
                self = .user(String(body))
            } else if !at && Self.isID(body, prefixes: "S") {
                self = .group(String(body))
            } else {
                throw MentionError(value: raw)
            }
        }
    }

    /// `^[prefix][A-Z0-9]{2,}$`
    static func isID(_ s: Substring, prefixes: String) -> Bool {
        let u = s.utf8
        guard u.count >= 3, let first = u.first, prefixes.utf8.contains(first) else { return false }
        return u.dropFirst().allSatisfy { (0x41...0x5A).contains($0) || (0x30...0x39).contains($0) }
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
