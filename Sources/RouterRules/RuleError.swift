/// A mistake in a rule file, reported like a compiler error: `rules/50-route.lua:3: error: message`.
public struct RuleError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Phase: String, Sendable {
        /// Compiling or running the file's main chunk (at start-up, and anew for every event).
        case load
        case filter
        case route
        case format
        /// `permit`, for a click on a finding's button.
        case permit
    }

    public enum Kind: String, Sendable {
        case runtime, instructions, timeout, memory, result, syntax, io
    }

    /// The rule file's path as given (e.g. `rules/50-route.lua`); nil when the error is not tied to a file.
    public var file: String?
    /// 1-based line, nil when unknown.
    public var line: Int?
    public var phase: Phase
    public var kind: Kind
    public var message: String

    public init(file: String?, line: Int?, phase: Phase, kind: Kind, message: String) {
        self.file = file
        self.line = line
        self.phase = phase
        self.kind = kind
        self.message = message
    }

    /// `file:line: error: message` (the `:line` part only when known).
    public var description: String {
        var s = ""
        if let file {
            s += file
            if let line { s += ":\(line)" }
            s += ": "
        }
        return s + "error: " + message
    }
}

/// Rule files that could not be loaded, each with its own error.
public struct RuleLoadError: Error, Sendable, CustomStringConvertible {
    public var errors: [RuleError]
    public init(errors: [RuleError]) { self.errors = errors }
    public var description: String { errors.map(\.description).joined(separator: "\n") }
}
