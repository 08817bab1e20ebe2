import Foundation
import RouterDelivery
import RouterTestSupport
import XCTest

@testable import RouterActions

final class SlackSignatureTests: XCTestCase {
    /// Slack's documented example (api.slack.com/authentication/verifying-requests-from-slack).
    static let secret = Secret("8f742231b10e8888abcd99yyyzzz85a5")
    static let timestamp = "1531420618"
    static let body = Array(
        "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c"
            .utf8)
    static let expected = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"

    func testSlacksDocumentedExample() {
        XCTAssertEqual(SlackSignature.sign(body: Self.body, timestamp: Self.timestamp, secret: Self.secret), Self.expected)
        let now = Double(Self.timestamp)! + 10
        XCTAssertNoThrow(
            try SlackSignature.verify(body: Self.body, timestamp: Self.timestamp, signature: Self.expected, secret: Self.secret, now: now).get())
        // Upper-case hex is the same signature.
        XCTAssertNoThrow(
            try SlackSignature.verify(
                body: Self.body, timestamp: Self.timestamp, signature: "v0=" + Self.expected.dropFirst(3).uppercased(),
                secret: Self.secret, now: now
            ).get())
    }

    func testRefusals() {
        let t = Double(Self.timestamp)!
        func verdict(body: [UInt8] = SlackSignatureTests.body, timestamp: String? = SlackSignatureTests.timestamp,
                     signature: String? = SlackSignatureTests.expected, secret: Secret = SlackSignatureTests.secret,
                     now: Double = Double(SlackSignatureTests.timestamp)!) -> SlackSignature.Failure? {
            if case .failure(let f) = SlackSignature.verify(body: body, timestamp: timestamp, signature: signature, secret: secret, now: now) {
                return f
            }
            return nil
        }
        XCTAssertEqual(verdict(signature: nil), .missingHeaders)
        XCTAssertEqual(verdict(timestamp: nil), .missingHeaders)
        XCTAssertEqual(verdict(now: t + 301), .stale(seconds: 301))
        XCTAssertEqual(verdict(now: t - 400), .stale(seconds: 400), "a timestamp from the future")
        XCTAssertEqual(verdict(timestamp: "15314206x8"), .malformedTimestamp)
        XCTAssertEqual(verdict(signature: "v1=" + Self.expected.dropFirst(3)), .malformedSignature)
        XCTAssertEqual(verdict(signature: String(Self.expected.dropLast(2))), .malformedSignature)
        var tampered = Self.body
        tampered[tampered.count - 1] ^= 1
        XCTAssertEqual(verdict(body: tampered), .mismatch)
        XCTAssertEqual(verdict(secret: Secret("8f742231b10e8888abcd99yyyzzz85a6")), .mismatch)
        // The timestamp is part of what is signed: another (fresh) one with the old signature does not verify.
        XCTAssertEqual(verdict(timestamp: "1531420619", now: t + 1), .mismatch)
        XCTAssertNil(verdict(now: t + 300), "exactly 5 minutes is still accepted")
    }

    /// Random bodies signed here verify with PyPI slack-sdk's SignatureVerifier, and bodies signed by it verify here.
    func testCrossCheckWithSlackSDK() throws {
        guard let python = ProcessInfo.processInfo.environment["ROUTER_TEST_PYTHON"] else {
            throw XCTSkip("ROUTER_TEST_PYTHON not set (run through scripts/test.sh)")
        }
        var cases: [[String: String]] = []
        var rng = SystemRandomNumberGenerator()
        for i in 0..<20 {
            let length = Int.random(in: 0...300, using: &rng)
            let body = String((0..<length).map { _ in Character(Unicode.Scalar(UInt8.random(in: 0x20...0x7E, using: &rng))) })
            let secret = "secret-\(i)-" + String(UInt64.random(in: 0...UInt64.max, using: &rng), radix: 16)
            let timestamp = String(1_700_000_000 + i)
            cases.append([
                "body": body, "secret": secret, "timestamp": timestamp,
                "ours": SlackSignature.sign(body: Array(body.utf8), timestamp: timestamp, secret: Secret(secret)),
            ])
        }
        let script = """
            import json, sys
            from slack_sdk.signature import SignatureVerifier
            out = []
            for c in json.load(sys.stdin):
                v = SignatureVerifier(c["secret"], clock=type("C", (), {"now": staticmethod(lambda: float(c["timestamp"]))})())
                headers = {"x-slack-request-timestamp": c["timestamp"], "x-slack-signature": c["ours"]}
                bad = dict(headers, **{"x-slack-signature": c["ours"][:-1] + ("0" if c["ours"][-1] != "0" else "1")})
                out.append({"valid": v.is_valid_request(c["body"], headers), "tampered": v.is_valid_request(c["body"], bad),
                            "theirs": v.generate_signature(timestamp=c["timestamp"], body=c["body"])})
            json.dump(out, sys.stdout)
            """
        let result = try runPython(python, script: script, input: try JSONSerialization.data(withJSONObject: cases))
        let answers = try XCTUnwrap(try JSONSerialization.jsonObject(with: result) as? [[String: Any]])
        XCTAssertEqual(answers.count, cases.count)
        for (c, a) in zip(cases, answers) {
            XCTAssertEqual(a["valid"] as? Bool, true, "slack-sdk rejects our signature of \(c["body"]!.prefix(40))")
            XCTAssertEqual(a["tampered"] as? Bool, false)
            let theirs = try XCTUnwrap(a["theirs"] as? String)
            XCTAssertEqual(theirs, c["ours"])
            XCTAssertNoThrow(
                try SlackSignature.verify(
                    body: Array(c["body"]!.utf8), timestamp: c["timestamp"], signature: theirs, secret: Secret(c["secret"]!),
                    now: Double(c["timestamp"]!)!
                ).get())
        }
    }

    func runPython(_ python: String, script: String, input: Data) throws -> Data {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: python)
        p.arguments = ["-c", script]
        let stdin = Pipe(), stdout = Pipe(), stderr = Pipe()
        p.standardInput = stdin
        p.standardOutput = stdout
        p.standardError = stderr
        try p.run()
        stdin.fileHandleForWriting.write(input)
        try stdin.fileHandleForWriting.close()
        let out = stdout.fileHandleForReading.readDataToEndOfFile()
        let err = stderr.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        XCTAssertEqual(p.terminationStatus, 0, String(decoding: err, as: UTF8.self))
        return out
    }

    func testFormBodyDecoding() {
        let body = FormBody.encode([("payload", "{\"a\": \"b c+d&e=f%\"}"), ("x", "y")])
        XCTAssertEqual(FormBody.field("payload", in: body).map { String(decoding: $0, as: UTF8.self) }, "{\"a\": \"b c+d&e=f%\"}")
        XCTAssertEqual(FormBody.field("x", in: body), Array("y".utf8))
        XCTAssertNil(FormBody.field("z", in: body))
        XCTAssertEqual(FormBody.field("p", in: Array("p=a+b%20c".utf8)), Array("a b c".utf8))
        XCTAssertNil(FormBody.field("p", in: Array("p=%2".utf8)), "a cut escape is refused")
        XCTAssertNil(FormBody.field("p", in: Array("p=%zz".utf8)))
    }
}
