import Foundation
import RouterFinding
import RouterJSON
import RouterTestRandom
import XCTest

@testable import RouterSlack

/// The built-in formats write their JSON directly (``SlackMessage`` pre-rendered form); the tree path they fall back
/// to is the reference. Every payload must be byte for byte what the tree serializes to, through `payloadBytes`,
/// `write(channel:into:)` and `payload(channel:).serialized()`.
final class PayloadBytesTests: XCTestCase {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    static func findings(in dir: URL) -> [Finding] {
        let files = ((try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? [])
            .filter { $0.hasSuffix(".json") }.sorted()
        var out: [Finding] = []
        for name in files {
            guard let data = FileManager.default.contents(atPath: dir.appendingPathComponent(name).path) else { continue }
            for item in InputReader.items(fromBytes: [UInt8](data), source: name) {
                if let f = item.finding { out.append(f) }
            }
        }
        return out
    }

    static let mentionSets: [[Mention]] = [
        [], [.here, .group("S0ABC")], [.user("U\"x\\\n\u{1}"), .channel, .everyone, .user("W0AB")],
    ]
    static let notes: [String?] = [
        nil, "", "Rule error: rules/x.lua:3: bad <thing> & \"quoted\"\nline2\t\u{0}\r\n",
        String(repeating: "n", count: 3100), String(repeating: "é", count: 2990),
    ]

    /// Findings whose every field is hostile, empty, or large (around and over each limit).
    static func variants(of base: Finding) -> [Finding] {
        let nasty =
            "a\"b\\c\nd\te\r\nf\rg\u{0}h\u{1}i\u{7f}j\u{85}k\u{202E}l\u{2066}m<n>o&p&amp;q|r😀s👩‍👩‍👧t\u{2028}u é e\u{301} 中文 /*x*/\u{8}\u{c}"
        var out: [Finding] = [base]
        func v(_ change: (inout Finding) -> Void) {
            var f = base
            change(&f)
            out.append(f)
        }
        v {
            $0.title = nasty; $0.description = nasty; $0.type = nasty; $0.account = nasty; $0.region = nasty
        }
        v {
            $0.id = nasty; $0.updatedAt = nasty; $0.firstSeen = nasty; $0.lastSeen = nasty
            $0.resourceSummary = nasty; $0.consoleURL = "https://x.example/" + nasty
        }
        v {
            $0.title = ""; $0.type = ""; $0.description = "   \n\t "; $0.account = ""; $0.region = ""; $0.id = ""
            $0.updatedAt = nil; $0.firstSeen = nil; $0.lastSeen = nil; $0.resourceSummary = nil
            $0.resourceType = nil; $0.consoleURL = ""
        }
        v {
            $0.title = "   "; $0.description = ""; $0.resourceSummary = nil; $0.resourceType = "Res<ource>"
            $0.consoleURL = "javascript:alert(1)"; $0.updatedAt = ""
        }
        v { $0.sample = true; $0.archived = true; $0.count = 123_456_789; $0.severity = .nan; $0.severityLabel = .unknown }
        v { $0.sample = true; $0.count = -5; $0.severity = 5.25; $0.severityLabel = .medium }
        v { $0.archived = true; $0.severity = 1e10; $0.severityLabel = .critical }
        v { $0.severity = -3.35; $0.severityLabel = .low; $0.count = 0 }
        v { $0.description = String(repeating: "Lorem ipsum dolor & sit <amet>. ", count: 100) }
        v { $0.description = String(repeating: "é", count: 1499) + "x" }
        v { $0.description = String(repeating: "é", count: 1500) + "xy" }
        v { $0.description = String(repeating: "中", count: 1100) }  // 3300 bytes: the byte proof fails, fits in fact
        v { $0.description = String(repeating: "&", count: 400) }
        v { $0.description = String(repeating: "a", count: 1490) + " <https://x|y> trailing" }
        v { $0.description = String(repeating: "a\"", count: 2000) }
        v { $0.title = String(repeating: "T", count: 600) }
        v { $0.title = String(repeating: "ü", count: 499) + "&" }
        v { $0.type = String(repeating: "Type:X/", count: 30) }
        v { $0.type = String(repeating: "é", count: 140) }
        v { $0.type = String(repeating: "é", count: 145) }
        v { $0.type = String(repeating: "&", count: 40) }
        v { $0.account = String(repeating: "1", count: 2100) }
        v { $0.resourceSummary = String(repeating: "r\n", count: 1100) }
        v { $0.resourceSummary = String(repeating: "ab", count: 999) }
        v { $0.id = String(repeating: "i", count: 3100) }
        v { $0.consoleURL = "https://" + String(repeating: "|", count: 1000) }
        v {
            $0.account = String(repeating: "x", count: 1900); $0.region = String(repeating: "y", count: 1900)
            $0.firstSeen = String(repeating: "z", count: 1900); $0.lastSeen = String(repeating: "w", count: 1900)
            $0.resourceSummary = String(repeating: "v", count: 1900); $0.id = String(repeating: "u", count: 1900)
        }
        v { $0.title = String(repeating: "t", count: 30000); $0.account = String(repeating: "a", count: 20000) }
        v { $0.title = String(repeating: "t", count: 500); $0.account = String(repeating: "a", count: 45000) }
        return out
    }

