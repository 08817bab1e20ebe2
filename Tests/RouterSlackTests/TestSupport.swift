import Foundation
import RouterFinding
import RouterJSON
import XCTest

@testable import RouterSlack

/// A plausible HIGH EC2 finding; tests change the fields they care about.
func makeFinding(_ change: (inout Finding) -> Void = { _ in }) -> Finding {
    let document = try! JSONDocument(string: "{}")
    let id = "0cb7e5b5e8f5a3c1d2e4f6a8b0c2d4e6"
    var f = Finding(
        document: document, detail: document.root, id: id,
        type: "CryptoCurrency:EC2/BitcoinTool.B!DNS", purpose: "CryptoCurrency", resourceKind: "EC2",
        family: "BitcoinTool.B", artifact: "DNS", severity: 8.0, severityLabel: .high,
        title: "EC2 instance i-0abc is querying a domain name that is associated with Bitcoin-related activity.",
        description: "EC2 instance i-0abc is querying a domain name associated with Bitcoin mining.",
        account: "111122223333", eventAccount: "111122223333", region: "us-east-1", partition: "aws",
        resourceType: "Instance", actionType: "DNS_REQUEST", count: 5,
        firstSeen: "2024-01-02T03:04:05Z", lastSeen: "2024-01-02T04:05:06Z",
        createdAt: "2024-01-02T03:09:05.123Z", updatedAt: "2024-01-02T04:09:06.456Z",
        archived: false, sample: false,
        consoleURL: "https://us-east-1.console.aws.amazon.com/guardduty/home?region=us-east-1#/findings?macros=current&fId=\(id)",
        resourceSummary: "i-0abc (EC2 instance)")
    change(&f)
    return f
}

/// Every string in a JSON value, depth first.
func allStrings(_ v: JSONValue) -> [String] {
    switch v {
    case .string(let s): return [s]
    case .array(let a): return a.flatMap(allStrings)
    case .object(let o): return o.keys.flatMap { k in [k] + (o[k].map(allStrings) ?? []) }
    default: return []
    }
}

/// Independent check of the limits in docs and slack.md (not SlackLimits' own code), counted in Unicode scalars.
func assertWithinLimits(_ m: SlackMessage, file: StaticString = #filePath, line: UInt = #line) {
    func n(_ s: String) -> Int { s.unicodeScalars.count }
    XCTAssertFalse(m.text.isEmpty, "text empty", file: file, line: line)
    XCTAssertLessThanOrEqual(n(m.text), 40_000, "text too long", file: file, line: line)
    var total = 0
    func textLen(_ v: JSONValue) -> Int {
        switch v {
        case .object(let o):
            return o.keys.reduce(0) { acc, k in
                if k == "text", case .string(let s)? = o[k] { return acc + n(s) }
                return acc + (o[k].map(textLen) ?? 0)
            }
        case .array(let a): return a.reduce(0) { $0 + textLen($1) }
        default: return 0
        }
    }
    func checkList(_ blocks: [JSONValue], _ where_: String) {
        XCTAssertLessThanOrEqual(blocks.count, 50, "\(where_): too many blocks", file: file, line: line)
        for (i, b) in blocks.enumerated() {
            total += textLen(b)
            let type = b["type"]?.stringValue
            XCTAssertNotNil(type, "\(where_)[\(i)] has no type", file: file, line: line)
            switch type {
            case "header":
                let t = b["text"]?["text"]?.stringValue ?? ""
                XCTAssertEqual(b["text"]?["type"]?.stringValue, "plain_text", file: file, line: line)
                XCTAssertTrue((1...150).contains(n(t)), "\(where_)[\(i)] header length \(n(t))", file: file, line: line)
            case "section":
                if let t = b["text"]?["text"]?.stringValue {
                    XCTAssertTrue((1...3000).contains(n(t)), "\(where_)[\(i)] section length \(n(t))", file: file, line: line)
                }
                if let fields = b["fields"]?.arrayValue {
                    XCTAssertLessThanOrEqual(fields.count, 10, "\(where_)[\(i)] fields", file: file, line: line)
                    for f in fields {
                        let t = f["text"]?.stringValue ?? ""
                        XCTAssertTrue((1...2000).contains(n(t)), "\(where_)[\(i)] field length \(n(t))", file: file, line: line)
                    }
                }
                XCTAssertTrue(b["text"] != nil || b["fields"] != nil, file: file, line: line)
            case "context":
                let elements = b["elements"]?.arrayValue ?? []
                XCTAssertTrue((1...10).contains(elements.count), "\(where_)[\(i)] context elements", file: file, line: line)
                for e in elements {
                    if let t = e["text"]?.stringValue {
                        XCTAssertTrue((1...3000).contains(n(t)), file: file, line: line)
                    }
                }
            default:
                break
            }
        }
    }
    if let blocks = m.blocks {
        XCTAssertFalse(blocks.isEmpty, "empty blocks array", file: file, line: line)
        checkList(blocks, "blocks")
    }
    if let attachments = m.attachments {
        XCTAssertLessThanOrEqual(attachments.count, 20, "too many attachments", file: file, line: line)
        for (i, a) in attachments.enumerated() {
            if let bs = a["blocks"]?.arrayValue { checkList(bs, "attachments[\(i)].blocks") }
        }
    }
    XCTAssertLessThanOrEqual(total, 12_000, "block text over budget", file: file, line: line)
}

