import Foundation
import RouterDelivery
import RouterFinding
import RouterJSON
import RouterTestSupport
import XCTest

/// The GuardDuty client against PyPI moto's GuardDuty (an independent implementation of its REST API): ListDetectors
/// finds the detector, CreateFilter stores the suppression rule as sent, and the same rule twice is one filter.
final class GuardDutyMotoTests: XCTestCase {
    override class func tearDown() { MotoServer.stop() }

    func python(_ script: String, _ args: [String]) throws -> String {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: try MotoServer.python())
        p.arguments = ["-c", script] + args
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        let e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        XCTAssertEqual(p.terminationStatus, 0, String(decoding: e, as: UTF8.self))
        return String(decoding: data, as: UTF8.self)
    }

    func testCreateFilterAgainstMoto() throws {
        let port = try MotoServer.port()
        let endpoint = "http://127.0.0.1:\(port)"
        let client = """
            import boto3, sys
            gd = boto3.client("guardduty", endpoint_url=sys.argv[1], region_name="eu-west-1", aws_access_key_id="AKIDTEST",
                aws_secret_access_key="secret-test")
            """
        let detector = try python(client + "\nprint(gd.create_detector(Enable=True)['DetectorId'])", [endpoint])
            .trimmingCharacters(in: .whitespacesAndNewlines)
        let gd = CurlGuardDuty(
            config: GuardDutyConfig(
                credentials: AWSCredentials(accessKey: Secret("AKIDTEST"), secretKey: Secret("secret-test")), endpoint: endpoint))
        XCTAssertEqual(try gd.detectorId(region: "eu-west-1").get(), detector)
        let event = try JSONValue.parse(
            Array(try Data(contentsOf: URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
                .deletingLastPathComponent().appendingPathComponent("examples/high-crypto-mining-ec2.json"))))
        let finding = try XCTUnwrap(InputReader.items(fromBytes: event.serializedBytes(), source: "t").first?.finding)
        let rule = try XCTUnwrap(SuppressionRule.from(finding, by: []))
        XCTAssertEqual(try gd.createFilter(region: "eu-west-1", detectorId: detector, rule: rule, description: rule.description(createdBy: "alice")).get(), .created)
        let stored = try JSONValue.parse(
            try python(client + """

                import json
                f = gd.get_filter(DetectorId=sys.argv[2], FilterName=sys.argv[3])
                print(json.dumps({"Action": f["Action"], "Criterion": f["FindingCriteria"]["Criterion"], "Description": f["Description"]}))
                """, [endpoint, detector, rule.name]))
        XCTAssertEqual(stored["Action"]?.stringValue, "ARCHIVE")
        XCTAssertEqual(stored["Criterion"]?["type"]?["Equals"]?[0]?.stringValue, finding.type)
        XCTAssertEqual(stored["Criterion"]?["accountId"]?["Equals"]?[0]?.stringValue, finding.account)
        XCTAssertNotNil(stored["Criterion"]?["resource.instanceDetails.instanceId"], "\(stored)")
        XCTAssertTrue(stored["Description"]?.stringValue?.contains("alice") == true)
    }
}
