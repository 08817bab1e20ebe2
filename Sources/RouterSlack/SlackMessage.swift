import RouterJSON

/// One Slack message: what `chat.postMessage` (or an incoming webhook) receives, without the channel.
public struct SlackMessage: Equatable, Sendable {
    /// Notification and fallback text (mrkdwn). Always set: Slack uses it for notifications, and shows it when there
    /// are no top-level blocks.
    public var text: String
    /// Top-level Block Kit blocks, or nil.
    public var blocks: [JSONValue]?
    /// Secondary attachments (`{"color": "#...", "blocks": [...]}`), or nil.
    public var attachments: [JSONValue]?

    public init(text: String, blocks: [JSONValue]? = nil, attachments: [JSONValue]? = nil) {
        self.text = text
        self.blocks = blocks
        self.attachments = attachments
    }

    /// The exact `chat.postMessage` body: `{"channel": ..., "text": ..., "blocks": [...], "attachments": [...]}` in
    /// that key order; `channel` omitted when nil (incoming webhooks), `blocks`/`attachments` omitted when nil.
    public func payload(channel: String?) -> JSONValue {
        var o: JSONValue = [:]
        if let channel { o["channel"] = .string(channel) }
        o["text"] = .string(text)
        if let blocks { o["blocks"] = .array(blocks) }
        if let attachments { o["attachments"] = .array(attachments) }
        return o
    }
}
