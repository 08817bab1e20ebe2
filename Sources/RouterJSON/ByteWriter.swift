/// The project's one JSON writer: a growable byte buffer on raw memory that the serializer (`JSONValue.write`), the
/// hand-written JSON lines (`JSONString`) and the Slack renderers (RouterSlack, which writes a message's JSON text
/// directly, without a `JSONValue` tree) all write into. Appends skip Array's per-append uniqueness and capacity checks.
/// It may start on caller-provided (e.g. stack) memory (``with(capacity:_:)``) and moves to the heap when it outgrows
/// it. Not copyable in spirit: call `deallocate()` exactly once, and use `bytes` before that.
///
/// JSON string escaping, one definition in two directions: ``appendEscaped(_:)`` escapes bytes as it appends them;
/// ``escapeJSON(from:)`` escapes, in place, text already written raw (the renderers put Slack text through their
/// byte-level transformations first, then measure it, then escape it). Both write `"` `\` as `\"` `\\`, `\n` `\t`
/// `\r` `\b` `\f` as two-character escapes, other bytes below 0x20 as `\u00xx`, everything else (`/`, DEL,
/// non-ASCII) as is.
@frozen
public struct ByteWriter {
    @usableFromInline var base: UnsafeMutablePointer<UInt8>
    /// Bytes written so far (shorten with ``truncate(to:)``).
    public var count: Int
    @usableFromInline var capacity: Int
    /// Whether `base` is heap memory this writer allocated.
    @usableFromInline var owned: Bool

    init(capacity: Int) {
        self.capacity = max(capacity, 64)
        base = .allocate(capacity: self.capacity)
        count = 0
        owned = true
    }

    /// Starts on `scratch` (not owned; must outlive the writer's use).
    @inlinable
    init(scratch: UnsafeMutableBufferPointer<UInt8>) {
        base = scratch.baseAddress!
        capacity = scratch.count
        count = 0
        owned = false
    }

