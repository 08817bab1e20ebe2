import CRouterJSON

/// A JSON parse failure: where it happened and what was wrong.
///
/// `line` and `column` are 1-based; `column` counts bytes (not characters) from the start of the line.
/// `offset` is the 0-based byte offset of the problem in the input.
public struct JSONParseError: Error, CustomStringConvertible, Equatable, Sendable {
    /// 0-based byte offset of the problem in the input.
    public var offset: Int
    /// 1-based line number.
    public var line: Int
    /// 1-based column, in bytes.
    public var column: Int
    /// What was wrong, e.g. "expected ',' or '}' after object member".
    public var message: String

    public init(offset: Int, line: Int, column: Int, message: String) {
        self.offset = offset
        self.line = line
        self.column = column
        self.message = message
    }

    /// "line L, column C: message".
    public var description: String { "line \(line), column \(column): \(message)" }
}

/// The kind of a JSON value.
public enum JSONKind: String, Sendable, Equatable, Hashable, CustomStringConvertible {
    case null, bool, number, string, array, object

    public var description: String { rawValue }
}

/// A parsed JSON document: an immutable tape of nodes over a private copy of the input.
///
/// Parsing validates strictly (RFC 8259, one value, optional leading UTF-8 BOM) in one pass. Strings are unescaped
/// lazily when read. The document is immutable after `init` and may be shared between threads; every `JSONNode`
/// keeps its document alive.
public final class JSONDocument: @unchecked Sendable {
    // Immutable after init; the C document is never mutated, so sharing across threads is safe.
    @usableFromInline let doc: UnsafeMutablePointer<rj_doc>
    @usableFromInline let nodes: UnsafeMutablePointer<rj_node>
    @usableFromInline let buf: UnsafePointer<UInt8>

    /// Parses `bytes` (copied). Throws on invalid JSON, on nesting deeper than `maxDepth` containers, or on input of
    /// 4 GiB or more.
    public convenience init(bytes: [UInt8], maxDepth: Int = 256) throws(JSONParseError) {
        let result: Result<UnsafeMutablePointer<rj_doc>, JSONParseError> = bytes.withUnsafeBufferPointer {
            JSONDocument.parse($0, maxDepth: maxDepth)
        }
        try self.init(result)
    }

    /// Parses any collection of bytes (copied once into the document).
    public convenience init(bytes: some Collection<UInt8>, maxDepth: Int = 256) throws(JSONParseError) {
        let direct: Result<UnsafeMutablePointer<rj_doc>, JSONParseError>? = bytes.withContiguousStorageIfAvailable {
            JSONDocument.parse($0, maxDepth: maxDepth)
        }
        if let direct {
            try self.init(direct)
        } else {
            let array = Array(bytes)
            let result = array.withUnsafeBufferPointer { JSONDocument.parse($0, maxDepth: maxDepth) }
            try self.init(result)
        }
    }

    /// Parses the UTF-8 bytes of `string`.
    public convenience init(string: String, maxDepth: Int = 256) throws(JSONParseError) {
        var s = string
        let result = s.withUTF8 { JSONDocument.parse($0, maxDepth: maxDepth) }
        try self.init(result)
    }

    /// Parses raw bytes (copied).
    public convenience init(buffer: UnsafeRawBufferPointer, maxDepth: Int = 256) throws(JSONParseError) {
        try self.init(JSONDocument.parse(buffer.bindMemory(to: UInt8.self), maxDepth: maxDepth))
    }

    private init(_ result: Result<UnsafeMutablePointer<rj_doc>, JSONParseError>) throws(JSONParseError) {
        switch result {
        case .success(let d):
            doc = d
            nodes = d.pointee.nodes
            buf = UnsafeRawPointer(d.pointee.buf).assumingMemoryBound(to: UInt8.self)
        case .failure(let e):
            throw e
        }
    }