    struct Counts {
        var direct = 0
        var fallback = 0
    }

    /// Checks one rendered message against the tree the same inputs give.
    func check(_ m: SlackMessage, tree: SlackMessage, direct: Bool, _ what: @autoclosure () -> String,
               file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(m.rendered != nil, direct, "form: \(what())", file: file, line: line)
        XCTAssertNil(tree.rendered, file: file, line: line)
        for channel in ["#c", nil, "C0\"\\\n\u{1}é"] as [String?] {
            let expected = tree.payload(channel: channel).serializedBytes()
            let bytes = m.payloadBytes(channel: channel)
            if bytes != expected {
                XCTFail(
                    "payloadBytes differ (\(what()), channel \(channel ?? "nil")):\n\(String(decoding: bytes, as: UTF8.self))\n"
                        + "expected:\n\(String(decoding: expected, as: UTF8.self))", file: file, line: line)
                return
            }
            var out: [UInt8] = [1, 2]
            m.write(channel: channel, into: &out)
            XCTAssertEqual(out, [1, 2] + expected, "write(channel:into:) \(what())", file: file, line: line)
            XCTAssertEqual(
                m.payload(channel: channel).serializedBytes(), expected, "payload() \(what())", file: file, line: line)
        }
        XCTAssertEqual(m, tree, what(), file: file, line: line)
        XCTAssertEqual(m.textOnlyPayloadBytes(), tree.textOnlyPayloadBytes(), what(), file: file, line: line)
        XCTAssertEqual(m.isTextOnly, tree.isTextOnly, what(), file: file, line: line)
    }

    /// Renders every finding in every way and compares with the tree path.
    func checkAll(
        _ findings: [Finding], readBack: Bool, mentionSets: [[Mention]] = mentionSets, notes: [String?] = notes
    ) -> Counts {
        var counts = Counts()
        for (i, f) in findings.enumerated() {
            let parts = SlackRenderer.DetailedParts(f)
            for (k, mentions) in mentionSets.enumerated() {
                for (n, note) in notes.enumerated() {
                    let what = "finding \(i) (\(f.id.prefix(40))) mentions \(k) note \(n)"
                    let direct = SlackRenderer.detailedJSON(f, parts, mentions: mentions, note: note) != nil
                    if direct { counts.direct += 1 } else { counts.fallback += 1 }
                    let d = SlackRenderer.detailed(f, mentions: mentions, note: note)
                    let dTree = SlackRenderer.detailedTree(f, parts, mentions: mentions, note: note)
                    check(d, tree: dTree, direct: direct, "detailed " + what)

                    let compactDirect = SlackRenderer.compactJSON(f, mentions: mentions, note: note) != nil
                    if compactDirect { counts.direct += 1 } else { counts.fallback += 1 }
                    let c = SlackRenderer.compact(f, mentions: mentions, note: note)
                    let cTree = SlackRenderer.compactTree(f, mentions: mentions, note: note)
                    check(c, tree: cTree, direct: compactDirect, "compact " + what)

                    if readBack && k == 1 && n == 2 {
                        // Reading a pre-rendered message gives the tree's parts.
                        XCTAssertEqual(d.text, dTree.text, what)
                        XCTAssertEqual(d.blocks, dTree.blocks, what)
                        XCTAssertEqual(d.attachments, dTree.attachments, what)
                        XCTAssertEqual(d.preview(), dTree.preview(), what)
                        XCTAssertEqual(c.text, cTree.text, what)
                        XCTAssertNil(c.blocks)
                        XCTAssertNil(c.attachments)
                    }
                }
            }
        }
        return counts
    }

