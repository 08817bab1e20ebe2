import RouterJSON

/// One Slack message: what `chat.postMessage` (or an incoming webhook) receives, without the channel.
///
/// A message is held in one of two forms, which behave the same through the public API:
/// - a tree: `text`, `blocks` and `attachments` as values (messages built by hand, custom formats, and anything
///   that went through ``SlackLimits/enforce(_:)``);
/// - pre-rendered JSON: the bytes of the payload without `channel`, exactly as `payload(channel: nil)` serialized
///   would be (the built-in formats write these directly). ``payloadBytes(channel:)`` and ``write(channel:into:)``
///   then cost a copy; reading `text`, `blocks` or `attachments` (or ``payload(channel:)``) decodes the bytes, which
///   is for tests and previews, not for the delivery path. Setting any of them turns the message into a tree.
///
/// `==` compares payloads: two messages are equal when they would post the same thing.
public struct SlackMessage: Equatable, Sendable {
    /// Pre-rendered JSON of the payload without `channel`: `{"text":"...","blocks":[...],"attachments":[...]}`.
    struct Rendered: Equatable, Sendable {
        /// The compact JSON object.
        var bytes: [UInt8]
        /// The offset just after the `text` member's value (its closing quote).
        var textEnd: Int
        var hasBlocks: Bool
        var hasAttachments: Bool
    }

    // Tree form (`rendered == nil`).
    private var _text: String
    private var _blocks: [JSONValue]?
    private var _attachments: [JSONValue]?
    /// Pre-rendered form; the tree fields are unused while it is set.
    private(set) var rendered: Rendered?

    public init(text: String, blocks: [JSONValue]? = nil, attachments: [JSONValue]? = nil) {
        _text = text
        _blocks = blocks
        _attachments = attachments
        rendered = nil
    }

    /// A message from the JSON bytes of its payload without `channel` (see ``Rendered``). The bytes must be what
    /// `payload(channel: nil).serialized()` of the same message gives: the members `text`, then optionally `blocks`
    /// and `attachments`, compact.
    init(rendered: Rendered) {
        _text = ""
        _blocks = nil
        _attachments = nil
        self.rendered = rendered
    }

