import RouterFinding
import RouterJSON
import XCTest

@testable import RouterSlack

final class SlackRendererTests: XCTestCase {
    let mentions: [Mention] = [.here, .user("U0ABCDEF1"), .group("SAZ94GDB8")]

    /// A finding whose attacker-influenced fields try to inject mentions and links.
    func hostileFinding() -> Finding {
        makeFinding { f in
            f.title = "Attack <!channel> by <@U123> see <https://evil.example|click> & <!everyone>"
            f.description = "UA: <!here> <@W999|boss> <https://evil.example/x?a=1&b=2|login> &lt;!channel&gt; <!subteam^S999>"
            f.resourceSummary = "bucket <!channel>-data & <https://evil.example>"
            f.type = "Recon:EC2/<!channel>"
            f.id = "<!everyone>"
            f.account = "<@U999>"
            f.region = "us-east-1<http://x>"
            f.firstSeen = "<!channel>"
            f.updatedAt = "<!here>"
        }
    }

    func testDetailedEscapesFindingText() {
        let f = hostileFinding()
        let m = SlackRenderer.detailed(f, mentions: mentions, note: "rules/x.lua:1: <!channel> & <@U1>")
        assertNoInjection(m, allowedMentions: mentions, links: [makeFinding().consoleURL])
        assertWithinLimits(m)
        recordPayload(m)
        let json = m.payload(channel: nil).serialized()
        XCTAssertTrue(json.contains("&lt;!channel&gt;"))
        XCTAssertTrue(json.contains("&lt;https://evil.example|click&gt;"))
        XCTAssertTrue(json.contains("&amp;lt;!channel&amp;gt;"))
        XCTAssertTrue(json.contains("rules/x.lua:1: &lt;!channel&gt; &amp; &lt;@U1&gt;"))
    }

    func testCompactEscapesFindingText() {
        let m = SlackRenderer.compact(hostileFinding(), mentions: mentions, note: "<!channel>")
        assertNoInjection(m, allowedMentions: mentions, links: [makeFinding().consoleURL])
        assertWithinLimits(m)
        recordPayload(m)
    }

    func testDetailedLayout() throws {
        let f = makeFinding()
        let m = SlackRenderer.detailed(f, mentions: [.here, .user("U0ABCDEF1")])
        recordPayload(m)
        assertWithinLimits(m)
        XCTAssertEqual(
            m.text,
            "<!here> <@U0ABCDEF1> :red_circle: HIGH GuardDuty finding: EC2 instance i-0abc is querying a domain name "
                + "that is associated with Bitcoin-related activity. (account 111122223333, us-east-1)")
        let blocks = try XCTUnwrap(m.blocks)
        XCTAssertEqual(blocks[0]["type"], "header")
        XCTAssertEqual(blocks[0]["text"]?["type"], "plain_text")
        XCTAssertEqual(blocks[0]["text"]?["text"], ":red_circle: HIGH CryptoCurrency:EC2/BitcoinTool.B!DNS")
        XCTAssertFalse(blocks[0].serialized().contains("<"))
        XCTAssertEqual(blocks[1]["type"], "section")
        XCTAssertEqual(blocks[1]["text"]?["type"], "mrkdwn")
        let first = try XCTUnwrap(blocks[1]["text"]?["text"]?.stringValue)
        XCTAssertTrue(first.hasPrefix("<!here> <@U0ABCDEF1> *EC2 instance"), first)
        let attachment = try XCTUnwrap(m.attachments?.first)
        XCTAssertEqual(m.attachments?.count, 1)
        XCTAssertEqual(attachment["color"], "#D50000")
        let details = try XCTUnwrap(attachment["blocks"]?.arrayValue)
        XCTAssertEqual(details.map { $0["type"]?.stringValue ?? "" }, ["section", "section", "context"])
        let fields = try XCTUnwrap(details[1]["fields"]?.arrayValue).compactMap { $0["text"]?.stringValue }
        XCTAssertEqual(fields, [
            "*Account*\n111122223333", "*Region*\nus-east-1", "*Severity*\n8.0 (HIGH)", "*Count*\n5",
            "*Resource*\ni-0abc (EC2 instance)", "*First seen*\n2024-01-02T03:04:05Z", "*Last seen*\n2024-01-02T04:05:06Z",
        ])
        let ctx = try XCTUnwrap(details[2]["elements"]?.arrayValue?[0]["text"]?.stringValue)
        XCTAssertTrue(ctx.contains("Finding `0cb7e5b5e8f5a3c1d2e4f6a8b0c2d4e6`"), ctx)
        XCTAssertTrue(
            ctx.hasSuffix(
                "<https://us-east-1.console.aws.amazon.com/guardduty/home?region=us-east-1#/findings?macros=current"
                    + "&amp;fId=0cb7e5b5e8f5a3c1d2e4f6a8b0c2d4e6|Open in GuardDuty console>"), ctx)
        // No mention in any plain_text.
        for s in allStrings(.array(blocks[0...0].map { $0 })) { XCTAssertFalse(s.contains("<!")) }

        let payload = m.payload(channel: "C0123")
        XCTAssertEqual(payload.objectValue?.keys.map { $0 }, ["channel", "text", "blocks", "attachments"])
        XCTAssertEqual(m.payload(channel: nil).objectValue?.keys.map { $0 }, ["text", "blocks", "attachments"])
    }

