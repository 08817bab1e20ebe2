import RouterJSON
import XCTest

@testable import RouterSlack

final class CustomFormatTests: XCTestCase {
    func testStringResult() throws {
        let m = try SlackRenderer.custom("*hi* <https://x.example|link>", mentions: [.here])
        XCTAssertEqual(m, SlackMessage(text: "<!here> *hi* <https://x.example|link>"))
        XCTAssertEqual(try SlackRenderer.custom("plain", mentions: []).text, "plain")
    }

    /// A string result is pre-rendered bytes: the same payload, byte for byte, as the message built from its parts
    /// and serialized as a tree, also with characters JSON escapes, a channel that needs escaping and text cut to
    /// Slack's limit.
    func testStringResultPayloadIsTheSameAsTheTreeForm() throws {
        for text in ["plain", "quote \" backslash \\ tab \t nl \n ctl \u{1}", "é ✓ 🔒", String(repeating: "x", count: 50_000)] {
            let m = try SlackRenderer.custom(.string(text), mentions: [.user("U0ABC")])
            XCTAssertTrue(m.isTextOnly)
            var tree = SlackMessage(text: "<@U0ABC> " + text)
            SlackLimits.enforce(&tree)
            XCTAssertEqual(m.text, tree.text)
            XCTAssertEqual(m.payloadBytes(channel: "#c"), tree.payload(channel: "#c").serializedBytes())
            XCTAssertEqual(m.payloadBytes(channel: nil), tree.payload(channel: nil).serializedBytes())
            XCTAssertEqual(m.payloadBytes(channel: "#\"x\u{1}"), tree.payload(channel: "#\"x\u{1}").serializedBytes())
            XCTAssertEqual(m.textOnlyPayloadBytes(), JSONValue.object(["text": .string(tree.text)]).serializedBytes())
        }
    }

    func testObjectWithTextBlocksAttachments() throws {
        let result: JSONValue = [
            "text": "fallback",
            "blocks": [
                ["type": "header", "text": ["type": "plain_text", "text": "Head"]],
                ["type": "section", "text": ["type": "mrkdwn", "text": "body"]],
            ],
            "attachments": [["color": "good", "blocks": [["type": "section", "text": ["type": "mrkdwn", "text": "x"]]]]],
        ]
        let m = try SlackRenderer.custom(result, mentions: [.user("U0ABC")])
        recordPayload(m)
        assertWithinLimits(m)
        XCTAssertEqual(m.text, "<@U0ABC> fallback")
        XCTAssertEqual(m.blocks?[1]["text"]?["text"], "<@U0ABC> body")
        XCTAssertEqual(m.blocks?[0]["text"]?["text"], "Head")
        XCTAssertEqual(m.attachments?.count, 1)
        XCTAssertEqual(m.attachments?[0]["blocks"]?.arrayValue?[0]["text"]?["text"], "x")
    }

    func testBlocksWithoutTextDeriveFallback() throws {
        let m = try SlackRenderer.custom(["blocks": [["type": "section", "text": ["type": "mrkdwn", "text": "from section"]]]], mentions: [])
        XCTAssertEqual(m.text, "from section")
        let d = try SlackRenderer.custom(["blocks": [["type": "divider"]]], mentions: [])
        XCTAssertEqual(d.text, "GuardDuty finding")
        let a = try SlackRenderer.custom(["attachments": [["color": "#fff", "blocks": [["type": "section", "text": ["type": "mrkdwn", "text": "att"]]]]]], mentions: [])
        XCTAssertEqual(a.text, "att")
    }

    func testMentionsInsertedWhenNoMrkdwnSection() throws {
        let m = try SlackRenderer.custom(
            ["text": "t", "blocks": [["type": "header", "text": ["type": "plain_text", "text": "H"]], ["type": "divider"]]],
            mentions: [.here, .group("SAZ94GDB8")])
        XCTAssertEqual(m.blocks?.count, 3)
        XCTAssertEqual(m.blocks?[1]["text"]?["text"], "<!here> <!subteam^SAZ94GDB8>")
        XCTAssertEqual(m.blocks?[1]["text"]?["type"], "mrkdwn")
        XCTAssertEqual(m.text, "<!here> <!subteam^SAZ94GDB8> t")
    }

    func testNote() throws {
        let m = try SlackRenderer.custom("t", mentions: [], note: "Rule error: <!channel>")
        XCTAssertEqual(m.text, "t\n:warning: Rule error: &lt;!channel&gt;")
        let b = try SlackRenderer.custom(["text": "t", "blocks": [["type": "divider"]]], mentions: [], note: "n")
        XCTAssertEqual(b.blocks?.last?["type"], "context")
    }

    func testEmptyLuaTablesAsEmptyLists() throws {
        let m = try SlackRenderer.custom(["text": "t", "blocks": [:], "attachments": [:]], mentions: [])
        XCTAssertEqual(m, SlackMessage(text: "t"))
    }

