import XCTest
@testable import RouterJSON

/// Parsing: acceptance, strict rejection with positions, depth limits, tape navigation.
final class ParserTests: XCTestCase {
    private func parseError(_ text: String, maxDepth: Int = 256, file: StaticString = #filePath, line: UInt = #line)
        -> JSONParseError?
    {
        do {
            _ = try JSONDocument(string: text, maxDepth: maxDepth)
            XCTFail("expected a parse error for \(text.debugDescription)", file: file, line: line)
            return nil
        } catch {
            return error
        }
    }

    private func assertError(
        _ text: String, line: Int, column: Int, _ message: String, maxDepth: Int = 256,
        file: StaticString = #filePath, line testLine: UInt = #line
    ) {
        guard let e = parseError(text, maxDepth: maxDepth, file: file, line: testLine) else { return }
        XCTAssertEqual(e.line, line, "line for \(text.debugDescription): \(e)", file: file, line: testLine)
        XCTAssertEqual(e.column, column, "column for \(text.debugDescription): \(e)", file: file, line: testLine)
        XCTAssertEqual(e.message, message, "message for \(text.debugDescription)", file: file, line: testLine)
    }

    func testScalarsAndContainers() throws {
        XCTAssertEqual(try JSONDocument(string: "null").root.kind, .null)
        XCTAssertTrue(try JSONDocument(string: " null ").root.isNull)
        XCTAssertEqual(try JSONDocument(string: "true").root.bool, true)
        XCTAssertEqual(try JSONDocument(string: "false").root.bool, false)
        XCTAssertEqual(try JSONDocument(string: "\"x\"").root.string, "x")
        XCTAssertEqual(try JSONDocument(string: "12").root.int, 12)
        XCTAssertEqual(try JSONDocument(string: "[]").root.kind, .array)
        XCTAssertEqual(try JSONDocument(string: "[]").root.count, 0)
        XCTAssertEqual(try JSONDocument(string: "{}").root.kind, .object)
        XCTAssertEqual(try JSONDocument(string: " \t\r\n{ } \n").root.count, 0)
        // Kind mismatches return nil, not traps.
        let doc = try JSONDocument(string: #"{"a": 1}"#)
        XCTAssertNil(doc.root.string)
        XCTAssertNil(doc.root.double)
        XCTAssertNil(doc.root[0])
        XCTAssertNil(doc.root["a"]?["b"])
        XCTAssertNil(doc.root["a"]?.bool)
        XCTAssertFalse(doc.root.isNull)
        XCTAssertEqual(doc.root["a"]?.count, 0)
        XCTAssertEqual(doc.root["a"]?.elements.count, 0)
    }

    func testByteOrderMarkIsSkipped() throws {
        let doc = try JSONDocument(bytes: [0xEF, 0xBB, 0xBF] + Array(#"{"a":true}"#.utf8))
        XCTAssertEqual(doc.root["a"]?.bool, true)
        XCTAssertEqual(doc.byteCount, 13)
    }

    func testNavigation() throws {
        let text = #"""
            {"service": {"action": {"actionType": "AWS_API_CALL", "list": [10, [20, 21], {"k": "v"}, null]}},
             "empty": {}, "arr": []}
            """#
        let doc = try JSONDocument(string: text)
        let root = doc.root
        XCTAssertEqual(root["service", "action", "actionType"]?.string, "AWS_API_CALL")
        XCTAssertEqual(root[path: ["service", "action", "actionType"]]?.string, "AWS_API_CALL")
        XCTAssertNil(root["service", "nope", "actionType"])
        XCTAssertNil(root["service", "action", "actionType", "deeper"])
        let list = try XCTUnwrap(root["service", "action", "list"])
        XCTAssertEqual(list.count, 4)
        XCTAssertEqual(list[0]?.int, 10)
        XCTAssertEqual(list[1]?[1]?.int, 21)
        XCTAssertEqual(list[2]?["k"]?.string, "v")
        XCTAssertEqual(list[3]?.isNull, true)
        XCTAssertNil(list[4])
        XCTAssertNil(list[-1])
        XCTAssertEqual(list.elements.map(\.kind), [.number, .array, .object, .null])
        XCTAssertEqual(root.members.map(\.key), ["service", "empty", "arr"])
        XCTAssertEqual(root["empty"]?.members.count, 0)
        XCTAssertEqual(root["arr"]?.elements.count, 0)
        XCTAssertEqual(list[1]?.rawJSON, "[20, 21]")
        XCTAssertEqual(list[2]?.rawJSON, #"{"k": "v"}"#)
        XCTAssertEqual(root["service", "action", "actionType"]?.rawJSON, #""AWS_API_CALL""#)
        XCTAssertEqual(root["empty"]?.rawJSON, "{}")
        XCTAssertEqual(root.rawJSON, text)
        XCTAssertEqual(
            root["service"]?.rawJSON, #"{"action": {"actionType": "AWS_API_CALL", "list": [10, [20, 21], {"k": "v"}, null]}}"#)
        XCTAssertEqual(list.index, root["service", "action", "list"]?.index)
        XCTAssertTrue(list.document === doc)
    }

    func testRawJSONOfNestedContainersEndingTogether() throws {
        let doc = try JSONDocument(string: "[[[1 ] ] , { \"a\" : { \"b\" : [ ] } } ]")
        XCTAssertEqual(doc.root[0]?.rawJSON, "[[1 ] ]")
        XCTAssertEqual(doc.root[0]?[0]?.rawJSON, "[1 ]")
        XCTAssertEqual(doc.root[1]?.rawJSON, #"{ "a" : { "b" : [ ] } }"#)
        XCTAssertEqual(doc.root[1]?["a"]?.rawJSON, #"{ "b" : [ ] }"#)
        XCTAssertEqual(doc.root[1]?["a", "b"]?.rawJSON, "[ ]")
        XCTAssertEqual(doc.root[1]?["a", "b"]?.byteRange, 27..<30)
    }

    func testDuplicateKeysFirstWins() throws {
        let doc = try JSONDocument(string: #"{"a": 1, "b": 2, "a": 3}"#)
        XCTAssertEqual(doc.root["a"]?.int, 1)
        XCTAssertEqual(doc.root.members.map(\.key), ["a", "b", "a"])
        let value = doc.root.value
        XCTAssertEqual(value["a"], 1)
        XCTAssertEqual(value.objectValue?.count, 3)
        XCTAssertEqual(value.serialized(), #"{"a":1,"b":2,"a":3}"#)
    }

    func testRejectsWithPositions() {
        assertError("", line: 1, column: 1, "unexpected end of input, expected a value")
        assertError("   \n  ", line: 2, column: 3, "unexpected end of input, expected a value")
        assertError("[1,]", line: 1, column: 4, "trailing comma in array")
        assertError("[1,\n  ]", line: 2, column: 3, "trailing comma in array")
        assertError(#"{"a":1,}"#, line: 1, column: 8, "trailing comma in object")
        assertError("[,1]", line: 1, column: 2, "unexpected ',', expected a value")
        assertError("[1 2]", line: 1, column: 4, "expected ',' or ']' after array element")
        assertError(#"{"a":1 "b":2}"#, line: 1, column: 8, "expected ',' or '}' after object member")
        assertError(#"{"a" 1}"#, line: 1, column: 6, "expected ':' after object key")
        assertError("{a:1}", line: 1, column: 2, "expected a string key or '}' in object")
        assertError(#"{"a":1,2}"#, line: 1, column: 8, "expected a string key after ',' in object")
        assertError("['a']", line: 1, column: 2, "strings must use double quotes")
        assertError("01", line: 1, column: 1, "leading zeros are not allowed in numbers")
        assertError("[-012]", line: 1, column: 3, "leading zeros are not allowed in numbers")
        assertError("-", line: 1, column: 2, "expected a digit after '-'")
        assertError("1.", line: 1, column: 3, "expected a digit after the decimal point")
        assertError("1.e5", line: 1, column: 3, "expected a digit after the decimal point")
        assertError("1e", line: 1, column: 3, "expected a digit in the exponent")
        assertError("1e+", line: 1, column: 4, "expected a digit in the exponent")
        assertError(".5", line: 1, column: 1, "unexpected '.', expected a value")
        assertError("+1", line: 1, column: 1, "unexpected '+', expected a value")
        assertError("NaN", line: 1, column: 1, "NaN and Infinity are not valid JSON numbers")
        assertError("[Infinity]", line: 1, column: 2, "NaN and Infinity are not valid JSON numbers")
        assertError("-Infinity", line: 1, column: 2, "Infinity is not a valid JSON number")
        assertError("tru", line: 1, column: 1, "invalid literal (expected true, false or null)")
        assertError("nul", line: 1, column: 1, "invalid literal (expected true, false or null)")
        assertError("True", line: 1, column: 1, "unexpected 'T', expected a value")
        assertError("truex", line: 1, column: 5, "unexpected trailing characters after the JSON value")
        assertError("1 2", line: 1, column: 3, "unexpected trailing characters after the JSON value")
        assertError("{} x", line: 1, column: 4, "unexpected trailing characters after the JSON value")
        assertError("[1]]", line: 1, column: 4, "unexpected trailing characters after the JSON value")
        assertError("\"abc", line: 1, column: 1, "unterminated string")
        assertError("[\"a\",\n \"abc\\\"]", line: 2, column: 2, "unterminated string")
        assertError("\"a\nb\"", line: 1, column: 3, "unescaped control character 0x0A in string")
        assertError("\"a\tb\"", line: 1, column: 3, "unescaped control character 0x09 in string")
        assertError("\"a\u{0}b\"", line: 1, column: 3, "unescaped control character 0x00 in string")
        assertError(#""a\xb""#, line: 1, column: 3, #"invalid escape sequence '\x' in string"#)
        assertError(#""\'""#, line: 1, column: 2, #"invalid escape sequence '\'' in string"#)
        assertError(#""\u12G4""#, line: 1, column: 2, #"invalid \u escape: expected 4 hexadecimal digits"#)
        assertError(#""\u12""#, line: 1, column: 2, #"invalid \u escape: expected 4 hexadecimal digits"#)
        assertError("[", line: 1, column: 2, "unexpected end of input, expected a value")
        assertError("[1", line: 1, column: 3, "unexpected end of input in array, expected ',' or ']'")
        assertError("{", line: 1, column: 2, "unexpected end of input in object, expected a string key or '}'")
        assertError(#"{"a""#, line: 1, column: 5, "unexpected end of input in object, expected ':'")
        assertError(#"{"a":1"#, line: 1, column: 7, "unexpected end of input in object, expected ',' or '}'")
        assertError("[1,\n2,\n\u{1}]", line: 3, column: 1, "unexpected byte 0x01, expected a value")
        // A NUL byte in the middle of the input is not the end.
        assertError("[1]\u{0}", line: 1, column: 4, "unexpected trailing characters after the JSON value")
        // BOM only at the start; columns count bytes.
        assertError("[\"é\", x]", line: 1, column: 8, "unexpected 'x', expected a value")
    }

    func testErrorDescriptionAndOffset() {
        guard let e = parseError("{\n  \"a\": [1,\n  2,]\n}") else { return }
        XCTAssertEqual(e.description, "line 3, column 5: trailing comma in array")
        XCTAssertEqual(e.offset, 17)
        XCTAssertEqual(e, JSONParseError(offset: 17, line: 3, column: 5, message: "trailing comma in array"))
    }

    func testDepthLimit() throws {
        func nested(_ n: Int) -> String { String(repeating: "[", count: n) + String(repeating: "]", count: n) }
        XCTAssertNoThrow(try JSONDocument(string: nested(256)))
        assertError(nested(257), line: 1, column: 257, "nesting depth exceeds the limit of 256")
        XCTAssertNoThrow(try JSONDocument(string: nested(3), maxDepth: 3))
        assertError(nested(4), line: 1, column: 4, "nesting depth exceeds the limit of 3", maxDepth: 3)
        assertError(#"{"a":{"b":{}}}"#, line: 1, column: 11, "nesting depth exceeds the limit of 2", maxDepth: 2)
        // Scalars need no depth.
        XCTAssertEqual(try JSONDocument(string: "1", maxDepth: 0).root.int, 1)
        assertError("[]", line: 1, column: 1, "nesting depth exceeds the limit of 0", maxDepth: 0)
        // Deep documents are parsed without recursion; deep conversion works too.
        let deep = try JSONDocument(string: nested(10_000), maxDepth: 10_000)
        XCTAssertEqual(deep.nodeCount, 10_000)
        XCTAssertEqual(deep.root.rawJSON.utf8.count, 20_000)
    }

    func testParsesFromAnyCollection() throws {
        let bytes = Array(#"{"a": [1, 2]}"#.utf8)
        XCTAssertEqual(try JSONDocument(bytes: bytes[...]).root["a"]?.count, 2)
        XCTAssertEqual(try JSONDocument(bytes: bytes.lazy.map { $0 }).root["a"]?[1]?.int, 2)
        let viaBuffer = try bytes.withUnsafeBytes { try JSONDocument(buffer: $0) }
        XCTAssertEqual(viaBuffer.root["a"]?[0]?.int, 1)
        // The input is copied: mutating the source afterwards does not affect the document.
        var source = Array(#"["abc"]"#.utf8)
        let doc = try JSONDocument(bytes: source)
        source[2] = UInt8(ascii: "X")
        XCTAssertEqual(doc.root[0]?.string, "abc")
    }

    func testCDocumentAccess() throws {
        let doc = try JSONDocument(string: #"{"a":[true]}"#)
        XCTAssertEqual(doc.cDocument.pointee.count, 4)
        XCTAssertEqual(Int(doc.cDocument.pointee.buf_len), doc.byteCount)
        XCTAssertEqual(doc.root["a"]?.index, 2)
        XCTAssertEqual(doc.root["a"]?[0]?.index, 3)
    }

    func testLargeDocument() throws {
        // ~1 MB: 5,000 finding-like records.
        var text = "["
        for i in 0..<5_000 {
            if i > 0 { text += "," }
            text += #"{"id":"finding-\#(i)","severity":\#(Double(i % 9) + 0.5),"count":\#(i),"#
            text += #""resource":{"type":"Instance","tags":[{"key":"Name","value":"host \#(i) \u00e9"}]},"#
            text += #""description":"\#(String(repeating: "x", count: 80))"}"#
        }
        text += "]"
        XCTAssertGreaterThan(text.utf8.count, 1_000_000)
        let doc = try JSONDocument(string: text)
        XCTAssertEqual(doc.root.count, 5_000)
        XCTAssertEqual(doc.root[4_999]?["id"]?.string, "finding-4999")
        XCTAssertEqual(doc.root[1234]?["resource", "tags"]?[0]?["value"]?.string, "host 1234 é")
        XCTAssertEqual(doc.root[7]?["severity"]?.double, 7.5)
        let value = doc.root.value
        XCTAssertEqual(value.arrayValue?.count, 5_000)
        let again = try JSONValue.parse(value.serializedBytes())
        XCTAssertEqual(again, value)
    }

    func testConcurrentReads() async throws {
        let doc = try JSONDocument(string: #"{"a":{"b":[1,2,3]},"s":"x\ny"}"#)
        let root = doc.root
        let sums = await withTaskGroup(of: Int64.self) { group in
            for _ in 0..<8 {
                group.addTask {
                    var s: Int64 = 0
                    for _ in 0..<200 {
                        s += root["a", "b"]?.elements.compactMap(\.int).reduce(0, +) ?? 0
                        XCTAssertEqual(root["s"]?.string, "x\ny")
                    }
                    return s
                }
            }
            return await group.reduce(into: [Int64]()) { $0.append($1) }
        }
        XCTAssertEqual(sums, Array(repeating: 1200, count: 8))
    }
}
