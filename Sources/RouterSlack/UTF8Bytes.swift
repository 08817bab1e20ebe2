import RouterJSON

/// Byte-level building blocks for the text helpers and the renderers: everything works on the UTF-8 bytes of a
/// string, returns the input unchanged when no byte needs attention (one pass), and builds each new string once,
/// directly in its final storage (see ``UTF8Sink``), instead of appending scalar by scalar.
///
/// Swift strings always hold valid UTF-8, so the transformations below only ever replace whole scalars (ASCII bytes,
/// or the complete 2- and 3-byte sequences they recognise) and copy every other byte: the output is valid UTF-8 too.
enum UTF8Bytes {
    static let amp = UInt8(ascii: "&")
    static let lt = UInt8(ascii: "<")
    static let gt = UInt8(ascii: ">")
    static let cr = UInt8(ascii: "\r")
    static let lf = UInt8(ascii: "\n")
    static let tab = UInt8(ascii: "\t")
    static let space = UInt8(ascii: " ")
    static let pipe = UInt8(ascii: "|")
    static let quote = UInt8(ascii: "\"")
    static let semicolon = UInt8(ascii: ";")

    /// Runs `body` on the contiguous UTF-8 bytes of `s` (no copy for native strings).
    @inline(__always)
    static func withBytes<R>(_ s: String, _ body: (UnsafeBufferPointer<UInt8>) -> R) -> R {
        if let r = s.utf8.withContiguousStorageIfAvailable(body) { return r }
        var copy = s
        return copy.withUTF8(body)
    }

    /// Number of Unicode scalars: the bytes that are not UTF-8 continuation bytes.
    @inline(__always)
    static func scalarCount(_ p: UnsafeBufferPointer<UInt8>) -> Int {
        var n = 0
        for b in p where b & 0xC0 != 0x80 { n += 1 }
        return n
    }

    /// The scalar count of `s`, counted on bytes.
    static func scalarCount(_ s: String) -> Int {
        withBytes(s) { scalarCount($0) }
    }

    /// Length in bytes of the unwanted multi-byte scalar starting at `i` (see ``SlackText/isUnwanted(_:)``): C1
    /// controls U+0080-U+009F (`C2 80`..`C2 9F`), U+202A-U+202E (`E2 80 AA`..`E2 80 AE`) and U+2066-U+2069
    /// (`E2 81 A6`..`E2 81 A9`); 0 when the bytes at `i` are something else.
    @inline(__always)
    static func unwantedMultiByteLength(_ p: UnsafeBufferPointer<UInt8>, _ i: Int) -> Int {
        let b = p[i]
        if b == 0xC2 {
            if i + 1 < p.count, p[i + 1] >= 0x80, p[i + 1] <= 0x9F { return 2 }
            return 0
        }
        if b == 0xE2, i + 2 < p.count {
            let b1 = p[i + 1]
            let b2 = p[i + 2]
            if b1 == 0x80, b2 >= 0xAA, b2 <= 0xAE { return 3 }
            if b1 == 0x81, b2 >= 0xA6, b2 <= 0xA9 { return 3 }
        }
        return 0
    }

    // MARK: Finding text: sanitize, escape, inline

    /// Whether byte `b` may need work in the given mode: `&` `<` `>` when escaping; control bytes other than newline
    /// and tab (all of them when `inline`), DEL, and the lead bytes `C2`/`E2` of the unwanted multi-byte scalars
    /// when sanitizing. A conservative test: ``firstChange(_:from:escape:sanitize:inline:)`` decides exactly.
    @inline(__always)
    static func mayNeedWork(_ b: UInt8, escape: Bool, sanitize: Bool, inline: Bool) -> Bool {
        if b &- 0x20 < 0x5F {
            // 0x20...0x7E
            return escape && (b == amp || b == lt || b == gt)
        }
        if !sanitize { return false }
        if b < 0x20 { return inline || (b != lf && b != tab) }
        return b == 0x7F || b == 0xC2 || b == 0xE2
    }

    // Eight bytes at a time: `w` holds 8 bytes; each test is non-zero when at least one byte matches (exact for
    // "at least one"; the bit positions above the first match may be wrong, and are not used).
    static let ones: UInt64 = 0x0101_0101_0101_0101
    static let highs: UInt64 = 0x8080_8080_8080_8080

