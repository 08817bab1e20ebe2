/// Text helpers for Slack mrkdwn.
///
/// Slack parses `<...>` as mentions and links (`<!channel>`, `<@U123>`, `<https://x|label>`) and `&...;` as entities.
/// Finding fields (user agents, user names, domains, bucket names) are attacker-influenced, so every finding-derived
/// string that goes into a payload passes through ``escape(_:)`` (and ``sanitize(_:)``); only ``Mention`` values and
/// links built by the renderer produce `<...>`.
public enum SlackText {
    /// Escapes exactly `&` -> `&amp;`, `<` -> `&lt;`, `>` -> `&gt;`, as Slack requires for text one did not author.
    /// Nothing else is changed (no HTML escaping of quotes, no mrkdwn escaping).
    public static func escape(_ s: String) -> String {
        UTF8Bytes.transformed(s, escape: true, sanitize: false, inline: false)
    }

    /// Reverses ``escape(_:)`` (for previews): `&lt;` `&gt;` `&amp;` back to `<` `>` `&`. Works on UTF-8 bytes, as
    /// Slack reads entities: an entity followed by a combining mark is still an entity (a `Character` comparison would
    /// see `;` and the mark as one grapheme and miss it).
    public static func unescape(_ s: String) -> String {
        guard s.utf8.contains(UInt8(ascii: "&")) else { return s }
        let b = Array(s.utf8)
        var out: [UInt8] = []
        out.reserveCapacity(b.count)
        var i = 0
        func at(_ i: Int, _ entity: StaticString) -> Bool {
            let n = entity.utf8CodeUnitCount
            guard i + n <= b.count else { return false }
            let e = entity.utf8Start
            for k in 0..<n where b[i + k] != e[k] { return false }
            return true
        }
        while i < b.count {
            if b[i] == UInt8(ascii: "&") {
                if at(i, "&amp;") { out.append(UInt8(ascii: "&")); i += 5; continue }
                if at(i, "&lt;") { out.append(UInt8(ascii: "<")); i += 4; continue }
                if at(i, "&gt;") { out.append(UInt8(ascii: ">")); i += 4; continue }
            }
            out.append(b[i])
            i += 1
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// True for scalars that must not reach Slack from finding text: C0/C1 control characters other than newline and
    /// tab, DEL, and the bidirectional embedding/override/isolate controls that can make text read differently from
    /// what it is (U+202A-U+202E, U+2066-U+2069).
    @inline(__always)
    static func isUnwanted(_ u: Unicode.Scalar) -> Bool {
        let v = u.value
        if v < 0x20 { return v != 0x0A && v != 0x09 }
        if v < 0x7F { return false }
        if v <= 0x9F { return true }  // DEL and C1
        return (0x202A...0x202E).contains(v) || (0x2066...0x2069).contains(v)
    }

    /// Replaces control characters other than newline and tab: `\r\n` and a lone `\r` become `\n`, every other
    /// unwanted scalar (see ``isUnwanted``) becomes U+FFFD so that its presence stays visible.
    public static func sanitize(_ s: String) -> String {
        UTF8Bytes.transformed(s, escape: false, sanitize: true, inline: false)
    }

    /// ``sanitize(_:)`` then ``escape(_:)``: the form every finding-derived string takes in mrkdwn.
    public static func finding(_ s: String) -> String {
        UTF8Bytes.transformed(s, escape: true, sanitize: true, inline: false)
    }

    /// Like ``finding(_:)`` but on one line: newlines and tabs become spaces (for compact messages and header text).
    public static func findingInline(_ s: String) -> String {
        UTF8Bytes.transformed(s, escape: true, sanitize: true, inline: true)
    }

    /// A URL made safe to put inside Slack link syntax `<url|label>`: only `http(s)` URLs are accepted (nil otherwise);
    /// characters that would end or split the link (`|`, `<`, `>`, whitespace, control characters) are percent-encoded,
    /// and `&` is escaped as `&amp;` as Slack requires inside links.
    public static func linkURL(_ url: String) -> String? {
        UTF8Bytes.linkURL(url)
    }

    /// A Slack link `<url|label>` with an already-escaped label; when the URL is unusable, just the label.
    public static func link(_ url: String, label: String) -> String {
        guard UTF8Bytes.hasHTTPPrefix(url) else { return label }
        // The label must not contain `|` `>` either; escape() already removed `<` `>`.
        return UTF8Sink.build { out in
            out.put(UTF8Bytes.lt)
            out.putLinkURL(url)
            out.put(UTF8Bytes.pipe)
            out.putReplacingPipes(label)
            out.put(UTF8Bytes.gt)
        }
    }
}

extension String {
    /// `|` would end a link URL or start a label early inside `<...>`; outside links it is harmless.
    func replacingPipes() -> String {
        guard utf8.contains(UInt8(ascii: "|")) else { return self }
        return UTF8Sink.build { $0.putReplacingPipes(self) }
    }
}
