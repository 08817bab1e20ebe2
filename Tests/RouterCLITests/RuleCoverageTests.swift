import Foundation
import RouterJSON
import XCTest

/// `router test RULES_DIR --coverage [--strict] [--json]`: one generated finding per known GuardDuty type.
final class RuleCoverageTests: XCTestCase {
    /// The coverage lines (without the summary line and the warnings).
    private func typeLines(_ r: RunResult) -> [Substring] {
        r.stdout.split(separator: "\n").filter { !$0.hasPrefix("warning:") && !$0.hasPrefix("199 types,") }
    }

    private func warnings(_ r: RunResult) -> [Substring] {
        r.stdout.split(separator: "\n").filter { $0.hasPrefix("warning:") }
    }

    func testShippedRulesCoverEveryType() throws {
        let r = try runRouter(["test", "rules", "--coverage"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stderr.isEmpty, r.stderr)
        let lines = typeLines(r)
        XCTAssertEqual(lines.count, 215, r.stdout)
        let types = Set(lines.map { $0.split(separator: " ", maxSplits: 1)[0] })
        XCTAssertEqual(types.count, 199)
        XCTAssertTrue(
            r.stdout.contains("AttackSequence:S3/CompromisedData CRITICAL 9.0: routed: #sec-critical, #sec-data"), r.stdout)
        XCTAssertTrue(r.stdout.contains(": dropped by rules/10-noise.lua: LOW severity"), r.stdout)
        // A Variable type is run at MEDIUM and at HIGH.
        let variable = lines.filter { $0.hasPrefix("Execution:EC2/MaliciousFile!Snapshot ") }
        XCTAssertEqual(variable.count, 2, String(describing: variable))
        XCTAssertTrue(variable.contains { $0.contains(" MEDIUM 5.0: ") } && variable.contains { $0.contains(" HIGH 8.0: ") })
        let summary = try XCTUnwrap(r.stdout.split(separator: "\n").first { $0.hasPrefix("199 types, 215 findings: ") })
        XCTAssertTrue(summary.contains("0 unrouted; 0 rule errors"), String(summary))
        // --strict on the shipped rules: no warnings, so still 0.
        let strict = try runRouter(["test", "rules", "--coverage", "--strict"])
        XCTAssertEqual(strict.status, 0, strict.stdout + strict.stderr)
    }

    func testFindingTypesCountsBySeverity() throws {
        let r = try runRouter(["test", "rules", "--coverage", "--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let lines = r.jsonLines
        XCTAssertEqual(lines.count, 216, "215 type lines and the summary")
        var severityOf: [String: String] = [:]
        for l in lines.dropLast() {
            guard let t = l["type"]?.stringValue, let s = l["default_severity"]?.stringValue else {
                return XCTFail("no type or default_severity in \(l.serialized())")
            }
            severityOf[t] = s
        }
        XCTAssertEqual(severityOf.count, 199)
        var counts: [String: Int] = [:]
        for s in severityOf.values { counts[s, default: 0] += 1 }
        // The AWS list as shipped: 5 + 84 + 72 + 22 + 16 = 199.
        XCTAssertEqual(counts, ["Critical": 5, "High": 84, "Medium": 72, "Low": 22, "Variable": 16])
        let summary = try XCTUnwrap(lines.last?["summary"])
        XCTAssertEqual(summary["types"]?.intValue, 199)
        XCTAssertEqual(summary["findings"]?.intValue, 215)
    }

    func testGeneratedEventsAreFindingsOfTheRightResourceType() throws {
        let r = try runRouter(["test", "rules", "--coverage", "--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        var byType: [String: JSONValue] = [:]
        for l in r.jsonLines.dropLast() {
            XCTAssertEqual(l["account"]?.stringValue, "123456789012")
            XCTAssertEqual(l["region"]?.stringValue, "us-east-1")
            XCTAssertEqual(l["errors"]?.arrayValue?.count, 0)
            if let t = l["type"]?.stringValue { byType[t] = l }
        }
        let expected: [(String, String, String, String?)] = [
            ("Backdoor:EC2/C&CActivity.B!DNS", "EC2", "Instance", "DNS_REQUEST"),
            ("Recon:EC2/PortProbeUnprotectedPort", "EC2", "Instance", "PORT_PROBE"),
            ("UnauthorizedAccess:IAMUser/TorIPCaller", "IAMUser", "AccessKey", "AWS_API_CALL"),
            ("Policy:S3/BucketBlockPublicAccessDisabled", "S3", "AccessKey", "AWS_API_CALL"),
            ("Discovery:S3/TorIPCaller", "S3", "S3Bucket", "AWS_API_CALL"),
            ("Object:S3/MaliciousFile", "S3", "S3Object", nil),
            ("Discovery:Kubernetes/TorIPCaller", "Kubernetes", "EKSCluster", "KUBERNETES_API_CALL"),
            ("Execution:ECS/MaliciousFile", "ECS", "ECSCluster", nil),
            ("Execution:Container/MaliciousFile", "Container", "Container", nil),
            ("CredentialAccess:RDS/TorIPCaller.SuccessfulLogin", "RDS", "RDSDBInstance", "RDS_LOGIN_ATTEMPT"),
            ("Trojan:Lambda/DropPoint", "Lambda", "Lambda", "NETWORK_CONNECTION"),
            ("AttackSequence:IAM/CompromisedCredentials", "IAM", "AttackSequence", nil),
            ("Execution:EC2/MaliciousFile!Snapshot", "EC2", "EBSSnapshot", nil),
            ("Execution:EC2/MaliciousFile!AMI", "EC2", "EC2Image", nil),
            ("Execution:S3/MaliciousFile!RecoveryPoint", "S3", "RecoveryPoint", nil),
        ]
        for (type, kind, resourceType, action) in expected {
            let l = try XCTUnwrap(byType[type], type)
            XCTAssertEqual(l["resource_kind"]?.stringValue, kind, type)
            XCTAssertEqual(l["resource_type"]?.stringValue, resourceType, type)
            XCTAssertEqual(l["action_type"]?.stringValue, action, type)
        }
        // Runtime findings are about an instance or an EKS cluster.
        let runtime = byType.filter { $0.key.contains(":Runtime/") }
        XCTAssertEqual(runtime.count, 42)  // the shipped list has 42 Runtime types (199 in all)
        for (type, l) in runtime {
            XCTAssertTrue(["Instance", "EKSCluster"].contains(l["resource_type"]?.stringValue ?? ""), type)
        }
    }

    func testFilterDroppingBelowCriticalWarnsAndStrictFails() throws {
        let dir = try writeRules([
            "10-filter.lua": """
                return { filter = function(f, ctx)
                  if f.severity < 9.5 then return false, "below 9.5" end
                  return true
                end }
                """,
            "90-route.lua": """
                return { route = function(f, ctx) return { channel = "#sec-alerts" } end }
                """,
        ])
        defer { try? FileManager.default.removeItem(at: dir) }
        let r = try runRouter(["test", dir.path, "--coverage"])
        XCTAssertEqual(r.status, 0, "warnings alone do not fail without --strict: " + r.stderr)
        let w = warnings(r)
        let critical = w.filter { $0.hasPrefix("warning: CRITICAL ") }
        XCTAssertEqual(critical.count, 5, r.stdout)
        XCTAssertTrue(critical.allSatisfy { $0.contains("would be dropped by ") && $0.hasSuffix("10-filter.lua: below 9.5") }, r.stdout)
        // 84 High types and the HIGH runs of the 16 Variable ones.
        XCTAssertEqual(w.filter { $0.hasPrefix("warning: HIGH ") }.count, 100, r.stdout)
        XCTAssertTrue(w.contains { $0.contains("90-route.lua") && $0.contains("route never matched") }, r.stdout)
        XCTAssertTrue(r.stdout.contains("199 types, 215 findings: 0 routed, 215 dropped, 0 unrouted"), r.stdout)

        let strict = try runRouter(["test", dir.path, "--coverage", "--strict"])
        XCTAssertEqual(strict.status, 1, strict.stdout)
    }

    func testRouteThatNeverMatchesIsWarnedAbout() throws {
        let dir = try writeRules([
            "50-never.lua": """
                return { route = function(f, ctx)
                  if f.type == "NoSuch:EC2/Type" then return { channel = "#never" } end
                end }
                """,
            "90-default.lua": """
                return { route = function(f, ctx) return { channel = "#sec-alerts" } end }
                """,
        ])
        defer { try? FileManager.default.removeItem(at: dir) }
        let r = try runRouter(["test", dir.path, "--coverage", "--strict"])
        XCTAssertEqual(r.status, 1, r.stdout + r.stderr)
        let w = warnings(r)
        XCTAssertEqual(w.count, 1, r.stdout)
        XCTAssertTrue(w.first?.contains("50-never.lua:") == true && w.first?.contains("route never matched") == true, r.stdout)
        XCTAssertFalse(r.stdout.contains("warning: CRITICAL"), r.stdout)

        // JSON: the warnings are in the summary object.
        let j = try runRouter(["test", dir.path, "--coverage", "--json"])
        XCTAssertEqual(j.status, 0, j.stderr)
        let summary = try XCTUnwrap(j.jsonLines.last?["summary"])
        XCTAssertEqual(summary["warnings"]?.arrayValue?.count, 1)
        XCTAssertEqual(summary["routed"]?.intValue, 215)
    }

    func testUnroutedCriticalAndRuleErrors() throws {
        let dir = try writeRules([
            "50-route.lua": """
                return { route = function(f, ctx)
                  if f.severity_label == "CRITICAL" then return nil end
                  if f.type == "Recon:EC2/Portscan" then error("boom") end
                  return { channel = "#sec-alerts" }
                end }
                """
        ])
        defer { try? FileManager.default.removeItem(at: dir) }
        let r = try runRouter(["test", dir.path, "--coverage"])
        XCTAssertEqual(r.status, 1, "a rule error fails the run: " + r.stdout)
        XCTAssertTrue(r.stderr.contains("50-route.lua:3"), r.stderr)
        XCTAssertTrue(r.stderr.contains("Recon:EC2/Portscan"), r.stderr)
        XCTAssertEqual(warnings(r).filter { $0.hasPrefix("warning: CRITICAL ") && $0.hasSuffix("would be unrouted") }.count, 5, r.stdout)
    }

    func testCoverageRejectsInputs() throws {
        let r = try runRouter(["test", "rules", "examples", "--coverage"])
        XCTAssertEqual(r.status, 64, r.stderr)
        XCTAssertTrue(r.stderr.contains("--coverage"), r.stderr)
    }
}