    /// The repository's fixtures, a made-up finding, and hostile and oversized variants: always run.
    func testFixturesAndVariantsMatchTreePayloads() {
        let fixtures = Self.findings(in: Self.root.appendingPathComponent("Tests/Fixtures/findings"))
        XCTAssertGreaterThan(fixtures.count, 10)
        let all = fixtures + Self.variants(of: makeFinding()) + Self.variants(of: fixtures[0])
        let counts = checkAll(all, readBack: true)
        // Both ways are exercised.
        XCTAssertGreaterThan(counts.direct, 1000)
        XCTAssertGreaterThan(counts.fallback, 100)
    }

    /// Every finding of the shared GuardDuty corpus (EventBridge events), when present.
    func testCorpusMatchesTreePayloads() throws {
        let dir = Self.root.deletingLastPathComponent().appendingPathComponent("shared/corpus/guardduty/eventbridge")
        guard FileManager.default.fileExists(atPath: dir.path) else { throw XCTSkip("shared corpus not present") }
        let corpus = Self.findings(in: dir)
        XCTAssertGreaterThan(corpus.count, 100)
        let counts = checkAll(corpus, readBack: true)
        XCTAssertGreaterThan(counts.direct, counts.fallback)
    }

    /// Random findings (the pieces of ByteTextTests: entities, `<...>`, combining marks, emoji, controls) of random
    /// lengths around the limits.
    func testRandomFindingsMatchTreePayloads() {
        var rng = SplitMix64(seed: 11)
        let lengths = [0, 10, 40, 400, 1600, 3000, 20_000]
        var findings: [Finding] = []
        for i in 0..<150 {
            func text() -> String {
                ByteTextTests.randomString(
                    &rng, maxLength: lengths[Int.random(in: 0..<lengths.count, using: &rng)],
                    pieces: ByteTextTests.pieces + ["\"", "\\", "\u{0}", "\u{1f}", "\r\n"])
            }
            findings.append(
                makeFinding { f in
                    if Bool.random(using: &rng) { f.title = text() }
                    if Bool.random(using: &rng) { f.description = text() }
                    if Int.random(in: 0..<3, using: &rng) == 0 { f.type = text() }
                    if Int.random(in: 0..<3, using: &rng) == 0 { f.id = text() }
                    if Int.random(in: 0..<3, using: &rng) == 0 { f.account = text() }
                    if Int.random(in: 0..<3, using: &rng) == 0 { f.region = text() }
                    if Int.random(in: 0..<3, using: &rng) == 0 { f.resourceSummary = text() }
                    if Int.random(in: 0..<4, using: &rng) == 0 { f.firstSeen = text() }
                    if Int.random(in: 0..<4, using: &rng) == 0 { f.lastSeen = text() }
                    if Int.random(in: 0..<4, using: &rng) == 0 { f.updatedAt = text() }
                    if Int.random(in: 0..<4, using: &rng) == 0 { f.consoleURL = "https://x.example/" + text() }
                    f.sample = i % 3 == 0
                    f.archived = i % 5 == 0
                })
        }
        let counts = checkAll(findings, readBack: false, mentionSets: [[.here]], notes: [nil, "a \"note\"\n"])
        XCTAssertGreaterThan(counts.direct, 50)
        XCTAssertGreaterThan(counts.fallback, 20)
    }

    // MARK: The two forms of SlackMessage

    func testSettersTurnAPreRenderedMessageIntoATree() {
        let f = makeFinding()
        var m = SlackRenderer.detailed(f, mentions: [.here])
        XCTAssertNotNil(m.rendered)
        let original = m
        m.text = "changed"
        XCTAssertNil(m.rendered)
        XCTAssertEqual(m.text, "changed")
        XCTAssertEqual(m.blocks, original.blocks)
        XCTAssertEqual(m.attachments, original.attachments)
        XCTAssertNotEqual(m, original)
        XCTAssertEqual(m.payload(channel: "C1")["text"], "changed")

        var n = original
        n.blocks?.append(["type": "divider"])
        XCTAssertNil(n.rendered)
        XCTAssertEqual(n.blocks?.count, 3)
        XCTAssertEqual(n.text, original.text)
        XCTAssertEqual(
            n.payloadBytes(channel: nil),
            SlackMessage(text: original.text, blocks: original.blocks! + [["type": "divider"]],
                         attachments: original.attachments).payload(channel: nil).serializedBytes())

        var c = SlackRenderer.compact(f, mentions: [])
        c.attachments = [["color": "#000000"]]
        XCTAssertFalse(c.isTextOnly)
        XCTAssertEqual(c.payload(channel: nil)["attachments"]?[0]?["color"], "#000000")
    }