    private static func parse(
        _ bytes: UnsafeBufferPointer<UInt8>, maxDepth: Int
    ) -> Result<UnsafeMutablePointer<rj_doc>, JSONParseError> {
        var err = rj_error()
        let depth = UInt32(clamping: max(0, maxDepth))
        let raw = UnsafeRawPointer(bytes.baseAddress)?.assumingMemoryBound(to: CChar.self)
        if let d = rj_parse(raw, bytes.count, depth, &err) {
            return .success(d)
        }
        let message = withUnsafeBytes(of: &err.message) { raw -> String in
            let b = raw.bindMemory(to: UInt8.self)
            let n = b.firstIndex(of: 0) ?? b.count
            return String(decoding: UnsafeBufferPointer(rebasing: b[..<n]), as: UTF8.self)
        }
        return .failure(
            JSONParseError(offset: Int(err.offset), line: Int(err.line), column: Int(err.column), message: message))
    }

    deinit {
        rj_free(doc)
    }

    /// The root value.
    @inlinable public var root: JSONNode { JSONNode(document: self, index: 0) }

    /// The underlying C document, for the Lua bridge. Valid only while this `JSONDocument` is alive
    /// (use `withExtendedLifetime` around C calls that use it).
    public var cDocument: UnsafePointer<rj_doc> { UnsafePointer(doc) }

    /// Size of the parsed input in bytes.
    public var byteCount: Int { Int(doc.pointee.buf_len) }

    /// Number of nodes in the tape.
    public var nodeCount: Int { Int(doc.pointee.count) }
}

/// A value inside a `JSONDocument` (the document plus a tape index). Cheap to copy; keeps the document alive.
///
/// Accessors never trap on a kind mismatch: they return `nil`, `0` or empty collections instead.
public struct JSONNode: Sendable {
    /// The document this node belongs to.
    public let document: JSONDocument
    /// Tape index (for the Lua bridge: `rl_push_json(L, document.cDocument, index)`).
    public let index: UInt32

    @inlinable init(document: JSONDocument, index: UInt32) {
        self.document = document
        self.index = index
    }

    @inlinable var node: rj_node { document.nodes[Int(index)] }

    /// The kind of value.
    @inlinable public var kind: JSONKind {
        switch Int32(node.type) {
        case Int32(RJ_NULL.rawValue): return .null
        case Int32(RJ_FALSE.rawValue), Int32(RJ_TRUE.rawValue): return .bool
        case Int32(RJ_NUMBER.rawValue): return .number
        case Int32(RJ_STRING.rawValue): return .string
        case Int32(RJ_ARRAY.rawValue): return .array
        default: return .object
        }
    }

    /// Member value of an object by exact (unescaped) key; the first match if the key is duplicated.
    /// `nil` if this is not an object or the key is absent.
    public subscript(key: String) -> JSONNode? {
        let n = node
        guard n.type == UInt8(RJ_OBJECT.rawValue), n.len > 0 else { return nil }
        var k = key
        let i = k.withUTF8 { u in
            u.withMemoryRebound(to: CChar.self) { c in
                rj_object_get(document.doc, index, c.baseAddress, c.count)
            }
        }
        return i == UInt32.max ? nil : JSONNode(document: document, index: i)
    }

    /// Element of an array by 0-based position (O(index)); `nil` if not an array or out of range.
    public subscript(index: Int) -> JSONNode? {
        let n = node
        guard n.type == UInt8(RJ_ARRAY.rawValue), index >= 0, index < Int(n.len) else { return nil }
        var i = self.index + 1
        var k = 0
        while k < index {
            i = document.nodes[Int(i)].next
            k += 1
        }
        return JSONNode(document: document, index: i)
    }

    /// The value's JSON text exactly as the document holds it (a copy of those bytes; no re-serialization).
    public var rawBytes: [UInt8] {
        let n = node
        let start = Int(n.start) - (n.type == UInt8(RJ_STRING.rawValue) ? 1 : 0)
        let end = rj_node_end(document.doc, index)
        guard end > start, let base = document.doc.pointee.buf else { return [] }
        return UnsafeRawBufferPointer(start: base + start, count: end - start).map { $0 }
    }

