import RouterFinding
import RouterJSON

/// The presentation of each severity band. CRITICAL has its own colour and wording, never HIGH's.
public struct SeverityStyle: Equatable, Sendable {
    public let label: SeverityLabel
    /// Emoji shortcode (works in mrkdwn and in plain_text with `emoji: true`).
    public let emoji: String
    /// Attachment side-bar colour.
    public let color: String
    /// Short wording for the fallback text, e.g. "CRITICAL GuardDuty finding".
    public let wording: String

    public init(_ label: SeverityLabel) {
        self.label = label
        switch label {
        case .critical:
            emoji = ":rotating_light:"
            color = "#7B1FA2"
            wording = "CRITICAL GuardDuty finding"
        case .high:
            emoji = ":red_circle:"
            color = "#D50000"
            wording = "HIGH GuardDuty finding"
        case .medium:
            emoji = ":large_orange_circle:"
            color = "#FF8F00"
            wording = "MEDIUM GuardDuty finding"
        case .low:
            emoji = ":large_blue_circle:"
            color = "#1E88E5"
            wording = "LOW GuardDuty finding"
        case .unknown:
            emoji = ":white_circle:"
            color = "#9E9E9E"
            wording = "GuardDuty finding of UNKNOWN severity"
        }
    }
}

extension SeverityStyle {
    // The same texts as fixed text, for the renderers' writers (kept equal to the strings above by the tests).

    var emojiLiteral: StaticString {
        switch label {
        case .critical: ":rotating_light:"
        case .high: ":red_circle:"
        case .medium: ":large_orange_circle:"
        case .low: ":large_blue_circle:"
        case .unknown: ":white_circle:"
        }
    }

    var colorLiteral: StaticString {
        switch label {
        case .critical: "#7B1FA2"
        case .high: "#D50000"
        case .medium: "#FF8F00"
        case .low: "#1E88E5"
        case .unknown: "#9E9E9E"
        }
    }

    var wordingLiteral: StaticString {
        switch label {
        case .critical: "CRITICAL GuardDuty finding"
        case .high: "HIGH GuardDuty finding"
        case .medium: "MEDIUM GuardDuty finding"
        case .low: "LOW GuardDuty finding"
        case .unknown: "GuardDuty finding of UNKNOWN severity"
        }
    }

    /// The label's raw value.
    var labelLiteral: StaticString { SeverityStyle.literal(label) }

    /// `label.rawValue`.
    static func literal(_ label: SeverityLabel) -> StaticString {
        switch label {
        case .critical: "CRITICAL"
        case .high: "HIGH"
        case .medium: "MEDIUM"
        case .low: "LOW"
        case .unknown: "UNKNOWN"
        }
    }
}

/// A `format` function's result that is not a valid message shape.
public struct FormatResultError: Error, Equatable, Sendable, CustomStringConvertible {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// Renders findings as Slack messages. Every finding-derived string is sanitized and escaped
/// (``SlackText/finding(_:)``); only ``Mention`` values and the console link produce `<...>`.
/// Every result has passed ``SlackLimits/enforce(_:)``.
public enum SlackRenderer {
    // MARK: Detailed

    /// Block Kit message. Layout:
    /// - `text`: mentions, then e.g. `:rotating_light: CRITICAL GuardDuty finding: <title> (account 1111..., us-east-1)`
    ///   (notification and fallback; not shown when blocks are).
    /// - top-level `blocks`: a `header` (emoji, `[SAMPLE]`/`[ARCHIVED]` markers, label and type), a mrkdwn `section`
    ///   with the mentions then the bold title, and, when `note` is given, a `context` line with it.
    /// - one attachment with the severity colour holding: a `section` with the (cut) description, a `section` with
    ///   fields (Account, Region, Severity, Count, Resource, First seen, Last seen, Archived/Sample when true) and a
    ///   `context` with the finding id and the console link.
    ///
    /// The message is written directly as JSON (see ``SlackMessage``) when byte lengths prove it within Slack's
    /// limits, which is almost always; otherwise it is built as a tree and goes through ``SlackLimits/enforce(_:)``.
    /// Both give the same payload, byte for byte.
    public static func detailed(_ f: Finding, mentions: [Mention], note: String? = nil) -> SlackMessage {
        let parts = DetailedParts(f)
        return detailedJSON(f, parts, mentions: mentions, note: note)
            ?? detailedTree(f, parts, mentions: mentions, note: note)
    }

