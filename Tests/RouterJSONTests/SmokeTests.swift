import XCTest
@testable import RouterJSON

final class SmokeTests: XCTestCase {
    func testParseAndSerialize() throws {
        let doc = try JSONDocument(string: #"{"a": [1, 2.5, "x\n", true, null], "b": {"c": -3}}"#)
        XCTAssertEqual(doc.root.kind, .object)
        XCTAssertEqual(doc.root["b", "c"]?.int, -3)
        XCTAssertEqual(doc.root["a"]?[2]?.string, "x\n")
        XCTAssertEqual(doc.root.value.serialized(), #"{"a":[1,2.5,"x\n",true,null],"b":{"c":-3}}"#)
        XCTAssertEqual(doc.root["a"]?.rawJSON, #"[1, 2.5, "x\n", true, null]"#)
    }

    func testError() {
        XCTAssertThrowsError(try JSONDocument(string: "[1,]")) { e in
            XCTAssertEqual((e as? JSONParseError)?.description, "line 1, column 4: trailing comma in array")
        }
    }
}
