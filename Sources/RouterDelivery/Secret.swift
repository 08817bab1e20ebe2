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
            out = out.replacing(s.value, with: "<redacted>")
        }
        return out
    }
}