    /// A text-only message, pre-rendered: `{"text":"..."}`.
    init(renderedText text: String) {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(text.utf8.count + 12)
        bytes.append(contentsOf: #"{"text":"#.utf8)
        JSONString.write(text, into: &bytes)
        let textEnd = bytes.count
        bytes.append(UInt8(ascii: "}"))
        self.init(rendered: Rendered(bytes: bytes, textEnd: textEnd, hasBlocks: false, hasAttachments: false))
    }

    /// Notification and fallback text (mrkdwn). Always set: Slack uses it for notifications, and shows it when there
    /// are no top-level blocks.
    public var text: String {
        get {
            guard let rendered else { return _text }
            // `{"text":"..."}`: the bytes up to the end of the text value, closed.
            var head = Array(rendered.bytes[..<rendered.textEnd])
            head.append(UInt8(ascii: "}"))
            return (try? JSONValue.parse(head))?["text"]?.stringValue ?? ""
        }
        set {
            makeTree()
            _text = newValue
        }
    }

    /// Top-level Block Kit blocks, or nil.
    public var blocks: [JSONValue]? {
        get { rendered == nil ? _blocks : decoded().blocks }
        set {
            makeTree()
            _blocks = newValue
        }
        _modify {
            makeTree()
            yield &_blocks
        }
    }

    /// Secondary attachments (`{"color": "#...", "blocks": [...]}`), or nil.
    public var attachments: [JSONValue]? {
        get { rendered == nil ? _attachments : decoded().attachments }
        set {
            makeTree()
            _attachments = newValue
        }
        _modify {
            makeTree()
            yield &_attachments
        }
    }

    /// Whether the message has neither `blocks` nor `attachments` (only `text`); no decoding.
    public var isTextOnly: Bool {
        if let rendered { return !rendered.hasBlocks && !rendered.hasAttachments }
        return _blocks == nil && _attachments == nil
    }

    /// The exact `chat.postMessage` body: `{"channel": ..., "text": ..., "blocks": [...], "attachments": [...]}` in
    /// that key order; `channel` omitted when nil (incoming webhooks), `blocks`/`attachments` omitted when nil.
    public func payload(channel: String?) -> JSONValue {
        if rendered != nil {
            // The bytes are our own serialization: they parse.
            return (try? JSONValue.parse(payloadBytes(channel: channel))) ?? .null
        }
        return treePayload(channel: channel)
    }

    /// The compact JSON text of ``payload(channel:)``, byte for byte what `payload(channel:).serializedBytes()`
    /// gives; for a pre-rendered message without re-serializing (the channel member is spliced in front).
    public func payloadBytes(channel: String?) -> [UInt8] {
        if let rendered, channel == nil { return rendered.bytes }
        var out: [UInt8] = []
        write(channel: channel, into: &out)
        return out
    }

    /// Appends ``payloadBytes(channel:)`` to `out`.
    public func write(channel: String?, into out: inout [UInt8]) {
        guard let rendered else {
            treePayload(channel: channel).write(into: &out)
            return
        }
        guard let channel else {
            out.append(contentsOf: rendered.bytes)
            return
        }
        // `{"channel":"<escaped>",` then the rendered object after its `{`.
        out.reserveCapacity(out.count + rendered.bytes.count + channel.utf8.count * 6 + 14)
        SlackMessage.channelKey.withUTF8Buffer { out.append(contentsOf: $0) }
        let plain = UTF8Bytes.withBytes(channel) { p -> Bool in
            // A channel name or ID needs no escaping: copy it.
            for b in p where ByteWriter.needsEscape(b) { return false }
            out.append(UInt8(ascii: "\""))
            out.append(contentsOf: p)
            out.append(UInt8(ascii: "\""))
            return true
        }
        if !plain { JSONString.write(channel, into: &out) }
        out.append(UInt8(ascii: ","))
        rendered.bytes.withUnsafeBufferPointer { out.append(contentsOf: UnsafeBufferPointer(rebasing: $0[1...])) }
    }

    private static let channelKey: StaticString = #"{"channel":"#

    /// `{"text": ...}` alone, as compact JSON (the payload to retry with when Slack rejects the blocks).
    public func textOnlyPayloadBytes() -> [UInt8] {
        guard let rendered else { return JSONValue.object(["text": .string(_text)]).serializedBytes() }
        if rendered.textEnd + 1 == rendered.bytes.count { return rendered.bytes }
        var out = [UInt8]()
        out.reserveCapacity(rendered.textEnd + 1)
        out.append(contentsOf: rendered.bytes[..<rendered.textEnd])
        out.append(UInt8(ascii: "}"))
        return out
    }

    public static func == (a: SlackMessage, b: SlackMessage) -> Bool {
        switch (a.rendered, b.rendered) {
        case (let x?, let y?):
            // The same serializer wrote both (strings and booleans only): equal payloads have equal bytes.
            return x.bytes == y.bytes
        case (nil, nil):
            return a._text == b._text && a._blocks == b._blocks && a._attachments == b._attachments
        default:
            return a.payload(channel: nil) == b.payload(channel: nil)
        }
    }

    // MARK: Forms

    private func treePayload(channel: String?) -> JSONValue {
        var o: JSONValue = [:]
        if let channel { o["channel"] = .string(channel) }
        o["text"] = .string(_text)
        if let blocks = _blocks { o["blocks"] = .array(blocks) }
        if let attachments = _attachments { o["attachments"] = .array(attachments) }
        return o
    }

    /// The parts, decoded from the bytes for a pre-rendered message.
    func decoded() -> (text: String, blocks: [JSONValue]?, attachments: [JSONValue]?) {
        guard let rendered else { return (_text, _blocks, _attachments) }
        let payload = (try? JSONValue.parse(rendered.bytes)) ?? .null
        return (
            payload["text"]?.stringValue ?? "", payload["blocks"]?.arrayValue, payload["attachments"]?.arrayValue
        )
    }

    /// Turns a pre-rendered message into the tree form (no-op for a tree).
    private mutating func makeTree() {
        guard rendered != nil else { return }
        (_text, _blocks, _attachments) = decoded()
        rendered = nil
    }
}
