import RouterJSON

/// Slack's message limits, and their enforcement: a rendered message is made to fit rather than rejected, since
/// `invalid_blocks` / `msg_blocks_too_long` reject the whole message.
///
/// Lengths are counted in Unicode scalars (what Slack and slack-sdk's `len()` count: characters, not bytes, and not
/// grapheme clusters, of which an emoji sequence has fewer), while cuts are made only at grapheme-cluster
/// boundaries, never inside a `&amp;`-style entity or a `<...>` mention/link.
public enum SlackLimits {
    /// Blocks per list (top-level `blocks`, and each attachment's `blocks`).
    public static let maxBlocks = 50
    /// `header` block: plain_text at most 150 characters.
    public static let headerText = 150
    /// `section.text`: 1 to 3000 characters.
    public static let sectionText = 3000
    /// `section.fields`: at most 10, each 1 to 2000 characters.
    public static let maxFields = 10
    public static let fieldText = 2000
    /// `context.elements`: at most 10; each text element at most 3000 characters (the text-object maximum).
    public static let maxContextElements = 10
    public static let contextText = 3000
    /// `markdown` block text (slack-sdk: 12,000).
    public static let markdownText = 12_000
    /// Top-level `text`: Slack truncates beyond 40,000 characters.
    public static let messageText = 40_000
    /// Attachments: Slack advises at most 20.
    public static let maxAttachments = 20
    /// A conservative budget for the text of all blocks of one message together (top-level and in attachments):
    /// `msg_blocks_too_long` has been seen at about 13,000 characters, below the documented sums.
    public static let blockTextBudget = 12_000

    /// Appended where text was cut.
    public static let truncationMarker = "… (truncated)"
    /// Replaces empty text where Slack requires at least one character.
    public static let emptyText = "(empty)"
    /// What `text` becomes when it is empty and no section text can stand in for it.
    public static let defaultText = "GuardDuty finding"

    // MARK: - Counting and cutting

    /// The length Slack counts: Unicode scalars.
    @inline(__always)
    public static func length(_ s: String) -> Int {
        UTF8Bytes.scalarCount(s)
    }

    /// True when `s` is at most `limit` characters; O(1) for the common case of a short native string.
    @inline(__always)
    public static func fits(_ s: String, _ limit: Int) -> Bool {
        // UTF-8 length >= scalar count, so a short byte length is a quick yes.
        s.utf8.count <= limit || UTF8Bytes.scalarCount(s) <= limit
    }

    /// `s` cut to at most `limit` characters (scalars) including ``truncationMarker``; unchanged when it fits.
    /// The cut is at a grapheme-cluster boundary, not inside an entity (`&amp;`) or a `<...>` span, and trailing
    /// whitespace before the marker is dropped.
    public static func truncate(_ s: String, to limit: Int, marker: String = truncationMarker) -> String {
        if fits(s, limit) { return s }
        let markerLength = length(marker)
        guard limit > markerLength else {
            return String(s[..<prefixEnd(s, scalars: max(limit, 0))])
        }
        var cut = prefixEnd(s, scalars: limit - markerLength)
        cut = safeCut(s, cut)
        let end = trailingWhitespaceStart(s, before: cut)
        let head = s[..<end]
        return UTF8Sink.build { out in
            out.put(head)
            out.put(marker)
        }
    }

    /// The end of the longest prefix of whole Characters whose scalar count is at most `scalars`.
    ///
    /// Walks bytes: an ASCII byte other than `\r` followed by an ASCII byte (or the end) is a Character of one scalar
    /// on its own (no grapheme rule joins two ASCII scalars other than `\r\n`, and the walk only stands on Character
    /// boundaries); anything else is stepped over with the standard library's `index(after:)`.
    static func prefixEnd(_ s: String, scalars: Int) -> String.Index {
        let offset = UTF8Bytes.withBytes(s) { p -> Int in
            let count = p.count
            var i = 0
            var n = 0
            var index: String.Index? = nil  // a Character-aligned index at `i` while in the slow walk
            while i < count {
                let b = p[i]
                if b < 0x80 && b != UTF8Bytes.cr && (i + 1 == count || p[i + 1] < 0x80) {
                    if n >= scalars { return i }
                    n += 1
                    i += 1
                    index = nil
                    continue
                }
                let here = index ?? s.utf8.index(s.utf8.startIndex, offsetBy: i)
                let next = s.index(after: here)
                let nextOffset = s.utf8.distance(from: s.utf8.startIndex, to: next)
                let c = UTF8Bytes.scalarCount(UnsafeBufferPointer(rebasing: p[i..<nextOffset]))
                if n + c > scalars { return i }
                n += c
                i = nextOffset
                index = next
            }
            return count
        }
        return s.utf8.index(s.utf8.startIndex, offsetBy: offset)
    }

