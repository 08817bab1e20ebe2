/// JSON string escaping shared by the serializer and by code that writes JSON by hand.
public enum JSONString {
    /// Appends the escaped *contents* of `s` (no surrounding quotes) to `out`: `"` -> `\"`, `\` -> `\\`,
    /// `\n` `\t` `\r` `\b` `\f` as two-character escapes, other control characters (< 0x20) as `\u00XX`.
    /// `/`, DEL and non-ASCII characters are written as is (UTF-8).
    public static func escape(_ s: String, into out: inout [UInt8]) {
        var s = s
        s.withUTF8 { escape(bytes: $0, into: &out) }
    }

    /// Appends `s` as a complete JSON string literal: `"` + escaped contents + `"`.
    public static func write(_ s: String, into out: inout [UInt8]) {
        var s = s
        s.withUTF8 { u in
            withScratch(capacity: u.count * 6 + 2) { w in
                w.appendQuoted(u)
            } finish: { out.append(contentsOf: $0) }
        }
    }

    /// Escapes raw UTF-8 bytes (see `escape(_:into:)`); bytes >= 0x80 are copied unchanged.
    public static func escape(bytes: UnsafeBufferPointer<UInt8>, into out: inout [UInt8]) {
        // Fast path: nothing to escape.
        var i = 0
        let n = bytes.count
        while i < n && !needsEscape(bytes[i]) { i += 1 }
        if i == n {
            out.append(contentsOf: bytes)
            return
        }
        withScratch(capacity: n * 6) { w in
            w.appendEscaped(bytes)
        } finish: { out.append(contentsOf: $0) }
    }

    @inline(__always)
    static func needsEscape(_ b: UInt8) -> Bool { b < 0x20 || b == 0x22 || b == 0x5C }

    /// Runs `body` on a scratch writer (stack memory when small) and hands the bytes to `finish`.
    static func withScratch(
        capacity: Int, _ body: (inout ByteWriter) -> Void, finish: (UnsafeBufferPointer<UInt8>) -> Void
    ) {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: max(capacity, 16)) { scratch in
            var w = ByteWriter(scratch: scratch)
            body(&w)
            finish(w.bytes)
            w.deallocate()
        }
    }
}

/// A growable byte buffer on raw memory: the serializer's hot path appends without Array's per-append uniqueness and
/// capacity checks. It may start on caller-provided (e.g. stack) memory and moves to the heap when it outgrows it.
/// Not copyable in spirit: call `deallocate()` exactly once, and use `bytes` before that.
struct ByteWriter {
    var base: UnsafeMutablePointer<UInt8>
    var count: Int
    var capacity: Int
    /// Whether `base` is heap memory this writer allocated.
    var owned: Bool

    init(capacity: Int) {
        self.capacity = max(capacity, 64)
        base = .allocate(capacity: self.capacity)
        count = 0
        owned = true
    }

    /// Starts on `scratch` (not owned; must outlive the writer's use).
    init(scratch: UnsafeMutableBufferPointer<UInt8>) {
        base = scratch.baseAddress!
        capacity = scratch.count
        count = 0
        owned = false
    }

    var bytes: UnsafeBufferPointer<UInt8> { UnsafeBufferPointer(start: base, count: count) }

