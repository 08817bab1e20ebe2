import RouterJSON

extension SlackMessage {
    /// Readable multi-line text of what Slack would show, for humans (`router test`): the header, section text and
    /// fields as `Label: value` lines, context lines, and each attachment's blocks behind a `┃` bar with its colour.
    /// mrkdwn is made readable: `&lt;` shows as `<`, `<!here>` as `@here`, `<url|label>` as `label (url)`. Lines are
    /// wrapped at `width` characters. When there are top-level blocks, the notification text comes first.
    public func preview(width: Int = 100) -> String {
        let width = max(width, 20)
        let (text, blocks, attachments) = decoded()  // one decoding for a pre-rendered message
        var lines: [String] = []
        if let blocks, !blocks.isEmpty {
            lines.append("notification: " + Preview.plain(text).replacingNewlines())
            for b in blocks { Preview.render(b, into: &lines) }
        } else {
            lines.append(contentsOf: Preview.plain(text).splitLines())
        }
        for a in attachments ?? [] {
            var inner: [String] = []
            let color = a["color"]?.stringValue.map { " " + Preview.plain($0) } ?? ""
            inner.append("[attachment\(color)]")
            for key in ["pretext", "title", "text"] {
                if let s = a[key]?.stringValue { inner.append(contentsOf: Preview.plain(s).splitLines()) }
            }
            for b in a["blocks"]?.arrayValue ?? [] { Preview.render(b, into: &inner) }
            lines.append(contentsOf: inner.map { "┃ " + $0 })
        }
        var out: [String] = []
        for line in lines { out.append(contentsOf: Preview.wrap(line, width: width)) }
        return out.joined(separator: "\n")
    }
}

enum Preview {
    static func render(_ b: JSONValue, into lines: inout [String]) {
        let type = b["type"]?.stringValue ?? "?"
        switch type {
        case "header":
            let t = plain(b["text"]?["text"]?.stringValue ?? "").replacingNewlines()
            lines.append(t)
            lines.append(String(repeating: "═", count: min(max(t.count, 3), 60)))
        case "section":
            if let t = b["text"]?["text"]?.stringValue ?? b["text"]?.stringValue {
                lines.append(contentsOf: plain(t).splitLines())
            }
            for f in b["fields"]?.arrayValue ?? [] {
                guard let t = f["text"]?.stringValue ?? f.stringValue else { continue }
                lines.append(fieldLine(plain(t)))
            }
            if let acc = b["accessory"], let at = acc["type"]?.stringValue {
                lines.append("[\(at)]")
            }
        case "context":
            var parts: [String] = []
            for e in b["elements"]?.arrayValue ?? [] {
                if let t = e["text"]?.stringValue {
                    parts.append(plain(t).replacingNewlines())
                } else if e["type"]?.stringValue == "image" {
                    parts.append("[image" + (e["alt_text"]?.stringValue.map { ": " + plain($0) } ?? "") + "]")
                }
            }
            lines.append("  " + parts.joined(separator: " · "))
        case "divider":
            lines.append(String(repeating: "─", count: 20))
        case "markdown":
            lines.append(contentsOf: plain(b["text"]?.stringValue ?? "").splitLines())
        case "image":
            lines.append("[image" + (b["alt_text"]?.stringValue.map { ": " + plain($0) } ?? "") + "]")
        case "actions":
            let labels = (b["elements"]?.arrayValue ?? []).compactMap { $0["text"]?["text"]?.stringValue }.map(plain)
            lines.append("[" + (labels.isEmpty ? "actions" : labels.joined(separator: "] [")) + "]")
        default:
            var texts: [String] = []
            collectText(b, into: &texts)
            if texts.isEmpty {
                lines.append("[\(plain(type)) block]")
            } else {
                lines.append(contentsOf: plain(texts.joined()).splitLines())
            }
        }
    }

    static func collectText(_ v: JSONValue, into out: inout [String]) {
        switch v {
        case .object(let o):
            for key in o.keys {
                guard let child = o[key] else { continue }
                if key == "text", case .string(let s) = child { out.append(s) } else { collectText(child, into: &out) }
            }
        case .array(let a):
            for x in a { collectText(x, into: &out) }
        default:
            break
        }
    }

    /// `*Label*\nvalue` -> `Label: value`; anything else on one line.
    static func fieldLine(_ t: String) -> String {
        let parts = t.split(separator: "\n", maxSplits: 1, omittingEmptySubsequences: false)
        if parts.count == 2 {
            var label = parts[0]
            if label.hasPrefix("*") && label.hasSuffix("*") && label.count >= 2 {
                label = label.dropFirst().dropLast()
            }
            return String(label) + ": " + String(parts[1]).replacingNewlines()
        }
        return t.replacingNewlines()
    }

    /// mrkdwn made readable: `<...>` spans resolved, entities decoded, control characters replaced.
    static func plain(_ s: String) -> String {
        var out = ""
        var rest = Substring(s)
        while let lt = rest.firstIndex(of: "<") {
            out += rest[..<lt]
            let after = rest[rest.index(after: lt)...]
            guard let gt = after.firstIndex(of: ">") else {
                out += rest[lt...]
                rest = ""
                break
            }
            out += span(after[..<gt])
            rest = after[after.index(after: gt)...]
        }
        out += rest
        return SlackText.sanitize(SlackText.unescape(out))
    }

    static func span(_ inner: Substring) -> String {
        let parts = inner.split(separator: "|", maxSplits: 1, omittingEmptySubsequences: false)
        let target = parts[0]
        let label = parts.count > 1 ? String(parts[1]) : nil
        if target.hasPrefix("!subteam^") { return "@" + (label ?? String(target.dropFirst(9))) }
        if target.hasPrefix("!date^") { return label ?? "(date)" }
        if target.hasPrefix("!") { return "@" + target.dropFirst() }
        if target.hasPrefix("@") { return "@" + (label ?? String(target.dropFirst())) }
        if target.hasPrefix("#") { return "#" + (label ?? String(target.dropFirst())) }
        if let label { return label + " (" + target + ")" }
        return String(target)
    }

    /// Word-wraps one line at `width` characters, continuation lines keep the line's leading `┃ ` bars and indent.
    /// Words longer than the width (URLs) are kept whole.
    static func wrap(_ line: String, width: Int) -> [String] {
        if line.count <= width { return [line] }
        var indent = ""
        for ch in line {
            if ch == "┃" || ch == " " { indent.append(ch) } else { break }
        }
        if indent.count > width / 2 { indent = "" }
        var out: [String] = []
        var current = Substring(line)
        var first = true
        while true {
            let prefix = first ? "" : indent
            let room = width - prefix.count
            if current.count <= room {
                out.append(prefix + current)
                break
            }
            // Break at the last space that fits; a word longer than the room (a URL) is not broken but overflows.
            let limit = current.index(current.startIndex, offsetBy: room)
            var cut = current[..<limit].lastIndex(of: " ") ?? current.startIndex
            if cut == current.startIndex {
                guard let next = current[limit...].firstIndex(of: " ") else {
                    out.append(prefix + current)
                    break
                }
                cut = next
            }
            out.append(prefix + current[..<cut])
            current = current[cut...].drop(while: { $0 == " " })
            first = false
            if current.isEmpty { break }
        }
        return out
    }
}

extension String {
    func replacingNewlines() -> String {
        guard contains(where: \.isNewline) else { return self }
        return String(map { $0.isNewline ? " " : $0 })
    }

    func splitLines() -> [String] {
        split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
    }
}