    func testEqualityIsPayloadEquality() {
        let f = makeFinding()
        let d = SlackRenderer.detailed(f, mentions: [])
        let tree = SlackMessage(text: d.text, blocks: d.blocks, attachments: d.attachments)
        XCTAssertEqual(d, tree)
        XCTAssertEqual(tree, d)
        XCTAssertEqual(d, SlackRenderer.detailed(f, mentions: []))
        XCTAssertNotEqual(d, SlackRenderer.detailed(f, mentions: [.here]))
        XCTAssertNotEqual(d, SlackMessage(text: d.text, blocks: d.blocks))
        XCTAssertEqual(SlackRenderer.compact(f, mentions: []), SlackMessage(text: SlackRenderer.compact(f, mentions: []).text))
    }

    func testEnforceLeavesAFittingPreRenderedMessageAlone() {
        let d = SlackRenderer.detailed(makeFinding(), mentions: [.here], note: "n")
        var m = d
        SlackLimits.enforce(&m)
        XCTAssertEqual(m.payloadBytes(channel: "#x"), d.payloadBytes(channel: "#x"))
    }

    func testTreeFormBytes() {
        let m = SlackMessage(text: "a \"b\"", blocks: [["type": "divider"]])
        XCTAssertEqual(
            String(decoding: m.payloadBytes(channel: "#c"), as: UTF8.self),
            ##"{"channel":"#c","text":"a \"b\"","blocks":[{"type":"divider"}]}"##)
        XCTAssertEqual(String(decoding: m.textOnlyPayloadBytes(), as: UTF8.self), #"{"text":"a \"b\""}"#)
        XCTAssertFalse(m.isTextOnly)
        XCTAssertTrue(SlackMessage(text: "x").isTextOnly)
    }

    func testPreRenderedTextOnlyPayload() {
        let f = makeFinding { $0.title = "quote \" backslash \\ newline-free" }
        let d = SlackRenderer.detailed(f, mentions: [.user("U0ABC")])
        XCTAssertEqual(
            d.textOnlyPayloadBytes(), JSONValue.object(["text": .string(d.text)]).serializedBytes())
        let c = SlackRenderer.compact(f, mentions: [])
        XCTAssertEqual(c.textOnlyPayloadBytes(), c.payloadBytes(channel: nil))
        XCTAssertTrue(c.isTextOnly)
        XCTAssertFalse(d.isTextOnly)
    }

    func testStyleLiteralsMatchStrings() {
        for label in SeverityLabel.allCases {
            let style = SeverityStyle(label)
            XCTAssertEqual(style.emojiLiteral.description, style.emoji)
            XCTAssertEqual(style.colorLiteral.description, style.color)
            XCTAssertEqual(style.wordingLiteral.description, style.wording)
            XCTAssertEqual(style.labelLiteral.description, label.rawValue)
        }
        for (sample, archived, expected) in [
            (false, false, ""), (true, false, "[SAMPLE] "), (false, true, "[ARCHIVED] "),
            (true, true, "[SAMPLE] [ARCHIVED] "),
        ] {
            let f = makeFinding {
                $0.sample = sample
                $0.archived = archived
            }
            XCTAssertEqual(SlackRenderer.markerLiteral(f).description, expected)
        }
    }

    /// The writer's in-place JSON escaper (the renderers') against its appending one (`JSONString`'s), on every byte
    /// value and mixed runs.
    func testEscapeJSONMatchesJSONString() {
        var inputs: [[UInt8]] = (0...255).map { [UInt8($0)] }
        inputs.append(Array(0..<128))
        inputs.append(Array("plain ascii text that is long enough for the word loop".utf8))
        inputs.append(Array("é\"\\\n\t\r\u{8}\u{c}\u{1f}\u{0}x".utf8) + Array(repeating: 0x22, count: 17))
        for input in inputs {
            var expected: [UInt8] = []
            input.withUnsafeBufferPointer { JSONString.escape(bytes: $0, into: &expected) }
            let got = ByteWriter.with(capacity: 8) { out -> [UInt8] in
                out.append("prefix")
                let start = out.count
                input.withUnsafeBufferPointer { out.put($0) }
                out.escapeJSON(from: start)
                return out.array()
            }
            XCTAssertEqual(got, Array("prefix".utf8) + expected, "\(input)")
        }
    }
}
