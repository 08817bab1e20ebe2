/// Bounds that keep one hostile or broken input from exhausting memory or time.
public struct InputLimits: Sendable, Equatable {
    /// Largest document parsed, in bytes: a whole file, one JSON Lines line, standard input, or a buffer handed to
    /// ``InputReader/items(fromBytes:source:limits:)``. Larger documents yield `too_large` without being parsed.
    /// 1 MiB by default (the Lambda asynchronous payload limit). An SQS batch of 10 large messages can exceed it:
    /// a Lambda runtime should pass its own limit (6 MiB is the synchronous invoke payload limit).
    public var maxBytes: Int
    /// Deepest JSON nesting accepted by the parser.
    public var maxDepth: Int
    /// How many wrappers may nest (arrays, records, JSON strings inside `Message`/`body`) before the input is refused.
    public var maxWrapperDepth: Int

    public init(maxBytes: Int = 1 << 20, maxDepth: Int = 256, maxWrapperDepth: Int = 8) {
        self.maxBytes = maxBytes
        self.maxDepth = maxDepth
        self.maxWrapperDepth = maxWrapperDepth
    }

    public static let `default` = InputLimits()
}