    func deallocate() {
        if owned { base.deallocate() }
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
    mutating func append(_ b: UInt8) {
        reserve(1)
        base[count] = b
        count &+= 1
    }

    @inline(__always)
    mutating func append(_ a: UInt8, _ b: UInt8) {
        reserve(2)
        base[count] = a
        base[count &+ 1] = b
        count &+= 2
    }

    @inline(__always)
    mutating func append(_ p: UnsafeBufferPointer<UInt8>) {
        guard let src = p.baseAddress, p.count > 0 else { return }
        reserve(p.count)
        (base + count).initialize(from: src, count: p.count)
        count &+= p.count
    }

    @inline(__always)
    mutating func append(_ s: StaticString) {
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
        let ones: UInt64 = 0x0101_0101_0101_0101
        let highs: UInt64 = 0x8080_8080_8080_8080
        var plainFrom = 0  // input index after the last escape: output and input are offset by a constant from here
        while i < n {
            if n &- i >= 8 {
                let v = UnsafeRawPointer(src + i).loadUnaligned(as: UInt64.self)
                let q = v ^ 0x2222_2222_2222_2222
                let bs = v ^ 0x5C5C_5C5C_5C5C_5C5C
                let t = ((q &- ones) & ~q) | ((bs &- ones) & ~bs) | ((v &- 0x2020_2020_2020_2020) & ~v)
                if t & highs == 0 {
                    UnsafeMutableRawPointer(o).storeBytes(of: v, as: UInt64.self)
                    o += 8
                    i &+= 8
                    continue
                }
            } else if n >= 8 && n &- 8 >= plainFrom {
                // Tail: one overlapping load of the last 8 bytes; the overlap was copied verbatim, so rewriting it is
                // harmless.
                let v = UnsafeRawPointer(src + (n &- 8)).loadUnaligned(as: UInt64.self)
                let q = v ^ 0x2222_2222_2222_2222
                let bs = v ^ 0x5C5C_5C5C_5C5C_5C5C
                let t = ((q &- ones) & ~q) | ((bs &- ones) & ~bs) | ((v &- 0x2020_2020_2020_2020) & ~v)
                if t & highs == 0 {
                    UnsafeMutableRawPointer(o - (i &- (n &- 8))).storeBytes(of: v, as: UInt64.self)
                    o += n &- i
                    i = n
                    break
                }
            }
            let b = src[i]
            i &+= 1
            if b >= 0x20 && b != 0x22 && b != 0x5C {
                o.pointee = b
                o += 1
                continue
            }
            plainFrom = i
            o[0] = 0x5C
            switch b {
            case 0x22, 0x5C: o[1] = b
            case 0x0A: o[1] = UInt8(ascii: "n")
            case 0x09: o[1] = UInt8(ascii: "t")
            case 0x0D: o[1] = UInt8(ascii: "r")
            case 0x08: o[1] = UInt8(ascii: "b")
            case 0x0C: o[1] = UInt8(ascii: "f")
            default:
                o[1] = UInt8(ascii: "u")
                o[2] = UInt8(ascii: "0")
                o[3] = UInt8(ascii: "0")
                o[4] = ByteWriter.hexDigit(b >> 4)
                o[5] = ByteWriter.hexDigit(b & 0xF)
                o += 6
                continue
            }
            o += 2
        }
        count = o - base
    }

    @inline(__always)
    static func hexDigit(_ v: UInt8) -> UInt8 { v < 10 ? 0x30 &+ v : 0x61 &+ (v &- 10) }

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

extension JSONValue {
    /// Appends the compact JSON text of this value (no whitespace, members in order) to `out`.
    ///
    /// `.int` is written as an integer; `.double` in the shortest form that round-trips (Swift's `description`,
    /// e.g. `1.0`, `0.1`, `1e-05`), and non-finite doubles as `null`. Strings are escaped as in `JSONString.escape`.
    public func write(into out: inout [UInt8]) {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 2048) { scratch in
            var w = ByteWriter(scratch: scratch)
            JSONWriter.compact(self, &w)
            out.append(contentsOf: w.bytes)
            w.deallocate()
        }
    }

    /// The JSON text of this value.
    ///
    /// - `pretty`: 2-space indentation, one element/member per line, `"key": value`; empty containers as `[]`/`{}`;
    ///   no trailing newline.
    /// - `sortedKeys`: object members ordered by key, byte-wise on UTF-8 (stable for duplicate keys).
    public func serialized(pretty: Bool = false, sortedKeys: Bool = false) -> String {
        var w = ByteWriter(capacity: 2048)
        if !pretty && !sortedKeys {
            JSONWriter.compact(self, &w)
        } else {
            JSONWriter(pretty: pretty, sortedKeys: sortedKeys).write(self, depth: 0, into: &w)
        }
        let bytes = w.bytes
        let result = String(unsafeUninitializedCapacity: bytes.count) { dst in
            _ = dst.initialize(from: bytes)
            return bytes.count
        }
        w.deallocate()
        return result
    }

    /// The compact JSON text as bytes.
    public func serializedBytes() -> [UInt8] {
        var out: [UInt8] = []
        write(into: &out)
        return out
    }
}

/// Compact, pretty and sorted writers.
struct JSONWriter {
    let pretty: Bool
    let sortedKeys: Bool

