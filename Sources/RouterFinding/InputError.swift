/// Why one input item did not yield a finding.
public enum InputErrorKind: String, Sendable, Equatable, CaseIterable {
    /// The bytes are not JSON (or a JSON string inside a wrapper, such as `Sns.Message`, is not).
    case invalidJSON = "invalid_json"
    /// Valid JSON, but not a GuardDuty finding (another EventBridge `detail-type`, an SNS subscription confirmation, ...).
    case notAFinding = "not_a_finding"
    /// Larger than ``InputLimits/maxBytes``; it was not parsed.
    case tooLarge = "too_large"
    /// The file, directory or standard input could not be read.
    case unreadable = "unreadable"
}

/// One input problem. `message` says what was wrong in terms a person can act on; it never contains input bytes
/// beyond short field names and values such as a `detail-type`, and never credentials.
public struct InputError: Error, Sendable, Equatable, CustomStringConvertible {
    public var kind: InputErrorKind
    public var message: String

    public init(_ kind: InputErrorKind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public static func invalidJSON(_ message: String) -> InputError { InputError(.invalidJSON, message) }
    public static func notAFinding(_ message: String) -> InputError { InputError(.notAFinding, message) }
    public static func tooLarge(_ message: String) -> InputError { InputError(.tooLarge, message) }
    public static func unreadable(_ message: String) -> InputError { InputError(.unreadable, message) }

    /// `not_a_finding: detail has no string 'type'`
    public var description: String { "\(kind.rawValue): \(message)" }
}
