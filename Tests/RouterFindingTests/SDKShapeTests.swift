import RouterJSON
import XCTest

@testable import RouterFinding

/// `aws guardduty get-findings` and `aws securityhub get-findings` output, and SDK-shaped (PascalCase) findings
/// anywhere: translated where they are read with botocore's service model, then read by the one extraction.
final class SDKShapeTests: XCTestCase {
    static let examples = [
        "archived-low-ssh-brute-force", "critical-attack-sequence-s3", "high-crypto-mining-ec2",
        "high-eks-anonymous-access-granted", "high-s3-bucket-public-access-granted", "low-port-probe-ec2",
        "medium-iam-anomalous-behavior",
    ]

    /// Every field of the view that does not come from the EventBridge envelope.
    func viewFields(_ f: Finding) -> [String] {
        [
            f.id, f.type, f.purpose, f.resourceKind, f.family, f.artifact ?? "-", "\(f.severity)", f.severityLabel.rawValue,
            f.title, f.description, f.account, f.region, f.partition, f.resourceType ?? "-", f.actionType ?? "-",
            "\(f.count)", f.firstSeen ?? "-", f.lastSeen ?? "-", f.createdAt ?? "-", f.updatedAt ?? "-", "\(f.archived)",
            "\(f.sample)", f.consoleURL, f.resourceSummary ?? "-", f.format.rawValue,
            f.arn ?? "-", f.remoteIPAddress ?? "-", f.remoteCountry ?? "-", f.apiCall ?? "-", f.domain ?? "-",
            "\(f.attackSequenceSignalCount ?? -1)",
        ]
    }

    /// Tests/Fixtures/sdk/guardduty-get-findings.json is what the CLI prints for the examples' findings (made by
    /// Tests/SDK/cli_output.py with botocore's own response parser): the same views as the EventBridge events.
    func testGetFindingsOutputReadsLikeTheEvents() throws {
        let items = Fixtures.items("sdk/guardduty-get-findings.json")
        XCTAssertEqual(items.count, Self.examples.count)
        for (i, name) in Self.examples.enumerated() {
            let event = InputReader.items(fromPath: Fixtures.repositoryRoot + "/examples/\(name).json")
            let expected = try XCTUnwrap(event.first?.finding, name)
            let item = items[i]
            XCTAssertEqual(item.source, Fixtures.path("sdk/guardduty-get-findings.json") + "#\(i)")
            let f = try XCTUnwrap(item.finding, "\(name): \(item.error.map(String.init(describing:)) ?? "")")
            XCTAssertEqual(viewFields(f), viewFields(expected), name)
            XCTAssertNil(f.eventAccount, "no envelope in CLI output")
        }
    }

    func testSecurityHubGetFindingsOutputReadsLikeTheImportEvent() throws {
        let cli = Fixtures.items("sdk/securityhub-get-findings.json")
        let event = Fixtures.items("wrappers/securityhub-asff.json")
        XCTAssertEqual(cli.count, event.count)
        for (a, b) in zip(cli, event) {
            if let f = b.finding {
                XCTAssertEqual(viewFields(try XCTUnwrap(a.finding)), viewFields(f))
            } else {
                XCTAssertEqual(a.error, b.error, "a finding of another product is refused the same way")
            }
        }
    }

