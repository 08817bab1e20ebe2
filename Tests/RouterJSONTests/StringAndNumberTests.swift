import RouterTestRandom
import XCTest
@testable import RouterJSON
import CRouterJSON

/// String unescaping and number semantics of the tape and the value conversion.
final class StringAndNumberTests: XCTestCase {
    private func string(_ literal: String) throws -> String? {
        try JSONDocument(string: literal).root.string
    }

    func testSimpleEscapes() throws {
        XCTAssertEqual(try string(#""a\"b\\c\/d\be\ff\ng\rh\ti""#), "a\"b\\c/d\u{8}e\u{c}f\ng\rh\ti")
        XCTAssertEqual(try string(#""""#), "")
        XCTAssertEqual(try string(#""\\""#), "\\")
        XCTAssertEqual(try string(#""plain / text é 😀""#), "plain / text é 😀")
    }

    func testUnicodeEscapesAndSurrogates() throws {
        XCTAssertEqual(try string(#""\u0041\u00e9\u00E9\u20ac""#), "Aéé€")
        XCTAssertEqual(try string(#""\ud83d\ude00""#), "😀")
        XCTAssertEqual(try string(#""x\uD834\uDD1Ey""#), "x𝄞y")
        XCTAssertEqual(try string(#""\u0000""#), "\u{0}")
        // Lone surrogates become U+FFFD.
        XCTAssertEqual(try string(#""\ud800""#), "\u{FFFD}")
        XCTAssertEqual(try string(#""\udc00x""#), "\u{FFFD}x")
        XCTAssertEqual(try string(#""\ud800\u0041""#), "\u{FFFD}A")
        XCTAssertEqual(try string(#""\ud800\ud800\udc00""#), "\u{FFFD}\u{10000}")
        XCTAssertEqual(try string(#""\ud800\n""#), "\u{FFFD}\n")
        // C-level length matches.
        let doc = try JSONDocument(string: #"["\ud83d\ude00", "\ud800", "ab", "\u00e9"]"#)
        XCTAssertEqual(doc.root.elements.map { rj_string_length(doc.cDocument, $0.index) }, [4, 3, 2, 2])
    }

    func testInvalidUTF8IsPassedThroughAndRepairedInSwift() throws {
        let doc = try JSONDocument(bytes: [0x22, 0x61, 0xFF, 0x62, 0x22])
        XCTAssertEqual(rj_string_length(doc.cDocument, 0), 3)
        XCTAssertEqual(doc.root.string, "a\u{FFFD}b")
    }

    func testEscapedKeysAreMatchedUnescaped() throws {
        let doc = try JSONDocument(string: #"{"a\u0062c": 1, "d\"e": 2, "\ud83d\ude00": 3, "abcd": 4, "": 5}"#)
        XCTAssertEqual(doc.root["abc"]?.int, 1)
        XCTAssertEqual(doc.root["d\"e"]?.int, 2)
        XCTAssertEqual(doc.root["😀"]?.int, 3)
        XCTAssertEqual(doc.root["abcd"]?.int, 4)
        XCTAssertEqual(doc.root[""]?.int, 5)
        XCTAssertNil(doc.root["ab"])
        XCTAssertNil(doc.root["a\\u0062c"])
        XCTAssertEqual(doc.root.members.map(\.key), ["abc", "d\"e", "😀", "abcd", ""])
        XCTAssertEqual(doc.root.members[3].value.index, doc.root["abcd"]?.index)
    }

    func testStringEquals() throws {
        let doc = try JSONDocument(string: #"["NETWORK_CONNECTION", "a\nb", 1]"#)
        XCTAssertTrue(doc.root[0]!.stringEquals("NETWORK_CONNECTION"))
        XCTAssertFalse(doc.root[0]!.stringEquals("NETWORK_CONNECTIO"))
        XCTAssertTrue(doc.root[1]!.stringEquals("a\nb"))
        XCTAssertFalse(doc.root[2]!.stringEquals("1"))
    }

    func testLongStringsCrossingScanBlocks() throws {
        for n in [0, 1, 7, 8, 15, 16, 17, 31, 32, 33, 100, 1000] {
            let body = String(repeating: "a", count: n)
            XCTAssertEqual(try string("\"\(body)\""), body)
            XCTAssertEqual(try string("\"\(body)\\n\(body)\""), body + "\n" + body)
            XCTAssertThrowsError(try JSONDocument(string: "\"\(body)\u{1f}\"")) { error in
                XCTAssertEqual((error as? JSONParseError)?.column, n + 2)
            }
            XCTAssertThrowsError(try JSONDocument(string: "\"\(body)")) { error in
                XCTAssertEqual((error as? JSONParseError)?.message, "unterminated string")
            }
        }
    }

    func testIntegersAndDoubles() throws {
        let doc = try JSONDocument(
            string: """
                [0, -0, 1, -1, 9223372036854775807, -9223372036854775808, 9223372036854775808,
                 -9223372036854775809, 1.0, 1e2, 1.5, -2.5e-3, 0.1, 1e400, -1e400, 1e-400, 123456789012345678901234567890,
                 4.9406564584124654e-324, 1.7976931348623157e308, 0.30000000000000004, 9007199254740993]
                """)
        let n = doc.root.elements
        XCTAssertEqual(n[0].value, .int(0))
        XCTAssertEqual(n[1].value, .int(0), "-0 is an integer literal (value 0)")
        XCTAssertEqual(n[1].int, 0)
        XCTAssertEqual(n[1].double?.sign, .plus)
        XCTAssertEqual(n[2].value, .int(1))
        XCTAssertEqual(n[3].value, .int(-1))
        XCTAssertEqual(n[4].value, .int(Int64.max))
        XCTAssertEqual(n[5].value, .int(Int64.min))
        XCTAssertEqual(n[6].value, .double(9223372036854775808.0), "beyond Int64: a double")
        XCTAssertNil(n[6].int)
        XCTAssertEqual(n[7].value, .double(-9223372036854775809.0))
        XCTAssertEqual(n[7].int, Int64.min, "-2^63 - 1 rounds to the double -2^63, which is exactly Int64.min")
        XCTAssertEqual(n[8].value, .double(1.0), "a fraction makes a double")
        XCTAssertEqual(n[8].int, 1, "`int` accepts integral doubles")
        XCTAssertEqual(n[9].value, .double(100))
        XCTAssertEqual(n[9].int, 100)
        XCTAssertEqual(n[10].value, .double(1.5))
        XCTAssertNil(n[10].int)
        XCTAssertEqual(n[11].double, -0.0025)
        XCTAssertEqual(n[12].double, 0.1)
        XCTAssertEqual(n[13].value, .double(.infinity), "out-of-range literals are accepted as infinity")
        XCTAssertEqual(n[14].value, .double(-.infinity))
        XCTAssertNil(n[13].int)
        XCTAssertEqual(n[15].double, 0.0)
        XCTAssertEqual(n[16].double, 1.2345678901234568e29)
        XCTAssertEqual(n[17].double, .leastNonzeroMagnitude)
        XCTAssertEqual(n[18].double, .greatestFiniteMagnitude)
        XCTAssertEqual(n[19].double, 0.1 + 0.2)
        XCTAssertEqual(n[20].int, 9007199254740993)
        XCTAssertEqual(n[20].double, 9007199254740992.0)
        XCTAssertEqual(n[4].rawJSON, "9223372036854775807")
        XCTAssertNil(try JSONDocument(string: "\"1\"").root.int)
        XCTAssertNil(try JSONDocument(string: "true").root.double)
    }

    func testDoubleParsingMatchesSwift() throws {
        // Fast path (<= 2^53 significand, |exp| <= 22) and the strtod fallback must both be correctly rounded.
        let literals = [
            "3.14159", "2.718281828459045", "1e22", "1e23", "9007199254740993.0", "123456.789e-3", "0.000001",
            "1.00000000000000011102230246251565404236316680908203125", "2.2250738585072014e-308", "5e-324",
            "8.0", "-0.0", "0.1e1", "100000000000000000000000.5", "1.7976931348623157e308", "6.02214076e23",
        ]
        for literal in literals {
            let doc = try JSONDocument(string: literal)
            XCTAssertEqual(doc.root.double, Double(literal), literal)
            XCTAssertEqual(doc.root.double?.sign, Double(literal)?.sign, literal)
        }
        var rng = SplitMix64(seed: 42)
        for _ in 0..<2_000 {
            let d = Double(bitPattern: rng.next() & 0x7FEF_FFFF_FFFF_FFFF)
            for text in [d.description, "\(rng.next() % 1_000_000).\(rng.next() % 1_000_000)e\(Int(rng.next() % 40) - 20)"] {
                let doc = try JSONDocument(string: text)
                XCTAssertEqual(doc.root.double, Double(text), text)
            }
        }
    }
}