    /// What both ways of writing the detailed layout compute first.
    struct DetailedParts {
        let style: SeverityStyle
        let markers: StaticString
        let title: String
        let linkable: Bool

        init(_ f: borrowing Finding) {
            style = SeverityStyle(f.severityLabel)
            markers = SlackRenderer.markerLiteral(f)
            title = SlackRenderer.titleText(f)
            linkable = UTF8Bytes.hasHTTPPrefix(f.consoleURL)
        }

        /// The description section's text: the description sanitized, escaped and cut to ``descriptionLimit``; nil
        /// when it is blank (no section).
        static func description(_ f: borrowing Finding) -> String? {
            let d = SlackText.finding(f.description)
            return UTF8Bytes.isAllWhitespace(d) ? nil : SlackLimits.truncate(d, to: SlackRenderer.descriptionLimit)
        }
    }

    // The texts of the detailed layout, put into a string (tree) or into JSON text.

    /// `text`.
    @inline(__always)
    static func putDetailedText(_ f: Finding, _ p: DetailedParts, _ mentions: [Mention], into out: inout some ByteSink) {
        Mention.putPrefix(mentions, into: &out)
        out.putLiteral(p.style.emojiLiteral)
        out.put(UTF8Bytes.space)
        out.putLiteral(p.markers)
        out.putLiteral(p.style.wordingLiteral)
        out.putLiteral(": ")
        out.put(p.title)
        out.putLiteral(" (account ")
        putInlineOrDash(f.account, into: &out)
        out.putLiteral(", ")
        putInlineOrDash(f.region, into: &out)
        out.putLiteral(")")
    }

    /// The header's plain text.
    @inline(__always)
    static func putHeader(_ f: Finding, _ p: DetailedParts, into out: inout some ByteSink) {
        out.putLiteral(p.style.emojiLiteral)
        out.put(UTF8Bytes.space)
        out.putLiteral(p.markers)
        out.putLiteral(p.style.labelLiteral)
        out.put(UTF8Bytes.space)
        if f.type.isEmpty { out.putLiteral("(unknown type)") } else { out.putFinding(f.type, inline: true) }
    }

    /// The headline section: mentions, then the bold title.
    @inline(__always)
    static func putHeadline(_ p: DetailedParts, _ mentions: [Mention], into out: inout some ByteSink) {
        Mention.putPrefix(mentions, into: &out)
        out.put(UInt8(ascii: "*"))
        out.put(p.title)
        out.put(UInt8(ascii: "*"))
    }

    /// The note's context line.
    @inline(__always)
    static func putNoteLine(_ note: String, into out: inout some ByteSink) {
        out.putLiteral(":warning: ")
        out.putFinding(note, inline: false)
    }

    /// The last context line: finding id, update time, console link.
    @inline(__always)
    static func putContextLine(_ f: Finding, _ p: DetailedParts, into out: inout some ByteSink) {
        out.putLiteral("Finding `")
        if f.id.isEmpty { out.putLiteral("—") } else { out.putFinding(f.id, inline: true) }
        out.putLiteral("`")
        if let updated = f.updatedAt, !updated.isEmpty {
            out.putLiteral(" · updated ")
            out.putFinding(updated, inline: true)
        }
        out.putLiteral(" · ")
        // SlackText.link(f.consoleURL, label: "Open in GuardDuty console")
        if p.linkable {
            out.put(UTF8Bytes.lt)
            out.putLinkURL(f.consoleURL)
            out.putLiteral("|Open in GuardDuty console>")
        } else {
            out.putLiteral("Open in GuardDuty console")
        }
    }

    /// ``SlackText/findingInline(_:)`` of `s`, or `—` when `s` is empty (the transformation keeps a non-empty string
    /// non-empty).
    @inline(__always)
    static func putInlineOrDash(_ s: String, into out: inout some ByteSink) {
        if s.isEmpty { out.putLiteral("—") } else { out.putFinding(s, inline: true) }
    }