    /// Some byte of `w` equals `c`.
    @inline(__always)
    static func anyByte(_ w: UInt64, equalTo c: UInt8) -> UInt64 {
        let x = w ^ (ones &* UInt64(c))
        return (x &- ones) & ~x & highs
    }

    /// Some byte of `w` is below `n` (`n` <= 0x80), or some byte has its high bit set.
    @inline(__always)
    static func anyByte(_ w: UInt64, below n: UInt8) -> UInt64 {
        ((w &- ones &* UInt64(n)) & ~w & highs) | (w & highs)
    }

    /// Whether some byte of `w` may need work (see ``mayNeedWork(_:escape:sanitize:inline:)``); a superset.
    @inline(__always)
    static func mayNeedWork(_ w: UInt64, escape: Bool, sanitize: Bool) -> Bool {
        var hit: UInt64 = 0
        if sanitize { hit |= anyByte(w, below: 0x20) | anyByte(w, equalTo: 0x7F) }
        if escape { hit |= anyByte(w, equalTo: amp) | anyByte(w, equalTo: lt) | anyByte(w, equalTo: gt) }
        return hit != 0
    }

    /// Whether the transformation changes the bytes at `i` (see ``firstChange(_:from:escape:sanitize:inline:)``).
    @inline(__always)
    static func changes(_ p: UnsafeBufferPointer<UInt8>, _ i: Int, escape: Bool, sanitize: Bool, inline: Bool) -> Bool {
        let b = p[i]
        guard mayNeedWork(b, escape: escape, sanitize: sanitize, inline: inline) else { return false }
        // Every candidate changes except the lead bytes of ordinary scalars (`¡`, `…`, `—`, ...).
        return (b != 0xC2 && b != 0xE2) || unwantedMultiByteLength(p, i) > 0
    }

    /// The index of the first byte at or after `start` that the transformation changes, or `p.count`.
    @inline(__always)
    static func firstChange(
        _ p: UnsafeBufferPointer<UInt8>, from start: Int, escape: Bool, sanitize: Bool, inline: Bool
    ) -> Int {
        var i = start
        let n = p.count
        if let base = p.baseAddress {
            while i + 8 <= n {
                let w = UnsafeRawPointer(base + i).loadUnaligned(as: UInt64.self)
                if mayNeedWork(w, escape: escape, sanitize: sanitize) {
                    for k in i..<(i + 8) where changes(p, k, escape: escape, sanitize: sanitize, inline: inline) {
                        return k
                    }
                }
                i += 8
            }
        }
        while i < n {
            if changes(p, i, escape: escape, sanitize: sanitize, inline: inline) { return i }
            i += 1
        }
        return n
    }

    /// Puts `p[start...]` transformed: when `sanitize`, `\r\n` and a lone `\r` become `\n` and every other unwanted
    /// scalar U+FFFD; when `inline`, newlines and tabs (after sanitizing) become spaces; when `escape`, `&` `<` `>`
    /// become `&amp;` `&lt;` `&gt;`. The same, scalar for scalar, as ``SlackText/sanitize(_:)``, the newline/tab
    /// replacement of ``SlackText/findingInline(_:)`` and ``SlackText/escape(_:)`` applied in that order (sanitizing
    /// never produces `&` `<` `>`, escaping never produces control characters).
    @inline(__always)
    static func putTransformed(
        _ p: UnsafeBufferPointer<UInt8>, from start: Int, escape: Bool, sanitize: Bool, inline: Bool,
        into out: inout some ByteSink
    ) {
        var i = start
        let n = p.count
        while true {
            let j = firstChange(p, from: i, escape: escape, sanitize: sanitize, inline: inline)
            if j > i { out.put(UnsafeBufferPointer(rebasing: p[i..<j])) }
            if j == n { return }
            let b = p[j]
            i = j + 1
            switch b {
            case amp:
                out.putEntity(0x61, 0x6D, 0x70)  // &amp;
            case lt:
                out.putEntity(0x6C, 0x74, nil)  // &lt;
            case gt:
                out.putEntity(0x67, 0x74, nil)  // &gt;
            case cr:
                out.put(inline ? space : lf)
                if i < n, p[i] == lf { i += 1 }  // \r\n is one newline
            case lf, tab:
                out.put(space)  // inline only
            case 0xC2, 0xE2:
                out.putReplacement()
                i = j + unwantedMultiByteLength(p, j)
            default:
                out.putReplacement()  // other control bytes and DEL
            }
        }
    }

