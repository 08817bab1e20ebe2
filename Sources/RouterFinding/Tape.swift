import CRouterJSON
import RouterJSON

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A raw, non-owning view of a document's tape: what the finding view is read with. Node indices instead of
/// `JSONNode`s (no reference counting per step), one pass over an object for many keys, byte comparisons for the
/// common case (unescaped ASCII) and the same answer through decoded text for the rest.
///
/// Valid only while the `JSONDocument` lives: callers hold a `JSONNode` of it for the whole use.
/// Every reader here has the semantics of the `JSONNode` accessor of the same name (first occurrence of a duplicated
/// key, keys compared unescaped, strings unescaped and repaired the same way); `Tape.none` stands for an absent node.
struct Tape {
    static let none = UInt32.max

    let doc: UnsafePointer<rj_doc>
    let nodes: UnsafePointer<rj_node>
    let buf: UnsafePointer<UInt8>

    @inline(__always) init(_ document: JSONDocument) {
        let d = document.cDocument
        doc = d
        nodes = UnsafePointer(d.pointee.nodes)
        buf = UnsafeRawPointer(d.pointee.buf).assumingMemoryBound(to: UInt8.self)
    }

    // MARK: Kinds

    @inline(__always) func type(_ i: UInt32) -> UInt8 { nodes[Int(i)].type }
    @inline(__always) func isObject(_ i: UInt32) -> Bool { i != Tape.none && type(i) == UInt8(RJ_OBJECT.rawValue) }
    @inline(__always) func isArray(_ i: UInt32) -> Bool { i != Tape.none && type(i) == UInt8(RJ_ARRAY.rawValue) }
    @inline(__always) func isString(_ i: UInt32) -> Bool { i != Tape.none && type(i) == UInt8(RJ_STRING.rawValue) }
    @inline(__always) func isNumber(_ i: UInt32) -> Bool { i != Tape.none && type(i) == UInt8(RJ_NUMBER.rawValue) }
    @inline(__always) func isEscaped(_ i: UInt32) -> Bool { nodes[Int(i)].flags & UInt8(RJ_FLAG_ESCAPED) != 0 }
    @inline(__always) func isInteger(_ i: UInt32) -> Bool { nodes[Int(i)].flags & UInt8(RJ_FLAG_INTEGER) != 0 }
    /// `JSONFields.kindName` of a node.
    func kindName(_ i: UInt32) -> String {
        switch Int32(type(i)) {
        case Int32(RJ_NULL.rawValue): "null"
        case Int32(RJ_TRUE.rawValue), Int32(RJ_FALSE.rawValue): "a boolean"
        case Int32(RJ_NUMBER.rawValue): "a number"
        case Int32(RJ_STRING.rawValue): "a string"
        case Int32(RJ_ARRAY.rawValue): "an array"
        default: "an object"
        }
    }
    /// Children of an array or object (`JSONNode.count` for those kinds).
    @inline(__always) func childCount(_ i: UInt32) -> Int { Int(nodes[Int(i)].len) }

    // MARK: Values

    /// The raw bytes between the quotes of a string node (equal to its value when it has no escapes).
    @inline(__always) func raw(_ i: UInt32) -> UnsafeBufferPointer<UInt8> {
        let n = nodes[Int(i)]
        return UnsafeBufferPointer(start: buf + Int(n.start), count: Int(n.len))
    }

    /// `JSONNode.string` of a string node (unescaped, invalid UTF-8 repaired), built exactly as RouterJSON does.
    func string(_ i: UInt32) -> String {
        let n = nodes[Int(i)]
        if n.flags & UInt8(RJ_FLAG_ESCAPED) == 0 {
            return String(decoding: UnsafeBufferPointer(start: buf + Int(n.start), count: Int(n.len)), as: UTF8.self)
        }
        let length = rj_string_length(doc, i)
        return withUnsafeTemporaryAllocation(of: UInt8.self, capacity: max(length, 1)) { tmp in
            let written = tmp.withMemoryRebound(to: CChar.self) { rj_string_copy(doc, i, $0.baseAddress) }
            return String(decoding: UnsafeBufferPointer(rebasing: tmp[..<written]), as: UTF8.self)
        }
    }

    /// `node?.string`.
    @inline(__always) func stringOrNil(_ i: UInt32) -> String? { isString(i) ? string(i) : nil }

    /// `JSONFields.nonEmptyString`: a string node with a non-empty value (escapes never unescape to nothing).
    @inline(__always) func nonEmptyString(_ i: UInt32) -> String? {
        isString(i) && nodes[Int(i)].len > 0 ? string(i) : nil
    }