    func testSeverityBandsDiffer() throws {
        let critical = SlackRenderer.detailed(makeFinding { $0.severity = 9.5; $0.severityLabel = .critical; $0.type = "AttackSequence:S3/CompromisedData" }, mentions: [])
        let high = SlackRenderer.detailed(makeFinding(), mentions: [])
        let medium = SlackRenderer.detailed(makeFinding { $0.severity = 5; $0.severityLabel = .medium }, mentions: [])
        let low = SlackRenderer.detailed(makeFinding { $0.severity = 2; $0.severityLabel = .low }, mentions: [])
        let unknown = SlackRenderer.detailed(makeFinding { $0.severity = 0; $0.severityLabel = .unknown }, mentions: [])
        let all = [critical, high, medium, low, unknown]
        for m in all { recordPayload(m); assertWithinLimits(m) }
        let colors = all.map { $0.attachments?.first?["color"]?.stringValue ?? "" }
        XCTAssertEqual(Set(colors).count, 5, "\(colors)")
        XCTAssertTrue(critical.text.hasPrefix(":rotating_light: CRITICAL GuardDuty finding: "), critical.text)
        XCTAssertFalse(critical.text.contains("HIGH"))
        XCTAssertEqual(critical.blocks?[0]["text"]?["text"], ":rotating_light: CRITICAL AttackSequence:S3/CompromisedData")
        XCTAssertTrue(JSONValue.array(critical.attachments!).serialized().contains("9.5 (CRITICAL)"))
        XCTAssertNotEqual(critical.text.prefix(20), high.text.prefix(20))
        XCTAssertTrue(unknown.text.contains("UNKNOWN"))
        XCTAssertTrue(JSONValue.array(unknown.attachments!).serialized().contains("? (UNKNOWN)"))
        let c = SlackRenderer.compact(makeFinding { $0.severity = 9.0; $0.severityLabel = .critical }, mentions: [])
        XCTAssertTrue(c.text.contains("*CRITICAL*"))
        XCTAssertNotEqual(SeverityStyle(.critical), SeverityStyle(.high))
    }

    func testSampleArchivedAndNote() throws {
        let f = makeFinding { $0.sample = true; $0.archived = true }
        let m = SlackRenderer.detailed(f, mentions: [], note: "Rule error: rules/50-route.lua:3: attempt to index a nil value")
        recordPayload(m)
        assertWithinLimits(m)
        XCTAssertTrue(m.text.contains("[SAMPLE] [ARCHIVED] HIGH"), m.text)
        XCTAssertTrue(m.blocks![0]["text"]!["text"]!.stringValue!.contains("[SAMPLE] [ARCHIVED] HIGH"))
        let json = m.payload(channel: nil).serialized()
        XCTAssertTrue(json.contains("*Archived*"))
        XCTAssertTrue(json.contains("*Sample*"))
        XCTAssertTrue(m.blocks!.contains { $0["type"] == "context" && $0.serialized().contains("Rule error: rules/50-route.lua:3: attempt to index a nil value") })
        let c = SlackRenderer.compact(f, mentions: [], note: "Rule error: x")
        XCTAssertTrue(c.text.contains("[SAMPLE] [ARCHIVED] *HIGH*"), c.text)
        XCTAssertTrue(c.text.hasSuffix(":warning: Rule error: x"), c.text)
    }

