// Fuzz target: Slack text escaping and truncation (RouterSlack), as every finding-derived string goes into a message.
// Built only by scripts/fuzz.sh (ROUTER_FUZZ=1 swift build --sanitize=fuzzer ...).
//
// Input: byte 0 and 1 choose a limit (0..4095 characters), the rest is text (invalid UTF-8 included, decoded as the
// router decodes it). For any input:
// - escaping: the result has no '<' or '>' and every '&' starts "&amp;", "&lt;" or "&gt;"; unescaping it gives the
//   sanitized text back; nothing is escaped twice (escaping an escaped text escapes its '&' once more, nothing else);
// - sanitizing: no control character other than newline and tab, no bidirectional override; inline: no newline or tab;
// - truncation: at most `limit` characters (Unicode scalars, as Slack counts), valid UTF-8, either the text itself or
//   a prefix of it followed by the marker, never cut inside an entity;
// - links: linkURL accepts only http(s) and leaves no '|', '<', '>' or whitespace inside.
import RouterSlack

@inline(__always)
func check(_ ok: Bool, _ what: @autoclosure () -> String) {
    if !ok { fatalError("slack text fuzz: " + what()) }
}

func entitiesOK(_ s: String) -> Bool {
    let b = Array(s.utf8)
    var i = 0
    while i < b.count {
        switch b[i] {
        case UInt8(ascii: "<"), UInt8(ascii: ">"): return false
        case UInt8(ascii: "&"):
            let rest = b[i...]
            if rest.starts(with: Array("&amp;".utf8)) { i += 5 } else if rest.starts(with: Array("&lt;".utf8)) || rest.starts(with: Array("&gt;".utf8)) { i += 4 } else { return false }
        default: i += 1
        }
    }
    return true
}

func clean(_ s: String, inline: Bool) -> Bool {
    for u in s.unicodeScalars {
        let v = u.value
        if v == 0x0A || v == 0x09 { if inline { return false }; continue }
        if v < 0x20 || (0x7F...0x9F).contains(v) || (0x202A...0x202E).contains(v) || (0x2066...0x2069).contains(v) { return false }
    }
    return true
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzSlackText(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size >= 2 else { return 0 }
    let limit = (Int(data[0]) << 8 | Int(data[1])) & 0xFFF
    let text = String(decoding: UnsafeBufferPointer(start: data + 2, count: size - 2), as: UTF8.self)

    let escaped = SlackText.escape(text)
    check(entitiesOK(escaped), "escape left something unescaped")
    check(SlackText.unescape(escaped) == text, "unescape(escape(x)) != x")
    let twice = SlackText.escape(escaped)
    check(SlackText.unescape(twice) == escaped, "escaping twice is not escaping once more")

    let finding = SlackText.finding(text)
    check(entitiesOK(finding) && clean(finding, inline: false), "finding() left unescaped or control characters")
    check(SlackText.unescape(finding) == SlackText.sanitize(text), "finding() is not sanitize() then escape()")
    let inline = SlackText.findingInline(text)
    check(entitiesOK(inline) && clean(inline, inline: true), "findingInline() left a line break or control character")

    let cut = SlackLimits.truncate(finding, to: limit)
    check(SlackLimits.length(cut) <= limit || limit == 0 && cut.isEmpty, "truncate: \(SlackLimits.length(cut)) > \(limit)")
    check(String(validating: Array(cut.utf8), as: UTF8.self) != nil, "truncate produced invalid UTF-8")
    if cut != finding {
        let marker = SlackLimits.truncationMarker
        if limit > SlackLimits.length(marker) {
            check(cut.hasSuffix(marker), "a cut text without the marker")
            let head = String(cut.dropLast(marker.count))
            check(finding.hasPrefix(head), "the kept part is not a prefix")
            check(entitiesOK(head), "cut inside an entity")
        } else {
            check(finding.hasPrefix(cut), "a short cut is not a prefix")
        }
    }

    if let url = SlackText.linkURL(text) {
        check(text.hasPrefix("http://") || text.hasPrefix("https://") || text.lowercased().hasPrefix("http"), "linkURL accepted \(text)")
        check(!url.unicodeScalars.contains { "|<> \t\n\r".unicodeScalars.contains($0) }, "linkURL left a separator")
    }
    return 0
}