    /// `JSONNode.double` of a number node.
    @inline(__always) func double(_ i: UInt32) -> Double { rj_double(doc, i) }
    /// `JSONNode.int` of a number node flagged integer.
    @inline(__always) func int64(_ i: UInt32) -> Int64 { rj_int64(doc, i) }

    /// `JSONNode.int`: an integer literal, or a number whose value is an integer in `Int64`'s range; nil otherwise.
    func int(_ i: UInt32) -> Int64? {
        guard isNumber(i) else { return nil }
        if isInteger(i) { return int64(i) }
        let d = double(i)
        // -2^63 is representable; 2^63 is not an Int64. NaN fails both comparisons.
        guard d >= -9_223_372_036_854_775_808.0, d < 9_223_372_036_854_775_808.0 else { return nil }
        let v = Int64(d)
        return Double(v) == d ? v : nil
    }

    /// `JSONFields.identifier`: a non-empty string, or an integral number written in decimal.
    @inline(__always) func identifier(_ i: UInt32) -> String? {
        guard i != Tape.none else { return nil }
        switch type(i) {
        case UInt8(RJ_STRING.rawValue): return nonEmptyString(i)
        case UInt8(RJ_NUMBER.rawValue): return int(i).map { String($0) }
        default: return nil
        }
    }

    /// `JSONFields.count`: a positive integer (also an integral float or a digit string); 1 otherwise.
    @inline(__always) func count(_ i: UInt32) -> Int {
        guard i != Tape.none else { return 1 }
        switch type(i) {
        case UInt8(RJ_NUMBER.rawValue):
            if isInteger(i) {
                let v = int64(i)
                return v >= 1 ? Int(clamping: v) : 1
            }
            return int(i).map { $0 >= 1 ? Int(clamping: $0) : 1 } ?? 1
        case UInt8(RJ_STRING.rawValue): return Int(string(i)).map { $0 >= 1 ? $0 : 1 } ?? 1
        default: return 1
        }
    }

    /// `JSONFields.isTrue`: `true`, or a string `"true"` in any case.
    func isTrue(_ i: UInt32) -> Bool {
        guard i != Tape.none else { return false }
        switch type(i) {
        case UInt8(RJ_TRUE.rawValue): return true
        case UInt8(RJ_STRING.rawValue):
            let s = string(i)
            return s.count == 4 && s.lowercased() == "true"
        default: return false
        }
    }

    /// `JSONNode.stringEquals`: byte comparison for unescaped strings, `String` equality (canonical equivalence)
    /// of the decoded value for escaped ones.
    @inline(__always) func stringEquals(_ i: UInt32, _ literal: StaticString) -> Bool {
        guard isString(i) else { return false }
        if isEscaped(i) { return string(i) == literal.description }
        return Tape.equal(raw(i), literal)
    }

    /// Whether two nodes are unescaped strings with the same bytes (so any reader gives both the same value).
    @inline(__always) func sameString(_ a: UInt32, _ b: UInt32) -> Bool {
        guard isString(a), isString(b), !isEscaped(a), !isEscaped(b) else { return false }
        let x = raw(a)
        let y = raw(b)
        guard x.count == y.count else { return false }
        return x.count == 0 || memcmp(x.baseAddress!, y.baseAddress!, x.count) == 0
    }

    // MARK: Objects

    /// `node[key]` (`rj_object_get`: first occurrence, escaped keys compared unescaped); `Tape.none` when absent or
    /// when `object` is not an object. Compares inline; an escaped key on the way hands the lookup to `rj_object_get`.
    func get(_ object: UInt32, _ key: StaticString) -> UInt32 {
        guard isObject(object) else { return Tape.none }
        let end = nodes[Int(object)].next
        let count = key.utf8CodeUnitCount
        var i = object + 1
        while i < end {
            let k = nodes[Int(i)]
            if k.flags & UInt8(RJ_FLAG_ESCAPED) != 0 {
                return key.withUTF8Buffer { k in
                    k.withMemoryRebound(to: CChar.self) { rj_object_get(doc, object, $0.baseAddress, $0.count) }
                }
            }
            if Int(k.len) == count && Tape.equal(UnsafeBufferPointer(start: buf + Int(k.start), count: count), key) {
                return i + 1
            }
            i = nodes[Int(i + 1)].next
        }
        return Tape.none
    }

    /// `(node[a], node[b])` in one pass over the members (see ``get(_:_:)``).
    func get(_ object: UInt32, _ a: StaticString, _ b: StaticString) -> (UInt32, UInt32) {
        guard isObject(object) else { return (Tape.none, Tape.none) }
        let end = nodes[Int(object)].next
        var found = (Tape.none, Tape.none)
        var i = object + 1
        while i < end {
            let k = nodes[Int(i)]
            if k.flags & UInt8(RJ_FLAG_ESCAPED) != 0 { return (get(object, a), get(object, b)) }
            let key = UnsafeBufferPointer(start: buf + Int(k.start), count: Int(k.len))
            if found.0 == Tape.none, Tape.equal(key, a) {
                found.0 = i + 1
                if found.1 != Tape.none { break }
            } else if found.1 == Tape.none, Tape.equal(key, b) {
                found.1 = i + 1
                if found.0 != Tape.none { break }
            }
            i = nodes[Int(i + 1)].next
        }
        return found
    }

