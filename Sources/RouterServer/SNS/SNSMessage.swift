import RouterCore
import RouterFinding
import RouterJSON

/// One SNS HTTP(S) subscription message (the JSON body SNS POSTs, `Content-Type: text/plain`).
///
/// `parse` checks shape only; call `SNSVerifier.verify` before trusting any field.
public struct SNSMessage: Sendable, Equatable {
    /// The message kinds SNS posts to HTTP(S) endpoints.
    public static let knownTypes = ["Notification", "SubscriptionConfirmation", "UnsubscribeConfirmation"]

    /// `Notification`, `SubscriptionConfirmation` or `UnsubscribeConfirmation`.
    public var type: String
    public var messageId: String
    /// The published message (for GuardDuty via EventBridge: the event JSON as a string). For confirmations: SNS's text.
    public var message: String
    /// Present (required) for the two confirmation types.
    public var subscribeURL: String?
    public var topicArn: String
    /// Notifications only, when the publisher gave one.
    public var subject: String?
    /// ISO 8601 as sent, e.g. `2026-11-27T04:15:04.053Z`.
    public var timestamp: String
    /// `timestamp` in Unix seconds.
    public var timestampSeconds: Double
    /// `"1"` (RSA PKCS#1 v1.5 SHA1) or `"2"` (SHA256); other values parse but do not verify.
    public var signatureVersion: String
    /// Base64 as sent.
    public var signature: String
    public var signingCertURL: String
    /// Present (required) for the two confirmation types.
    public var token: String?
    /// Notifications only.
    public var unsubscribeURL: String?

    /// Whether this is a `SubscriptionConfirmation` or an `UnsubscribeConfirmation`.
    public var isConfirmation: Bool { type != "Notification" }

    /// Parses an SNS HTTP(S) message body. Errors name the field and the problem, e.g.
    /// `SNS message: missing field "Signature"`, `SNS message: field "Type" must be a string, got number`.
    /// `null` counts as absent for the optional fields (`Subject`, `UnsubscribeURL`, and `SubscribeURL`/`Token` of
    /// notifications). A known field that appears twice is refused (two readers could see two different values).
    public static func parse(_ bytes: [UInt8]) throws(SNSError) -> SNSMessage {
        let document: JSONDocument
        do {
            document = try JSONDocument(bytes: bytes, maxDepth: 64)
        } catch {
            throw SNSError("SNS message: invalid JSON: \(error)")
        }
        let root = document.root
        guard root.kind == .object else {
            throw SNSError("SNS message: expected a JSON object, got \(root.kind)")
        }
        var seen = Set<String>()
        for member in root.members where fieldNames.contains(member.key) {
            guard seen.insert(member.key).inserted else {
                throw SNSError("SNS message: field \"\(member.key)\" appears more than once")
            }
        }

        let type = try required(root, "Type")
        guard knownTypes.contains(type) else {
            throw SNSError(
                "SNS message: unknown Type \"\(clip(type))\" (expected Notification, SubscriptionConfirmation or UnsubscribeConfirmation)"
            )
        }
        let confirmation = type != "Notification"
        let messageId = try required(root, "MessageId")
        let topicArn = try required(root, "TopicArn")
        let message = try required(root, "Message", allowEmpty: true)
        let timestamp = try required(root, "Timestamp")
        guard timestamp.contains("T"), let seconds = Timestamps.parse(timestamp) else {
            throw SNSError("SNS message: field \"Timestamp\" is not an ISO 8601 time: \"\(clip(timestamp))\"")
        }
        let signatureVersion = try required(root, "SignatureVersion")
        let signature = try required(root, "Signature")
        let signingCertURL = try required(root, "SigningCertURL")
        let subscribeURL = confirmation ? try required(root, "SubscribeURL") : try optional(root, "SubscribeURL")
        let token = confirmation ? try required(root, "Token") : try optional(root, "Token")
        let subject = try optional(root, "Subject")
        let unsubscribeURL = try optional(root, "UnsubscribeURL")
        return SNSMessage(
            type: type, messageId: messageId, message: message, subscribeURL: subscribeURL, topicArn: topicArn,
            subject: subject, timestamp: timestamp, timestampSeconds: seconds, signatureVersion: signatureVersion,
            signature: signature, signingCertURL: signingCertURL, token: token, unsubscribeURL: unsubscribeURL)
    }

    /// The string SNS signs: `Name\nvalue\n` for each signed field in this order. Notifications: Message, MessageId,
    /// Subject (only when present), Timestamp, TopicArn, Type. Confirmations: Message, MessageId, SubscribeURL,
    /// Timestamp, Token, TopicArn, Type.
    public var canonicalString: String {
        var fields: [(String, String)] = [("Message", message), ("MessageId", messageId)]
        if isConfirmation {
            fields.append(("SubscribeURL", subscribeURL ?? ""))
            fields.append(("Timestamp", timestamp))
            fields.append(("Token", token ?? ""))
        } else {
            if let subject { fields.append(("Subject", subject)) }
            fields.append(("Timestamp", timestamp))
        }
        fields.append(("TopicArn", topicArn))
        fields.append(("Type", type))
        var out = ""
        for (name, value) in fields {
            out += name + "\n" + value + "\n"
        }
        return out
    }

    private static let fieldNames: Set<String> = [
        "Type", "MessageId", "TopicArn", "Message", "Timestamp", "SignatureVersion", "Signature", "SigningCertURL",
        "SubscribeURL", "Token", "Subject", "UnsubscribeURL",
    ]

    private static func required(_ root: JSONNode, _ name: String, allowEmpty: Bool = false) throws(SNSError) -> String {
        guard let node = root[name] else { throw SNSError("SNS message: missing field \"\(name)\"") }
        guard node.kind == .string, let value = node.string else {
            throw SNSError("SNS message: field \"\(name)\" must be a string, got \(node.kind)")
        }
        if !allowEmpty && value.isEmpty { throw SNSError("SNS message: field \"\(name)\" is empty") }
        return value
    }

    private static func optional(_ root: JSONNode, _ name: String) throws(SNSError) -> String? {
        guard let node = root[name], node.kind != .null else { return nil }
        guard node.kind == .string, let value = node.string else {
            throw SNSError("SNS message: field \"\(name)\" must be a string, got \(node.kind)")
        }
        return value
    }
}

/// At most 64 characters of untrusted text for an error message.
func clip(_ text: String) -> String {
    text.count <= 64 ? text : String(text.prefix(64)) + "..."
}
