import Foundation
import RouterJSON
import XCTest

/// dist/router-lambda.zip as a provided.al2023 function on PyPI ministack, an independent Lambda emulator
/// (Tests/Ministack/lambda_e2e.py starts and stops it on a free loopback port), with the fake Slack as the webhook.
final class LambdaMinistackTests: XCTestCase {
    var fake: FakeSlackServer!

    override func setUpWithError() throws {
        fake = try FakeSlackServer()
    }

    override func tearDown() {
        fake?.stop()
    }

    func scenario(_ name: String) throws -> JSONValue {
        let python = try LambdaSupport.ministackPython()
        let zip = try LambdaSupport.zip()
        let r = try LambdaSupport.run(
            python,
            [Paths.root.appendingPathComponent("Tests/Ministack/lambda_e2e.py").path, name, "--zip", zip.path,
             "--webhook", fake.webhookURL, "--timeout", "90"],
            timeout: 180)
        let v = try LambdaSupport.json(r)
        XCTAssertNil(v["exception"], "\(v["exception"]?.stringValue ?? ""): \(v["ministackLog"]?.stringValue ?? "")")
        if name != "init-error" {  // ministack relays no log of a failed init
            XCTAssertGreaterThan(v["functionLogLines"]?.intValue ?? 0, 0, "the function's JSON log lines are seen")
        }
        XCTAssertEqual(v["webhookSecretInFunctionLog"]?.boolValue, false, "the webhook never reaches the function's log")
        return v
    }

    func payload(_ v: JSONValue?) -> JSONValue { (try? JSONValue.parse(v?["payload"]?.stringValue ?? "")) ?? .null }

    func testSyncInvokeReachesSlackOnceAndRejectsANonFinding() throws {
        let r = try scenario("sync")
        XCTAssertNil(r["first"]?["functionError"]?.stringValue, "\(r)")
        let delivered = try XCTUnwrap(payload(r["first"])["delivered"]?.intValue, "\(r)")
        XCTAssertGreaterThan(delivered, 0)
        let posted = try fake.requests()
        XCTAssertEqual(posted.count, Int(delivered), "the second invoke of the same event posts nothing")
        XCTAssertTrue(posted.allSatisfy { $0["status"]?.intValue == 200 })
        XCTAssertTrue(posted.contains { $0["body"]?.serialized().contains("CryptoCurrency:EC2/BitcoinTool.B!DNS") ?? false })
        XCTAssertNil(r["again"]?["functionError"]?.stringValue, "\(r)")
        XCTAssertEqual(r["notAFinding"]?["functionError"]?.stringValue, "Unhandled")
        XCTAssertEqual(payload(r["notAFinding"])["errorType"]?.stringValue, "Router.InvalidInput")
    }

    func testBadRulesMakeTheInvocationReportTheInitError() throws {
        let r = try scenario("init-error")
        XCTAssertEqual(r["first"]?["functionError"]?.stringValue, "Unhandled", "\(r)")
        let text = r["first"]?["payload"]?.stringValue ?? ""
        XCTAssertTrue(text.contains("Runtime.ConfigInvalid"), text)
        XCTAssertTrue(text.contains("rules/50-broken.lua:3: error:"), text)
        XCTAssertFalse(text.contains("secretwebhookpath123"))
        XCTAssertTrue(try fake.requests().isEmpty)
    }

    func testSQSMappingRedeliversOnlyThePoisonRecord() throws {
        let r = try scenario("sqs")
        XCTAssertEqual(r["dlqBodies"]?.arrayValue?.compactMap(\.stringValue), ["poison: not JSON"], "\(r)")
        XCTAssertEqual(r["sourceVisible"]?.intValue, 0)
        let batches = r["batches"]?.arrayValue ?? []
        XCTAssertGreaterThanOrEqual(batches.count, 2, "\(r)")
        XCTAssertEqual(batches.first?["records"]?.stringValue, "3")
        XCTAssertEqual(batches.first?["failedRecords"]?.stringValue, "1")
        for b in batches.dropFirst() {
            XCTAssertEqual(b["records"]?.stringValue, "1", "only the poison record comes back: \(b)")
            XCTAssertEqual(b["findings"]?.stringValue, "0")
        }
        // Both findings posted, each delivery once.
        let posted = try fake.requests()
        XCTAssertEqual(posted.count, Int(batches.first?["deliveries"]?.stringValue ?? "") ?? -1, "\(posted.count)")
        XCTAssertEqual(Set(posted.map { $0["body"]?.serialized() ?? "" }).count, posted.count)
    }

    func testAsyncInvokeWithSlackDownEndsInTheOnFailureDestinationAfterRetries() throws {
        try fake.script([["status": 503]], repeat: true)
        let r = try scenario("async")
        XCTAssertEqual(r["status"]?.intValue, 202)
        let records = try XCTUnwrap(r["onFailure"]?.arrayValue, "\(r)")
        XCTAssertEqual(records.count, 1, "\(r)")
        XCTAssertEqual(records.first?["requestContext"]?["condition"]?.stringValue, "RetriesExhausted")
        XCTAssertEqual(records.first?["responsePayload"]?["errorType"]?.stringValue, "Router.DeliveryFailed")
        XCTAssertTrue(records.first?["responsePayload"]?["errorMessage"]?.stringValue?.contains("http_503") ?? false)
        XCTAssertEqual(records.first?["requestPayload"]?["detail"]?["id"]?.stringValue, "a5e00000000000000000000000000001")
        XCTAssertEqual(r["failedRequestIds"]?.arrayValue?.count, 3, "the first attempt and 2 retries: \(r)")
        let posted = try fake.requests()
        XCTAssertGreaterThanOrEqual(posted.count, 3)
        XCTAssertTrue(posted.allSatisfy { $0["status"]?.intValue == 503 })
    }
}