    /// Moves `cut` back so that it does not fall inside a `<...>` span (a mention or link that continues past the
    /// cut) or an `&...;` entity.
    ///
    /// The searches run on bytes. A `<` `>` `&` `;` or newline byte with ASCII neighbours is that Character on its
    /// own; where a byte found has a non-ASCII neighbour (a combining mark after `<` makes a different Character),
    /// the Character-based version, ``characterSafeCut(_:_:)``, decides.
    static func safeCut(_ s: String, _ cut: String.Index) -> String.Index {
        let c = s.utf8.distance(from: s.utf8.startIndex, to: cut)
        let decided: Int? = UTF8Bytes.withBytes(s) { p -> Int? in
            var cut = c
            guard let lt = lastCharacter(UTF8Bytes.lt, in: p, 0, cut) else { return nil }
            if lt >= 0 {
                guard let gtInside = containsCharacter(UTF8Bytes.gt, in: p, lt, cut) else { return nil }
                if !gtInside {
                    guard let lfInside = containsCharacter(UTF8Bytes.lf, in: p, lt, cut) else { return nil }
                    if !lfInside {
                        guard let gtAfter = containsCharacter(UTF8Bytes.gt, in: p, cut, p.count) else { return nil }
                        if gtAfter { cut = lt }
                    }
                }
            }
            guard let amp = lastCharacter(UTF8Bytes.amp, in: p, 0, cut) else { return nil }
            if amp >= 0 {
                guard let semi = containsCharacter(UTF8Bytes.semicolon, in: p, amp, cut) else { return nil }
                if !semi && isEntity(at: s.utf8.index(s.utf8.startIndex, offsetBy: amp), in: s) {
                    cut = amp
                }
            }
            return cut
        }
        guard let decided else { return characterSafeCut(s, cut) }
        return s.utf8.index(s.utf8.startIndex, offsetBy: decided)
    }

    /// ``safeCut(_:_:)`` on Characters.
    static func characterSafeCut(_ s: String, _ cut: String.Index) -> String.Index {
        var cut = cut
        let head = s[..<cut]
        if let lt = head.lastIndex(of: "<") {
            let inside = s[lt..<cut]
            if !inside.contains(">") && !inside.contains("\n") && s[cut...].contains(">") {
                cut = lt
            }
        }
        if let amp = s[..<cut].lastIndex(of: "&") {
            let inside = s[amp..<cut]
            if !inside.contains(";") && isEntity(at: amp, in: s) {
                cut = amp
            }
        }
        return cut
    }

    /// Whether the ASCII byte at `k` of `p[start..<end]` is certainly a Character of its own within that range: its
    /// neighbours are ASCII (or the range ends) and it is not the `\n` of `\r\n`. False means "not certain".
    @inline(__always)
    static func isWholeCharacter(_ p: UnsafeBufferPointer<UInt8>, _ k: Int, _ start: Int, _ end: Int) -> Bool {
        (k == start || (p[k - 1] < 0x80 && p[k - 1] != UTF8Bytes.cr)) && (k + 1 == end || p[k + 1] < 0x80)
    }

    /// Whether `p[start..<end]` contains the ASCII Character `byte`; nil when only the Character view can tell.
    static func containsCharacter(_ byte: UInt8, in p: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int) -> Bool? {
        var uncertain = false
        var k = start
        while k < end {
            if p[k] == byte {
                if isWholeCharacter(p, k, start, end) { return true }
                uncertain = true
            }
            k += 1
        }
        return uncertain ? nil : false
    }

