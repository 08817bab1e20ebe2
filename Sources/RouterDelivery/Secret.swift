/// A credential (webhook URL, bot token). Its description is always redacted, so interpolating it into a log line,
/// an error or a listing can never leak it; only `reveal()` gives the value, for the transport.
public struct Secret: Sendable, Equatable, CustomStringConvertible, CustomDebugStringConvertible {
    private let value: String

    public init(_ value: String) { self.value = value }

    /// The secret itself: for building the HTTP request only.
    public func reveal() -> String { value }

    public var description: String { "<redacted>" }
    public var debugDescription: String { "<redacted>" }

    /// Replaces every occurrence of any of `secrets` in `text` (for messages from libraries that might echo a URL).
    public static func redact(_ text: String, _ secrets: [Secret]) -> String {
        var out = text
        for s in secrets where !s.value.isEmpty {
            out = out.replacingAll(s.value, with: "<redacted>")
        }
        return out
    }
}

extension String {
    func replacingAll(_ target: String, with replacement: String) -> String {
        guard !target.isEmpty else { return self }
        var result = ""
        var rest = self[...]
        while let r = rest.firstRange(ofBytes: target) {
            result += rest[..<r.lowerBound]
            result += replacement
            rest = rest[r.upperBound...]
        }
        result += rest
        return result
    }
}

extension Substring {
    func firstRange(ofBytes target: String) -> Range<Substring.Index>? {
        let t = Array(target.utf8)
        let u = self.utf8
        guard t.count <= u.count else { return nil }
        var i = u.startIndex
        while i != u.endIndex {
            var j = i, k = 0
            while k < t.count, j != u.endIndex, u[j] == t[k] {
                j = u.index(after: j)
                k += 1
            }
            if k == t.count { return i..<j }
            i = u.index(after: i)
        }
        return nil
    }
}