    /// Follows a path of object keys, e.g. `node["service", "action", "actionType"]`. `nil` as soon as a step is
    /// missing or not an object. An empty path returns `self`.
    public subscript(path: String...) -> JSONNode? {
        self[path: path]
    }

    /// Follows a path of object keys given as an array.
    public subscript(path path: [String]) -> JSONNode? {
        var cur = self
        for key in path {
            guard let next = cur[key] else { return nil }
            cur = next
        }
        return cur
    }

    /// The unescaped string, for string nodes only (invalid UTF-8 is repaired with U+FFFD).
    public var string: String? {
        let n = node
        guard n.type == UInt8(RJ_STRING.rawValue) else { return nil }
        return JSONNode.makeString(document, index, n)
    }

    @usableFromInline static func makeString(_ document: JSONDocument, _ index: UInt32, _ n: rj_node) -> String {
        if n.flags & UInt8(RJ_FLAG_ESCAPED) == 0 {
            return String(
                decoding: UnsafeBufferPointer(start: document.buf + Int(n.start), count: Int(n.len)), as: UTF8.self)
        }
        let length = rj_string_length(document.doc, index)
        // Validate as UTF-8 (repairing) after unescaping: build via a temporary buffer.
        return withUnsafeTemporaryAllocation(of: UInt8.self, capacity: max(length, 1)) { tmp in
            let written = tmp.withMemoryRebound(to: CChar.self) { rj_string_copy(document.doc, index, $0.baseAddress) }
            return String(decoding: UnsafeBufferPointer(rebasing: tmp[..<written]), as: UTF8.self)
        }
    }

    /// Whether this is a string node whose unescaped value equals `s` (byte-wise UTF-8 comparison; no allocation
    /// when the string has no escapes). `false` for non-strings.
    public func stringEquals(_ s: String) -> Bool {
        let n = node
        guard n.type == UInt8(RJ_STRING.rawValue) else { return false }
        if n.flags & UInt8(RJ_FLAG_ESCAPED) != 0 { return string == s }
        var t = s
        return t.withUTF8 { u in
            u.count == Int(n.len)
                && (u.count == 0 || memcmpBytes(u.baseAddress!, document.buf + Int(n.start), u.count))
        }
    }

    /// The number as a `Double` (numbers only). Literals beyond the `Double` range yield ±infinity.
    public var double: Double? {
        guard node.type == UInt8(RJ_NUMBER.rawValue) else { return nil }
        return rj_double(document.doc, index)
    }

    /// The number as an `Int64` when it is integral and exactly representable: integer literals within the Int64
    /// range, and literals such as `1.0` or `1e3` whose value is an exact integer. `nil` otherwise.
    public var int: Int64? {
        let n = node
        guard n.type == UInt8(RJ_NUMBER.rawValue) else { return nil }
        if n.flags & UInt8(RJ_FLAG_INTEGER) != 0 { return rj_int64(document.doc, index) }
        return exactInt64(rj_double(document.doc, index))
    }

    /// `true`/`false` for booleans, `nil` otherwise.
    public var bool: Bool? {
        switch Int32(node.type) {
        case Int32(RJ_TRUE.rawValue): return true
        case Int32(RJ_FALSE.rawValue): return false
        default: return nil
        }
    }

    /// Whether this is JSON `null`.
    public var isNull: Bool { node.type == UInt8(RJ_NULL.rawValue) }

    /// Number of elements (arrays) or members (objects); 0 for other kinds.
    public var count: Int {
        let n = node
        return n.type == UInt8(RJ_ARRAY.rawValue) || n.type == UInt8(RJ_OBJECT.rawValue) ? Int(n.len) : 0
    }