    /// `s` transformed as described at ``putTransformed(_:from:escape:sanitize:inline:into:)``; `s` itself when
    /// nothing changes.
    @inline(__always)
    static func transformed(_ s: String, escape: Bool, sanitize: Bool, inline: Bool) -> String {
        withBytes(s) { p -> String in
            let first = firstChange(p, from: 0, escape: escape, sanitize: sanitize, inline: inline)
            if first == p.count { return s }
            return UTF8Sink.build { out in
                out.put(UnsafeBufferPointer(rebasing: p[..<first]))
                putTransformed(p, from: first, escape: escape, sanitize: sanitize, inline: inline, into: &out)
            }
        }
    }

    // MARK: Link URLs

    /// Whether the byte may need percent-encoding or escaping inside `<url|...>`.
    @inline(__always)
    static func urlMayNeedWork(_ b: UInt8) -> Bool {
        if b &- 0x21 < 0x5E {
            // 0x21...0x7E
            return b == amp || b == pipe || b == lt || b == gt || b == quote
        }
        // space, control bytes, DEL, and the lead bytes of the unwanted multi-byte scalars
        return b <= 0x20 || b == 0x7F || b == 0xC2 || b == 0xE2
    }

    /// Whether the link form changes the bytes at `i`.
    @inline(__always)
    static func urlChanges(_ p: UnsafeBufferPointer<UInt8>, _ i: Int) -> Bool {
        let b = p[i]
        return urlMayNeedWork(b) && ((b != 0xC2 && b != 0xE2) || unwantedMultiByteLength(p, i) > 0)
    }

    /// The index of the first byte at or after `start` that ``putLinkURLBytes(_:from:into:)`` changes, or `p.count`.
    @inline(__always)
    static func urlFirstChange(_ p: UnsafeBufferPointer<UInt8>, from start: Int) -> Int {
        var i = start
        let n = p.count
        if let base = p.baseAddress {
            while i + 8 <= n {
                let w = UnsafeRawPointer(base + i).loadUnaligned(as: UInt64.self)
                let hit =
                    anyByte(w, below: 0x21) | anyByte(w, equalTo: 0x7F) | anyByte(w, equalTo: amp)
                    | anyByte(w, equalTo: pipe) | anyByte(w, equalTo: lt) | anyByte(w, equalTo: gt)
                    | anyByte(w, equalTo: quote)
                if hit != 0 {
                    for k in i..<(i + 8) where urlChanges(p, k) { return k }
                }
                i += 8
            }
        }
        while i < n {
            if urlChanges(p, i) { return i }
            i += 1
        }
        return n
    }

    @inline(__always)
    static func hexDigit(_ v: UInt8) -> UInt8 {
        v < 10 ? 0x30 + v : 0x37 + v  // 0-9, A-F
    }

    /// Whether `url` starts with `https://` or `http://`, with the same answer as `String.hasPrefix` (which compares
    /// Characters for non-ASCII strings: a combining mark right after the prefix makes it fail).
    static func hasHTTPPrefix(_ url: String) -> Bool {
        let decided: Bool? = withBytes(url) { p -> Bool? in
            // "http", an optional "s", then "://"
            let n = p.count
            guard n >= 7, p[0] == 0x68, p[1] == 0x74, p[2] == 0x74, p[3] == 0x70 else { return false }
            var i = 4
            if p[i] == 0x73 { i += 1 }
            guard i + 3 <= n, p[i] == 0x3A, p[i + 1] == 0x2F, p[i + 2] == 0x2F else { return false }
            i += 3
            // An ASCII byte (or the end) after the prefix starts a new Character: the answer is `hasPrefix`'s.
            // A non-ASCII one might extend the last `/`: let `hasPrefix` decide.
            if i == n || p[i] < 0x80 { return true }
            return nil
        }
        if let decided { return decided }
        return url.hasPrefix("https://") || url.hasPrefix("http://")
    }

