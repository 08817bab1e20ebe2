import XCTest

@testable import RouterSlack

final class SlackTextTests: XCTestCase {
    func testEscapeExactlyThree() {
        XCTAssertEqual(SlackText.escape("plain text *bold* \"q\" 'a'"), "plain text *bold* \"q\" 'a'")
        XCTAssertEqual(SlackText.escape("a & b < c > d"), "a &amp; b &lt; c &gt; d")
        XCTAssertEqual(SlackText.escape("<!channel>"), "&lt;!channel&gt;")
        XCTAssertEqual(SlackText.escape("&amp;"), "&amp;amp;")
        XCTAssertEqual(SlackText.escape("é<👨‍👩‍👧>"), "é&lt;👨‍👩‍👧&gt;")
        XCTAssertEqual(SlackText.escape(""), "")
        XCTAssertEqual(SlackText.unescape(SlackText.escape("a&b<c>&amp;")), "a&b<c>&amp;")
        // Found by the slack-text fuzzer: an entity followed by a combining mark (one grapheme with the ';') is still
        // an entity.
        for mark in ["\u{06DF}", "\u{0301}", "\u{200D}👩", "\u{FE0F}"] {
            let text = "<" + mark + ">" + mark + "&" + mark
            XCTAssertEqual(SlackText.unescape(SlackText.escape(text)), text, mark.unicodeScalars.map { String($0.value, radix: 16) }.joined())
        }
        XCTAssertEqual(SlackText.unescape("&lt"), "&lt", "an unfinished entity stays")
    }

    func testSanitize() {
        XCTAssertEqual(SlackText.sanitize("line1\nline2\tx"), "line1\nline2\tx")
        XCTAssertEqual(SlackText.sanitize("a\r\nb\rc"), "a\nb\nc")
        XCTAssertEqual(SlackText.sanitize("a\u{0}b\u{1B}[31mc\u{7F}d\u{85}e"), "a\u{FFFD}b\u{FFFD}[31mc\u{FFFD}d\u{FFFD}e")
        XCTAssertEqual(SlackText.sanitize("abc\u{202E}fdp.exe"), "abc\u{FFFD}fdp.exe")
        XCTAssertEqual(SlackText.finding("<x>\u{7}"), "&lt;x&gt;\u{FFFD}")
        XCTAssertEqual(SlackText.findingInline("a\nb\tc<"), "a b c&lt;")
    }

    func testLinkURL() {
        XCTAssertEqual(SlackText.linkURL("https://x.example/a?b=1&c=2"), "https://x.example/a?b=1&amp;c=2")
        XCTAssertEqual(SlackText.linkURL("https://x.example/a|b>c<d e"), "https://x.example/a%7Cb%3Ec%3Cd%20e")
        XCTAssertNil(SlackText.linkURL("javascript:alert(1)"))
        XCTAssertNil(SlackText.linkURL("<!channel>"))
        XCTAssertEqual(SlackText.link("https://x.example/?a&b", label: "open"), "<https://x.example/?a&amp;b|open>")
        XCTAssertEqual(SlackText.link("ftp://x", label: "open"), "open")
    }
}
