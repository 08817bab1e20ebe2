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
    public static func detailed(_ f: Finding, mentions: [Mention], note: String? = nil) -> SlackMessage {
        let style = SeverityStyle(f.severityLabel)
        let markers = markerPrefix(f)
        let type = f.type.isEmpty ? "(unknown type)" : SlackText.findingInline(f.type)
        let title = titleText(f)
        let mentionPrefix = Mention.prefix(mentions)
        let account = SlackText.findingInline(f.account)
        let region = SlackText.findingInline(f.region)

        // Each text is built once, in place. Whether the message is within Slack's limits is then known from byte
        // lengths (bytes >= scalars): only a message that might not be goes through SlackLimits.enforce, which
        // leaves a message within the limits as it is.
        var withinLimits = true
        var blockText = 0  // bytes of text in all blocks, as SlackLimits.enforceBudget counts them
        func check(_ s: String, _ limit: Int) {
            let n = s.utf8.count
            blockText += n
            if n > limit || n == 0 { withinLimits = false }
        }

        let text = UTF8Sink.build { out in
            out.put(mentionPrefix)
            out.put(style.emoji)
            out.put(UTF8Bytes.space)
            out.put(markers)
            out.put(style.wording)
            out.put(": ")
            out.put(title)
            out.put(" (account ")
            out.put(orDash(account))
            out.put(", ")
            out.put(orDash(region))
            out.put(")")
        }
        if text.utf8.count > SlackLimits.messageText { withinLimits = false }

        let header = UTF8Sink.build { out in
            out.put(style.emoji)
            out.put(UTF8Bytes.space)
            out.put(markers)
            out.put(f.severityLabel.rawValue)
            out.put(UTF8Bytes.space)
            out.put(type)
        }
        check(header, SlackLimits.headerText)
        let headline = UTF8Sink.build { out in
            out.put(mentionPrefix)
            out.put("*")
            out.put(title)
            out.put("*")
        }
        check(headline, SlackLimits.sectionText)

        var blocks: [JSONValue] = []
        blocks.reserveCapacity(3)
        blocks.append([
            "type": "header",
            "text": ["type": "plain_text", "text": .string(header), "emoji": true],
        ])
        blocks.append(section(headline))
        if let note, !note.isEmpty {
            let noteLine = UTF8Sink.build { out in
                out.put(":warning: ")
                out.putFinding(note, inline: false)
            }
            check(noteLine, SlackLimits.contextText)
            blocks.append(["type": "context", "elements": [mrkdwn(noteLine)]])
        }

        var details: [JSONValue] = []
        details.reserveCapacity(3)
        let description = SlackText.finding(f.description)
        if !UTF8Bytes.isAllWhitespace(description) {
            let cut = SlackLimits.truncate(description, to: descriptionLimit)
            check(cut, SlackLimits.sectionText)
            details.append(section(cut))
        }
        var fields: [JSONValue] = []
        fields.reserveCapacity(9)
        func addField(_ label: String, _ value: String) {
            let s = field(label, value)
            check(s, SlackLimits.fieldText)
            fields.append(mrkdwn(s))
        }
        // A field whose value is never empty, put directly.
        func addField(_ label: String, _ putValue: (inout UTF8Sink) -> Void) {
            let s = UTF8Sink.build { out in
                out.put(UInt8(ascii: "*"))
                out.put(label)
                out.put("*\n")
                putValue(&out)
            }
            check(s, SlackLimits.fieldText)
            fields.append(mrkdwn(s))
        }
        addField("Account", account)
        addField("Region", region)
        addField("Severity") { putSeverityText(f, into: &$0) }
        addField("Count") { $0.put(int: f.count) }
        addField("Resource", SlackText.finding(f.resourceSummary ?? f.resourceType ?? ""))
        addField("First seen", SlackText.findingInline(f.firstSeen ?? ""))
        addField("Last seen", SlackText.findingInline(f.lastSeen ?? ""))
        if f.archived { addField("Archived", "yes (archived in GuardDuty)") }
        if f.sample { addField("Sample", "yes (generated sample finding)") }
        details.append([
            "type": "section",
            "fields": .array(fields),
        ])
        let linkable = UTF8Bytes.hasHTTPPrefix(f.consoleURL)
        let contextText = UTF8Sink.build { out in
            out.put("Finding `")
            if f.id.isEmpty { out.put("—") } else { out.putFinding(f.id, inline: true) }
            out.put("`")
            if let updated = f.updatedAt, !updated.isEmpty {
                out.put(" · updated ")
                out.putFinding(updated, inline: true)
            }
            out.put(" · ")
            // SlackText.link(f.consoleURL, label: "Open in GuardDuty console")
            if linkable {
                out.put(UTF8Bytes.lt)
                out.putLinkURL(f.consoleURL)
                out.put("|Open in GuardDuty console>")
            } else {
                out.put("Open in GuardDuty console")
            }
        }
        check(contextText, SlackLimits.contextText)
        details.append(["type": "context", "elements": [mrkdwn(contextText)]])

        var m = SlackMessage(
            text: text,
            blocks: blocks,
            attachments: [["color": .string(style.color), "blocks": .array(details)]]
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
    public static func compact(_ f: Finding, mentions: [Mention], note: String? = nil) -> SlackMessage {
        let style = SeverityStyle(f.severityLabel)
        let markers = markerPrefix(f)
        let resource = f.resourceSummary ?? f.resourceType
        let linkable = UTF8Bytes.hasHTTPPrefix(f.consoleURL)
        let line = UTF8Sink.build { out in
            Mention.putPrefix(mentions, into: &out)
            out.put(style.emoji)
            out.put(UTF8Bytes.space)
            out.put(markers)
            out.put("*")
            out.put(f.severityLabel.rawValue)
            out.put("* ")
            if f.type.isEmpty { out.put("(unknown type)") } else { out.putFinding(f.type, inline: true) }
            out.put(" in ")
            if f.account.isEmpty { out.put("—") } else { out.putFinding(f.account, inline: true) }
            out.put("/")
            if f.region.isEmpty { out.put("—") } else { out.putFinding(f.region, inline: true) }
            if let resource, !resource.isEmpty {
                out.put(" (")
                out.putFinding(resource, inline: true)
                out.put(")")
            }
            if f.count > 1 {
                out.put(" x")
                out.put(int: f.count)
            }
            // SlackText.link(f.consoleURL, label: "view"), when the URL is usable
            if linkable {
                out.put(" <")
                out.putLinkURL(f.consoleURL)
                out.put("|view>")
            }
            if let note, !note.isEmpty {
                out.put(" — :warning: ")
                out.putFinding(note, inline: true)
            }
        }
        var m = SlackMessage(text: line)
        // The line is never blank (it has the emoji): only an over-long one needs SlackLimits.enforce.
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
        return m
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

    static func markerPrefix(_ f: Finding) -> String {
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
    static func putSeverityText(_ f: Finding, into out: inout UTF8Sink) {
        if f.severityLabel != .unknown, f.severity.isFinite {
            putSeverity(f.severity, into: &out)
        } else {
            out.put(UInt8(ascii: "?"))
        }
        out.put(" (")
        out.put(f.severityLabel.rawValue)
        out.put(UInt8(ascii: ")"))
    }

    /// One decimal: 8 -> "8.0", 5.25 -> "5.3".
    public static func formatSeverity(_ s: Double) -> String {
        UTF8Sink.build { putSeverity(s, into: &$0) }
    }

    /// Puts ``formatSeverity(_:)``.
    static func putSeverity(_ s: Double, into out: inout UTF8Sink) {
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

    static func orDash(_ s: String) -> String { s.isEmpty ? "—" : s }

    static func field(_ label: String, _ value: String) -> String {
        UTF8Sink.build { out in
            out.put("*")
            out.put(label)
            out.put("*\n")
            out.put(orDash(value))
        }
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
