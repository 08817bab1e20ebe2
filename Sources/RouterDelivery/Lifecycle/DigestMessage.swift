import RouterJSON
import RouterSlack

/// One finding listed in a digest.
public struct DigestEntry: Sendable, Equatable {
    public var findingId: String
    public var type: String
    public var severityLabel: String
    public var account: String
    public var resource: String?

    public init(findingId: String, type: String, severityLabel: String, account: String, resource: String?) {
        self.findingId = findingId
        self.type = type
        self.severityLabel = severityLabel
        self.account = account
        self.resource = resource
    }
}

/// The message that lists many findings at once when a channel's backlog is longer than its pace can post in the
/// digest window: a table of type, severity, account, resource and count (findings with the same four), most severe
/// first. Within Slack's limits: a header, at most `maxRowsPerSection` rows per section (each section well under
/// 3,000 characters), at most 50 blocks, and a top-level text that says how many findings it holds.
public enum DigestMessage {
    public static let maxRowsPerSection = 10
    /// Rows beyond this are summed into one last line (`... and 12 more kinds (40 findings)`), so a digest never
    /// exceeds Slack's 50 blocks.
    public static let maxRows = 400

    public struct Row: Sendable, Equatable {
        public var type: String
        public var severityLabel: String
        public var account: String
        public var resource: String
        public var count: Int
    }

    /// Rows grouped by (type, severity, account, resource), most severe first, then by count, then by type.
    public static func rows(_ entries: [DigestEntry]) -> [Row] {
        var order: [String] = []
        var byKey: [String: Row] = [:]
        for e in entries {
            let resource = e.resource ?? "-"
            let key = [e.type, e.severityLabel, e.account, resource].joined(separator: "\u{1F}")
            if byKey[key] == nil {
                order.append(key)
                byKey[key] = Row(type: e.type, severityLabel: e.severityLabel, account: e.account, resource: resource, count: 0)
            }
            byKey[key]!.count += 1
        }
        return order.compactMap { byKey[$0] }.enumerated().sorted { a, b in
            let (x, y) = (a.element, b.element)
            if SeverityRank.of(x.severityLabel) != SeverityRank.of(y.severityLabel) {
                return SeverityRank.of(x.severityLabel) > SeverityRank.of(y.severityLabel)
            }
            if x.count != y.count { return x.count > y.count }
            return a.offset < b.offset
        }.map(\.element)
    }

    /// A finding-derived cell: escaped, on one line, at most 120 characters, without backticks (which would end the
    /// code span).
    static func cell(_ s: String) -> String {
        let t = SlackText.findingInline(s).replacingBackticks()
        return t.count > 120 ? String(t.prefix(119)) + "…" : t
    }

    /// The `chat.postMessage` (or webhook) body, without `channel`. `mentions` is the rules' mention prefix
    /// (`<!here> `), put before the text; every finding-derived string is escaped.
    public static func payload(entries: [DigestEntry], mentions: String) -> JSONValue {
        let rows = rows(entries)
        let findings = entries.count
        var bySeverity: [String: Int] = [:]
        for e in entries { bySeverity[e.severityLabel, default: 0] += 1 }
        let breakdown = bySeverity.sorted { SeverityRank.of($0.key) > SeverityRank.of($1.key) }
            .map { "\($0.value) \(SlackText.escape($0.key))" }.joined(separator: ", ")
        let summary = "GuardDuty digest: \(findings) finding\(findings == 1 ? "" : "s") (\(breakdown))"
        var blocks: [JSONValue] = [
            .object(["type": "header", "text": .object(["type": "plain_text", "text": .string(String(summary.prefix(150)))])]),
            .object([
                "type": "context",
                "elements": .array([
                    .object([
                        "type": "mrkdwn",
                        "text": .string(
                            "Too many findings arrived at once for this channel's pace: the ones that are not CRITICAL are listed here. Later updates of a finding are posted on their own."
                        ),
                    ])
                ]),
            ]),
        ]
        var lines: [String] = rows.prefix(maxRows).map { r in
            let resource = r.resource == "-" ? "-" : cell(r.resource)
            return "*\(cell(r.severityLabel))* `\(cell(r.type))` · \(cell(r.account)) · \(resource)"
                + (r.count > 1 ? " · *\(r.count)*" : "")
        }
        if rows.count > maxRows {
            let rest = rows.dropFirst(maxRows)
            lines.append("... and \(rest.count) more kinds (\(rest.reduce(0) { $0 + $1.count }) findings)")
        }
        var i = 0
        while i < lines.count {
            let chunk = lines[i..<min(i + maxRowsPerSection, lines.count)]
            var text = chunk.joined(separator: "\n")
            if text.utf8.count > 2900 { text = String(text.prefix(2900)) + "..." }
            blocks.append(.object(["type": "section", "text": .object(["type": "mrkdwn", "text": .string(text)])]))
            i += maxRowsPerSection
        }
        return .object(["text": .string(mentions + summary), "blocks": .array(blocks), "unfurl_links": false])
    }
}


extension String {
    fileprivate func replacingBackticks() -> String {
        String(unicodeScalars.map { $0 == "`" ? "'" : Character($0) })
    }
}
