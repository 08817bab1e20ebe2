/// A growable byte buffer that the built-in renderers write a message's JSON text into, directly (no `JSONValue`
/// tree). It starts on caller-provided memory (the stack, see ``with(capacity:_:)``) and moves to the heap when it
/// outgrows it.
///
/// Slack text is put raw (through the ``ByteSink`` helpers, the same code that builds the strings of the tree path)
/// and then JSON-escaped in place with ``escapeJSON(from:)``, which writes exactly what `JSONString.escape` writes:
/// `"` `\` as `\"` `\\`, `\n` `\t` `\r` `\b` `\f` as two-character escapes, other bytes below 0x20 as `\u00xx`,
/// everything else (DEL, non-ASCII) as is. The raw length before escaping is the UTF-8 length of the Slack text.
struct JSONBuffer: ByteSink {
    private(set) var base: UnsafeMutablePointer<UInt8>
    private(set) var count = 0
    private var capacity: Int
    /// Whether `base` is heap memory this buffer allocated.
    private var owned = false

    private init(scratch: UnsafeMutableBufferPointer<UInt8>) {
        base = scratch.baseAddress!
        capacity = scratch.count
    }

    /// Runs `body` on a buffer that starts on `capacity` bytes of stack memory.
    @inline(__always)
    static func with<R>(capacity: Int, _ body: (inout JSONBuffer) -> R) -> R {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: max(capacity, 64)) { scratch in
            var buffer = JSONBuffer(scratch: scratch)
            defer { if buffer.owned { buffer.base.deallocate() } }
            return body(&buffer)
        }
    }

    /// The bytes written so far (valid until the next write).
    var bytes: UnsafeBufferPointer<UInt8> { UnsafeBufferPointer(start: base, count: count) }

    /// A copy of the bytes written so far.
    func array() -> [UInt8] {
        [UInt8](unsafeUninitializedCapacity: count) { dst, n in
            if count > 0 { dst.baseAddress!.initialize(from: base, count: count) }
            n = count
        }
    }

    @inline(__always)
    mutating func reserve(_ n: Int) {
        if capacity &- count < n { grow(n) }
    }

    @inline(never)
    mutating func grow(_ n: Int) {
        var newCapacity = capacity * 2
        if newCapacity - count < n { newCapacity = count + n }
        let p = UnsafeMutablePointer<UInt8>.allocate(capacity: newCapacity)
        p.initialize(from: base, count: count)
        if owned { base.deallocate() }
        base = p
        owned = true
        capacity = newCapacity
    }

    @inline(__always)
    mutating func put(_ b: UInt8) {
        reserve(1)
        base[count] = b
        count &+= 1
    }

    @inline(__always)
    mutating func put(_ p: UnsafeBufferPointer<UInt8>) {
        guard let src = p.baseAddress, p.count > 0 else { return }
        reserve(p.count)
        (base + count).initialize(from: src, count: p.count)
        count &+= p.count
    }

    @inline(__always)
    mutating func put(_ s: String) {
        UTF8Bytes.withBytes(s) { put($0) }
    }

    @inline(__always)
    mutating func putLiteral(_ s: StaticString) {
        s.withUTF8Buffer { put($0) }
    }

    /// JSON syntax (and other fixed text), written as is.
    @inline(__always)
    mutating func json(_ s: StaticString) {
        s.withUTF8Buffer { put($0) }
    }

    /// Removes the bytes from `start` on.
    mutating func truncate(to start: Int) {
        count = start
    }

    // MARK: JSON string escaping

    @inline(__always)
    static func needsEscape(_ b: UInt8) -> Bool { b < 0x20 || b == 0x22 || b == 0x5C }

    /// Whether some byte of `v` needs escaping (exact for "some").
    @inline(__always)
    static func needsEscape(_ v: UInt64) -> Bool {
        let ones: UInt64 = 0x0101_0101_0101_0101
        let q = v ^ 0x2222_2222_2222_2222
        let bs = v ^ 0x5C5C_5C5C_5C5C_5C5C
        let t = ((q &- ones) & ~q) | ((bs &- ones) & ~bs) | ((v &- 0x2020_2020_2020_2020) & ~v)
        return t & 0x8080_8080_8080_8080 != 0
    }

    /// The second byte of a two-character escape, or 0 when the byte takes `\u00xx`.
    @inline(__always)
    static func shortEscape(_ b: UInt8) -> UInt8 {
        switch b {
        case 0x22, 0x5C: b
        case 0x0A: UInt8(ascii: "n")
        case 0x09: UInt8(ascii: "t")
        case 0x0D: UInt8(ascii: "r")
        case 0x08: UInt8(ascii: "b")
        case 0x0C: UInt8(ascii: "f")
        default: 0
        }
    }

    @inline(__always)
    static func lowerHex(_ v: UInt8) -> UInt8 { v < 10 ? 0x30 &+ v : 0x61 &+ (v &- 10) }

    /// JSON-escapes the bytes from `start` to the end, in place (the contents of a string literal, without quotes).
    mutating func escapeJSON(from start: Int) {
        let n = count
        var i = start
        while i &+ 8 <= n {
            if JSONBuffer.needsEscape(UnsafeRawPointer(base + i).loadUnaligned(as: UInt64.self)) { break }
            i &+= 8
        }
        while i < n && !JSONBuffer.needsEscape(base[i]) { i &+= 1 }
        if i == n { return }
        escapeJSONSlow(from: i)
    }

    /// ``escapeJSON(from:)`` from the first byte that needs it: grows by the exact amount, then moves the bytes
    /// backwards, escaping on the way.
    @inline(never)
    mutating func escapeJSONSlow(from first: Int) {
        let n = count
        var extra = 0
        for k in first..<n {
            let b = base[k]
            if JSONBuffer.needsEscape(b) { extra &+= JSONBuffer.shortEscape(b) != 0 ? 1 : 5 }
        }
        reserve(extra)
        var src = n &- 1
        var dst = n &+ extra &- 1
        while src >= first {
            let b = base[src]
            src &-= 1
            if !JSONBuffer.needsEscape(b) {
                base[dst] = b
                dst &-= 1
                continue
            }
            let e = JSONBuffer.shortEscape(b)
            if e != 0 {
                base[dst] = e
                base[dst &- 1] = 0x5C
                dst &-= 2
            } else {
                base[dst] = JSONBuffer.lowerHex(b & 0xF)
                base[dst &- 1] = JSONBuffer.lowerHex(b >> 4)
                base[dst &- 2] = UInt8(ascii: "0")
                base[dst &- 3] = UInt8(ascii: "0")
                base[dst &- 4] = UInt8(ascii: "u")
                base[dst &- 5] = 0x5C
                dst &-= 6
            }
        }
        count = n &+ extra
    }
}