    /// The offset of the last ASCII Character `byte` in `p[start..<end]`, -1 when there is none; nil when only the
    /// Character view can tell.
    static func lastCharacter(_ byte: UInt8, in p: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int) -> Int? {
        var k = end - 1
        while k >= start {
            if p[k] == byte { return isWholeCharacter(p, k, start, end) ? k : nil }
            k -= 1
        }
        return -1
    }

    /// The start of the whitespace Characters that end `s[..<end]` (`end` itself when there are none).
    static func trailingWhitespaceStart(_ s: String, before end: String.Index) -> String.Index {
        let e = s.utf8.distance(from: s.utf8.startIndex, to: end)
        let offset = UTF8Bytes.withBytes(s) { p -> Int in
            var e = e
            while e > 0 {
                let b = p[e - 1]
                if b < 0x80 {
                    // An ASCII byte that is not whitespace ends a Character that is not whitespace.
                    if !UTF8Bytes.isASCIIWhitespace(b) { return e }
                    // Whitespace after an ASCII byte is a whitespace Character of its own (or the `\n` of `\r\n`).
                    if e == 1 || p[e - 2] < 0x80 {
                        e -= 1
                        continue
                    }
                }
                let head = s[..<s.utf8.index(s.utf8.startIndex, offsetBy: e)]
                guard let last = head.last, last.isWhitespace else { return e }
                e = s.utf8.distance(from: s.utf8.startIndex, to: head.index(before: head.endIndex))
            }
            return e
        }
        return s.utf8.index(s.utf8.startIndex, offsetBy: offset)
    }

    /// `&name;` or `&#123;` (up to 10 characters of name) starting at `i`.
    static func isEntity(at i: String.Index, in s: String) -> Bool {
        var j = s.unicodeScalars.index(after: i)
        var n = 0
        while j < s.unicodeScalars.endIndex, n <= 10 {
            let u = s.unicodeScalars[j]
            if u == ";" { return n > 0 }
            guard u.properties.isAlphabetic || ("0"..."9").contains(u) || u == "#" else { return false }
            n += 1
            j = s.unicodeScalars.index(after: j)
        }
        return false
    }

    // MARK: - Enforcement

    /// Makes `m` fit Slack's limits; never fails. Text beyond a limit is cut with ``truncationMarker``; blocks,
    /// fields, context elements and attachments beyond their counts are replaced by one "N more ... omitted" item;
    /// empty required text becomes ``emptyText``. A message that already fits is left as is (checked first, only
    /// the parts over a limit are rebuilt).
    public static func enforce(_ m: inout SlackMessage) {
        // Top-level text.
        if !fits(m.text, messageText) {
            m.text = truncate(m.text, to: messageText)
        }
        if UTF8Bytes.isAllWhitespace(m.text) {
            m.text = fallbackText(blocks: m.blocks, attachments: m.attachments) ?? defaultText
        }

        // Top-level blocks.
        if var blocks = m.blocks {
            if blocks.isEmpty {
                m.blocks = nil
            } else if enforceBlockList(&blocks) {
                m.blocks = blocks
            }
        }

        // Attachments.
        if var attachments = m.attachments {
            var changed = false
            if attachments.isEmpty {
                m.attachments = nil
            } else {
                if attachments.count > maxAttachments {
                    let omitted = attachments.count - (maxAttachments - 1)
                    attachments.removeLast(omitted)
                    attachments.append(omissionAttachment("\(omitted) more attachments omitted"))
                    changed = true
                }
                for i in attachments.indices {
                    guard case .array(var blocks)? = attachments[i]["blocks"] else { continue }
                    if enforceBlockList(&blocks) {
                        attachments[i]["blocks"] = .array(blocks)
                        changed = true
                    }
                }
                if changed { m.attachments = attachments }
            }
        }

        enforceBudget(&m)
    }

