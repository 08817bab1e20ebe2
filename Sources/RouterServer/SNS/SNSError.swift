/// Why an SNS HTTPS message was refused or could not be handled: a message parsed from untrusted input, a signature
/// that does not verify, a certificate or subscription URL that is not allowed, or a failed fetch. `description` is
/// meant for logs and 4xx bodies: it names fields, hosts and reasons, never a SubscribeURL token or a whole URL query.
public struct SNSError: Error, Sendable, CustomStringConvertible, Equatable {
    public var description: String

    public init(_ description: String) {
        self.description = description
    }
}