    func testCompactOneLine() {
        let m = SlackRenderer.compact(makeFinding { $0.resourceSummary = "i-0abc\nsecond line" }, mentions: [.here])
        recordPayload(m)
        XCTAssertNil(m.blocks)
        XCTAssertNil(m.attachments)
        XCTAssertFalse(m.text.contains("\n"))
        XCTAssertEqual(
            m.text,
            "<!here> :red_circle: *HIGH* CryptoCurrency:EC2/BitcoinTool.B!DNS in 111122223333/us-east-1 (i-0abc second line) x5 "
                + "<https://us-east-1.console.aws.amazon.com/guardduty/home?region=us-east-1#/findings?macros=current&amp;fId=0cb7e5b5e8f5a3c1d2e4f6a8b0c2d4e6|view>")
        let one = SlackRenderer.compact(makeFinding { $0.count = 1; $0.resourceSummary = nil; $0.resourceType = nil; $0.consoleURL = "" }, mentions: [])
        XCTAssertEqual(one.text, ":red_circle: *HIGH* CryptoCurrency:EC2/BitcoinTool.B!DNS in 111122223333/us-east-1")
    }

    func testHugeDescriptionIsTruncated() throws {
        let big = String(repeating: "A & B <x> ", count: 5000)  // 50,000 characters before escaping
        let f = makeFinding { $0.description = big; $0.title = String(repeating: "t", count: 5000); $0.resourceSummary = String(repeating: "r", count: 5000) }
        let m = SlackRenderer.detailed(f, mentions: mentions)
        recordPayload(m)
        assertWithinLimits(m)
        assertNoInjection(m, allowedMentions: mentions, links: [makeFinding().consoleURL])
        let json = m.payload(channel: nil).serialized()
        XCTAssertTrue(json.contains(SlackLimits.truncationMarker))
        XCTAssertLessThan(json.utf8.count, 20_000)
        let c = SlackRenderer.compact(f, mentions: mentions)
        assertWithinLimits(c)
    }

    func testMentionsOnlyWhereTheyRender() throws {
        let m = SlackRenderer.detailed(makeFinding(), mentions: [.channel])
        XCTAssertTrue(m.text.hasPrefix("<!channel> "))
        XCTAssertTrue(m.blocks![1]["text"]!["text"]!.stringValue!.hasPrefix("<!channel> "))
        // Exactly two occurrences: text and the first mrkdwn section.
        let json = m.payload(channel: nil).serialized()
        XCTAssertEqual(json.components(separatedBy: "<!channel>").count - 1, 2)
    }

    func testPreview() {
        let m = SlackRenderer.detailed(makeFinding { $0.title = "Title with <tag> & more" }, mentions: [.here], note: "Rule error: boom")
        let p = m.preview()
        XCTAssertTrue(p.contains(":red_circle: HIGH CryptoCurrency:EC2/BitcoinTool.B!DNS"), p)
        XCTAssertTrue(p.contains("@here *Title with <tag> & more*"), p)
        XCTAssertTrue(p.contains("Account: 111122223333"), p)
        XCTAssertTrue(p.contains("Severity: 8.0 (HIGH)"), p)
        XCTAssertTrue(p.contains("GuardDuty console\n┃   (https://us-east-1.console.aws.amazon.com/guardduty/home?region=us-east-1#/findings?macros=current&fId="), p)
        XCTAssertTrue(p.contains("Rule error: boom"), p)
        XCTAssertTrue(p.contains("┃ [attachment #D50000]"), p)
        // Lines fit the width unless they are one long word (a URL), which is not broken.
        for width in [100, 40] {
            for line in m.preview(width: width).split(separator: "\n") where line.count > width {
                XCTAssertFalse(line.drop(while: { $0 == "┃" || $0 == " " }).contains(" "), String(line))
            }
        }
        XCTAssertEqual(SlackRenderer.compact(makeFinding(), mentions: []).preview(width: 1000).split(separator: "\n").count, 1)
    }

    func testFormatSeverity() {
        XCTAssertEqual(SlackRenderer.formatSeverity(8), "8.0")
        XCTAssertEqual(SlackRenderer.formatSeverity(5.25), "5.3")
        XCTAssertEqual(SlackRenderer.formatSeverity(9.999), "10.0")
        XCTAssertEqual(SlackRenderer.formatSeverity(2.0000001), "2.0")
        XCTAssertEqual(SlackRenderer.formatSeverity(.nan), "?")
    }
}