    /// Per-list limits: count, then each block. Returns whether anything changed.
    static func enforceBlockList(_ blocks: inout [JSONValue]) -> Bool {
        var changed = false
        if blocks.count > maxBlocks {
            let omitted = blocks.count - (maxBlocks - 1)
            blocks.removeLast(omitted)
            blocks.append(omissionContext("\(omitted) more blocks omitted"))
            changed = true
        }
        for i in blocks.indices where !blockFits(blocks[i]) {
            fixBlock(&blocks[i])
            changed = true
        }
        return changed
    }

    /// `block_id`: at most 255 characters (slack-sdk); cut without a marker.
    public static let blockID = 255
    /// `image` block `alt_text` and `title`: at most 2000 characters (slack-sdk).
    public static let imageText = 2000
    /// `actions.elements`: at most 25 (slack-sdk).
    public static let maxActionElements = 25

    /// Whether a block is within its per-block limits (no allocation).
    static func blockFits(_ b: JSONValue) -> Bool {
        guard case .object(let o) = b, case .string(let type)? = o["type"] else { return true }
        if case .string(let id)? = o["block_id"], !fits(id, blockID) { return false }
        switch type {
        case "header":
            return textObjectFits(o["text"], headerText)
        case "section":
            if let t = o["text"], !textObjectFits(t, sectionText) { return false }
            if case .array(let fields)? = o["fields"] {
                if fields.count > maxFields { return false }
                for f in fields where !textObjectFits(f, fieldText) { return false }
            }
            return true
        case "context":
            guard case .array(let elements)? = o["elements"] else { return true }
            if elements.count > maxContextElements { return false }
            for e in elements where isTextObject(e) && !textObjectFits(e, contextText) { return false }
            return true
        case "markdown":
            guard case .string(let s)? = o["text"] else { return true }
            return !s.isEmpty && fits(s, markdownText)
        case "image":
            if case .string(let s)? = o["alt_text"], !fits(s, imageText) { return false }
            return textObjectFits(o["title"], imageText)
        case "actions":
            guard case .array(let elements)? = o["elements"] else { return true }
            return elements.count <= maxActionElements
        default:
            return true
        }
    }

    static func isTextObject(_ v: JSONValue) -> Bool {
        guard case .string(let t)? = v["type"] else { return false }
        return t == "mrkdwn" || t == "plain_text"
    }

    /// A text object (`{"type": ..., "text": "..."}`) whose text is 1...limit characters; non-objects pass (they are
    /// not ours to repair).
    static func textObjectFits(_ v: JSONValue?, _ limit: Int) -> Bool {
        guard let v, case .string(let s)? = v["text"] else { return true }
        return !s.isEmpty && fits(s, limit)
    }

    static func fixTextObject(_ v: inout JSONValue, _ limit: Int) {
        guard case .string(let s)? = v["text"] else { return }
        if s.isEmpty {
            v["text"] = .string(emptyText)
        } else if !fits(s, limit) {
            v["text"] = .string(truncate(s, to: limit))
        }
    }

    static func fixBlock(_ b: inout JSONValue) {
        guard case .string(let type)? = b["type"] else { return }
        if case .string(let id)? = b["block_id"], !fits(id, blockID) {
            b["block_id"] = .string(String(id[..<prefixEnd(id, scalars: blockID)]))
        }
        switch type {
        case "header":
            if var t = b["text"] {
                fixTextObject(&t, headerText)
                b["text"] = t
            }
        case "section":
            if var t = b["text"], !textObjectFits(t, sectionText) {
                fixTextObject(&t, sectionText)
                b["text"] = t
            }
            if case .array(var fields)? = b["fields"] {
                if fields.count > maxFields {
                    let omitted = fields.count - (maxFields - 1)
                    fields.removeLast(omitted)
                    fields.append(["type": "mrkdwn", "text": .string("_\(omitted) more fields omitted_")])
                }
                for i in fields.indices { fixTextObject(&fields[i], fieldText) }
                b["fields"] = .array(fields)
            }
        case "context":
            if case .array(var elements)? = b["elements"] {
                if elements.count > maxContextElements {
                    let omitted = elements.count - (maxContextElements - 1)
                    elements.removeLast(omitted)
                    elements.append(["type": "mrkdwn", "text": .string("\(omitted) more omitted")])
                }
                for i in elements.indices where isTextObject(elements[i]) { fixTextObject(&elements[i], contextText) }
                b["elements"] = .array(elements)
            }
        case "markdown":
            if case .string(let s)? = b["text"] {
                b["text"] = .string(s.isEmpty ? emptyText : truncate(s, to: markdownText))
            }
        case "image":
            if case .string(let s)? = b["alt_text"], !fits(s, imageText) {
                b["alt_text"] = .string(truncate(s, to: imageText))
            }
            if var t = b["title"], !textObjectFits(t, imageText) {
                fixTextObject(&t, imageText)
                b["title"] = t
            }
        case "actions":
            if case .array(var elements)? = b["elements"], elements.count > maxActionElements {
                elements.removeLast(elements.count - maxActionElements)
                b["elements"] = .array(elements)
            }
        default:
            break
        }
    }

