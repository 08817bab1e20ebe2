import Foundation
import RouterJSON
import XCTest

/// A finding forwarded from another region's default event bus (deploy/forwarder.yaml) to the home region's: EventBridge
/// delivers the event unchanged (the event structure reference, docs.aws.amazon.com/eventbridge/latest/ref/events-structure.html:
/// `region` is "the AWS Region where the event originated"; a bus-to-bus target adds no field), so the router, running
/// in the home region, routes it exactly as it would in the finding's own region: `f.region` and the console link are
/// the finding's region, not the router's.
final class ForwardedFindingTests: XCTestCase {
    func testAForwardedFindingRoutesAsIfItArrivedDirectly() throws {
        var event = try JSONValue.parse(Array(try Data(contentsOf: Paths.root.appendingPathComponent("examples/high-crypto-mining-ec2.json"))))
        // Published in us-west-2, forwarded to the router's home region eu-west-1: region stays the source region.
        event["region"] = "us-west-2"
        event["detail"]?["region"] = "us-west-2"
        let arn = (event["detail"]?["arn"]?.stringValue ?? "").replacingOccurrences(of: "us-east-1", with: "us-west-2")
        event["detail"]?["arn"] = .string(arn)
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("forwarded-\(UUID().uuidString).json")
        try event.serialized().write(to: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: file) }
        let rules = try writeRules(["50.lua": ##"""
            return { route = function(f)
              return { channel = "#sec-" .. f.region, format = "compact" }
            end }
            """##])
        defer { try? FileManager.default.removeItem(at: rules) }
        let home = try runRouter(["test", rules.path, file.path, "--json", "--now", "2026-01-02T03:04:05Z"], environment: ["AWS_REGION": "eu-west-1"])
        let local = try runRouter(["test", rules.path, file.path, "--json", "--now", "2026-01-02T03:04:05Z"], environment: ["AWS_REGION": "us-west-2"])
        XCTAssertEqual(home.status, 0, home.stderr)
        XCTAssertEqual(home.stdout, local.stdout, "where the router runs changes nothing")
        let result = try JSONValue.parse(home.stdout.split(separator: "\n").first.map(String.init) ?? "")
        XCTAssertEqual(result["finding"]?["region"]?.stringValue, "us-west-2")
        let delivery = try XCTUnwrap(result["deliveries"]?[0])
        XCTAssertEqual(delivery["channel"]?.stringValue, "#sec-us-west-2")
        XCTAssertTrue(delivery["payload"]?.serialized().contains("region=us-west-2") == true, "the console link is the finding's region")
    }
}
