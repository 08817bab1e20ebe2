import Crypto
import Foundation
import RouterJSON
import X509
import XCTest
import _CryptoExtras

@testable import RouterServer

/// A locally generated RSA key with a self-signed certificate, signing SNS messages the way SNS does.
struct SNSTestSigner: Sendable {
    let key: _RSA.Signing.PrivateKey
    let certificatePEM: String

    /// `validFrom`/`validUntil` in Unix seconds.
    init(key: _RSA.Signing.PrivateKey, validFrom: Double, validUntil: Double) throws {
        self.key = key
        let name = try DistinguishedName { CommonName("sns.amazonaws.com") }
        let certificate = try Certificate(
            version: .v3, serialNumber: Certificate.SerialNumber(), publicKey: Certificate.PublicKey(key.publicKey),
            notValidBefore: Date(timeIntervalSince1970: validFrom), notValidAfter: Date(timeIntervalSince1970: validUntil),
            issuer: name, subject: name, signatureAlgorithm: .sha256WithRSAEncryption, extensions: Certificate.Extensions(),
            issuerPrivateKey: Certificate.PrivateKey(key))
        certificatePEM = try certificate.serializeAsPEM().pemString
    }

    /// Two keys for the whole test run (RSA key generation is slow).
    static let keys: [_RSA.Signing.PrivateKey] = (0..<2).map { _ in
        // Test setup, not external input: a failure here is a broken toolchain.
        try! _RSA.Signing.PrivateKey(keySize: .bits2048)
    }

    /// The canonical string, written out independently of `SNSMessage.canonicalString`.
    static func stringToSign(_ fields: [String: String]) -> String {
        let names =
            fields["Type"] == "Notification"
            ? ["Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"]
            : ["Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"]
        return names.compactMap { name in fields[name].map { "\(name)\n\($0)\n" } }.joined()
    }

    /// Signs `fields` (SignatureVersion from the fields, "1" = SHA1, else SHA256) and returns the JSON body.
    func body(_ fields: [String: String], signedFields: [String: String]? = nil) throws -> [UInt8] {
        var all = fields
        let data = Array(Self.stringToSign(signedFields ?? fields).utf8)
        let signature =
            fields["SignatureVersion"] == "1"
            ? try key.signature(for: Insecure.SHA1.hash(data: data), padding: .insecurePKCS1v1_5)
            : try key.signature(for: SHA256.hash(data: data), padding: .insecurePKCS1v1_5)
        if all["Signature"] == nil { all["Signature"] = signature.rawRepresentation.base64EncodedString() }
        return SNSFixtures.json(all)
    }
}

enum SNSFixtures {
    static let certURL = "https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-0123456789abcdef.pem"
    static let topicArn = "arn:aws:sns:eu-west-1:123456789012:guardduty-findings"
    /// 2026-11-27T04:00:00Z
    static let now: Double = 1_795_752_000
    static let timestamp = "2026-11-27T03:59:58.123Z"

    static func notification(version: String = "2", subject: String? = nil, message: String? = nil) -> [String: String] {
        var f: [String: String] = [
            "Type": "Notification",
            "MessageId": "22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324",
            "TopicArn": topicArn,
            "Message": message ?? #"{"detail-type":"GuardDuty Finding","detail":{"severity":8.0,"title":"Ünïcode\nline"}}"#,
            "Timestamp": timestamp,
            "SignatureVersion": version,
            "SigningCertURL": certURL,
            "UnsubscribeURL":
                "https://sns.eu-west-1.amazonaws.com/?Action=Unsubscribe&SubscriptionArn=\(topicArn):c9135db0",
        ]
        if let subject { f["Subject"] = subject }
        return f
    }

