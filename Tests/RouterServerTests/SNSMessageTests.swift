import RouterJSON
import XCTest

@testable import RouterServer

final class SNSMessageTests: XCTestCase {
    /// The JSON of `fields` with a placeholder Signature (parsing does not check it).
    private func unsigned(_ fields: [String: String]) -> [UInt8] {
        var f = fields
        f["Signature"] = "c2lnbmF0dXJl"
        return SNSFixtures.json(f)
    }

    func testParsesNotificationFields() throws {
        let m = try SNSMessage.parse(unsigned(SNSFixtures.notification(subject: "hi")))
        XCTAssertEqual(m.type, "Notification")
        XCTAssertEqual(m.messageId, "22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324")
        XCTAssertEqual(m.topicArn, SNSFixtures.topicArn)
        XCTAssertEqual(m.subject, "hi")
        XCTAssertTrue(m.message.contains(#"Ünïcode\nline"#))
        XCTAssertEqual(m.timestamp, SNSFixtures.timestamp)
        XCTAssertEqual(m.timestampSeconds, SNSFixtures.now - 1.877, accuracy: 0.0001)
        XCTAssertEqual(m.signingCertURL, SNSFixtures.certURL)
        XCTAssertNil(m.subscribeURL)
        XCTAssertNil(m.token)
        XCTAssertNotNil(m.unsubscribeURL)
        XCTAssertFalse(m.isConfirmation)
    }

    func testParsesConfirmationsAndNullSubject() throws {
        let c = try SNSMessage.parse(unsigned(SNSFixtures.confirmation()))
        XCTAssertEqual(c.type, "SubscriptionConfirmation")
        XCTAssertTrue(c.isConfirmation)
        XCTAssertEqual(c.token?.hasPrefix("2336412f"), true)
        XCTAssertEqual(c.subscribeURL?.hasPrefix("https://sns.eu-west-1.amazonaws.com/?Action=ConfirmSubscription"), true)
        let u = try SNSMessage.parse(unsigned(SNSFixtures.confirmation("UnsubscribeConfirmation")))
        XCTAssertEqual(u.type, "UnsubscribeConfirmation")

        var object = try XCTUnwrap(JSONValue.parse(unsigned(SNSFixtures.notification())).objectValue)
        object["Subject"] = .null
        let n = try SNSMessage.parse(JSONValue.object(object).serializedBytes())
        XCTAssertNil(n.subject)
    }

    func testCanonicalStrings() throws {
        let n = try SNSMessage.parse(unsigned(SNSFixtures.notification(subject: "S", message: "M")))
        XCTAssertEqual(
            n.canonicalString,
            "Message\nM\nMessageId\n22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324\nSubject\nS\nTimestamp\n\(SNSFixtures.timestamp)\n"
                + "TopicArn\n\(SNSFixtures.topicArn)\nType\nNotification\n")
        let plain = try SNSMessage.parse(unsigned(SNSFixtures.notification(message: "M")))
        XCTAssertFalse(plain.canonicalString.contains("Subject"))
        var fields = SNSFixtures.confirmation()
        fields["Message"] = "M"
        fields["Token"] = "T"
        fields["SubscribeURL"] = "https://sns.eu-west-1.amazonaws.com/?Action=ConfirmSubscription"
        let c = try SNSMessage.parse(unsigned(fields))
        XCTAssertEqual(
            c.canonicalString,
            "Message\nM\nMessageId\n165545c9-2a5c-472c-8df2-7ff2be2b3b1b\n"
                + "SubscribeURL\nhttps://sns.eu-west-1.amazonaws.com/?Action=ConfirmSubscription\n"
                + "Timestamp\n\(SNSFixtures.timestamp)\nToken\nT\nTopicArn\n\(SNSFixtures.topicArn)\nType\nSubscriptionConfirmation\n")
    }

    func testMalformedInputGetsPreciseErrors() throws {
        assertSNSError("invalid JSON: line 1") { _ = try SNSMessage.parse(Array(#"{"Type": "#.utf8)) }
        assertSNSError("invalid JSON") { _ = try SNSMessage.parse([0xff, 0xfe]) }
        assertSNSError("expected a JSON object, got array") { _ = try SNSMessage.parse(Array("[]".utf8)) }
        for field in ["Type", "MessageId", "TopicArn", "Message", "Timestamp", "SignatureVersion", "Signature", "SigningCertURL"] {
            var object = try XCTUnwrap(JSONValue.parse(unsigned(SNSFixtures.notification())).objectValue)
            object.removeValue(forKey: field)
            let bytes = JSONValue.object(object).serializedBytes()
            assertSNSError("missing field \"\(field)\"") { _ = try SNSMessage.parse(bytes) }
        }
        for field in ["SubscribeURL", "Token"] {
            var f = SNSFixtures.confirmation()
            f[field] = nil
            assertSNSError("missing field \"\(field)\"") { _ = try SNSMessage.parse(unsigned(f)) }
        }
        var typeless = SNSFixtures.notification()
        typeless["Type"] = "Notice"
        assertSNSError("unknown Type \"Notice\"") { _ = try SNSMessage.parse(unsigned(typeless)) }
        var emptyId = SNSFixtures.notification()
        emptyId["MessageId"] = ""
        assertSNSError("field \"MessageId\" is empty") { _ = try SNSMessage.parse(unsigned(emptyId)) }
        var badTime = SNSFixtures.notification()
        badTime["Timestamp"] = "1795752000"
        assertSNSError("\"Timestamp\" is not an ISO 8601 time") { _ = try SNSMessage.parse(unsigned(badTime)) }
        let numeric = #"{"Type":"Notification","MessageId":7}"#
        assertSNSError("field \"MessageId\" must be a string, got number") { _ = try SNSMessage.parse(Array(numeric.utf8)) }
        let subjectObject = String(decoding: unsigned(SNSFixtures.notification()), as: UTF8.self)
            .replacingOccurrences(of: #""Type":"#, with: #""Subject":{},"Type":"#)
        assertSNSError("field \"Subject\" must be a string, got object") {
            _ = try SNSMessage.parse(Array(subjectObject.utf8))
        }
        let duplicate = String(decoding: unsigned(SNSFixtures.notification()), as: UTF8.self)
            .replacingOccurrences(of: #""Type":"#, with: #""Message":"other","Type":"#)
        assertSNSError("field \"Message\" appears more than once") { _ = try SNSMessage.parse(Array(duplicate.utf8)) }
        let deep = String(repeating: "[", count: 10_000)
        assertSNSError("invalid JSON") { _ = try SNSMessage.parse(Array(deep.utf8)) }
    }
}
