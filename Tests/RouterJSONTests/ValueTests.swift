import RouterTestRandom
import XCTest
@testable import RouterJSON

/// JSONValue / JSONObject semantics and the serializer.
final class ValueTests: XCTestCase {
    func testLiteralsAndAccessors() {
        let v: JSONValue = ["b": 1, "a": [true, nil, 2.5, "x"], "o": [:]]
        XCTAssertEqual(v.objectValue?.keys, ["b", "a", "o"])
        XCTAssertEqual(v["b"], .int(1))
        XCTAssertEqual(v["a"]?[0], .bool(true))
        XCTAssertEqual(v["a"]?[1], .null)
        XCTAssertEqual(v["a"]?[2]?.doubleValue, 2.5)
        XCTAssertEqual(v["a"]?[3]?.stringValue, "x")
        XCTAssertNil(v["a"]?[4])
        XCTAssertEqual(v["a"]?.arrayValue?.count, 4)
        XCTAssertEqual(v["o"]?.objectValue, JSONObject())
        XCTAssertEqual(v["o"]?.kind, .object)
        XCTAssertNil(v["missing"])
        XCTAssertNil(v.stringValue)
        XCTAssertEqual(JSONValue.int(3).intValue, 3)
        XCTAssertEqual(JSONValue.double(3).intValue, 3)
        XCTAssertNil(JSONValue.double(3.5).intValue)
        XCTAssertNil(JSONValue.double(.nan).intValue)
        XCTAssertNil(JSONValue.double(9.3e18).intValue)
        XCTAssertEqual(JSONValue.double(-9223372036854775808.0).intValue, .min)
        XCTAssertEqual(JSONValue.int(3).doubleValue, 3.0)
        XCTAssertTrue(JSONValue.null.isNull)
        XCTAssertEqual(JSONValue.bool(false).boolValue, false)
        let nested: JSONValue = ["a": ["b": ["c": "deep"]]]
        XCTAssertEqual(nested["a", "b", "c"], "deep")
        XCTAssertNil(nested["a", "x", "c"])
    }

    func testEqualityIsExactAndOrdered() {
        XCTAssertNotEqual(JSONValue.int(1), JSONValue.double(1))
        XCTAssertNotEqual(JSONValue.double(.nan), JSONValue.double(.nan))
        let ab: JSONValue = ["a": 1, "b": 2]
        let ba: JSONValue = ["b": 2, "a": 1]
        XCTAssertNotEqual(ab, ba, "objects compare members in order")
        XCTAssertEqual(ab, ["a": 1, "b": 2])
        XCTAssertNotEqual(ab, ["a": 1])
        XCTAssertNotEqual(ab, ["a": 1, "b": 3])
    }

    func testObjectMutation() {
        var o: JSONObject = ["a": 1, "b": 2]
        o["a"] = "replaced"
        o["c"] = 3
        XCTAssertEqual(o.keys, ["a", "b", "c"], "replacing keeps the position; new keys append")
        XCTAssertEqual(o["a"], "replaced")
        XCTAssertEqual(o.removeValue(forKey: "b"), 2)
        XCTAssertNil(o.removeValue(forKey: "b"))
        XCTAssertEqual(o.keys, ["a", "c"])
        o["a"] = nil
        XCTAssertEqual(o.keys, ["c"])
        XCTAssertEqual(o.count, 1)
        XCTAssertFalse(o.isEmpty)
        XCTAssertTrue(o.contains(key: "c"))
        XCTAssertEqual(Array(o.map(\.key)), ["c"])
        o.append(key: "c", value: 4)
        XCTAssertEqual(o.count, 2)
        XCTAssertEqual(o["c"], 3, "lookups see the first of duplicate keys")
        o["c"] = 5
        XCTAssertEqual(o.values, [5, 4])
        o["c"] = nil
        XCTAssertTrue(o.isEmpty, "removing a key removes all duplicates")

        var v: JSONValue = ["x": 1]
        v["y"] = ["z": true]
        v["x"] = nil
        XCTAssertEqual(v, ["y": ["z": true]])
        var null = JSONValue.null
        null["k"] = "v"
        XCTAssertEqual(null, ["k": "v"])
        var number = JSONValue.int(1)
        number["k"] = "v"
        XCTAssertEqual(number, .int(1), "setting a key on a non-object is a no-op")
    }

