/// JSON string escaping shared by the serializer and by code that writes JSON by hand.
public enum JSONString {
    /// Appends the escaped *contents* of `s` (no surrounding quotes) to `out`: `"` -> `\"`, `\` -> `\\`,
    /// `\n` `\t` `\r` `\b` `\f` as two-character escapes, other control characters (< 0x20) as `\u00XX`.
    /// `/` and non-ASCII characters are written as is (UTF-8).
    @inlinable
    public static func escape(_ s: String, into out: inout [UInt8]) {
        if let done: Void = s.utf8.withContiguousStorageIfAvailable({ escape(bytes: $0, into: &out) }) {
            return done
        }
        var copy = s
        copy.withUTF8 { escape(bytes: $0, into: &out) }
    }

    /// Appends `s` as a complete JSON string literal: `"` + escaped contents + `"`.
    @inlinable
    public static func write(_ s: String, into out: inout [UInt8]) {
        out.append(0x22)
        escape(s, into: &out)
        out.append(0x22)
    }

    /// Escapes raw UTF-8 bytes (see `escape(_:into:)`); bytes >= 0x80 are copied unchanged.
    @inlinable
    public static func escape(bytes: UnsafeBufferPointer<UInt8>, into out: inout [UInt8]) {
        let n = bytes.count
        guard n > 0, let base = bytes.baseAddress else { return }
        var runStart = 0
        var i = 0
        while i < n {
            let b = base[i]
            if b >= 0x20 && b != 0x22 && b != 0x5C {
                i += 1
                continue
            }
            if runStart < i {
                out.append(contentsOf: UnsafeBufferPointer(start: base + runStart, count: i - runStart))
            }
            appendEscape(b, into: &out)
            i += 1
            runStart = i
        }
        if runStart < n {
            out.append(contentsOf: UnsafeBufferPointer(start: base + runStart, count: n - runStart))
        }
    }

    @usableFromInline
    static func appendEscape(_ b: UInt8, into out: inout [UInt8]) {
        let backslash: UInt8 = 0x5C
        switch b {
        case 0x22: out.append(backslash); out.append(0x22)
        case 0x5C: out.append(backslash); out.append(backslash)
        case 0x0A: out.append(backslash); out.append(UInt8(ascii: "n"))
        case 0x09: out.append(backslash); out.append(UInt8(ascii: "t"))
        case 0x0D: out.append(backslash); out.append(UInt8(ascii: "r"))
        case 0x08: out.append(backslash); out.append(UInt8(ascii: "b"))
        case 0x0C: out.append(backslash); out.append(UInt8(ascii: "f"))
        default:
            let hex: StaticString = "0123456789abcdef"
            out.append(backslash)
            out.append(UInt8(ascii: "u"))
            out.append(UInt8(ascii: "0"))
            out.append(UInt8(ascii: "0"))
            hex.withUTF8Buffer { h in
                out.append(h[Int(b >> 4)])
                out.append(h[Int(b & 0xF)])
            }
        }
    }
}

extension JSONValue {
    /// Appends the compact JSON text of this value (no whitespace, members in order) to `out`.
    ///
    /// `.int` is written as an integer; `.double` in the shortest form that round-trips (Swift's `description`,
    /// e.g. `1.0`, `0.1`, `1e-05`), and non-finite doubles as `null`. Strings are escaped as in `JSONString.escape`.
    public func write(into out: inout [UInt8]) {
        switch self {
        case .null: JSONWriter.appendNull(&out)
        case .bool(let b): JSONWriter.appendBool(b, &out)
        case .int(let i): JSONWriter.appendInt(i, &out)
        case .double(let d): JSONWriter.appendDouble(d, &out)
        case .string(let s): JSONString.write(s, into: &out)
        case .array(let a):
            out.append(UInt8(ascii: "["))
            var first = true
            for element in a {
                if !first { out.append(UInt8(ascii: ",")) }
                first = false
                element.write(into: &out)
            }
            out.append(UInt8(ascii: "]"))
        case .object(let o):
            out.append(UInt8(ascii: "{"))
            var first = true
            for member in o.storage {
                if !first { out.append(UInt8(ascii: ",")) }
                first = false
                JSONString.write(member.key, into: &out)
                out.append(UInt8(ascii: ":"))
                member.value.write(into: &out)
            }
            out.append(UInt8(ascii: "}"))
        }
    }