    // MARK: Budget across all blocks

    /// Characters of text in a block: every string under a `text` key, at any depth (text objects, fields, context
    /// and rich-text elements).
    public static func blockTextLength(_ v: JSONValue) -> Int {
        switch v {
        case .object(let o):
            var n = 0
            for member in o {
                // As `o[key]` sees it: the first member with that key (duplicates count it again).
                guard let child = o[member.key] else { continue }
                if member.key == "text", case .string(let s) = child {
                    n += length(s)
                } else {
                    n += blockTextLength(child)
                }
            }
            return n
        case .array(let a):
            var n = 0
            for child in a { n += blockTextLength(child) }
            return n
        default:
            return 0
        }
    }

    /// Upper bound of ``blockTextLength(_:)`` that costs no scalar counting (UTF-8 lengths).
    static func blockTextUpperBound(_ v: JSONValue) -> Int {
        switch v {
        case .object(let o):
            var n = 0
            for member in o {
                guard let child = o[member.key] else { continue }
                if member.key == "text", case .string(let s) = child {
                    n += s.utf8.count
                } else {
                    n += blockTextUpperBound(child)
                }
            }
            return n
        case .array(let a):
            var n = 0
            for child in a { n += blockTextUpperBound(child) }
            return n
        default:
            return 0
        }
    }

    /// Room kept for the omission marker when the budget is exceeded.
    static let budgetReserve = 100
    /// A section crossing the budget is cut rather than dropped when at least this much room is left for it.
    static let minimumKeptSection = 200

    /// Keeps the text of all blocks (top-level first, then each attachment's) within ``blockTextBudget``: the block
    /// that crosses it is cut (a section or markdown block) or dropped, every later block is dropped, and one context
    /// block "N more blocks omitted (message too long)" takes their place.
    static func enforceBudget(_ m: inout SlackMessage) {
        // Quick check with byte lengths, then exact.
        var upper = 0
        for b in m.blocks ?? [] { upper += blockTextUpperBound(b) }
        for a in m.attachments ?? [] { if let bs = a["blocks"] { upper += blockTextUpperBound(bs) } }
        if upper <= blockTextBudget { return }

        var lists: [[JSONValue]] = [m.blocks ?? []]
        for a in m.attachments ?? [] { lists.append(a["blocks"]?.arrayValue ?? []) }
        var total = 0
        for l in lists { for b in l { total += blockTextLength(b) } }
        if total <= blockTextBudget { return }

        let limit = blockTextBudget - budgetReserve
        var used = 0
        var cutList = -1
        var omitted = 0
        for li in lists.indices {
            if cutList >= 0 {
                omitted += lists[li].count
                lists[li] = []
                continue
            }
            var bi = 0
            while bi < lists[li].count {
                let n = blockTextLength(lists[li][bi])
                if used + n <= limit {
                    used += n
                    bi += 1
                    continue
                }
                // This block crosses the budget.
                let room = limit - used
                var keep = bi
                if room >= minimumKeptSection, let shrunk = shrink(lists[li][bi], to: room),
                    blockTextLength(shrunk) <= room
                {
                    lists[li][bi] = shrunk
                    used += blockTextLength(shrunk)
                    keep = bi + 1
                }
                omitted += lists[li].count - keep
                lists[li].removeLast(lists[li].count - keep)
                cutList = li
                break
            }
        }
        guard cutList >= 0 else { return }

        let marker = omissionContext("\(omitted) more blocks omitted (message too long)")
        if lists[cutList].count >= maxBlocks {
            lists[cutList].removeLast(lists[cutList].count - (maxBlocks - 1))
        }
        lists[cutList].append(marker)

        if m.blocks != nil { m.blocks = lists[0] }
        if var attachments = m.attachments {
            var kept: [JSONValue] = []
            for (i, var a) in attachments.enumerated() {
                let blocks = lists[i + 1]
                if a["blocks"] != nil {
                    if blocks.isEmpty {
                        a["blocks"] = nil
                        // An attachment left with nothing to show is dropped.
                        if !attachmentHasContent(a) { continue }
                    } else {
                        a["blocks"] = .array(blocks)
                    }
                }
                kept.append(a)
            }
            attachments = kept
            m.attachments = attachments.isEmpty ? nil : attachments
        }
        if m.blocks?.isEmpty == true { m.blocks = nil }
    }