    /// Runs `body` on a writer that starts on `capacity` bytes of stack memory, and frees what it allocated after.
    @inlinable
    public static func with<R>(capacity: Int, _ body: (inout ByteWriter) -> R) -> R {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: max(capacity, 64)) { scratch in
            var writer = ByteWriter(scratch: scratch)
            defer { writer.deallocate() }
            return body(&writer)
        }
    }

    /// The bytes written so far (valid until the next write).
    @inlinable
    public var bytes: UnsafeBufferPointer<UInt8> { UnsafeBufferPointer(start: base, count: count) }

    /// A copy of the bytes written so far.
    @inlinable
    public func array() -> [UInt8] {
        [UInt8](unsafeUninitializedCapacity: count) { dst, n in
            if count > 0 { dst.baseAddress!.initialize(from: base, count: count) }
            n = count
        }
    }

    @inlinable
    func deallocate() {
        if owned { base.deallocate() }
    }

    /// Removes the bytes from `start` on.
    @inlinable
    public mutating func truncate(to start: Int) {
        count = start
    }

    @inlinable @inline(__always)
    mutating func reserve(_ n: Int) {
        if capacity &- count < n { grow(n) }
    }

    @usableFromInline @inline(never)
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

    @inlinable @inline(__always)
    public mutating func append(_ b: UInt8) {
        reserve(1)
        base[count] = b
        count &+= 1
    }

    @inlinable @inline(__always)
    public mutating func append(_ a: UInt8, _ b: UInt8) {
        reserve(2)
        base[count] = a
        base[count &+ 1] = b
        count &+= 2
    }

    @inlinable @inline(__always)
    public mutating func append(_ p: UnsafeBufferPointer<UInt8>) {
        guard let src = p.baseAddress, p.count > 0 else { return }
        reserve(p.count)
        (base + count).initialize(from: src, count: p.count)
        count &+= p.count
    }

    /// JSON syntax and other fixed text, as is.
    @inlinable @inline(__always)
    public mutating func append(_ s: StaticString) {
        s.withUTF8Buffer { append($0) }
    }

    /// `"` + escaped bytes + `"`.
    mutating func appendQuoted(_ u: UnsafeBufferPointer<UInt8>) {
        reserve(u.count &* 6 &+ 2)
        base[count] = 0x22
        count &+= 1
        appendEscapedReserved(u)
        base[count] = 0x22
        count &+= 1
    }

    mutating func appendEscaped(_ u: UnsafeBufferPointer<UInt8>) {
        reserve(u.count &* 6)
        appendEscapedReserved(u)
    }

    /// Escapes into already reserved space (6 bytes per input byte at most).
    @inline(__always)
    mutating func appendEscapedReserved(_ u: UnsafeBufferPointer<UInt8>) {
        guard let src = u.baseAddress else { return }
        let n = u.count
        var o = base + count
        var i = 0
        // Eight bytes at a time while none needs escaping (the output has room: 6 bytes reserved per input byte).
        var plainFrom = 0  // input index after the last escape: output and input are offset by a constant from here
        while i < n {
            if n &- i >= 8 {
                let v = UnsafeRawPointer(src + i).loadUnaligned(as: UInt64.self)
                if !ByteWriter.needsEscape(v) {
                    UnsafeMutableRawPointer(o).storeBytes(of: v, as: UInt64.self)
                    o += 8
                    i &+= 8
                    continue
                }
            } else if n >= 8 && n &- 8 >= plainFrom {
                // Tail: one overlapping load of the last 8 bytes; the overlap was copied verbatim, so rewriting it is
                // harmless.
                let v = UnsafeRawPointer(src + (n &- 8)).loadUnaligned(as: UInt64.self)
                if !ByteWriter.needsEscape(v) {
                    UnsafeMutableRawPointer(o - (i &- (n &- 8))).storeBytes(of: v, as: UInt64.self)
                    o += n &- i
                    i = n
                    break
                }
            }
            let b = src[i]
            i &+= 1
            if !ByteWriter.needsEscape(b) {
                o.pointee = b
                o += 1
                continue
            }
            plainFrom = i
            o[0] = 0x5C
            let e = ByteWriter.shortEscape(b)
            if e != 0 {
                o[1] = e
                o += 2
            } else {
                o[1] = UInt8(ascii: "u")
                o[2] = UInt8(ascii: "0")
                o[3] = UInt8(ascii: "0")
                o[4] = ByteWriter.hexDigit(b >> 4)
                o[5] = ByteWriter.hexDigit(b & 0xF)
                o += 6
            }
        }
        count = o - base
    }

    /// Whether a byte needs escaping in a JSON string: `"`, `\` and controls below 0x20.
    @inlinable @inline(__always)
    public static func needsEscape(_ b: UInt8) -> Bool { b < 0x20 || b == 0x22 || b == 0x5C }

    /// Whether some byte of `v` needs escaping (exact for "some"; SWAR, eight bytes at a time).
    @inlinable @inline(__always)
    static func needsEscape(_ v: UInt64) -> Bool {
        let ones: UInt64 = 0x0101_0101_0101_0101
        let q = v ^ 0x2222_2222_2222_2222
        let bs = v ^ 0x5C5C_5C5C_5C5C_5C5C
        let t = ((q &- ones) & ~q) | ((bs &- ones) & ~bs) | ((v &- 0x2020_2020_2020_2020) & ~v)
        return t & 0x8080_8080_8080_8080 != 0
    }

    /// The second byte of a two-character escape, or 0 when the byte takes `\u00xx`.
    @inlinable @inline(__always)
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

    @inlinable @inline(__always)
    static func hexDigit(_ v: UInt8) -> UInt8 { v < 10 ? 0x30 &+ v : 0x61 &+ (v &- 10) }

    /// JSON-escapes, in place, the bytes from `start` to the end (text written raw: the contents of a string
    /// literal, without quotes).
    @inlinable
    public mutating func escapeJSON(from start: Int) {
        let n = count
        var i = start
        while i &+ 8 <= n {
            if ByteWriter.needsEscape(UnsafeRawPointer(base + i).loadUnaligned(as: UInt64.self)) { break }
            i &+= 8
        }
        while i < n && !ByteWriter.needsEscape(base[i]) { i &+= 1 }
        if i == n { return }
        escapeJSONSlow(from: i)
    }

    /// ``escapeJSON(from:)`` from the first byte that needs it: grows by the exact amount, then moves the bytes
    /// backwards, escaping on the way.
    @usableFromInline @inline(never)
    mutating func escapeJSONSlow(from first: Int) {
        let n = count
        var extra = 0
        for k in first..<n {
            let b = base[k]
            if ByteWriter.needsEscape(b) { extra &+= ByteWriter.shortEscape(b) != 0 ? 1 : 5 }
        }
        reserve(extra)
        var src = n &- 1
        var dst = n &+ extra &- 1
        while src >= first {
            let b = base[src]
            src &-= 1
            if !ByteWriter.needsEscape(b) {
                base[dst] = b
                dst &-= 1
                continue
            }
            let e = ByteWriter.shortEscape(b)
            if e != 0 {
                base[dst] = e
                base[dst &- 1] = 0x5C
                dst &-= 2
            } else {
                base[dst] = ByteWriter.hexDigit(b & 0xF)
                base[dst &- 1] = ByteWriter.hexDigit(b >> 4)
                base[dst &- 2] = UInt8(ascii: "0")
                base[dst &- 3] = UInt8(ascii: "0")
                base[dst &- 4] = UInt8(ascii: "u")
                base[dst &- 5] = 0x5C
                dst &-= 6
            }
        }
        count = n &+ extra
    }

    @inline(__always)
    mutating func appendString(_ s: String) {
        // Native strings are contiguous: no copy. Bridged/lazy ones take the slow path.
        if s.utf8.withContiguousStorageIfAvailable({ appendQuoted($0) }) == nil {
            var copy = s
            copy.withUTF8 { appendQuoted($0) }
        }
    }

    /// Decimal digits, no allocation (two digits per step).
    mutating func appendInt(_ v: Int64) {
        reserve(20)
        if v < 0 {
            base[count] = UInt8(ascii: "-")
            count &+= 1
        }
        var m = v.magnitude
        if m < 10 {
            base[count] = UInt8(truncatingIfNeeded: m) &+ 0x30
            count &+= 1
            return
        }
        var digits = 1
        var limit: UInt64 = 10
        while digits < 20 && m >= limit {
            digits &+= 1
            if digits == 20 { break }
            limit &*= 10
        }
        var i = count &+ digits
        count = i
        ByteWriter.digitPairs.withUTF8Buffer { pairs in
            while m >= 100 {
                let r = Int(m % 100)
                m /= 100
                i &-= 2
                base[i] = pairs[r &* 2]
                base[i &+ 1] = pairs[r &* 2 &+ 1]
            }
            if m >= 10 {
                let r = Int(m)
                i &-= 2
                base[i] = pairs[r &* 2]
                base[i &+ 1] = pairs[r &* 2 &+ 1]
            } else {
                i &-= 1
                base[i] = UInt8(truncatingIfNeeded: m) &+ 0x30
            }
        }
    }

    static let digitPairs: StaticString = """
        00010203040506070809101112131415161718192021222324252627282930313233343536373839\
        40414243444546474849505152535455565758596061626364656667686970717273747576777879\
        8081828384858687888990919293949596979899
        """

    /// Shortest round-trip text (Swift's `description`); `null` for non-finite values.
    mutating func appendDouble(_ d: Double) {
        guard d.isFinite else {
            append("null")
            return
        }
        var s = d.description
        s.withUTF8 { append($0) }
    }
}
