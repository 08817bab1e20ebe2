import XCTest

@testable import RouterSlack

final class MentionTests: XCTestCase {
    func testAccepted() throws {
        let cases: [(String, Mention)] = [
            ("here", .here), ("@here", .here), ("<!here>", .here),
            ("channel", .channel), ("@channel", .channel), ("<!channel>", .channel),
            ("everyone", .everyone), ("@everyone", .everyone), ("<!everyone>", .everyone),
            ("U012AB3CD", .user("U012AB3CD")), ("@U012AB3CD", .user("U012AB3CD")), ("<@U012AB3CD>", .user("U012AB3CD")),
            ("W0123", .user("W0123")), ("@W0123", .user("W0123")), ("<@W0123>", .user("W0123")),
            ("U12", .user("U12")),
            ("SAZ94GDB8", .group("SAZ94GDB8")), ("<!subteam^SAZ94GDB8>", .group("SAZ94GDB8")),
        ]
        for (input, expected) in cases {
            XCTAssertEqual(try Mention(parsing: input), expected, input)
        }
    }

    func testRejected() {
        let cases = [
            "", "@", "<>", "<!>", "Here", "HERE", "@@here", " here", "here ", "<!here", "!here", "<here>",
            "<!here|here>", "<!subteam^SAZ94GDB8|oncall>", "<@U012AB3CD|alice>", "<!subteam^U012>", "<@S012>",
            "U1", "u012ab3cd", "U012ab3cd", "U012-AB", "X012AB3CD", "@SAZ94GDB8", "<#C012AB3CD>", "C012AB3CD",
            "<!channel>x", "<!date^1392734382^{date_short}|x>", "oncall", "@alice", "U012AB3CD\n", "<@U012AB3CD> ",
            "here\u{301}", "<!here\u{301}>", "<!here>\u{301}", "U012\u{301}AB", "\u{FF35}012AB3CD", "<@\u{FF35}012>",
        ]
        for input in cases {
            XCTAssertThrowsError(try Mention(parsing: input), "accepted \(input.debugDescription)")
        }
    }

    func testErrorMessageQuotesEscapedValue() {
        do {
            _ = try Mention(parsing: "bad\u{1B}[31m\nvalue\"")
            XCTFail("accepted")
        } catch {
            XCTAssertTrue(error.message.contains("\"bad\\u{1b}[31m\\nvalue\\\"\""), error.message)
            XCTAssertFalse(error.message.unicodeScalars.contains { $0.value < 0x20 })
            XCTAssertTrue(error.message.contains("<!subteam^SAZ94GDB8>"))
            XCTAssertTrue(error.message.contains("here, channel or everyone"))
            XCTAssertEqual(error.value, "bad\u{1B}[31m\nvalue\"")
        }
        let long = String(repeating: "x", count: 500)
        XCTAssertThrowsError(try Mention(parsing: long)) { e in
            XCTAssertLessThan((e as! MentionError).message.count, 400)
        }
    }

    func testSlackSyntaxRoundTrips() throws {
        let all: [Mention] = [.here, .channel, .everyone, .user("U012AB3CD"), .user("W0123"), .group("SAZ94GDB8")]
        XCTAssertEqual(all.map(\.slackSyntax), [
            "<!here>", "<!channel>", "<!everyone>", "<@U012AB3CD>", "<@W0123>", "<!subteam^SAZ94GDB8>",
        ])
        for m in all { XCTAssertEqual(try Mention(parsing: m.slackSyntax), m) }
        XCTAssertEqual(Mention.prefix([]), "")
        XCTAssertEqual(Mention.prefix([.here, .user("U1X")]), "<!here> <@U1X> ")
    }
}