    /// `(node[a], node[b], node[c])` in one pass over the members (see ``get(_:_:)``).
    func get(_ object: UInt32, _ a: StaticString, _ b: StaticString, _ c: StaticString) -> (UInt32, UInt32, UInt32) {
        guard isObject(object) else { return (Tape.none, Tape.none, Tape.none) }
        let end = nodes[Int(object)].next
        var found = (Tape.none, Tape.none, Tape.none)
        var i = object + 1
        while i < end {
            let k = nodes[Int(i)]
            if k.flags & UInt8(RJ_FLAG_ESCAPED) != 0 { return (get(object, a), get(object, b), get(object, c)) }
            let key = UnsafeBufferPointer(start: buf + Int(k.start), count: Int(k.len))
            if found.0 == Tape.none, Tape.equal(key, a) {
                found.0 = i + 1
            } else if found.1 == Tape.none, Tape.equal(key, b) {
                found.1 = i + 1
            } else if found.2 == Tape.none, Tape.equal(key, c) {
                found.2 = i + 1
            }
            if found.0 != Tape.none && found.1 != Tape.none && found.2 != Tape.none { break }
            i = nodes[Int(i + 1)].next
        }
        return found
    }

    /// Calls `body(key bytes, value index)` for every member of an object, in order (nothing for other kinds).
    /// Escaped keys are passed unescaped (as `rj_object_get` compares them); callers keep the first match per key.
    @inline(__always) func forEachMember(_ object: UInt32, _ body: (UnsafeBufferPointer<UInt8>, UInt32) -> Void) {
        guard isObject(object) else { return }
        let end = nodes[Int(object)].next
        var i = object + 1
        while i < end {
            let k = nodes[Int(i)]
            if _slowPath(k.flags & UInt8(RJ_FLAG_ESCAPED) != 0) {
                unescaped(i) { body($0, i + 1) }
            } else {
                body(UnsafeBufferPointer(start: buf + Int(k.start), count: Int(k.len)), i + 1)
            }
            i = nodes[Int(i + 1)].next
        }
    }

    /// The unescaped bytes of an escaped string node (a key or a value), in a temporary buffer.
    @inline(never) func unescaped(_ i: UInt32, _ body: (UnsafeBufferPointer<UInt8>) -> Void) {
        let length = rj_string_length(doc, i)
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: max(length, 1)) { tmp in
            let written = tmp.withMemoryRebound(to: CChar.self) { rj_string_copy(doc, i, $0.baseAddress) }
            body(UnsafeBufferPointer(rebasing: tmp[..<written]))
        }
    }

    /// Elements of an array, in order (nothing for other kinds).
    @inline(__always) func forEachElement(_ array: UInt32, _ body: (UInt32) -> Void) {
        guard isArray(array) else { return }
        let end = nodes[Int(array)].next
        var i = array + 1
        while i < end {
            body(i)
            i = nodes[Int(i)].next
        }
    }

    // MARK: Bytes

    @inline(__always) static func equal(_ a: UnsafeBufferPointer<UInt8>, _ literal: StaticString) -> Bool {
        let n = literal.utf8CodeUnitCount
        guard a.count == n else { return false }
        let b = literal.utf8Start
        var i = 0
        while i < n {
            if a[i] != b[i] { return false }
            i += 1
        }
        return true
    }

    /// Member scanners' step: stores `value` in `slot` when `key` is `literal` and the slot is still empty (first
    /// occurrence wins); true when it did.
    @inline(__always) static func claim(
        _ slot: inout UInt32, _ key: UnsafeBufferPointer<UInt8>, _ literal: StaticString, _ value: UInt32
    ) -> Bool {
        guard slot == none, equal(key, literal) else { return false }
        slot = value
        return true
    }

    @inline(__always) static func isASCII(_ a: UnsafeBufferPointer<UInt8>) -> Bool {
        var i = 0
        let n = a.count
        let p = UnsafeRawPointer(a.baseAddress ?? UnsafePointer(bitPattern: 1)!)
        while i + 8 <= n {
            if p.loadUnaligned(fromByteOffset: i, as: UInt64.self) & 0x8080_8080_8080_8080 != 0 { return false }
            i += 8
        }
        while i < n {
            if a[i] >= 0x80 { return false }
            i += 1
        }
        return true
    }
}
