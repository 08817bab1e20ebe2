/// An ordered JSON object: members keep their insertion (or document) order.
///
/// - Lookup by key returns the *first* member with that key (a parsed document may contain duplicate keys; they are
///   kept so that parse -> serialize is lossless).
/// - Setting an existing key replaces the value of its first occurrence in place; setting a missing key appends.
///   Setting `nil` removes every member with that key.
/// - `==` compares members pairwise *in order* (same keys, same order, equal values).
public struct JSONObject: Equatable, Sendable, Sequence, ExpressibleByDictionaryLiteral {
    public typealias Member = (key: String, value: JSONValue)
    public typealias Element = Member

    @usableFromInline var storage: [Member]
    /// Key -> index of first occurrence; maintained only for larger objects (linear search is faster below that).
    @usableFromInline var lookup: [String: Int]?

    @usableFromInline static var indexThreshold: Int { 16 }

    /// An empty object.
    public init() {
        storage = []
        lookup = nil
    }

    /// An object with the given members in order (duplicate keys are kept; lookups see the first).
    public init(_ members: some Sequence<(String, JSONValue)>) {
        storage = members.map { (key: $0.0, value: $0.1) }
        lookup = nil
        rebuildLookup()
    }

    /// Ordered dictionary literal: `["a": 1, "b": "x"]` keeps `a` before `b`.
    public init(dictionaryLiteral elements: (String, JSONValue)...) {
        self.init(elements)
    }

    init(uncheckedMembers: [Member]) {
        storage = uncheckedMembers
        lookup = nil
        rebuildLookup()
    }

    @usableFromInline mutating func rebuildLookup() {
        guard storage.count >= JSONObject.indexThreshold else {
            lookup = nil
            return
        }
        var map = [String: Int](minimumCapacity: storage.count)
        for (i, m) in storage.enumerated() where map[m.key] == nil {
            map[m.key] = i
        }
        lookup = map
    }

    @usableFromInline func indexOf(_ key: String) -> Int? {
        if let lookup { return lookup[key] }
        for i in storage.indices where storage[i].key == key {
            return i
        }
        return nil
    }

    /// The value of the first member named `key`. Setting replaces it in place or appends a new member; setting
    /// `nil` removes all members named `key`.
    public subscript(key: String) -> JSONValue? {
        get {
            guard let i = indexOf(key) else { return nil }
            return storage[i].value
        }
        set {
            if let newValue {
                if let i = indexOf(key) {
                    storage[i].value = newValue
                } else {
                    append(key: key, value: newValue)
                }
            } else {
                removeValue(forKey: key)
            }
        }
    }

    /// Appends a member without checking for an existing key (duplicates are allowed; lookups see the first).
    public mutating func append(key: String, value: JSONValue) {
        storage.append((key: key, value: value))
        if lookup != nil {
            if lookup![key] == nil { lookup![key] = storage.count - 1 }
        } else if storage.count >= JSONObject.indexThreshold {
            rebuildLookup()
        }
    }

    /// Removes every member named `key`; returns the value of the first one removed, or `nil` if absent.
    @discardableResult
    public mutating func removeValue(forKey key: String) -> JSONValue? {
        guard let first = indexOf(key) else { return nil }
        let value = storage[first].value
        storage.removeAll { $0.key == key }
        rebuildLookup()
        return value
    }

    /// Whether a member named `key` exists.
    public func contains(key: String) -> Bool { indexOf(key) != nil }

    /// Keys in order (duplicates included).
    public var keys: [String] { storage.map(\.key) }

    /// Values in order.
    public var values: [JSONValue] { storage.map(\.value) }

    /// Members in order.
    public var members: [Member] { storage }

    /// Number of members (duplicates included).
    public var count: Int { storage.count }

    public var isEmpty: Bool { storage.isEmpty }

    public func makeIterator() -> IndexingIterator<[Member]> { storage.makeIterator() }

    public var underestimatedCount: Int { storage.count }

    public static func == (lhs: JSONObject, rhs: JSONObject) -> Bool {
        guard lhs.storage.count == rhs.storage.count else { return false }
        for i in lhs.storage.indices {
            let a = lhs.storage[i], b = rhs.storage[i]
            if a.key != b.key || a.value != b.value { return false }
        }
        return true
    }
}

extension JSONObject: CustomStringConvertible {
    /// Compact JSON text.
    public var description: String { JSONValue.object(self).serialized() }
}
