import Foundation
import XCTest

@testable import RouterServer

/// The real fetch path (HTTPClient over libcurl) against a loopback endpoint the test starts
/// (Tests/SNS/sns_endpoint.py under `ROUTER_TEST_PYTHON`): what a server test with a local certificate relies on.
final class SNSLoopbackFetchTests: XCTestCase {
    private var children: ChildProcesses!

    override func setUpWithError() throws { children = try ChildProcesses() }
    override func tearDown() { children.stop() }

    private func python() throws -> String {
        let env = ProcessInfo.processInfo.environment
        if let path = env["ROUTER_TEST_PYTHON"], FileManager.default.isExecutableFile(atPath: path) { return path }
        if env["CI"] == "true" {
            XCTFail("ROUTER_TEST_PYTHON is not set (run scripts/test.sh)")
            throw XCTSkip("python missing")
        }
        throw XCTSkip("ROUTER_TEST_PYTHON not set")
    }

    func testLocalCertificateOverLoopbackHTTPAndConfirm() throws {
        let endpoint = children.directory.appendingPathComponent("endpoint")
        let port = try children.start(try python(), [ChildProcesses.endpointHelper, endpoint.path], waitFor: #"PORT (\d+)"#)
        let signer = try SNSTestSigner(key: SNSTestSigner.keys[0], validFrom: SNSFixtures.now - 60, validUntil: SNSFixtures.now + 60)
        try Data(signer.certificatePEM.utf8).write(to: endpoint.appendingPathComponent("serve/local.pem"))
        try Data(repeating: 65, count: SNSVerifier.maxFetchBytes + 1).write(to: endpoint.appendingPathComponent("serve/big.pem"))
        try Data("confirmed".utf8).write(to: endpoint.appendingPathComponent("serve/confirm"))
        let base = "http://127.0.0.1:\(port)/"

        var fields = SNSFixtures.notification()
        fields["SigningCertURL"] = base + "local.pem"
        let m = try SNSMessage.parse(signer.body(fields))
        let allowed = ["http://127.0.0.1:\(port)"]
        let clock: @Sendable () -> Double = { SNSFixtures.now }

        let loopback = SNSVerifier(allowedHosts: allowed, fetch: SNSVerifier.loopbackHTTPFetch, clock: clock)
        XCTAssertNoThrow(try loopback.verify(m))
        let httpsOnly = SNSVerifier(allowedHosts: allowed, clock: clock)
        assertSNSError("refusing to fetch over plain http from 127.0.0.1") { try httpsOnly.verify(m) }

        var missing = m
        missing.signingCertURL = base + "absent.pem"
        assertSNSError("SNS signing certificate: GET from 127.0.0.1 answered HTTP 404") { try loopback.verify(missing) }
        var big = m
        big.signingCertURL = base + "big.pem"
        assertSNSError("response larger than \(SNSVerifier.maxFetchBytes) bytes") { try loopback.verify(big) }

        var confirmation = SNSFixtures.confirmation()
        confirmation["SubscribeURL"] = base + "confirm?Action=ConfirmSubscription&Token=abc"
        XCTAssertNoThrow(try loopback.confirm(SNSMessage.parse(signer.body(confirmation))))
        confirmation["SubscribeURL"] = base + "nothing?Action=ConfirmSubscription&Token=abc"
        let refused = try SNSMessage.parse(signer.body(confirmation))
        assertSNSError("SNS confirm: GET from 127.0.0.1 answered HTTP 404") { try loopback.confirm(refused) }
    }

    func testClosedPortFailsFast() throws {
        // A port nobody listens on: a transport error with the host only, no path or query in the message.
        guard case .failure(let error) = SNSVerifier.loopbackHTTPFetch("http://127.0.0.1:9/x.pem?Token=secret") else {
            return XCTFail("fetch from a closed port succeeded")
        }
        XCTAssertTrue(error.description.hasPrefix("GET from 127.0.0.1 failed: "), error.description)
        XCTAssertFalse(error.description.contains("secret"))
    }
}
