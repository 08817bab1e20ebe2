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
        while i < n && !ByteWriter.needsEscape(bytes[i]) { i += 1 }
        if i == n {
            out.append(contentsOf: bytes)
            return
        }
        withScratch(capacity: n * 6) { w in
            w.appendEscaped(bytes)
        } finish: { out.append(contentsOf: $0) }
    }

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