    static func compact(_ value: borrowing JSONValue, _ w: inout ByteWriter) {
        switch value {
        case .null: w.append("null")
        case .bool(let b): if b { w.append("true") } else { w.append("false") }
        case .int(let i): w.appendInt(i)
        case .double(let d): w.appendDouble(d)
        case .string(let s): w.appendString(s)
        case .array(let a):
            w.append(UInt8(ascii: "["))
            a.withUnsafeBufferPointer { elements in
                for i in elements.indices {
                    if i > 0 { w.append(UInt8(ascii: ",")) }
                    compact(elements[i], &w)
                }
            }
            w.append(UInt8(ascii: "]"))
        case .object(let o):
            w.append(UInt8(ascii: "{"))
            o.storage.withUnsafeBufferPointer { members in
                for i in members.indices {
                    if i > 0 { w.append(UInt8(ascii: ",")) }
                    w.appendString(members[i].key)
                    w.append(UInt8(ascii: ":"))
                    compact(members[i].value, &w)
                }
            }
            w.append(UInt8(ascii: "}"))
        }
    }

    func write(_ value: JSONValue, depth: Int, into w: inout ByteWriter) {
        switch value {
        case .array(let a):
            if a.isEmpty {
                w.append(UInt8(ascii: "["), UInt8(ascii: "]"))
                return
            }
            w.append(UInt8(ascii: "["))
            for (i, element) in a.enumerated() {
                if i > 0 { w.append(UInt8(ascii: ",")) }
                newline(depth + 1, &w)
                write(element, depth: depth + 1, into: &w)
            }
            newline(depth, &w)
            w.append(UInt8(ascii: "]"))
        case .object(let o):
            if o.isEmpty {
                w.append(UInt8(ascii: "{"), UInt8(ascii: "}"))
                return
            }
            var members = o.storage
            if sortedKeys {
                // Stable sort, byte-wise UTF-8 key order.
                members = members.enumerated().sorted { a, b in
                    if a.element.key == b.element.key { return a.offset < b.offset }
                    return a.element.key.utf8.lexicographicallyPrecedes(b.element.key.utf8)
                }.map(\.element)
            }
            w.append(UInt8(ascii: "{"))
            for (i, member) in members.enumerated() {
                if i > 0 { w.append(UInt8(ascii: ",")) }
                newline(depth + 1, &w)
                w.appendString(member.key)
                if pretty {
                    w.append(UInt8(ascii: ":"), UInt8(ascii: " "))
                } else {
                    w.append(UInt8(ascii: ":"))
                }
                write(member.value, depth: depth + 1, into: &w)
            }
            newline(depth, &w)
            w.append(UInt8(ascii: "}"))
        default:
            JSONWriter.compact(value, &w)
        }
    }

    @inline(__always)
    func newline(_ depth: Int, _ w: inout ByteWriter) {
        guard pretty else { return }
        let n = depth * 2
        w.reserve(n + 1)
        w.base[w.count] = UInt8(ascii: "\n")
        (w.base + w.count + 1).initialize(repeating: UInt8(ascii: " "), count: n)
        w.count += n + 1
    }
}
