/// A JSON value tree, independent of any document.
///
/// Numbers are `.int` (exact 64-bit integers) or `.double`. Equality is structural and exact: `.int(1) != .double(1)`,
/// objects compare their members in order, and `.double(.nan) != .double(.nan)`.
/// Non-finite doubles cannot be written as JSON: the serializer writes them as `null`.
public enum JSONValue: Equatable, Sendable {
    case null
    case bool(Bool)
    case int(Int64)
    case double(Double)
    case string(String)
    case array([JSONValue])
    case object(JSONObject)

    /// Parses one JSON document (strict RFC 8259, max depth 256) into a value tree.
    /// Integer literals that fit in Int64 become `.int`; other numbers `.double` (out-of-range literals such as
    /// `1e400` become `.double(.infinity)`).
    public static func parse(_ bytes: [UInt8]) throws(JSONParseError) -> JSONValue {
        try JSONDocument(bytes: bytes).root.value
    }

    /// Parses the UTF-8 bytes of `string`.
    public static func parse(_ string: String) throws(JSONParseError) -> JSONValue {
        try JSONDocument(string: string).root.value
    }

    /// The kind of value.
    public var kind: JSONKind {
        switch self {
        case .null: return .null
        case .bool: return .bool
        case .int, .double: return .number
        case .string: return .string
        case .array: return .array
        case .object: return .object
        }
    }

    /// Object member lookup (first match). Setting on an object replaces in place or appends; setting `nil` removes.
    /// Setting on `.null` turns it into an object; setting on any other kind is a no-op.
    public subscript(key: String) -> JSONValue? {
        get {
            if case .object(let o) = self { return o[key] }
            return nil
        }
        set {
            switch self {
            case .object(var o):
                self = .null  // release the payload so `o` is uniquely referenced
                o[key] = newValue
                self = .object(o)
            case .null:
                guard let newValue else { return }
                var o = JSONObject()
                o[key] = newValue
                self = .object(o)
            default:
                return
            }
        }
    }

    /// Array element; `nil` if not an array or out of range.
    public subscript(index: Int) -> JSONValue? {
        if case .array(let a) = self, a.indices.contains(index) { return a[index] }
        return nil
    }

    /// Follows a path of object keys.
    public subscript(path: String...) -> JSONValue? {
        var cur = self
        for key in path {
            guard let next = cur[key] else { return nil }
            cur = next
        }
        return cur
    }

    /// The string payload, `nil` for other kinds.
    public var stringValue: String? {
        if case .string(let s) = self { return s }
        return nil
    }

    /// The array payload, `nil` for other kinds.
    public var arrayValue: [JSONValue]? {
        if case .array(let a) = self { return a }
        return nil
    }

    /// The object payload, `nil` for other kinds.
    public var objectValue: JSONObject? {
        if case .object(let o) = self { return o }
        return nil
    }

    /// The boolean payload, `nil` for other kinds.
    public var boolValue: Bool? {
        if case .bool(let b) = self { return b }
        return nil
    }

    /// `.int` as is; `.double` when it is integral and exactly representable; `nil` otherwise.
    public var intValue: Int64? {
        switch self {
        case .int(let i): return i
        case .double(let d): return exactInt64(d)
        default: return nil
        }
    }

    /// Any number as a Double (`.int` converted with rounding), `nil` for other kinds.
    public var doubleValue: Double? {
        switch self {
        case .int(let i): return Double(i)
        case .double(let d): return d
        default: return nil
        }
    }

    /// Whether this is `.null`.
    public var isNull: Bool {
        if case .null = self { return true }
        return false
    }
}

extension JSONValue: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByFloatLiteral,
    ExpressibleByBooleanLiteral, ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral,
    ExpressibleByNilLiteral
{
    public init(stringLiteral value: String) { self = .string(value) }
    public init(integerLiteral value: Int64) { self = .int(value) }
    public init(floatLiteral value: Double) { self = .double(value) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(arrayLiteral elements: JSONValue...) { self = .array(elements) }
    /// Ordered: members keep the literal's order.
    public init(dictionaryLiteral elements: (String, JSONValue)...) { self = .object(JSONObject(elements)) }
    public init(nilLiteral: ()) { self = .null }
}

extension JSONValue: CustomStringConvertible {
    /// Compact JSON text.
    public var description: String { serialized() }
}

/// `Int64(exactly:)` without libm (which not every client links): the value if `d` is an integer in Int64 range.
@inlinable
func exactInt64(_ d: Double) -> Int64? {
    // -2^63 is representable; 2^63 is not an Int64. NaN fails both comparisons.
    guard d >= -9_223_372_036_854_775_808.0, d < 9_223_372_036_854_775_808.0 else { return nil }
    let i = Int64(d)  // truncates toward zero (no libm call)
    return Double(i) == d ? i : nil
}