    /// The JSON text of this value.
    ///
    /// - `pretty`: 2-space indentation, one element/member per line, `"key": value`; empty containers as `[]`/`{}`;
    ///   no trailing newline.
    /// - `sortedKeys`: object members ordered by key, byte-wise on UTF-8 (stable for duplicate keys).
    public func serialized(pretty: Bool = false, sortedKeys: Bool = false) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(256)
        if !pretty && !sortedKeys {
            write(into: &out)
        } else {
            JSONWriter(pretty: pretty, sortedKeys: sortedKeys).write(self, depth: 0, into: &out)
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// The compact JSON text as bytes.
    public func serializedBytes() -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(256)
        write(into: &out)
        return out
    }
}

/// Pretty/sorted writer and number formatting helpers.
@usableFromInline
struct JSONWriter {
    let pretty: Bool
    let sortedKeys: Bool

    func write(_ value: JSONValue, depth: Int, into out: inout [UInt8]) {
        switch value {
        case .array(let a):
            if a.isEmpty {
                out.append(UInt8(ascii: "["))
                out.append(UInt8(ascii: "]"))
                return
            }
            out.append(UInt8(ascii: "["))
            for (i, element) in a.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                newline(depth + 1, &out)
                write(element, depth: depth + 1, into: &out)
            }
            newline(depth, &out)
            out.append(UInt8(ascii: "]"))
        case .object(let o):
            if o.isEmpty {
                out.append(UInt8(ascii: "{"))
                out.append(UInt8(ascii: "}"))
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
            out.append(UInt8(ascii: "{"))
            for (i, member) in members.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                newline(depth + 1, &out)
                JSONString.write(member.key, into: &out)
                out.append(UInt8(ascii: ":"))
                if pretty { out.append(UInt8(ascii: " ")) }
                write(member.value, depth: depth + 1, into: &out)
            }
            newline(depth, &out)
            out.append(UInt8(ascii: "}"))
        default:
            value.write(into: &out)
        }
    }

    @inline(__always)
    func newline(_ depth: Int, _ out: inout [UInt8]) {
        guard pretty else { return }
        out.append(UInt8(ascii: "\n"))
        for _ in 0..<(depth * 2) { out.append(UInt8(ascii: " ")) }
    }

    @usableFromInline
    static func appendNull(_ out: inout [UInt8]) {
        out.append(contentsOf: [0x6E, 0x75, 0x6C, 0x6C] as [UInt8])
    }

    @usableFromInline
    static func appendBool(_ b: Bool, _ out: inout [UInt8]) {
        if b {
            out.append(contentsOf: [0x74, 0x72, 0x75, 0x65] as [UInt8])
        } else {
            out.append(contentsOf: [0x66, 0x61, 0x6C, 0x73, 0x65] as [UInt8])
        }
    }

    /// Decimal digits without allocation.
    @usableFromInline
    static func appendInt(_ v: Int64, _ out: inout [UInt8]) {
        if v < 0 { out.append(UInt8(ascii: "-")) }
        var m = v.magnitude
        if m < 10 {
            out.append(UInt8(truncatingIfNeeded: m) &+ 0x30)
            return
        }
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 20) { buf in
            var i = 20
            while m > 0 {
                i -= 1
                buf[i] = UInt8(truncatingIfNeeded: m % 10) &+ 0x30
                m /= 10
            }
            out.append(contentsOf: UnsafeBufferPointer(rebasing: buf[i..<20]))
        }
    }

    /// Shortest round-trip text; `null` for non-finite values.
    @usableFromInline
    static func appendDouble(_ d: Double, _ out: inout [UInt8]) {
        guard d.isFinite else {
            appendNull(&out)
            return
        }
        var s = d.description
        s.withUTF8 { out.append(contentsOf: $0) }
    }
}