    func testErrors() {
        let cases: [(JSONValue, String)] = [
            (["txt": "x"], "format result has unknown key 'txt' (allowed: text, blocks, attachments)"),
            (["text": "x", "color": "red"], "format result has unknown key 'color' (allowed: text, blocks, attachments)"),
            (["text": 5], "format result 'text' must be a string, got number"),
            (["text": ["a"]], "format result 'text' must be a string, got array"),
            (["text": "x", "blocks": "nope"], "format result 'blocks' must be an array of objects, got string"),
            (["text": "x", "blocks": ["nope"]], "format result 'blocks[1]' must be an object, got string"),
            (["text": "x", "blocks": [["text": "no type"]]], "format result 'blocks[1]' has no 'type' string"),
            (["text": "x", "attachments": [true]], "format result 'attachments[1]' must be an object, got boolean"),
            (["text": "x", "attachments": ["k": 1]], "format result 'attachments' must be an array of objects, got object"),
            ([:], "format result needs 'text' (a string) or 'blocks'"),
            ([], "format result must be a string or a table with text, blocks, attachments; got array"),
            (.null, "format result must be a string or a table with text, blocks, attachments; got null"),
            (42, "format result must be a string or a table with text, blocks, attachments; got number"),
            ("", "format result 'text' is empty and there are no blocks"),
            (["text": "  "], "format result 'text' is empty and there are no blocks"),
        ]
        for (input, message) in cases {
            XCTAssertThrowsError(try SlackRenderer.custom(input, mentions: [])) { e in
                XCTAssertEqual((e as? FormatResultError)?.message, message, input.serialized())
            }
        }
    }

    func testHugeCustomResultIsMadeToFit() throws {
        let long = String(repeating: "word &amp; <https://x.example|link> ", count: 200)  // ~7,000 chars
        var blocks: [JSONValue] = (0..<80).map { i in
            ["type": "section", "text": ["type": "mrkdwn", "text": .string("block \(i) " + long)]]
        }
        blocks.insert(["type": "header", "text": ["type": "plain_text", "text": .string(String(repeating: "H", count: 400))]], at: 0)
        blocks.insert(["type": "section", "fields": .array((0..<30).map { i in ["type": "mrkdwn", "text": .string("f\(i) " + long.prefix(300))] })], at: 1)
        blocks.insert(["type": "context", "elements": .array((0..<25).map { i in ["type": "mrkdwn", "text": .string("c\(i)")] })], at: 2)
        blocks.insert(["type": "section", "text": ["type": "mrkdwn", "text": ""]], at: 3)
        let attachments: [JSONValue] = (0..<60).map { i in
            ["color": "#123456", "blocks": .array((0..<70).map { j in ["type": "section", "text": ["type": "mrkdwn", "text": .string("a\(i) b\(j)")]] })]
        }
        let result: JSONValue = ["text": .string(String(repeating: "x", count: 50_000)), "blocks": .array(blocks), "attachments": .array(attachments)]
        let m = try SlackRenderer.custom(result, mentions: [.here])
        recordPayload(m)
        assertWithinLimits(m)
        XCTAssertTrue(m.text.hasSuffix(SlackLimits.truncationMarker))
        XCTAssertTrue(m.text.hasPrefix("<!here> "))
        let json = m.payload(channel: nil).serialized()
        XCTAssertTrue(json.contains("more blocks omitted (message too long)"), json.suffix(500).description)
        XCTAssertEqual(m.blocks?[0]["text"]?["text"]?.stringValue?.unicodeScalars.count, 150)
        let fields = m.blocks?[1]["fields"]?.arrayValue ?? []
        XCTAssertEqual(fields.count, 10)
        XCTAssertEqual(fields.last?["text"], "_21 more fields omitted_")
        XCTAssertEqual(m.blocks?[2]["elements"]?.arrayValue?.count, 10)
        XCTAssertEqual(m.blocks?[3]["text"]?["text"], "<!here>")

        // Per-field limit, and fields shrunk to the budget.
        let wide = try SlackRenderer.custom(
            ["blocks": [["type": "section", "fields": .array((0..<30).map { i in ["type": "mrkdwn", "text": .string("f\(i) " + long)] })]]],
            mentions: [])
        assertWithinLimits(wide)
        XCTAssertEqual(wide.blocks?.count, 2)
        XCTAssertEqual(wide.blocks?[0]["fields"]?.arrayValue?.count, 10)
        XCTAssertEqual(wide.blocks?[0]["fields"]?.arrayValue?.last?["text"], "_21 more fields omitted_")
        let few = try SlackRenderer.custom(
            ["blocks": [["type": "section", "fields": .array((0..<3).map { i in ["type": "mrkdwn", "text": .string("f\(i) " + long)] })]]],
            mentions: [])
        assertWithinLimits(few)
        XCTAssertEqual(few.blocks?.count, 1)
        XCTAssertEqual(few.blocks?[0]["fields"]?.arrayValue?.map { $0["text"]?.stringValue?.unicodeScalars.count }, [2000, 2000, 2000])

        // Attachments alone: 60 -> 20 with a marker; 70 blocks each -> 50.
        let onlyAttachments = try SlackRenderer.custom(["text": "t", "attachments": .array(attachments)], mentions: [])
        assertWithinLimits(onlyAttachments)
        XCTAssertEqual(onlyAttachments.attachments?.count, 20)
        XCTAssertTrue(onlyAttachments.attachments!.last!.serialized().contains("41 more attachments omitted"))
        XCTAssertEqual(onlyAttachments.attachments?[0]["blocks"]?.arrayValue?.count, 50)
        XCTAssertTrue(onlyAttachments.attachments![0].serialized().contains("21 more blocks omitted"))
    }
}