    /// ``SlackText/finding(_:)`` of `s`, or `—` when `s` is empty.
    @inline(__always)
    static func putFindingOrDash(_ s: String, into out: inout some ByteSink) {
        if s.isEmpty { out.putLiteral("—") } else { out.putFinding(s, inline: false) }
    }

    /// The detailed layout written as JSON text (the payload without `channel`), or nil when byte lengths do not
    /// prove every text within its limit (then ``detailedTree(_:_:mentions:note:)`` builds it and enforces them).
    ///
    /// Each Slack text is put raw, measured (its UTF-8 length bounds its length in scalars, as Slack counts), then
    /// JSON-escaped in place. Keys, order and escaping are those of `payload(channel: nil).serialized()` of the tree.
    static func detailedJSON(_ f: Finding, _ p: DetailedParts, mentions: [Mention], note: String?) -> SlackMessage? {
        ByteWriter.with(capacity: 4096) { out -> SlackMessage? in
            var blockText = 0  // bytes of text in all blocks, as SlackLimits.enforceBudget counts them
            /// Ends a block text put from `start` (`extra` bytes of it written before `start`, already escaped):
            /// escapes it, and tells whether it is certainly within 1...limit.
            func close(_ start: Int, _ limit: Int, extra: Int = 0) -> Bool {
                let n = out.count - start + extra
                blockText += n
                out.escapeJSON(from: start)
                return n <= limit && n != 0
            }

            out.append(#"{"text":""#)
            var start = out.count
            putDetailedText(f, p, mentions, into: &out)
            if out.count - start > SlackLimits.messageText { return nil }
            out.escapeJSON(from: start)
            out.append(#"""#)
            let textEnd = out.count

            out.append(#","blocks":[{"type":"header","text":{"type":"plain_text","text":""#)
            start = out.count
            putHeader(f, p, into: &out)
            guard close(start, SlackLimits.headerText) else { return nil }
            out.append(#"","emoji":true}},{"type":"section","text":{"type":"mrkdwn","text":""#)
            start = out.count
            putHeadline(p, mentions, into: &out)
            guard close(start, SlackLimits.sectionText) else { return nil }
            out.append(#"","verbatim":true}}"#)
            if let note, !note.isEmpty {
                out.append(#",{"type":"context","elements":[{"type":"mrkdwn","text":""#)
                start = out.count
                putNoteLine(note, into: &out)
                guard close(start, SlackLimits.contextText) else { return nil }
                out.append(#"","verbatim":true}]}"#)
            }

            out.append(#"],"attachments":[{"color":""#)
            out.append(p.style.colorLiteral)  // `#` and hex digits
            out.append(#"","blocks":["#)
            // The description section, unless the description is blank. Written transformed in one pass; when that
            // is longer in bytes than the cut in characters, the cut may apply: rewritten from the cut string.
            let section = out.count
            out.append(#"{"type":"section","text":{"type":"mrkdwn","text":""#)
            start = out.count
            out.putFinding(f.description, inline: false)
            if out.count - start > descriptionLimit {
                out.truncate(to: start)
                if let cut = DetailedParts.description(f) { out.put(cut) }
            }
            let blank =
                UTF8Bytes.isAllWhitespaceOnBytes(UnsafeBufferPointer(rebasing: out.bytes[start...]))
                ?? String(decoding: UnsafeBufferPointer(rebasing: out.bytes[start...]), as: UTF8.self)
                .allSatisfy(\.isWhitespace)
            if blank {
                out.truncate(to: section)
            } else {
                guard close(start, SlackLimits.sectionText) else { return nil }
                out.append(#"","verbatim":true}},"#)
            }
            // The fields (Account, Region, Severity, Count, Resource, First seen, Last seen, Archived, Sample), each
            // `*label*` and a newline (written escaped), then the value. Straight-line code: closures here would
            // copy the Finding.
            out.append(#"{"type":"section","fields":[{"type":"mrkdwn","text":"*Account*\n"#)
            start = out.count
            putInlineOrDash(f.account, into: &out)
            guard close(start, SlackLimits.fieldText, extra: 10) else { return nil }
            out.append(#"","verbatim":true},{"type":"mrkdwn","text":"*Region*\n"#)
            start = out.count
            putInlineOrDash(f.region, into: &out)
            guard close(start, SlackLimits.fieldText, extra: 9) else { return nil }
            out.append(#"","verbatim":true},{"type":"mrkdwn","text":"*Severity*\n"#)
            start = out.count
            putSeverityText(f, into: &out)
            guard close(start, SlackLimits.fieldText, extra: 11) else { return nil }
            out.append(#"","verbatim":true},{"type":"mrkdwn","text":"*Count*\n"#)
            start = out.count
            out.put(int: f.count)
            guard close(start, SlackLimits.fieldText, extra: 8) else { return nil }
            out.append(#"","verbatim":true},{"type":"mrkdwn","text":"*Resource*\n"#)
            start = out.count
            putFindingOrDash(f.resourceSummary ?? f.resourceType ?? "", into: &out)
            guard close(start, SlackLimits.fieldText, extra: 11) else { return nil }
            out.append(#"","verbatim":true},{"type":"mrkdwn","text":"*First seen*\n"#)
            start = out.count
            putInlineOrDash(f.firstSeen ?? "", into: &out)
            guard close(start, SlackLimits.fieldText, extra: 13) else { return nil }
            out.append(#"","verbatim":true},{"type":"mrkdwn","text":"*Last seen*\n"#)
            start = out.count
            putInlineOrDash(f.lastSeen ?? "", into: &out)
            guard close(start, SlackLimits.fieldText, extra: 12) else { return nil }
            out.append(#"","verbatim":true}"#)
            // Constant values, well within the limit.
            if f.archived {
                out.append(#",{"type":"mrkdwn","text":"*Archived*\nyes (archived in GuardDuty)","verbatim":true}"#)
                blockText += 38
            }
            if f.sample {
                out.append(#",{"type":"mrkdwn","text":"*Sample*\nyes (generated sample finding)","verbatim":true}"#)
                blockText += 39
            }
            out.append(#"]},{"type":"context","elements":[{"type":"mrkdwn","text":""#)
            start = out.count
            putContextLine(f, p, into: &out)
            guard close(start, SlackLimits.contextText) else { return nil }
            out.append(#"","verbatim":true}]}]}]}"#)

            if blockText > SlackLimits.blockTextBudget { return nil }
            return SlackMessage(
                rendered: .init(bytes: out.array(), textEnd: textEnd, hasBlocks: true, hasAttachments: true))
        }
    }

    /// The detailed layout as a tree, through ``SlackLimits/enforce(_:)`` when byte lengths do not prove it within
    /// the limits (which leaves a message within the limits as it is).
    static func detailedTree(_ f: Finding, _ p: DetailedParts, mentions: [Mention], note: String?) -> SlackMessage {
        // Each text is built once, in place. Whether the message is within Slack's limits is then known from byte
        // lengths (bytes >= scalars): only a message that might not be goes through SlackLimits.enforce.
        var withinLimits = true
        var blockText = 0  // bytes of text in all blocks, as SlackLimits.enforceBudget counts them
        func check(_ s: String, _ limit: Int) {
            let n = s.utf8.count
            blockText += n
            if n > limit || n == 0 { withinLimits = false }
        }

        let text = UTF8Sink.build { putDetailedText(f, p, mentions, into: &$0) }
        if text.utf8.count > SlackLimits.messageText { withinLimits = false }

        let header = UTF8Sink.build { putHeader(f, p, into: &$0) }
        check(header, SlackLimits.headerText)
        let headline = UTF8Sink.build { putHeadline(p, mentions, into: &$0) }
        check(headline, SlackLimits.sectionText)

        var blocks: [JSONValue] = []
        blocks.reserveCapacity(3)
        blocks.append([
            "type": "header",
            "text": ["type": "plain_text", "text": .string(header), "emoji": true],
        ])
        blocks.append(section(headline))
        if let note, !note.isEmpty {
            let noteLine = UTF8Sink.build { putNoteLine(note, into: &$0) }
            check(noteLine, SlackLimits.contextText)
            blocks.append(["type": "context", "elements": [mrkdwn(noteLine)]])
        }

        var details: [JSONValue] = []
        details.reserveCapacity(3)
        if let cut = DetailedParts.description(f) {
            check(cut, SlackLimits.sectionText)
            details.append(section(cut))
        }
        var fields: [JSONValue] = []
        fields.reserveCapacity(9)
        func addField(_ label: String, _ putValue: (inout UTF8Sink) -> Void) {
            let s = UTF8Sink.build { out in
                out.put(UInt8(ascii: "*"))
                out.put(label)
                out.putLiteral("*\n")
                putValue(&out)
            }
            check(s, SlackLimits.fieldText)
            fields.append(mrkdwn(s))
        }
        addField("Account") { putInlineOrDash(f.account, into: &$0) }
        addField("Region") { putInlineOrDash(f.region, into: &$0) }
        addField("Severity") { putSeverityText(f, into: &$0) }
        addField("Count") { $0.put(int: f.count) }
        addField("Resource") { putFindingOrDash(f.resourceSummary ?? f.resourceType ?? "", into: &$0) }
        addField("First seen") { putInlineOrDash(f.firstSeen ?? "", into: &$0) }
        addField("Last seen") { putInlineOrDash(f.lastSeen ?? "", into: &$0) }
        if f.archived { addField("Archived") { $0.putLiteral("yes (archived in GuardDuty)") } }
        if f.sample { addField("Sample") { $0.putLiteral("yes (generated sample finding)") } }
        details.append([
            "type": "section",
            "fields": .array(fields),
        ])
        let contextText = UTF8Sink.build { putContextLine(f, p, into: &$0) }
        check(contextText, SlackLimits.contextText)
        details.append(["type": "context", "elements": [mrkdwn(contextText)]])

        var m = SlackMessage(
            text: text,
            blocks: blocks,
            attachments: [["color": .string(p.style.color), "blocks": .array(details)]]
        )
        if !withinLimits || blockText > SlackLimits.blockTextBudget {
            SlackLimits.enforce(&m)
        }
        return m
    }

    /// The description is cut to this many characters in the detailed layout, well below the section maximum.
    public static let descriptionLimit = 1500

    // MARK: Compact

    /// One line of mrkdwn `text`, no blocks, e.g.
    /// `<!here> :red_circle: *HIGH* CryptoCurrency:EC2/BitcoinTool.B!DNS in 111122223333/us-east-1 (i-0abc) x5 <url|view>`.
    /// Written directly as JSON unless the line is over the text limit (then cut by ``SlackLimits/enforce(_:)``).
    public static func compact(_ f: Finding, mentions: [Mention], note: String? = nil) -> SlackMessage {
        compactJSON(f, mentions: mentions, note: note) ?? compactTree(f, mentions: mentions, note: note)
    }

    /// The compact line.
    @inline(__always)
    static func putCompactLine(_ f: Finding, _ mentions: [Mention], _ note: String?, into out: inout some ByteSink) {
        let style = SeverityStyle(f.severityLabel)
        Mention.putPrefix(mentions, into: &out)
        out.putLiteral(style.emojiLiteral)
        out.put(UTF8Bytes.space)
        out.putLiteral(markerLiteral(f))
        out.putLiteral("*")
        out.putLiteral(style.labelLiteral)
        out.putLiteral("* ")
        if f.type.isEmpty { out.putLiteral("(unknown type)") } else { out.putFinding(f.type, inline: true) }
        out.putLiteral(" in ")
        putInlineOrDash(f.account, into: &out)
        out.putLiteral("/")
        putInlineOrDash(f.region, into: &out)
        if let resource = f.resourceSummary ?? f.resourceType, !resource.isEmpty {
            out.putLiteral(" (")
            out.putFinding(resource, inline: true)
            out.putLiteral(")")
        }
        if f.count > 1 {
            out.putLiteral(" x")
            out.put(int: f.count)
        }
        // SlackText.link(f.consoleURL, label: "view"), when the URL is usable
        if UTF8Bytes.hasHTTPPrefix(f.consoleURL) {
            out.putLiteral(" <")
            out.putLinkURL(f.consoleURL)
            out.putLiteral("|view>")
        }
        if let note, !note.isEmpty {
            out.putLiteral(" — :warning: ")
            out.putFinding(note, inline: true)
        }
    }

    /// `{"text":"<line>"}`, or nil when the line might be over the text limit.
    static func compactJSON(_ f: Finding, mentions: [Mention], note: String?) -> SlackMessage? {
        ByteWriter.with(capacity: 1024) { out -> SlackMessage? in
            out.append(#"{"text":""#)
            let start = out.count
            putCompactLine(f, mentions, note, into: &out)
            // The line is never blank (it has the emoji): only an over-long one needs SlackLimits.enforce.
            if out.count - start > SlackLimits.messageText { return nil }
            out.escapeJSON(from: start)
            out.append(#""}"#)
            return SlackMessage(
                rendered: .init(bytes: out.array(), textEnd: out.count - 1, hasBlocks: false, hasAttachments: false))
        }
    }

    static func compactTree(_ f: Finding, mentions: [Mention], note: String?) -> SlackMessage {
        let line = UTF8Sink.build { putCompactLine(f, mentions, note, into: &$0) }
        var m = SlackMessage(text: line)
        if line.utf8.count > SlackLimits.messageText {
            SlackLimits.enforce(&m)
        }
        return m
    }

    // MARK: Custom

    /// A message from what a rule's `format` function returned (converted to JSON): a string (the `text`), or an object
    /// with `text` (string; required unless `blocks` are given), `blocks` (array of block objects) and `attachments`
    /// (array of objects). The rule's strings are used as written (rule authors write mrkdwn and links on purpose, and
    /// escape finding fields with `slack.escape`). Mentions are put before `text` and before the first mrkdwn section
    /// of the top-level blocks (a section is inserted when there is none).
    public static func custom(_ result: JSONValue, mentions: [Mention], note: String? = nil) throws(FormatResultError)
        -> SlackMessage
    {
        let mentionPrefix = Mention.prefix(mentions)
        var text: String?
        var blocks: [JSONValue]?
        var attachments: [JSONValue]?

        switch result {
        case .string(let s):
            text = s
        case .object(let o):
            for key in o.keys where key != "text" && key != "blocks" && key != "attachments" {
                throw FormatResultError(
                    "format result has unknown key '\(printable(key))' (allowed: text, blocks, attachments)")
            }
            if let t = o["text"] {
                guard case .string(let s) = t else {
                    throw FormatResultError("format result 'text' must be a string, got \(typeName(t))")
                }
                text = s
            }
            if let b = o["blocks"] { blocks = try objectArray(b, key: "blocks", requireType: true) }
            if let a = o["attachments"] { attachments = try objectArray(a, key: "attachments", requireType: false) }
        default:
            throw FormatResultError(
                "format result must be a string or a table with text, blocks, attachments; got \(typeName(result))")
        }

        if blocks?.isEmpty == true { blocks = nil }
        if attachments?.isEmpty == true { attachments = nil }
        if text == nil || UTF8Bytes.isAllWhitespace(text!) {
            if blocks == nil && attachments == nil {
                throw FormatResultError(
                    text == nil
                        ? "format result needs 'text' (a string) or 'blocks'"
                        : "format result 'text' is empty and there are no blocks")
            }
            text = SlackLimits.fallbackText(blocks: blocks, attachments: attachments) ?? SlackLimits.defaultText
        }

        var finalText = mentionPrefix + text!
        if let note, !note.isEmpty {
            let noteLine = ":warning: " + SlackText.finding(note)
            if blocks != nil {
                blocks!.append(context([noteLine]))
            } else {
                finalText += "\n" + noteLine
            }
        }
        if !mentionPrefix.isEmpty, var bs = blocks {
            insertMentions(mentionPrefix, into: &bs)
            blocks = bs
        }
        var m = SlackMessage(text: finalText, blocks: blocks, attachments: attachments)
        SlackLimits.enforce(&m)
        // Text only (a format that returns a string): pre-rendered, so delivery serializes it with a copy.
        return m.isTextOnly ? SlackMessage(renderedText: m.text) : m
    }

    /// Prefixes the first mrkdwn section's text with the mentions; inserts a section with just the mentions (after a
    /// leading header) when no block has mrkdwn section text.
    static func insertMentions(_ prefix: String, into blocks: inout [JSONValue]) {
        for i in blocks.indices {
            guard blocks[i]["type"]?.stringValue == "section", var t = blocks[i]["text"],
                t["type"]?.stringValue == "mrkdwn", case .string(let s)? = t["text"]
            else { continue }
            t["text"] = .string(UTF8Bytes.isAllWhitespace(s) ? String(prefix.dropLast()) : prefix + s)
            blocks[i]["text"] = t
            return
        }
        let at = blocks.first?["type"]?.stringValue == "header" ? 1 : 0
        let trimmed = String(prefix.dropLast())  // the trailing space
        blocks.insert(section(trimmed), at: at)
    }

    static func objectArray(_ v: JSONValue, key: String, requireType: Bool) throws(FormatResultError) -> [JSONValue] {
        let items: [JSONValue]
        switch v {
        case .array(let a): items = a
        // An empty Lua table converts to an empty object: treat it as an empty list.
        case .object(let o) where o.count == 0: items = []
        default:
            throw FormatResultError("format result '\(key)' must be an array of objects, got \(typeName(v))")
        }
        for (i, item) in items.enumerated() {
            guard case .object(let o) = item else {
                throw FormatResultError(
                    "format result '\(key)[\(i + 1)]' must be an object, got \(typeName(item))")
            }
            if requireType {
                guard case .string(let t)? = o["type"], !t.isEmpty else {
                    throw FormatResultError("format result '\(key)[\(i + 1)]' has no 'type' string")
                }
            }
        }
        return items
    }

    static func typeName(_ v: JSONValue) -> String {
        switch v {
        case .null: "null"
        case .bool: "boolean"
        case .int, .double: "number"
        case .string: "string"
        case .array: "array"
        case .object: "object"
        }
    }

    /// A key for an error message: control characters shown as `?`, cut at 40 characters.
    static func printable(_ s: String) -> String {
        var out = String.UnicodeScalarView()
        for (n, u) in s.unicodeScalars.enumerated() {
            if n == 40 { out.append("…"); break }
            out.append(SlackText.isUnwanted(u) || u == "\n" || u == "\t" ? "?" : u)
        }
        return String(out)
    }

    // MARK: Pieces

    static func markerLiteral(_ f: borrowing Finding) -> StaticString {
        switch (f.sample, f.archived) {
        case (false, false): ""
        case (true, false): "[SAMPLE] "
        case (false, true): "[ARCHIVED] "
        case (true, true): "[SAMPLE] [ARCHIVED] "
        }
    }

    static func titleText(_ f: Finding) -> String {
        let t = SlackText.findingInline(f.title)
        if !UTF8Bytes.isAllWhitespace(t) { return SlackLimits.truncate(t, to: 500) }
        return f.type.isEmpty ? "(untitled finding)" : SlackText.findingInline(f.type)
    }

    /// `8.0 (HIGH)`; `? (UNKNOWN)` when there is no usable severity.
    static func severityText(_ f: Finding) -> String {
        UTF8Sink.build { putSeverityText(f, into: &$0) }
    }

    /// Puts ``severityText(_:)``.
    static func putSeverityText(_ f: Finding, into out: inout some ByteSink) {
        if f.severityLabel != .unknown, f.severity.isFinite {
            putSeverity(f.severity, into: &out)
        } else {
            out.put(UInt8(ascii: "?"))
        }
        out.putLiteral(" (")
        out.putLiteral(SeverityStyle.literal(f.severityLabel))
        out.put(UInt8(ascii: ")"))
    }

    /// One decimal: 8 -> "8.0", 5.25 -> "5.3".
    public static func formatSeverity(_ s: Double) -> String {
        UTF8Sink.build { putSeverity(s, into: &$0) }
    }

    /// Puts ``formatSeverity(_:)``.
    static func putSeverity(_ s: Double, into out: inout some ByteSink) {
        guard s.isFinite, abs(s) < 1e9 else {
            out.put(UInt8(ascii: "?"))
            return
        }
        let tenths = Int((s * 10).rounded())
        if tenths < 0 { out.put(UInt8(ascii: "-")) }
        let a = abs(tenths)
        out.put(int: a / 10)
        out.put(UInt8(ascii: "."))
        out.put(0x30 + UInt8(a % 10))
    }

    static func mrkdwn(_ s: String) -> JSONValue {
        ["type": "mrkdwn", "text": .string(s), "verbatim": true]
    }

    static func section(_ s: String) -> JSONValue {
        ["type": "section", "text": mrkdwn(s)]
    }

    static func context(_ texts: [String]) -> JSONValue {
        ["type": "context", "elements": .array(texts.map { mrkdwn($0) })]
    }
}