    static func confirmation(_ type: String = "SubscriptionConfirmation", version: String = "2") -> [String: String] {
        [
            "Type": type,
            "MessageId": "165545c9-2a5c-472c-8df2-7ff2be2b3b1b",
            "Token": "2336412f37fb687f5d51e6e241d09c805a5a57b30d712f794cc5f6a988666d92768dd60a747ba6f3beb71854e285d6ad02428b09ceece29417f1f02d609c582afbacc99c583a916b9981dd2728f4ae6fdb82efd087cc3b7849e05798d2d2785c03b0879594eeac82c01f235d0e717736",
            "TopicArn": topicArn,
            "Message": "You have chosen to subscribe to the topic \(topicArn).\nTo confirm the subscription, visit the SubscribeURL included in this message.",
            "SubscribeURL":
                "https://sns.eu-west-1.amazonaws.com/?Action=ConfirmSubscription&TopicArn=\(topicArn)&Token=2336412f37",
            "Timestamp": timestamp,
            "SignatureVersion": version,
            "SigningCertURL": certURL,
        ]
    }

    static func json(_ fields: [String: String]) -> [UInt8] {
        var object = JSONObject()
        for key in fields.keys.sorted() { object[key] = .string(fields[key] ?? "") }
        return JSONValue.object(object).serializedBytes()
    }
}

/// A `fetch` that serves fixed bodies by URL and counts calls (thread-safe).
final class FakeFetch: @unchecked Sendable {
    private let lock = NSLock()
    private var bodies: [String: [UInt8]]
    private(set) var requested: [String] = []

    init(_ bodies: [String: String]) {
        self.bodies = bodies.mapValues { Array($0.utf8) }
    }

    var calls: Int { lock.withLock { requested.count } }

    var function: @Sendable (String) -> Result<[UInt8], SNSError> {
        { [self] url in
            lock.withLock {
                requested.append(url)
                guard let body = bodies[url] else { return .failure(SNSError("GET answered HTTP 404")) }
                return .success(body)
            }
        }
    }
}

/// Asserts that `body` throws an SNSError whose description contains `fragment`.
func assertSNSError(
    _ fragment: String, file: StaticString = #filePath, line: UInt = #line, _ body: () throws -> Void
) {
    do {
        try body()
        XCTFail("expected an error containing \"\(fragment)\", got success", file: file, line: line)
    } catch let error as SNSError {
        XCTAssertTrue(
            error.description.contains(fragment), "\"\(error.description)\" does not contain \"\(fragment)\"",
            file: file, line: line)
    } catch {
        XCTFail("expected an SNSError, got \(error)", file: file, line: line)
    }
}

/// Helper processes of one test (stopped in tearDown) and a temporary directory for their files.
final class ChildProcesses {
    let directory: URL
    private var processes: [Process] = []

    /// Tests/SNS/sns_endpoint.py: a loopback endpoint that stores POSTs and serves files (see its header).
    static let endpointHelper = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("SNS/sns_endpoint.py").path

    init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("sns-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    func stop() {
        for p in processes where p.isRunning {
            p.terminate()
            p.waitUntilExit()
        }
        processes = []
        try? FileManager.default.removeItem(at: directory)
    }

    /// Starts `executable args`, output to a log file, and returns the first capture of `pattern` (a regex with one
    /// group) in that output, waiting at most `timeout` seconds.
    func start(_ executable: String, _ arguments: [String], waitFor pattern: String, timeout: Double = 30)
        throws -> String
    {
        let log = directory.appendingPathComponent("\(processes.count).log")
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: executable)
        p.arguments = arguments
        let handle = try FileHandle(forWritingTo: log)
        p.standardOutput = handle
        p.standardError = handle
        p.standardInput = Pipe()  // the endpoint helper exits when this closes
        try p.run()
        processes.append(p)
        let regex = try NSRegularExpression(pattern: pattern)
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            let text = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
            if let match = regex.firstMatch(in: text, range: NSRange(text.startIndex..., in: text)),
                let range = Range(match.range(at: 1), in: text)
            {
                return String(text[range])
            }
            guard p.isRunning else { break }
            Thread.sleep(forTimeInterval: 0.05)
        }
        let text = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
        throw NSError(
            domain: "SNSMotoTests", code: 1,
            userInfo: [NSLocalizedDescriptionKey: "\(executable) did not print \(pattern) in \(timeout) s:\n\(text)"])
    }
}
