/// One result of reading input: a finding, or the reason this part of the input is not one.
public struct InputItem: Sendable {
    // `result` is declared first so that the synthesized memberwise initializer, `init(result:source:recordId:)`,
    // differs from the public one below, which delegates to it (see Finding's initializer for why).
    public var result: Result<Finding, InputError>
    /// Where it came from: `path`, `path:<line>` (JSON Lines), `-` (standard input) or the caller's name for a buffer,
    /// then one `#<index>` per array element or SNS/SQS record on the way down (`events.json#2#0`).
    public var source: String
    /// The id of the outermost message that carried the item: the SQS `messageId` (what a Lambda partial batch response
    /// names as `itemIdentifier`), else the SNS `MessageId`; nil when the input was not an SQS or SNS message.
    public var recordId: String?

    /// The finding, or nil when this item is an error.
    public var finding: Finding? {
        if case .success(let f) = result { return f }
        return nil
    }

    /// The error, or nil when this item is a finding.
    public var error: InputError? {
        if case .failure(let e) = result { return e }
        return nil
    }
}

extension InputItem {
    public init(source: String, result: Result<Finding, InputError>, recordId: String? = nil) {
        self.init(result: result, source: source, recordId: recordId)
    }
}