    /// ``SlackText/linkURL(_:)`` on bytes.
    static func linkURL(_ url: String) -> String? {
        guard hasHTTPPrefix(url) else { return nil }
        return withBytes(url) { p -> String in
            let first = urlFirstChange(p, from: 0)
            if first == p.count { return url }
            return UTF8Sink.build { out in
                out.put(UnsafeBufferPointer(rebasing: p[..<first]))
                putLinkURLBytes(p, from: first, into: &out)
            }
        }
    }

    /// Puts the link-safe form of `p[start...]`: `&` as `&amp;`; `|` `<` `>` space `"`, control characters, DEL
    /// and the other unwanted scalars percent-encoded (each UTF-8 byte, upper-case hex).
    @inline(__always)
    static func putLinkURLBytes(_ p: UnsafeBufferPointer<UInt8>, from start: Int, into out: inout some ByteSink) {
        var i = start
        let n = p.count
        while true {
            let j = urlFirstChange(p, from: i)
            if j > i { out.put(UnsafeBufferPointer(rebasing: p[i..<j])) }
            if j == n { return }
            let b = p[j]
            i = j + 1
            switch b {
            case amp:
                out.putEntity(0x61, 0x6D, 0x70)  // &amp;
            case 0xC2, 0xE2:
                i = j + unwantedMultiByteLength(p, j)
                for k in j..<i { out.putPercentEncoded(p[k]) }
            default:
                out.putPercentEncoded(b)  // | < > space " , control bytes, DEL
            }
        }
    }

    // MARK: Whitespace

    /// Unicode White_Space among ASCII: tab, newline, vertical tab, form feed, carriage return, space.
    @inline(__always)
    static func isASCIIWhitespace(_ b: UInt8) -> Bool {
        b == space || (b >= 0x09 && b <= 0x0D)
    }

    /// `s.allSatisfy(\.isWhitespace)`, answered on bytes when possible: an ASCII byte that is not whitespace starts
    /// a Character that is not whitespace (or sits in one that starts with a non-whitespace Prepend scalar), and a
    /// string of ASCII whitespace bytes is all whitespace. Strings with other non-ASCII bytes ask the standard library.
    static func isAllWhitespace(_ s: String) -> Bool {
        if let decided = withBytes(s, isAllWhitespaceOnBytes) { return decided }
        return s.allSatisfy(\.isWhitespace)
    }

    /// The byte-level part of ``isAllWhitespace(_:)`` on valid UTF-8: nil when only the standard library can tell.
    static func isAllWhitespaceOnBytes(_ p: UnsafeBufferPointer<UInt8>) -> Bool? {
        var nonASCII = false
        for b in p {
            if b < 0x80 {
                if !isASCIIWhitespace(b) { return false }
            } else {
                nonASCII = true
            }
        }
        return nonASCII ? nil : true
    }
}

/// Where strings are built: first counting (no memory), then writing into the final string's storage, so that
/// each built string costs one allocation (none when it fits a small string).
///
/// ``build(_:)`` runs its body twice, once counting and once writing; the body must put the same bytes both times
/// (it does when it only depends on its inputs). Writes are bounds-checked.
struct UTF8Sink: ByteSink {
    private let base: UnsafeMutablePointer<UInt8>?
    private let capacity: Int
    private(set) var count = 0

    /// A sink that only counts.
    init() {
        base = nil
        capacity = 0
    }

    init(writingTo buffer: UnsafeMutableBufferPointer<UInt8>) {
        base = buffer.baseAddress
        capacity = buffer.count
    }

    /// The string that `body` puts.
    @inline(__always)
    static func build(_ body: (inout UTF8Sink) -> Void) -> String {
        var counter = UTF8Sink()
        body(&counter)
        let n = counter.count
        if n == 0 { return "" }
        return String(unsafeUninitializedCapacity: n) { buffer in
            var writer = UTF8Sink(writingTo: buffer)
            body(&writer)
            precondition(writer.count == n, "UTF8Sink: the body put different bytes when writing")
            return n
        }
    }

    @inline(__always)
    mutating func put(_ b: UInt8) {
        if let base {
            precondition(count < capacity)
            base[count] = b
        }
        count += 1
    }

    @inline(__always)
    mutating func put(_ p: UnsafeBufferPointer<UInt8>) {
        if let base, let src = p.baseAddress {
            precondition(p.count <= capacity - count)
            UnsafeMutableRawPointer(base + count).copyMemory(from: src, byteCount: p.count)
        }
        count += p.count
    }

