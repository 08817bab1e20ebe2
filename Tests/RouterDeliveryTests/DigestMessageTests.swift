import RouterDelivery
import RouterJSON
import XCTest

/// The digest message: grouping, order, Slack's limits, and no way for a finding to inject a mention.
final class DigestMessageTests: XCTestCase {
    func entry(_ i: Int, type: String = "Recon:EC2/PortProbeUnprotectedPort", label: String = "MEDIUM", account: String = "111122223333", resource: String? = "EC2 i-0abc") -> DigestEntry {
        DigestEntry(findingId: "f\(i)", type: type, severityLabel: label, account: account, resource: resource)
    }

    func testRowsGroupByTypeSeverityAccountAndResourceMostSevereFirst() {
        let rows = DigestMessage.rows([
            entry(1), entry(2), entry(3, label: "HIGH"), entry(4, account: "999"), entry(5), entry(6, resource: nil),
        ])
        XCTAssertEqual(rows.map(\.severityLabel), ["HIGH", "MEDIUM", "MEDIUM", "MEDIUM"])
        XCTAssertEqual(rows[1].count, 3, "three findings share type, severity, account and resource")
        XCTAssertEqual(rows.map(\.count).reduce(0, +), 6, "every finding counted once")
        XCTAssertEqual(rows.last?.resource, "-")
    }

    func testAHugeDigestStaysWithinSlacksLimitsAndCountsEveryFinding() throws {
        var entries: [DigestEntry] = []
        for i in 0..<1000 {
            entries.append(entry(i, type: "Type\(i)/" + String(repeating: "x", count: 300), account: "\(100_000 + i)"))
        }
        let payload = DigestMessage.payload(entries: entries, mentions: "<!here> ")
        let blocks = try XCTUnwrap(payload["blocks"]?.arrayValue)
        XCTAssertLessThanOrEqual(blocks.count, 50)
        for b in blocks where b["type"]?.stringValue == "section" {
            XCTAssertLessThanOrEqual(b["text"]?["text"]?.stringValue?.count ?? 0, 3000)
        }
        XCTAssertLessThanOrEqual(blocks[0]["text"]?["text"]?.stringValue?.count ?? 999, 150, "header plain_text limit")
        let text = try XCTUnwrap(payload["text"]?.stringValue)
        XCTAssertTrue(text.hasPrefix("<!here> GuardDuty digest: 1000 findings"), text)
        XCTAssertTrue(payload.serialized().contains("more kinds ("), "rows beyond the cap are summed in a last line")
    }

    func testFindingTextCannotInjectAMentionOrBreakTheCodeSpan() {
        let payload = DigestMessage.payload(
            entries: [entry(1, type: "<!channel> `x`", account: "<@U123>", resource: "<https://evil|click>")], mentions: "")
        let s = payload.serialized()
        XCTAssertFalse(s.contains("<!channel>"), s)
        XCTAssertFalse(s.contains("<@U123>"), s)
        XCTAssertFalse(s.contains("<https://evil"), s)
        XCTAssertTrue(s.contains("&lt;!channel&gt;"), s)
        XCTAssertFalse(s.contains("`x`"), "backticks in finding text cannot close the code span: \(s)")
    }
}
