import Foundation
import XCTest
import Crypto
import X509
import _CryptoExtras

@testable import RouterServer

final class SNSVerifierTests: XCTestCase {
    private let signer = try! SNSTestSigner(
        key: SNSTestSigner.keys[0], validFrom: SNSFixtures.now - 86400, validUntil: SNSFixtures.now + 86400)

    private func verifier(
        _ fetch: FakeFetch, allowed: [String] = SNSVerifier.defaultAllowedHosts, now: Double = SNSFixtures.now
    ) -> SNSVerifier {
        SNSVerifier(allowedHosts: allowed, fetch: fetch.function, clock: { now })
    }

    private func certFetch(_ pem: String? = nil) -> FakeFetch {
        FakeFetch([SNSFixtures.certURL: pem ?? signer.certificatePEM])
    }

    func testValidNotificationsV1AndV2WithAndWithoutSubject() throws {
        let fetch = certFetch()
        let v = verifier(fetch)
        for version in ["1", "2"] {
            for subject in [nil, "GuardDuty finding"] as [String?] {
                let m = try SNSMessage.parse(signer.body(SNSFixtures.notification(version: version, subject: subject)))
                XCTAssertNoThrow(try v.verify(m), "version \(version) subject \(subject ?? "none")")
            }
        }
        XCTAssertEqual(fetch.calls, 1, "the certificate is fetched once and cached")
    }

    func testValidConfirmationsV1AndV2() throws {
        let v = verifier(certFetch())
        for type in ["SubscriptionConfirmation", "UnsubscribeConfirmation"] {
            for version in ["1", "2"] {
                let m = try SNSMessage.parse(signer.body(SNSFixtures.confirmation(type, version: version)))
                XCTAssertNoThrow(try v.verify(m), "\(type) v\(version)")
            }
        }
    }

    func testTamperedFieldsAreRejected() throws {
        let v = verifier(certFetch())
        var m = try SNSMessage.parse(signer.body(SNSFixtures.notification(subject: "s")))
        m.message += " "
        assertSNSError("does not match") { try v.verify(m) }

        // Subject added after signing, and removed after signing.
        let plain = SNSFixtures.notification()
        var withSubject = plain
        withSubject["Subject"] = "added"
        let added = try SNSMessage.parse(signer.body(withSubject, signedFields: plain))
        assertSNSError("does not match") { try v.verify(added) }
        var removed = try SNSMessage.parse(signer.body(SNSFixtures.notification(subject: "gone")))
        removed.subject = nil
        assertSNSError("does not match") { try v.verify(removed) }

        var c = try SNSMessage.parse(signer.body(SNSFixtures.confirmation()))
        c.subscribeURL = "https://sns.eu-west-1.amazonaws.com/?Action=ConfirmSubscription&TopicArn=other&Token=x"
        assertSNSError("does not match") { try v.verify(c) }
        var t = try SNSMessage.parse(signer.body(SNSFixtures.confirmation()))
        t.type = "UnsubscribeConfirmation"
        assertSNSError("does not match") { try v.verify(t) }
    }

    func testVersionMismatchIsRejected() throws {
        // Signed with SHA1 but labelled SignatureVersion 2 (and the reverse).
        let v = verifier(certFetch())
        for (signedAs, claimed) in [("1", "2"), ("2", "1")] {
            let signedFields = SNSFixtures.notification(version: signedAs)
            var m = try SNSMessage.parse(signer.body(signedFields))
            m.signatureVersion = claimed
            assertSNSError("does not match (SignatureVersion \(claimed))") { try v.verify(m) }
        }
    }

    func testWrongCertificateIsRejected() throws {
        let other = try SNSTestSigner(
            key: SNSTestSigner.keys[1], validFrom: SNSFixtures.now - 60, validUntil: SNSFixtures.now + 60)
        let v = verifier(certFetch(other.certificatePEM))
        let m = try SNSMessage.parse(signer.body(SNSFixtures.notification()))
        assertSNSError("does not match") { try v.verify(m) }
    }

