import Foundation
import RouterFinding
import RouterJSON
import XCTest

@testable import RouterSlack

/// Renders every finding of the shared GuardDuty corpus (`../shared/corpus/guardduty`, present on developer machines
/// and in CI; skipped otherwise) and checks limits, escaping and the mention placement on real data.
final class SlackCorpusTests: XCTestCase {
    static var corpus: String? {
        // Tests/RouterSlackTests/CorpusTests.swift -> repository root -> ../shared
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        let dir = root.deletingLastPathComponent().appendingPathComponent("shared/corpus/guardduty").path
        return FileManager.default.fileExists(atPath: dir) ? dir : nil
    }

    func testCorpusRendersWithinLimits() throws {
        guard let dir = Self.corpus else { throw XCTSkip("shared corpus not present") }
        let items = InputReader.items(fromPath: dir)
        let findings = items.compactMap { try? $0.result.get() }
        XCTAssertGreaterThan(findings.count, 100)
        let mentions: [Mention] = [.here, .group("SAZ94GDB8")]
        var labels = Set<SeverityLabel>()
        for f in findings {
            labels.insert(f.severityLabel)
            for m in [
                SlackRenderer.detailed(f, mentions: mentions),
                SlackRenderer.detailed(f, mentions: [], note: "Rule error: rules/50-route.lua:3: attempt to index a nil value"),
                SlackRenderer.compact(f, mentions: mentions),
            ] {
                assertWithinLimits(m)
                assertNoInjection(m, allowedMentions: mentions, links: [f.consoleURL])
                recordPayload(m)
            }
            let d = SlackRenderer.detailed(f, mentions: mentions)
            XCTAssertTrue(d.text.hasPrefix("<!here> <!subteam^SAZ94GDB8> "))
            XCTAssertTrue(d.blocks?[1]["text"]?["text"]?.stringValue?.hasPrefix("<!here> <!subteam^SAZ94GDB8> ") ?? false)
            XCTAssertTrue(d.text.contains(f.severityLabel.rawValue))
            if f.sample { XCTAssertTrue(d.text.contains("[SAMPLE]"), d.text) }
            XCTAssertFalse(SlackRenderer.compact(f, mentions: mentions).text.contains("\n"))
        }
        XCTAssertTrue(labels.contains(.critical), "\(labels)")
    }
}