    /// A section or markdown block with its text (and fields) cut to fit `room` characters in all; nil for other
    /// blocks, or when the room is too small to be useful.
    static func shrink(_ b: JSONValue, to room: Int) -> JSONValue? {
        guard case .string(let type)? = b["type"] else { return nil }
        switch type {
        case "section":
            // Share the room equally between the text and the fields.
            var out = b
            let fields = b["fields"]?.arrayValue ?? []
            let hasText = b["text"]?["text"]?.stringValue != nil
            let items = fields.count + (hasText ? 1 : 0)
            guard items > 0 else { return nil }
            let share = room / items
            guard share >= 40 else { return nil }
            if hasText, var t = b["text"], case .string(let s)? = t["text"] {
                t["text"] = .string(truncate(s, to: min(share, sectionText)))
                out["text"] = t
            }
            if !fields.isEmpty {
                out["fields"] = .array(
                    fields.map { f in
                        guard case .string(let s)? = f["text"] else { return f }
                        var f = f
                        f["text"] = .string(truncate(s, to: min(share, fieldText)))
                        return f
                    })
            }
            return out
        case "markdown":
            guard case .string(let s)? = b["text"] else { return nil }
            var out = b
            out["text"] = .string(truncate(s, to: min(room, markdownText)))
            return out
        default:
            return nil
        }
    }

    static func attachmentHasContent(_ a: JSONValue) -> Bool {
        guard case .object(let o) = a else { return false }
        for key in o.keys where !["color", "fallback", "blocks", "mrkdwn_in", "id"].contains(key) { return true }
        return false
    }

    // MARK: - Helpers

    static func omissionContext(_ text: String) -> JSONValue {
        ["type": "context", "elements": [["type": "mrkdwn", "text": .string("_\(text)_")]]]
    }

    static func omissionAttachment(_ text: String) -> JSONValue {
        ["color": "#9E9E9E", "blocks": [omissionContext(text)]]
    }

    /// The text of the first section (top-level, else in an attachment), for a missing `text`.
    static func fallbackText(blocks: [JSONValue]?, attachments: [JSONValue]?) -> String? {
        func first(_ bs: [JSONValue]) -> String? {
            for b in bs {
                guard b["type"]?.stringValue == "section" || b["type"]?.stringValue == "header" else { continue }
                if let s = b["text"]?["text"]?.stringValue, !UTF8Bytes.isAllWhitespace(s) { return s }
            }
            return nil
        }
        if let bs = blocks, let s = first(bs) { return truncate(s, to: 3000) }
        for a in attachments ?? [] {
            if let bs = a["blocks"]?.arrayValue, let s = first(bs) { return truncate(s, to: 3000) }
            for key in ["fallback", "text", "pretext", "title"] {
                if let s = a[key]?.stringValue, !UTF8Bytes.isAllWhitespace(s) { return truncate(s, to: 3000) }
            }
        }
        return nil
    }
}