    func testCertificateURLPolicy() throws {
        let fetch = FakeFetch([:])
        let v = verifier(fetch)
        let refused: [(String, String)] = [
            ("http://sns.eu-west-1.amazonaws.com/cert.pem", "plain http URL on sns.eu-west-1.amazonaws.com is not allowed"),
            ("https://sns.eu-west-1.amazonaws.com.evil.example/cert.pem", "host sns.eu-west-1.amazonaws.com.evil.example:443"),
            ("https://evil.example/cert.pem", "host evil.example:443 is not allowed"),
            ("https://sns.a.b.amazonaws.com/cert.pem", "host sns.a.b.amazonaws.com:443 is not allowed"),
            ("https://sqs.eu-west-1.amazonaws.com/cert.pem", "is not allowed"),
            ("https://sns.eu-west-1.amazonaws.com:8443/cert.pem", "host sns.eu-west-1.amazonaws.com:8443 is not allowed"),
            ("https://sns.eu-west-1.amazonaws.com@evil.example/cert.pem", "SigningCertURL is not an http(s) URL"),
            ("https://sns.eu-west-1.amazonaws.com\\@evil.example/", "SigningCertURL is not an http(s) URL"),
            ("https://sns.eu-west-1.amazonaws.com%2eevil.example/", "SigningCertURL is not an http(s) URL"),
            ("ftp://sns.eu-west-1.amazonaws.com/cert.pem", "SigningCertURL is not an http(s) URL"),
            ("file:///etc/passwd", "SigningCertURL is not an http(s) URL"),
        ]
        for (url, fragment) in refused {
            var m = try SNSMessage.parse(signer.body(SNSFixtures.notification()))
            m.signingCertURL = url
            assertSNSError(fragment) { try v.verify(m) }
        }
        XCTAssertEqual(fetch.calls, 0, "nothing is fetched from a refused URL")

        // Upper-case hosts and the China partition are SNS hosts too.
        let upper = "HTTPS://SNS.CN-NORTH-1.AMAZONAWS.COM.CN/cert.pem"
        let ok = FakeFetch([upper: signer.certificatePEM])
        var m = try SNSMessage.parse(signer.body(SNSFixtures.notification()))
        m.signingCertURL = upper
        // The URL is not signed, so changing it keeps the signature valid.
        XCTAssertNoThrow(try verifier(ok).verify(m))
    }

    func testAllowListEntries() throws {
        XCTAssertEqual(
            SNSVerifier.invalidAllowListEntries([
                "sns.*.amazonaws.com", "127.0.0.1:8443", "https://localhost:9000", "http://127.0.0.1:8080",
                "http://[::1]:8080", "*", "*.*", "http://example.com:80", "a b", "host:0", "user@host", "",
            ]), ["*", "*.*", "http://example.com:80", "a b", "host:0", "user@host", ""])
        let local = "http://127.0.0.1:8080/SimpleNotificationService-local.pem"
        let fetch = FakeFetch([local: signer.certificatePEM])
        var m = try SNSMessage.parse(signer.body(SNSFixtures.notification()))
        m.signingCertURL = local
        XCTAssertNoThrow(try verifier(fetch, allowed: ["http://127.0.0.1:8080"]).verify(m))
        assertSNSError("plain http URL on 127.0.0.1 is not allowed") {
            try verifier(fetch, allowed: ["127.0.0.1:8080"]).verify(m)
        }
        assertSNSError("plain http URL on 127.0.0.1 is not allowed") {
            try verifier(fetch, allowed: ["http://127.0.0.1:8081"]).verify(m)
        }
        assertSNSError("is not allowed") { try verifier(fetch, allowed: SNSVerifier.defaultAllowedHosts).verify(m) }
        m.signingCertURL = "https://127.0.0.1:8443/c.pem"
        assertSNSError("host 127.0.0.1:8443 is not allowed") { try verifier(fetch, allowed: ["127.0.0.1"]).verify(m) }
        assertSNSError("SNS signing certificate: GET answered HTTP 404") {
            try verifier(fetch, allowed: ["127.0.0.1:8443"]).verify(m)
        }
    }

    func testUnknownSignatureVersionAndBadBase64() throws {
        let fetch = certFetch()
        let v = verifier(fetch)
        for version in ["3", "02", "1 ", "SHA256"] {
            let m = try SNSMessage.parse(signer.body(SNSFixtures.notification(version: version)))
            assertSNSError("unsupported SignatureVersion") { try v.verify(m) }
        }
        for bad in ["not base64!", "QUJD=", "====", "QUJ", "QU=D", "QUJD\nQUJD", "QUI=QUJD", "QUJ=", "QR=="] {
            var f = SNSFixtures.notification()
            f["Signature"] = bad
            let m = try SNSMessage.parse(signer.body(f))
            assertSNSError("Signature is not valid base64") { try v.verify(m) }
        }
        var short = SNSFixtures.notification()
        short["Signature"] = "QUJD"
        assertSNSError("does not match") { try v.verify(SNSMessage.parse(signer.body(short))) }
        XCTAssertEqual(fetch.calls, 1)
    }

