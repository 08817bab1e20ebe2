import RouterJSON
import XCTest

@testable import RouterSlack

final class SlackLimitsTests: XCTestCase {
    func testTruncateKeepsShortStrings() {
        XCTAssertEqual(SlackLimits.truncate("short", to: 10), "short")
        XCTAssertEqual(SlackLimits.truncate("exactly10!", to: 10), "exactly10!")
    }

    func testTruncateMarkerAndLength() {
        let s = String(repeating: "abcde ", count: 100)
        let t = SlackLimits.truncate(s, to: 100)
        XCTAssertTrue(t.hasSuffix("… (truncated)"))
        XCTAssertLessThanOrEqual(t.unicodeScalars.count, 100)
        XCTAssertTrue(s.hasPrefix(String(t.dropLast(SlackLimits.truncationMarker.count))))
        XCTAssertFalse(t.contains(" … (truncated)"))  // trailing space dropped
    }

    func testTruncateDoesNotCutEntities() {
        let s = String(repeating: "x", count: 85) + "&amp;" + String(repeating: "y", count: 100)
        for limit in 95...103 {
            let t = SlackLimits.truncate(s, to: limit)
            let head = t.dropLast(SlackLimits.truncationMarker.count)
            XCTAssertTrue(head.hasSuffix("x") || head.hasSuffix("&amp;") || head.hasSuffix("y"), "\(limit): \(head.suffix(8))")
            XCTAssertLessThanOrEqual(t.unicodeScalars.count, limit)
        }
    }

    func testTruncateDoesNotCutLinksOrMentions() {
        let s = String(repeating: "x", count: 80) + " <https://example.com/a/b/c|label> <!here> " + String(repeating: "y", count: 100)
        for limit in 90...140 {
            let t = SlackLimits.truncate(s, to: limit)
            let head = String(t.dropLast(SlackLimits.truncationMarker.count))
            XCTAssertEqual(head.filter { $0 == "<" }.count, head.filter { $0 == ">" }.count, "\(limit): \(head)")
            XCTAssertLessThanOrEqual(t.unicodeScalars.count, limit)
        }
        // A stray `<` with no closing `>` later is not a span: no backing off.
        let stray = "a < b " + String(repeating: "z", count: 200)
        XCTAssertGreaterThan(SlackLimits.truncate(stray, to: 100).count, 80)
    }

    func testTruncateAtGraphemeBoundaries() {
        let family = "👨‍👩‍👧‍👦"  // 7 scalars, 1 Character
        let s = String(repeating: family, count: 100)
        for limit in 20...40 {
            let t = SlackLimits.truncate(s, to: limit)
            XCTAssertLessThanOrEqual(t.unicodeScalars.count, limit)
            let head = t.dropLast(SlackLimits.truncationMarker.count)
            XCTAssertTrue(head.allSatisfy { $0 == Character(family) })
        }
        let accents = String(repeating: "e\u{301}", count: 100)  // 2 scalars per Character
        let t = SlackLimits.truncate(accents, to: 50)
        XCTAssertLessThanOrEqual(t.unicodeScalars.count, 50)
        XCTAssertTrue(t.dropLast(SlackLimits.truncationMarker.count).allSatisfy { $0 == "e\u{301}" })
        // Counted as characters, not bytes: 3,000 two-byte characters fit a section.
        let e = String(repeating: "é", count: 3000)
        XCTAssertEqual(SlackLimits.truncate(e, to: 3000), e)
    }

    func testEnforceLeavesFittingMessagesAlone() {
        let m0 = SlackMessage(
            text: "t", blocks: [["type": "section", "text": ["type": "mrkdwn", "text": "x"]]],
            attachments: [["color": "good", "blocks": [["type": "divider"]]]])
        var m = m0
        SlackLimits.enforce(&m)
        XCTAssertEqual(m, m0)
    }

    func testEnforceEmptyTextAndBlocks() {
        var m = SlackMessage(text: "", blocks: [], attachments: [])
        SlackLimits.enforce(&m)
        XCTAssertEqual(m, SlackMessage(text: "GuardDuty finding"))
        var n = SlackMessage(text: " ", blocks: [["type": "section", "text": ["type": "mrkdwn", "text": "from block"]]])
        SlackLimits.enforce(&n)
        XCTAssertEqual(n.text, "from block")
    }

    func testBudgetCutsAcrossAttachments() {
        let section: (Int) -> JSONValue = { n in ["type": "section", "text": ["type": "mrkdwn", "text": .string(String(repeating: "s", count: n))]] }
        var m = SlackMessage(
            text: "t",
            blocks: [section(3000), section(3000), section(3000)],
            attachments: [
                ["color": "#000000", "blocks": [section(2000), section(2000), ["type": "divider"]]],
                ["color": "#111111", "blocks": [section(100)]],
                ["color": "#222222", "text": "legacy", "blocks": [section(100)]],
            ])
        SlackLimits.enforce(&m)
        assertWithinLimits(m)
        XCTAssertEqual(m.blocks?.count, 3)
        // First attachment: the 2000 block fits (11,000), the next is cut to the room left, the rest dropped.
        let first = m.attachments?[0]["blocks"]?.arrayValue ?? []
        XCTAssertEqual(first.count, 3)
        XCTAssertTrue(first[1]["text"]?["text"]?.stringValue?.hasSuffix(SlackLimits.truncationMarker) ?? false)
        XCTAssertEqual(first[2]["elements"]?.arrayValue?[0]["text"], "_3 more blocks omitted (message too long)_")
        // The attachment with nothing left is dropped; the one with legacy text stays, without blocks.
        XCTAssertEqual(m.attachments?.count, 2)
        XCTAssertNil(m.attachments?[1]["blocks"])
        XCTAssertEqual(m.attachments?[1]["text"], "legacy")
    }

    func testEnforceIsFastForNormalMessages() {
        let f = makeFinding()
        let m = SlackRenderer.detailed(f, mentions: [.here])
        let start = ContinuousClock.now
        for _ in 0..<2000 {
            var c = m
            SlackLimits.enforce(&c)
        }
        let elapsed = ContinuousClock.now - start
        XCTAssertLessThan(elapsed, .seconds(5), "\(elapsed)")
    }
}

final class SlackLimitsOtherBlocksTests: XCTestCase {
    func testBlockIDImageAndActions() {
        var m = SlackMessage(
            text: "t",
            blocks: [
                ["type": "divider", "block_id": .string(String(repeating: "b", count: 300))],
                ["type": "image", "image_url": "https://x.example/i.png", "alt_text": .string(String(repeating: "a", count: 2500)),
                 "title": ["type": "plain_text", "text": .string(String(repeating: "t", count: 2500))]],
                ["type": "actions", "elements": .array((0..<30).map { i in
                    ["type": "button", "text": ["type": "plain_text", "text": .string("b\(i)")], "action_id": .string("a\(i)")]
                })],
            ])
        SlackLimits.enforce(&m)
        XCTAssertEqual(m.blocks?[0]["block_id"]?.stringValue?.count, 255)
        XCTAssertEqual(m.blocks?[1]["alt_text"]?.stringValue?.unicodeScalars.count, 2000)
        XCTAssertEqual(m.blocks?[1]["title"]?["text"]?.stringValue?.unicodeScalars.count, 2000)
        XCTAssertEqual(m.blocks?[2]["elements"]?.arrayValue?.count, 25)
        recordPayload(m)
    }
}