    @inline(__always)
    mutating func put(_ s: String) {
        if base == nil {
            count += s.utf8.count
            return
        }
        UTF8Bytes.withBytes(s) { put($0) }
    }

    @inline(__always)
    mutating func putLiteral(_ s: StaticString) {
        if base == nil {
            count += s.utf8CodeUnitCount
            return
        }
        s.withUTF8Buffer { put($0) }
    }

    mutating func put(_ s: Substring) {
        if base == nil {
            count += s.utf8.count
            return
        }
        if let done: Void = s.utf8.withContiguousStorageIfAvailable({ put($0) }) { return done }
        for b in s.utf8 { put(b) }
    }
}

/// Where the byte-level transformations put their output: ``UTF8Sink`` (strings built in place) or RouterJSON's
/// `ByteWriter` (a message's JSON text written directly, escaped in place after).
protocol ByteSink {
    mutating func put(_ b: UInt8)
    mutating func put(_ p: UnsafeBufferPointer<UInt8>)
    mutating func put(_ s: String)
    /// Fixed text (cheaper than a `String`, which, when small, is copied to be read as bytes).
    mutating func putLiteral(_ s: StaticString)
}

extension ByteWriter: ByteSink {
    @inline(__always) mutating func put(_ b: UInt8) { append(b) }
    @inline(__always) mutating func put(_ p: UnsafeBufferPointer<UInt8>) { append(p) }
    @inline(__always) mutating func put(_ s: String) { UTF8Bytes.withBytes(s) { append($0) } }
    @inline(__always) mutating func putLiteral(_ s: StaticString) { append(s) }
}

extension ByteSink {
    /// Decimal digits of `n`, as `String(n)` writes them.
    mutating func put(int n: Int) {
        if n < 0 { put(UInt8(ascii: "-")) }
        var m = n.magnitude
        var divisor: UInt = 1
        while m / divisor >= 10 { divisor *= 10 }
        while divisor > 0 {
            put(0x30 + UInt8(m / divisor))
            m %= divisor
            divisor /= 10
        }
    }

    /// `&` then the name bytes then `;`.
    @inline(__always)
    mutating func putEntity(_ a: UInt8, _ b: UInt8, _ c: UInt8?) {
        put(UTF8Bytes.amp)
        put(a)
        put(b)
        if let c { put(c) }
        put(UTF8Bytes.semicolon)
    }

    /// The 3-byte UTF-8 encoding of U+FFFD.
    @inline(__always)
    mutating func putReplacement() {
        put(0xEF)
        put(0xBF)
        put(0xBD)
    }

    /// `%` and two upper-case hex digits.
    @inline(__always)
    mutating func putPercentEncoded(_ b: UInt8) {
        put(UInt8(ascii: "%"))
        put(UTF8Bytes.hexDigit(b >> 4))
        put(UTF8Bytes.hexDigit(b & 0xF))
    }

    /// `s` sanitized and escaped (``SlackText/finding(_:)``), or on one line (``SlackText/findingInline(_:)``).
    @inline(__always)
    mutating func putFinding(_ s: String, inline: Bool) {
        UTF8Bytes.withBytes(s) { p in
            UTF8Bytes.putTransformed(p, from: 0, escape: true, sanitize: true, inline: inline, into: &self)
        }
    }

    /// ``SlackText/linkURL(_:)`` of a URL that has passed ``UTF8Bytes/hasHTTPPrefix(_:)``.
    @inline(__always)
    mutating func putLinkURL(_ url: String) {
        UTF8Bytes.withBytes(url) { p in UTF8Bytes.putLinkURLBytes(p, from: 0, into: &self) }
    }

    /// `s` with `|` replaced by U+2223 DIVIDES.
    mutating func putReplacingPipes(_ s: String) {
        UTF8Bytes.withBytes(s) { p in
            var run = 0
            for i in 0..<p.count where p[i] == UTF8Bytes.pipe {
                put(UnsafeBufferPointer(rebasing: p[run..<i]))
                put(0xE2)
                put(0x88)
                put(0xA3)
                run = i + 1
            }
            put(UnsafeBufferPointer(rebasing: p[run...]))
        }
    }
}