/// Writes a payload as one JSON line to $SLACK_PAYLOADS_OUT (for scripts/validate_blocks.py), when it is set.
func recordPayload(_ m: SlackMessage, channel: String? = "C0123456789") {
    guard let path = ProcessInfo.processInfo.environment["SLACK_PAYLOADS_OUT"] else { return }
    let line = m.payload(channel: channel).serialized() + "\n"
    if let h = FileHandle(forWritingAtPath: path) {
        h.seekToEndOfFile()
        h.write(line.data(using: .utf8)!)
        h.closeFile()
    } else {
        _ = FileManager.default.createFile(atPath: path, contents: line.data(using: .utf8))
    }
}

/// Every `<...>` span in every string of the payload must be one of the given mentions or a console link we built
/// (`<url|Open in GuardDuty console>`, `<url|view>`), and every `&` must start an entity; the serialized JSON must
/// have no `<!`, `<@`, `<http` other than those.
func assertNoInjection(
    _ m: SlackMessage, allowedMentions: [Mention], links: [String], file: StaticString = #filePath, line: UInt = #line
) {
    let payload = m.payload(channel: "C1")
    var allowed = Set(allowedMentions.map(\.slackSyntax))
    for url in links {
        guard let u = SlackText.linkURL(url) else { continue }
        allowed.insert("<\(u)|Open in GuardDuty console>")
        allowed.insert("<\(u)|view>")
    }
    for s in allStrings(payload) {
        var rest = Substring(s)
        while let lt = rest.firstIndex(of: "<") {
            guard let gt = rest[lt...].firstIndex(of: ">") else {
                XCTFail("unclosed < in \(s)", file: file, line: line)
                break
            }
            let span = String(rest[lt...gt])
            XCTAssertTrue(allowed.contains(span), "unexpected span \(span) in \(s)", file: file, line: line)
            rest = rest[rest.index(after: gt)...]
        }
        var i = s.startIndex
        while let amp = s[i...].firstIndex(of: "&") {
            let tail = s[amp...]
            XCTAssertTrue(
                tail.hasPrefix("&amp;") || tail.hasPrefix("&lt;") || tail.hasPrefix("&gt;"),
                "raw & in \(s)", file: file, line: line)
            i = s.index(after: amp)
        }
        XCTAssertFalse(
            s.unicodeScalars.contains { ($0.value < 0x20 && $0 != "\n" && $0 != "\t") || (0x7F...0x9F).contains($0.value) },
            "control character in \(s.debugDescription)", file: file, line: line)
    }
    // The same on the serialized JSON, as Slack receives it.
    let json = payload.serialized()
    for needle in ["<!", "<@", "<http", "<#"] {
        var rest = Substring(json)
        while let r = rest.range(of: needle) {
            let tail = json[r.lowerBound...]
            XCTAssertTrue(allowed.contains { tail.hasPrefix($0) }, "unexpected \(tail.prefix(60)) in JSON", file: file, line: line)
            rest = json[r.upperBound...]
        }
    }
}