    func testStrictBase64() {
        XCTAssertEqual(SNSBase64.decode("QUJD"), Array("ABC".utf8))
        XCTAssertEqual(SNSBase64.decode("QUI="), Array("AB".utf8))
        XCTAssertEqual(SNSBase64.decode("QQ=="), Array("A".utf8))
        XCTAssertEqual(SNSBase64.decode("+/+/"), [0xfb, 0xff, 0xbf])
        for bad in ["", "Q", "QQ=", "QR==", "QUJ=", "=QUJ", "QU JD", "QUJD====", "QUJD\n"] {
            XCTAssertNil(SNSBase64.decode(bad), bad)
        }
    }

    func testCertificateValidityPeriod() throws {
        let expired = try SNSTestSigner(
            key: SNSTestSigner.keys[0], validFrom: SNSFixtures.now - 7200, validUntil: SNSFixtures.now - 3600)
        let future = try SNSTestSigner(
            key: SNSTestSigner.keys[0], validFrom: SNSFixtures.now + 3600, validUntil: SNSFixtures.now + 7200)
        let m = try SNSMessage.parse(signer.body(SNSFixtures.notification()))
        for pem in [expired.certificatePEM, future.certificatePEM] {
            assertSNSError("certificate is not valid now") { try verifier(certFetch(pem)).verify(m) }
        }
        // The same (cached) certificate stops being accepted once it expires.
        let fetch = certFetch(expired.certificatePEM)
        let clock = Clock(SNSFixtures.now - 5400)
        let v = SNSVerifier(allowedHosts: SNSVerifier.defaultAllowedHosts, fetch: fetch.function, clock: clock.read)
        var old = SNSFixtures.notification()
        old["Timestamp"] = "2026-11-27T02:30:00Z"
        XCTAssertNoThrow(try v.verify(SNSMessage.parse(signer.body(old))))
        clock.set(SNSFixtures.now - 3000)
        assertSNSError("certificate is not valid now") { try v.verify(SNSMessage.parse(signer.body(old))) }
        XCTAssertEqual(fetch.calls, 1)
    }

    func testCertificateContentsAreChecked() throws {
        let m = try SNSMessage.parse(signer.body(SNSFixtures.notification()))
        assertSNSError("not a PEM certificate") { try verifier(certFetch("<html>hello</html>")).verify(m) }
        assertSNSError("not a PEM certificate") {
            try verifier(certFetch(SNSTestSigner.keys[0].publicKey.pemRepresentation)).verify(m)
        }
        assertSNSError("the key is not an RSA key") { try verifier(certFetch(try ecCertificatePEM())).verify(m) }
        assertSNSError("SNS signing certificate: GET answered HTTP 404") { try verifier(FakeFetch([:])).verify(m) }
    }

    func testMessageAge() throws {
        let v = verifier(certFetch())
        var old = SNSFixtures.notification()
        old["Timestamp"] = "2026-11-27T02:54:59Z"  // 65 min 1 s before `now`
        assertSNSError("SNS message too old") { try v.verify(SNSMessage.parse(signer.body(old))) }
        old["Timestamp"] = "2026-11-27T02:55:01Z"
        XCTAssertNoThrow(try v.verify(SNSMessage.parse(signer.body(old))))
        var future = SNSFixtures.notification()
        future["Timestamp"] = "2026-11-27T04:05:01Z"
        assertSNSError("from the future") { try v.verify(SNSMessage.parse(signer.body(future))) }
        let strict = SNSVerifier(
            allowedHosts: SNSVerifier.defaultAllowedHosts, fetch: certFetch().function, maxMessageAge: 60,
            clock: { SNSFixtures.now + 120 })
        assertSNSError("more than 60 s in the past") { try strict.verify(SNSMessage.parse(signer.body(SNSFixtures.notification()))) }
    }