    func testLargeObjectsUseIndexConsistently() {
        var o = JSONObject()
        for i in 0..<100 { o["k\(i)"] = .int(Int64(i)) }
        XCTAssertEqual(o.count, 100)
        XCTAssertEqual(o["k57"], 57)
        o["k57"] = "x"
        XCTAssertEqual(o["k57"], "x")
        XCTAssertEqual(o.keys[57], "k57")
        o.removeValue(forKey: "k10")
        XCTAssertEqual(o["k11"], 11)
        XCTAssertNil(o["k10"])
        XCTAssertEqual(o.keys[10], "k11")
        o.append(key: "k11", value: "dup")
        XCTAssertEqual(o["k11"], 11)
        for i in 0..<95 { o.removeValue(forKey: "k\(i)") }
        XCTAssertEqual(o.keys, ["k95", "k96", "k97", "k98", "k99"])
        XCTAssertEqual(o["k99"], 99)
        let copy = JSONObject(o.members.map { ($0.key, $0.value) })
        XCTAssertEqual(copy, o)
    }

    func testCompactSerialization() {
        let v: JSONValue = [
            "s": "q\"b\\s/n\n t\t r\r b\u{8} f\u{c} nul\u{0} us\u{1f} del\u{7f} é 😀",
            "i": [0, -1, .int(Int64.max), .int(Int64.min)],
            "d": [1.0, -0.0, 0.1, 1e-5, 1.5e300, 123456.789, .double(.infinity), .double(-.infinity), .double(.nan)],
            "b": [true, false, nil],
            "e": [[], [:]],
        ]
        XCTAssertEqual(
            v.serialized(),
            #"{"s":"q\"b\\s/n\n t\t r\r b\b f\f nul\u0000 us\u001f del"# + "\u{7f} é 😀"
                + #"","i":[0,-1,9223372036854775807,-9223372036854775808],"#
                + #""d":[1.0,-0.0,0.1,1e-05,1.5e+300,123456.789,null,null,null],"b":[true,false,null],"e":[[],{}]}"#)
        var bytes: [UInt8] = [1, 2]
        JSONValue.string("é").write(into: &bytes)
        XCTAssertEqual(bytes, [1, 2, 0x22, 0xC3, 0xA9, 0x22], "write appends UTF-8 without escaping non-ASCII")
        XCTAssertEqual(JSONValue.int(42).description, "42")
        XCTAssertEqual(JSONValue.object(["a": 1]).serializedBytes(), Array(#"{"a":1}"#.utf8))
    }

    func testJSONStringEscape() {
        var out: [UInt8] = []
        JSONString.escape("a\"b\n/\u{1}", into: &out)
        XCTAssertEqual(String(decoding: out, as: UTF8.self), #"a\"b\n/\u0001"#, "contents only, no quotes")
        out = []
        JSONString.write("x", into: &out)
        XCTAssertEqual(String(decoding: out, as: UTF8.self), #""x""#)
        out = []
        let bridged = String(decoding: [0x61, 0x0A], as: UTF8.self)
        JSONString.escape(bridged + String(repeating: "z", count: 40), into: &out)
        XCTAssertEqual(out.count, 43)
        out = []
        JSONString.escape("", into: &out)
        XCTAssertEqual(out, [])
    }

    func testEscapingAtEveryPositionAndLength() throws {
        // Reference escaper, byte by byte.
        func reference(_ s: String) -> String {
            var out = "\""
            for u in s.unicodeScalars {
                switch u {
                case "\"": out += "\\\""
                case "\\": out += "\\\\"
                case "\n": out += "\\n"
                case "\t": out += "\\t"
                case "\r": out += "\\r"
                case "\u{8}": out += "\\b"
                case "\u{c}": out += "\\f"
                case _ where u.value < 0x20:
                    let hex = String(u.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                default: out.unicodeScalars.append(u)
                }
            }
            return out + "\""
        }
        let specials: [Character] = ["\"", "\\", "\n", "\u{1}", "\u{1f}", "é", "😀"]
        for length in 0..<40 {
            let plain = String((0..<length).map { Character(UnicodeScalar(UInt8(97 + $0 % 26))) })
            XCTAssertEqual(JSONValue.string(plain).serialized(), reference(plain))
            for position in 0...length {
                for special in specials {
                    var chars = Array(plain)
                    chars.insert(special, at: position)
                    if position + 3 <= chars.count { chars.insert(special, at: position / 2) }
                    let s = String(chars)
                    let written = JSONValue.string(s).serialized()
                    XCTAssertEqual(written, reference(s), "length \(length) position \(position)")
                    XCTAssertEqual(try JSONValue.parse(written), .string(s))
                    var escaped: [UInt8] = []
                    JSONString.escape(s, into: &escaped)
                    XCTAssertEqual(String(decoding: escaped, as: UTF8.self), String(reference(s).dropFirst().dropLast()))
                }
            }
        }
    }

    func testPrettyAndSortedSerialization() {
        let v: JSONValue = ["b": [1, ["x": nil]], "a": [:], "c": [], "é": "v", "B": true]
        XCTAssertEqual(
            v.serialized(pretty: true),
            """
            {
              "b": [
                1,
                {
                  "x": null
                }
              ],
              "a": {},
              "c": [],
              "é": "v",
              "B": true
            }
            """)
        XCTAssertEqual(v.serialized(sortedKeys: true), #"{"B":true,"a":{},"b":[1,{"x":null}],"c":[],"é":"v"}"#)
        XCTAssertEqual(
            v.serialized(pretty: true, sortedKeys: true).split(separator: "\n").first(where: { $0.hasPrefix("  \"") }),
            #"  "B": true,"#)
        XCTAssertEqual(JSONValue.int(1).serialized(pretty: true), "1")
        XCTAssertEqual(JSONValue.array([]).serialized(pretty: true), "[]")
        // Sorting is stable for duplicate keys.
        let dup = JSONValue.object(JSONObject([("b", 1), ("a", 2), ("b", 3)]))
        XCTAssertEqual(dup.serialized(sortedKeys: true), #"{"a":2,"b":1,"b":3}"#)
    }

    func testParseSerializeRoundTrip() throws {
        let text = #"""
            {"z":1,"a":{"nested":[1,2.5,-3e-7,"s\u00e9\ud83d\ude00\n",true,false,null,[],{}]},"m":"\u0001"}
            """#
        let value = try JSONValue.parse(Array(text.utf8))
        XCTAssertEqual(value.objectValue?.keys, ["z", "a", "m"], "document order is preserved")
        let compact = value.serialized()
        XCTAssertEqual(compact, #"{"z":1,"a":{"nested":[1,2.5,-3e-07,"sé😀\n",true,false,null,[],{}]},"m":"\u0001"}"#)
        XCTAssertEqual(try JSONValue.parse(compact), value)
        XCTAssertEqual(try JSONValue.parse(value.serialized(pretty: true)), value)
        XCTAssertEqual(try JSONValue.parse(value.serialized(pretty: true)).serialized(), compact)
        XCTAssertThrowsError(try JSONValue.parse("[1,]")) { error in
            XCTAssertEqual((error as? JSONParseError)?.column, 4)
        }
    }

    func testRandomValuesRoundTrip() throws {
        var rng = SplitMix64(seed: 7)
        func randomString() -> String {
            let pool: [Character] = ["a", "Z", " ", "\"", "\\", "/", "\n", "\t", "\u{0}", "\u{1f}", "é", "😀", "€", "\u{7f}"]
            return String((0..<Int(rng.next() % 12)).map { _ in pool[Int(rng.next() % UInt64(pool.count))] })
        }
        func randomValue(_ depth: Int) -> JSONValue {
            switch rng.next() % (depth > 4 ? 5 : 7) {
            case 0: return .null
            case 1: return .bool(rng.next() % 2 == 0)
            case 2: return .int(Int64(bitPattern: rng.next()) >> (rng.next() % 64))
            case 3:
                let d = Double(bitPattern: rng.next())
                return .double(d.isFinite ? d : 0.5)
            case 4: return .string(randomString())
            case 5: return .array((0..<Int(rng.next() % 5)).map { _ in randomValue(depth + 1) })
            default:
                return .object(JSONObject((0..<Int(rng.next() % 5)).map { _ in (randomString(), randomValue(depth + 1)) }))
            }
        }
        for _ in 0..<300 {
            let v = randomValue(0)
            let compact = v.serialized()
            XCTAssertEqual(try JSONValue.parse(compact), v, compact)
            XCTAssertEqual(try JSONValue.parse(v.serialized(pretty: true)), v)
            let doc = try JSONDocument(string: compact)
            XCTAssertEqual(doc.root.rawJSON, compact)
        }
    }
}
