// STUB of the SNS API written in Sources/RouterServer/SNS/ by another engineer: the lead deletes this file at merge.
// Parsing reads the JSON fields; verification is NOT implemented here (verify always fails, so an unverified message is
// never processed with this stub).
import RouterJSON

public struct SNSError: Error, Sendable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

public struct SNSMessage: Sendable {
    public var type: String
    public var messageId: String
    public var message: String
    public var subscribeURL: String?
    public var topicArn: String

    public static func parse(_ bytes: [UInt8]) throws(SNSError) -> SNSMessage {
        guard let v = try? JSONValue.parse(bytes), let type = v["Type"]?.stringValue
        else { throw SNSError("not an SNS message: no 'Type'") }
        return SNSMessage(
            type: type, messageId: v["MessageId"]?.stringValue ?? "", message: v["Message"]?.stringValue ?? "",
            subscribeURL: v["SubscribeURL"]?.stringValue, topicArn: v["TopicArn"]?.stringValue ?? "")
    }
}

public final class SNSVerifier: @unchecked Sendable {
    public static let defaultAllowedHosts = ["sns.*.amazonaws.com", "sns.*.amazonaws.com.cn"]
    let allowedHosts: [String]
    let fetch: @Sendable (String) -> Result<[UInt8], SNSError>

    public init(
        allowedHosts: [String],
        fetch: @escaping @Sendable (String) -> Result<[UInt8], SNSError> = SNSVerifier.httpsFetch
    ) {
        self.allowedHosts = allowedHosts
        self.fetch = fetch
    }

    public static let httpsFetch: @Sendable (String) -> Result<[UInt8], SNSError> = { _ in
        .failure(SNSError("stub: no fetch"))
    }

    public func verify(_ m: SNSMessage) throws(SNSError) {
        throw SNSError("signature verification is not available in this build (stub)")
    }

    public func confirm(_ m: SNSMessage) throws(SNSError) {
        throw SNSError("subscription confirmation is not available in this build (stub)")
    }
}