    func testSDKFindingInAnEnvelopeAndBare() throws {
        let wrapped = try Fixtures.finding("sdk/envelope-around-sdk-finding.json")
        XCTAssertEqual(wrapped.id, "57c2877c1d84c4b49f3289657deca65c")
        XCTAssertEqual(wrapped.account, "111122223333")
        XCTAssertEqual(wrapped.eventAccount, "111122223333", "the envelope is still the envelope")
        XCTAssertEqual(wrapped.resourceType, "Instance")
        XCTAssertTrue(wrapped.resourceSummary?.contains("i-0a1b2c3d4e5f60718") ?? false, wrapped.resourceSummary ?? "")
        let bare = InputReader.items(fromBytes: Array(#"{"Id":"abc","Type":"Recon:EC2/Portscan","Severity":5,"Service":{"Count":3,"Archived":true}}"#.utf8), source: "x")
        let f = try XCTUnwrap(bare.first?.finding, "\(bare)")
        XCTAssertEqual([f.id, f.type, "\(f.count)", "\(f.archived)", f.severityLabel.rawValue], ["abc", "Recon:EC2/Portscan", "3", "true", "MEDIUM"])
        // PascalCase that is not a finding keeps a precise refusal.
        let other = InputReader.items(fromBytes: Array(#"{"Id":"x","Severity":5}"#.utf8), source: "x")
        XCTAssertEqual(other.first?.error?.kind, .notAFinding)
        XCTAssertTrue(other.first?.error?.message.contains("PascalCase") ?? false, "\(other)")
        XCTAssertEqual(InputReader.items(fromBytes: Array(#"{"Findings":[]}"#.utf8), source: "x").first?.error, .notAFinding("'Findings' is an empty array"))
    }

    /// The names that are not the member name with its first letter lowered, map keys, timestamps, unknown members.
    func testTranslationFollowsTheServiceModel() throws {
        let sdk = #"""
            {"Id":"t1","Type":"UnauthorizedAccess:EC2/TorClient","Severity":8,"SchemaVersion":"2.0",
             "Service":{"Count":2,"Action":{"ActionType":"NETWORK_CONNECTION","NetworkConnectionAction":{"RemoteIpDetails":{
               "IpAddressV4":"198.51.100.7","GeoLocation":{"Lat":52.5,"Lon":13.4},"Country":{"CountryName":"Germany"}}},
               "KubernetesApiCallAction":{"SourceIps":["203.0.113.9"],"RequestUri":"/api"},
               "AwsApiCallAction":{"Api":"GetObject","AffectedResources":{"AWS::S3::Bucket":"logs","Key Name":"v"}}},
               "Detection":{"Sequence":{"Signals":[{"Uid":"s1","Type":"FINDING","FirstSeenAt":"2024-06-11T08:20:00+00:00","SignalIndicators":[]}]}},
               "BrandNewField":{"InnerThing":1}},
             "Resource":{"ResourceType":"Instance","InstanceDetails":{"InstanceId":"i-1","Tags":[{"Key":"Team","Value":"payments"}]}},
             "AttackSequenceLocation":{"Latitude":1.5}}
            """#
        let doc = try JSONDocument(string: sdk)
        let wire = try GuardDutySDK.wireFinding(doc.root, limits: .default)
        XCTAssertEqual(wire["service", "action", "networkConnectionAction", "remoteIpDetails", "geoLocation", "lat"]?.double, 52.5)
        XCTAssertEqual(wire["service", "action", "networkConnectionAction", "remoteIpDetails", "geoLocation", "lon"]?.double, 13.4)
        XCTAssertEqual(wire["service", "action", "networkConnectionAction", "remoteIpDetails", "ipAddressV4"]?.string, "198.51.100.7")
        XCTAssertEqual(wire["service", "action", "kubernetesApiCallAction", "sourceIPs"]?[0]?.string, "203.0.113.9", "SourceIps -> sourceIPs")
        XCTAssertEqual(wire["service", "action", "kubernetesApiCallAction", "requestUri"]?.string, "/api")
        XCTAssertEqual(wire["service", "action", "awsApiCallAction", "affectedResources", "AWS::S3::Bucket"]?.string, "logs", "map keys kept")
        XCTAssertEqual(wire["service", "action", "awsApiCallAction", "affectedResources", "Key Name"]?.string, "v", "map keys kept")
        XCTAssertEqual(wire["attackSequenceLocation", "latitude"]?.double, 1.5, "unknown to the model: not renamed by a guess")
        XCTAssertEqual(wire["service", "detection", "sequence", "signals"]?[0]?["firstSeenAt"]?.double, 1_718_094_000, "a timestamp: Unix seconds, as on the wire")
        XCTAssertEqual(wire["service", "brandNewField", "innerThing"]?.int, 1, "a member newer than the model: first letter lowered")
        XCTAssertEqual(wire["resource", "instanceDetails", "tags"]?[0]?["key"]?.string, "Team")
        let f = try Finding(event: nil, detail: wire)
        XCTAssertEqual(f.remoteIPAddress, "198.51.100.7")
        XCTAssertEqual(f.remoteCountry, "Germany")
        XCTAssertEqual(f.attackSequenceSignalCount, 1)
        // The model's exceptions to "lower the first letter".
        let exceptions = GuardDutySDK.shapes.values.flatMap { $0.members.filter { $0.value.wire != GuardDutySDK.lowerFirst($0.key) } }
        XCTAssertTrue(exceptions.contains { $0.key == "SourceIps" && $0.value.wire == "sourceIPs" })
        XCTAssertTrue(exceptions.contains { $0.key == "Latitude" && $0.value.wire == "lat" })
        XCTAssertGreaterThan(GuardDutySDK.shapes.count, 150)
        XCTAssertEqual(GuardDutySDK.shapes["Finding"]?.kind, .structure)
    }
}