    func testCertificateCacheIsBounded() throws {
        var bodies: [String: String] = [:]
        let urls = (0..<(SNSVerifier.cacheCapacity + 5)).map { "https://sns.eu-west-1.amazonaws.com/c\($0).pem" }
        for url in urls { bodies[url] = signer.certificatePEM }
        let fetch = FakeFetch(bodies)
        let v = verifier(fetch)
        for url in urls {
            var m = try SNSMessage.parse(signer.body(SNSFixtures.notification()))
            m.signingCertURL = url
            try v.verify(m)
        }
        XCTAssertEqual(v.cachedCertificateCount, SNSVerifier.cacheCapacity)
        XCTAssertEqual(fetch.calls, urls.count)
        var last = try SNSMessage.parse(signer.body(SNSFixtures.notification()))
        last.signingCertURL = urls[urls.count - 1]
        try v.verify(last)
        XCTAssertEqual(fetch.calls, urls.count, "a recent certificate is still cached")
        last.signingCertURL = urls[0]
        try v.verify(last)
        XCTAssertEqual(fetch.calls, urls.count + 1, "the oldest certificate was dropped")
    }

    func testConcurrentVerification() throws {
        let v = verifier(certFetch())
        let m = try SNSMessage.parse(signer.body(SNSFixtures.notification()))
        let failures = Clock(0)
        DispatchQueue.concurrentPerform(iterations: 64) { _ in
            do { try v.verify(m) } catch { failures.set(1) }
        }
        XCTAssertEqual(failures.read(), 0)
    }

    func testConfirm() throws {
        let c = try SNSMessage.parse(signer.body(SNSFixtures.confirmation()))
        let subscribe = try XCTUnwrap(c.subscribeURL)
        let fetch = FakeFetch([subscribe: "<ConfirmSubscriptionResponse/>"])
        XCTAssertNoThrow(try verifier(fetch).confirm(c))
        XCTAssertEqual(fetch.requested, [subscribe])

        assertSNSError("SNS confirm: GET answered HTTP 404") { try verifier(FakeFetch([:])).confirm(c) }
        var http = c
        http.subscribeURL = subscribe.replacingOccurrences(of: "https://", with: "http://")
        assertSNSError("SubscribeURL plain http URL on sns.eu-west-1.amazonaws.com is not allowed") {
            try verifier(fetch).confirm(http)
        }
        var elsewhere = c
        elsewhere.subscribeURL = "https://attacker.example/?Action=ConfirmSubscription"
        assertSNSError("SubscribeURL host attacker.example:443 is not allowed") { try verifier(fetch).confirm(elsewhere) }
        let n = try SNSMessage.parse(signer.body(SNSFixtures.notification()))
        assertSNSError("a Notification is not a subscription confirmation") { try verifier(fetch).confirm(n) }
        let u = try SNSMessage.parse(signer.body(SNSFixtures.confirmation("UnsubscribeConfirmation")))
        assertSNSError("not a subscription confirmation") { try verifier(fetch).confirm(u) }
        XCTAssertEqual(fetch.requested.count, 1, "refused URLs are never fetched")
    }

    func testHTTPSFetchRefusesPlainHTTPAndMalformedURLs() {
        // Refused before any connection is made.
        for (url, fragment) in [
            ("http://127.0.0.1:9/cert.pem", "refusing to fetch over plain http from 127.0.0.1"),
            ("http://example.com/cert.pem", "plain http"),
            ("gopher://example.com/", "malformed URL"),
        ] {
            guard case .failure(let error) = SNSVerifier.httpsFetch(url) else {
                XCTFail("\(url) was fetched")
                continue
            }
            XCTAssertTrue(error.description.contains(fragment), error.description)
        }
        guard case .failure(let error) = SNSVerifier.loopbackHTTPFetch("http://example.com/cert.pem") else {
            return XCTFail("plain http off loopback was fetched")
        }
        XCTAssertTrue(error.description.contains("plain http"), error.description)
    }

    private func ecCertificatePEM() throws -> String {
        let key = P256.Signing.PrivateKey()
        let name = try DistinguishedName { CommonName("sns.amazonaws.com") }
        let certificate = try Certificate(
            version: .v3, serialNumber: Certificate.SerialNumber(), publicKey: Certificate.PublicKey(key.publicKey),
            notValidBefore: Date(timeIntervalSince1970: SNSFixtures.now - 60),
            notValidAfter: Date(timeIntervalSince1970: SNSFixtures.now + 60), issuer: name, subject: name,
            signatureAlgorithm: .ecdsaWithSHA256, extensions: Certificate.Extensions(),
            issuerPrivateKey: Certificate.PrivateKey(key))
        return try certificate.serializeAsPEM().pemString
    }
}

/// A settable time (and a thread-safe flag).
final class Clock: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Double
    init(_ value: Double) { self.value = value }
    func set(_ v: Double) { lock.withLock { value = v } }
    var read: @Sendable () -> Double { { [self] in lock.withLock { value } } }
}