    /// Elements of an array in order; empty for other kinds.
    public var elements: [JSONNode] {
        let n = node
        guard n.type == UInt8(RJ_ARRAY.rawValue) else { return [] }
        var result: [JSONNode] = []
        result.reserveCapacity(Int(n.len))
        var i = index + 1
        while i < n.next {
            result.append(JSONNode(document: document, index: i))
            i = document.nodes[Int(i)].next
        }
        return result
    }

    /// Members of an object in document order (duplicates kept); empty for other kinds.
    public var members: [(key: String, value: JSONNode)] {
        let n = node
        guard n.type == UInt8(RJ_OBJECT.rawValue) else { return [] }
        var result: [(key: String, value: JSONNode)] = []
        result.reserveCapacity(Int(n.len))
        var i = index + 1
        let nodes = document.nodes
        while i < n.next {
            let key = JSONNode.makeString(document, i, nodes[Int(i)])
            result.append((key, JSONNode(document: document, index: i + 1)))
            i = nodes[Int(i + 1)].next
        }
        return result
    }

    /// Deep conversion to a `JSONValue`. Integer literals that fit in Int64 become `.int`, other numbers `.double`
    /// (a literal beyond the Double range, e.g. `1e400`, becomes `.double(.infinity)`, which serializes as `null`).
    public var value: JSONValue { JSONNode.convert(document, index) }

    static func convert(_ document: JSONDocument, _ index: UInt32) -> JSONValue {
        let nodes = document.nodes
        let n = nodes[Int(index)]
        switch Int32(n.type) {
        case Int32(RJ_NULL.rawValue): return .null
        case Int32(RJ_FALSE.rawValue): return .bool(false)
        case Int32(RJ_TRUE.rawValue): return .bool(true)
        case Int32(RJ_NUMBER.rawValue):
            if n.flags & UInt8(RJ_FLAG_INTEGER) != 0 { return .int(rj_int64(document.doc, index)) }
            return .double(rj_double(document.doc, index))
        case Int32(RJ_STRING.rawValue):
            return .string(makeString(document, index, n))
        case Int32(RJ_ARRAY.rawValue):
            let count = Int(n.len)
            let result = [JSONValue](unsafeUninitializedCapacity: count) { buffer, initialized in
                var i = index + 1
                var k = 0
                while i < n.next {
                    (buffer.baseAddress! + k).initialize(to: convert(document, i))
                    k += 1
                    i = nodes[Int(i)].next
                }
                initialized = k
            }
            return .array(result)
        default:
            let count = Int(n.len)
            let members = [JSONObject.Member](unsafeUninitializedCapacity: count) { buffer, initialized in
                var i = index + 1
                var k = 0
                while i < n.next {
                    let key = makeString(document, i, nodes[Int(i)])
                    (buffer.baseAddress! + k).initialize(to: (key, convert(document, i + 1)))
                    k += 1
                    i = nodes[Int(i + 1)].next
                }
                initialized = k
            }
            return .object(JSONObject(uncheckedMembers: members))
        }
    }

    /// The node's literal JSON text exactly as it appears in the input (including quotes for strings).
    public var rawJSON: String {
        let n = node
        let start = n.type == UInt8(RJ_STRING.rawValue) ? Int(n.start) - 1 : Int(n.start)
        let end = rj_node_end(document.doc, index)
        return String(decoding: UnsafeBufferPointer(start: document.buf + start, count: end - start), as: UTF8.self)
    }

    /// Byte range of the node's literal text in the document's input.
    public var byteRange: Range<Int> {
        let n = node
        let start = n.type == UInt8(RJ_STRING.rawValue) ? Int(n.start) - 1 : Int(n.start)
        return start..<rj_node_end(document.doc, index)
    }
}

extension JSONNode: CustomStringConvertible {
    /// The node's raw JSON text.
    public var description: String { rawJSON }
}

@inline(__always)
private func memcmpBytes(_ a: UnsafePointer<UInt8>, _ b: UnsafePointer<UInt8>, _ n: Int) -> Bool {
    var i = 0
    while i < n {
        if a[i] != b[i] { return false }
        i += 1
    }
    return true
}
