import RouterJSON
import XCTest

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

@testable import RouterFinding

final class InputReaderTests: XCTestCase {
    /// `(source, kind or "finding", recordId)` of every item.
    func summary(_ items: [InputItem]) -> [String] {
        items.map { "\($0.source) \($0.kindOrFinding)" + ($0.recordId.map { " \($0)" } ?? "") }
    }

    // MARK: - Shapes

    func testEventBridgeEvent() {
        let path = Fixtures.path("findings/lambda-high-cc-activity.json")
        let items = InputReader.items(fromPath: path)
        XCTAssertEqual(summary(items), ["\(path) finding"])
    }

    func testBareFinding() throws {
        let path = Fixtures.path("wrappers/bare-finding.json")
        let items = InputReader.items(fromPath: path)
        XCTAssertEqual(summary(items), ["\(path) finding"])
        let f = try XCTUnwrap(items.first?.finding)
        XCTAssertEqual(f.id, "07fea2c8cf5bb7c17597c76378cc089b")
        XCTAssertEqual(f.account, "111122223333")
        XCTAssertNil(f.eventAccount, "no envelope")
        XCTAssertEqual(f.detail.index, f.document.root.index, "the finding is the document")
    }

    func testSNSRecordBatch() throws {
        let path = Fixtures.path("wrappers/sns-batch.json")
        let items = InputReader.items(fromPath: path)
        XCTAssertEqual(
            summary(items),
            [
                "\(path)#0 finding 8b0c2d4e-6f8a-5b1c-9d3e-5f7a9b1c3d50",
                "\(path)#1 finding 8b0c2d4e-6f8a-5b1c-9d3e-5f7a9b1c3d51",
            ])
        XCTAssertEqual(items[0].finding?.type, "CryptoCurrency:EC2/BitcoinTool.B!DNS")
        XCTAssertEqual(items[1].finding?.type, "CredentialAccess:IAMUser/AnomalousBehavior")
        XCTAssertEqual(items[0].finding?.eventAccount, "111122223333", "the inner EventBridge envelope")
    }

    func testSQSRecordBatchWithMixedRecords() throws {
        let path = Fixtures.path("wrappers/sqs-batch.json")
        let items = InputReader.items(fromPath: path)
        XCTAssertEqual(
            summary(items),
            [
                "\(path)#0 finding 3c6b1f0e-5a4d-4e2b-9c8a-0f1e2d3c4b5a",
                "\(path)#1 not_a_finding 4d7c2a1f-6b5e-4f3c-8d9b-1a2b3c4d5e6f",
                "\(path)#2 finding 5e8d3b2a-7c6f-4a4d-9e0c-2b3c4d5e6f7a",
                "\(path)#3 invalid_json 6f9e4c3b-8d7a-4b5e-8f1d-3c4d5e6f7a8b",
            ])
        XCTAssertEqual(
            items[1].error?.message, "detail-type 'AWS API Call via CloudTrail' is not a GuardDuty finding")
        let bodyError = try XCTUnwrap(items[3].error?.message)
        XCTAssertTrue(bodyError.hasPrefix("'body' is not JSON: line 1, column "), bodyError)
        XCTAssertEqual(items[2].finding?.severityLabel, .critical)
    }

    func testSNSInSQS() throws {
        let path = Fixtures.path("wrappers/sns-in-sqs.json")
        let items = InputReader.items(fromPath: path)
        XCTAssertEqual(summary(items), ["\(path)#0 finding 7a0f5d4c-9e8b-4c6f-9a2e-4d5e6f7a8b9c"], "the SQS messageId wins")
        XCTAssertEqual(items.first?.finding?.resourceType, "EKSCluster")
    }

    func testSNSHTTPMessages() {
        let notification = Fixtures.path("wrappers/sns-http-notification.json")
        XCTAssertEqual(
            summary(InputReader.items(fromPath: notification)),
            ["\(notification) finding 0b1c2d3e-4f5a-5b6c-9d7e-8f9a0b1c2d3e"])

        let confirmation = Fixtures.path("wrappers/sns-subscription-confirmation.json")
        let items = InputReader.items(fromPath: confirmation)
        XCTAssertEqual(summary(items), ["\(confirmation) not_a_finding 165545c9-2a5c-472c-8df2-7ff2be2b3b1b"])
        XCTAssertEqual(
            items.first?.error?.message,
            "SNS SubscriptionConfirmation carries no finding (confirm the subscription with its SubscribeURL)")

        let unsubscribe = Fixtures.path("wrappers/sns-unsubscribe-confirmation.json")
        XCTAssertEqual(
            InputReader.items(fromPath: unsubscribe).first?.error,
            .notAFinding("SNS UnsubscribeConfirmation carries no finding"))
    }

    func testArrayOfMixedShapes() {
        let path = Fixtures.path("wrappers/array-mix.json")
        let items = InputReader.items(fromPath: path)
        XCTAssertEqual(
            summary(items),
            [
                "\(path)#0 finding",
                "\(path)#1#0 finding 8b0c2d4e-6f8a-5b1c-9d3e-5f7a9b1c3d50",
                "\(path)#2 finding",
                "\(path)#3 not_a_finding",
                "\(path)#4#0 finding",
                "\(path)#4#1 not_a_finding",
            ])
        XCTAssertEqual(items[0].finding?.resourceType, "RDSDBInstance")
        XCTAssertEqual(items[1].finding?.resourceType, "Container")
        XCTAssertEqual(items[2].finding?.resourceType, "S3Object")
        XCTAssertEqual(items[4].finding?.partition, "aws-cn")
        XCTAssertEqual(items[5].error?.message, "JSON value is a string, not an object or array")
    }

    func testSecurityHubASFF() throws {
        let path = Fixtures.path("wrappers/securityhub-asff.json")
        let items = InputReader.items(fromPath: path)
        XCTAssertEqual(summary(items), ["\(path)#0 finding", "\(path)#1 not_a_finding"])
        XCTAssertEqual(
            items[1].error?.message,
            "Security Hub finding is not from GuardDuty (ProductArn 'arn:aws:securityhub:us-east-1::product/aws/inspector')")
        let f = try XCTUnwrap(items[0].finding)
        XCTAssertEqual(f.format, .securityHub)
        XCTAssertEqual(f.id, "7f06f6b5c16008900cdaeb46eb537818")
        XCTAssertEqual(f.type, "UnauthorizedAccess:EC2/SSHBruteForce")
        XCTAssertEqual(f.purpose, "UnauthorizedAccess")
        XCTAssertEqual(f.resourceKind, "EC2")
        XCTAssertEqual(f.family, "SSHBruteForce")
        XCTAssertNil(f.artifact)
        XCTAssertEqual(f.severity, 2, "Severity.Product, not Label (MEDIUM) or Normalized (40)")
        XCTAssertEqual(f.severityLabel, .low)
        XCTAssertEqual(f.title, "198.51.100.23 is performing SSH brute force attacks against i-0a1b2c3d4e5f60718.")
        XCTAssertEqual(f.account, "111122223333")
        XCTAssertEqual(f.eventAccount, "444455556666")
        XCTAssertEqual(f.region, "us-east-1")
        XCTAssertEqual(f.partition, "aws")
        XCTAssertEqual(f.resourceType, "Instance")
        XCTAssertEqual(f.actionType, "NETWORK_CONNECTION")
        XCTAssertEqual(f.count, 74)
        XCTAssertEqual(f.firstSeen, "2024-06-10T22:15:57Z")
        XCTAssertEqual(f.lastSeen, "2024-06-11T09:01:49Z")
        XCTAssertEqual(f.createdAt, "2024-06-10T22:34:34.146Z")
        XCTAssertEqual(f.updatedAt, "2024-06-11T09:14:00.206Z")
        XCTAssertTrue(f.archived)
        XCTAssertFalse(f.sample)
        XCTAssertEqual(
            f.consoleURL,
            "https://console.aws.amazon.com/guardduty/home?region=us-east-1#/findings?macros=current&fId=7f06f6b5c16008900cdaeb46eb537818"
        )
        XCTAssertEqual(f.resourceSummary, "EC2 instance i-0a1b2c3d4e5f60718 (web-prod-1)")
        XCTAssertEqual(f.detail["ProductArn"]?.string, "arn:aws:securityhub:us-east-1::product/aws/guardduty")
    }

    func testASFFTypeRecovery() throws {
        let cases: [(String, String?)] = [
            (#"{"Types":["TTPs/Command and Control/Backdoor:EC2-C&CActivity.B!DNS"]}"#, "Backdoor:EC2/C&CActivity.B!DNS"),
            (#"{"Types":["Effects/Data Exfiltration","TTPs/Exfiltration/Trojan:EC2-DNSDataExfiltration"]}"#,
                "Trojan:EC2/DNSDataExfiltration"),
            (#"{"FindingProviderFields":{"Types":["TTPs/Discovery/Recon:IAMUser-UserPermissions"]}}"#,
                "Recon:IAMUser/UserPermissions"),
            (#"{"ProductFields":{"aws/guardduty/type":"Policy:S3/BucketPublicAccessGranted"},"Types":["x/y:z-w"]}"#,
                "Policy:S3/BucketPublicAccessGranted"),
            (#"{"Types":["Software and Configuration Checks/Vulnerabilities/CVE"]}"#, nil),
            (#"{}"#, nil),
        ]
        for (json, type) in cases {
            let doc = try JSONDocument(string: json)
            XCTAssertEqual(Finding.asffType(doc.root), type, json)
        }
    }

    func testSecurityHubSeverityFallbacks() throws {
        func asff(_ severity: String) -> [InputItem] {
            let json = """
                {"detail-type":"Security Hub Findings - Imported","account":"1","region":"eu-west-1","detail":{"findings":[
                {"Id":"arn:aws:guardduty:eu-west-1:1:detector/d/finding/f1","ProductArn":"arn:aws:securityhub:eu-west-1::product/aws/guardduty",
                 "Types":["TTPs/Discovery/Recon:EC2-Portscan"],\(severity)"Title":"t"}]}}
                """
            return InputReader.items(fromBytes: Array(json.utf8), source: "sh")
        }
        XCTAssertEqual(asff(#""Severity":{"Original":"8.0","Label":"HIGH"},"#).first?.finding?.severity, 8)
        XCTAssertEqual(
            asff(#""FindingProviderFields":{"Severity":{"Original":"9.5"}},"#).first?.finding?.severityLabel, .critical)
        let labelOnly = asff(#""Severity":{"Label":"HIGH","Normalized":70},"#).first?.finding
        XCTAssertEqual(labelOnly?.severityLabel, .unknown, "Label is never read")
        XCTAssertEqual(labelOnly?.region, "eu-west-1", "envelope region")
        XCTAssertEqual(labelOnly?.id, "f1")
        XCTAssertEqual(asff("").first?.source, "sh#0")

        let empty = #"{"detail-type":"Security Hub Findings - Imported","detail":{"findings":[]}}"#
        XCTAssertEqual(
            InputReader.items(fromBytes: Array(empty.utf8), source: "e").first?.error,
            .notAFinding("Security Hub event has an empty 'detail.findings' array"))
    }

    // MARK: - Not findings and errors, with their exact sources

    func testInvalidFixtures() throws {
        let cases: [(String, InputErrorKind, String?)] = [
            ("invalid/cloudtrail-event.json", .notAFinding,
                "detail-type 'AWS API Call via CloudTrail' is not a GuardDuty finding"),
            ("invalid/malware-scan-result.json", .notAFinding,
                "detail-type 'GuardDuty Malware Protection Object Scan Result' is not a GuardDuty finding"),
            ("invalid/runtime-agent-unhealthy.json", .notAFinding,
                "detail-type 'GuardDuty Runtime Protection Unhealthy' is not a GuardDuty finding"),
            ("invalid/empty.json", .invalidJSON, "empty input"),
            ("invalid/not-an-object.json", .notAFinding, "JSON value is a string, not an object or array"),
            ("invalid/missing-type.json", .notAFinding, "detail has no string 'type'"),
            ("invalid/unknown-object.json", .notAFinding, "object has neither 'detail-type' nor finding fields"),
            ("invalid/malformed.json", .invalidJSON, nil),
        ]
        for (fixture, kind, message) in cases {
            let path = Fixtures.path(fixture)
            let items = InputReader.items(fromPath: path)
            XCTAssertEqual(items.count, 1, fixture)
            XCTAssertEqual(items.first?.source, path, fixture)
            XCTAssertNil(items.first?.recordId, fixture)
            let error = try XCTUnwrap(items.first?.error, fixture)
            XCTAssertEqual(error.kind, kind, fixture)
            if let message { XCTAssertEqual(error.message, message, fixture) }
        }
        let malformed = try XCTUnwrap(Fixtures.items("invalid/malformed.json").first?.error?.message)
        XCTAssertTrue(malformed.hasPrefix("line ") && malformed.contains(", column "), malformed)
    }

    func testBytesSourcesAndErrors() {
        func one(_ text: String, limits: InputLimits = .default) -> InputItem? {
            InputReader.items(fromBytes: Array(text.utf8), source: "lambda:req-1", limits: limits).first
        }
        XCTAssertEqual(one("{")?.source, "lambda:req-1")
        XCTAssertEqual(one("{")?.error?.kind, .invalidJSON)
        XCTAssertTrue(one("{\n\"a\": tru}")?.error?.message.hasPrefix("line 2, column ") ?? false)
        XCTAssertEqual(one("   \n")?.error, .invalidJSON("empty input"))
        XCTAssertEqual(one("42")?.error, .notAFinding("JSON value is a number, not an object or array"))
        XCTAssertEqual(one("null")?.error, .notAFinding("JSON value is null, not an object or array"))
        XCTAssertEqual(
            one(#"{"detail-type":"GuardDuty Finding"}"#)?.error, .notAFinding("'GuardDuty Finding' event has no 'detail'"))
        XCTAssertEqual(
            one(#"{"detail-type":7,"detail":{}}"#)?.error, .notAFinding("'detail-type' is a number, not a string"))
        XCTAssertEqual(
            one(#"{"detail-type":"GuardDuty Finding","detail":{"id":"x","type":"A:B/C"}}"#)?.finding?.id, "x")
        XCTAssertEqual(
            one(#"{"detail-type":"GuardDuty Finding","detail":{"id":"x","type":"A:B/C"}}"#, limits: InputLimits(maxBytes: 10))?
                .error,
            .tooLarge("document is 70 bytes, more than the limit of 10 bytes; not parsed"))
        XCTAssertEqual(
            one(#"{"Records":[{"eventSource":"aws:s3","s3":{}}]}"#)?.error,
            .notAFinding("record is neither an SNS record nor an SQS record (eventSource 'aws:s3')"))
        XCTAssertEqual(one(#"{"Records":[{"eventSource":"aws:s3","s3":{}}]}"#)?.source, "lambda:req-1#0")
        XCTAssertEqual(one(#"{"Records":[]}"#)?.source, nil, "an empty batch yields nothing")
        XCTAssertEqual(
            one(#"{"Type":"Notification","Message":"nope"}"#)?.error?.message.hasPrefix("'Message' is not JSON: line 1"),
            true)
        XCTAssertEqual(
            one(#"{"Type":"Notification","Message":""}"#)?.error, .invalidJSON("'Message' is empty"))
        XCTAssertEqual(
            one(#"{"Records":[{"Sns":{"Message":5}}]}"#)?.error,
            .notAFinding("'Sns.Message' is a number, not a JSON string"))
        XCTAssertEqual(
            one(#"{"Type":"Weird","TopicArn":"arn"}"#)?.error, .notAFinding("SNS message of Type 'Weird' carries no finding"))
        XCTAssertEqual(
            one(#"{"detail-type":"Scheduled Event\nwith newline","detail":{}}"#)?.error?.message,
            "detail-type 'Scheduled Event with newline' is not a GuardDuty finding")
    }

    func testSQSBodyAlreadyAnObjectIsTolerated() {
        let json = #"{"Records":[{"messageId":"m-1","eventSource":"aws:sqs","body":{"id":"x","type":"A:B/C","severity":5}}]}"#
        let items = InputReader.items(fromBytes: Array(json.utf8), source: "s")
        XCTAssertEqual(summary(items), ["s#0 finding m-1"])
    }

    func testWrapperNestingIsBounded() {
        var json = #"{"id":"x","type":"A:B/C","severity":5}"#
        for _ in 0..<12 {
            json = #"{"Type":"Notification","TopicArn":"t","Message":"# + jsonString(json) + "}"
        }
        let items = InputReader.items(fromBytes: Array(json.utf8), source: "deep")
        XCTAssertEqual(items.first?.error, .notAFinding("wrappers nest more than 8 levels deep"))
        let shallow = InputReader.items(
            fromBytes: Array(json.utf8), source: "deep", limits: InputLimits(maxWrapperDepth: 20))
        XCTAssertEqual(shallow.first?.finding?.id, "x")
    }

    func jsonString(_ s: String) -> String {
        var out = "\""
        for c in s.unicodeScalars {
            switch c {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            default: out.unicodeScalars.append(c)
            }
        }
        return out + "\""
    }

    func testItemsFromParsedNode() throws {
        let doc = try JSONDocument(string: #"[{"id":"a","type":"X:Y/Z","severity":1}]"#)
        XCTAssertEqual(summary(InputReader.items(from: doc.root, source: "n")), ["n#0 finding"])
    }

    // MARK: - Files, JSON Lines, directories

    func testJSONLinesFile() {
        let path = Fixtures.path("wrappers/findings.jsonl")
        let items = InputReader.items(fromPath: path)
        XCTAssertEqual(summary(items), ["\(path):1 finding", "\(path):3 finding", "\(path):4 finding"])
        XCTAssertEqual(items[2].finding?.archived, true)
    }

    func testJSONLinesWithABadLineInTheMiddle() throws {
        let path = Fixtures.path("wrappers/jsonl-bad-line.jsonl")
        let items = InputReader.items(fromPath: path)
        XCTAssertEqual(summary(items), ["\(path):1 finding", "\(path):2 invalid_json", "\(path):3 finding"])
        let message = try XCTUnwrap(items[1].error?.message)
        XCTAssertTrue(message.hasPrefix("column "), message)
    }

    func testJSONLinesDetectedWithoutExtension() throws {
        let dir = try TemporaryDirectory()
        let a = #"{"id":"a","type":"X:Y/Z","severity":1}"#
        let b = #"{"id":"b","type":"X:Y/Z","severity":9}"#
        let path = dir.write("lines.json", a + "\r\n" + b + "\r\n{broken\n")
        XCTAssertEqual(summary(InputReader.items(fromPath: path)), ["\(path):1 finding", "\(path):2 finding", "\(path):3 invalid_json"])
        // A pretty-printed document with an error is not mistaken for JSON Lines.
        let pretty = dir.write("pretty.json", "{\n  \"id\": \"a\",\n  \"type\": \"X:Y/Z\"\n  \"severity\": 1\n}\n")
        let items = InputReader.items(fromPath: pretty)
        XCTAssertEqual(summary(items), ["\(pretty) invalid_json"])
        XCTAssertTrue(items[0].error?.message.hasPrefix("line ") ?? false, items[0].error?.message ?? "")
        // An empty JSON Lines file yields nothing; an empty .json file is an error.
        XCTAssertEqual(InputReader.items(fromPath: dir.write("empty.jsonl", "\n\n")).count, 0)
    }

    func testLargeJSONLinesStreamsAndSkipsOversizedLines() throws {
        let dir = try TemporaryDirectory()
        var text = ""
        let line = #"{"detail-type":"GuardDuty Finding","detail":{"id":"ID","type":"Recon:EC2/Portscan","severity":5,"description":"PAD"}}"#
        let pad = String(repeating: "x", count: 700)
        for i in 1...3000 {
            if i == 1500 {
                text += #"{"detail-type":"GuardDuty Finding","detail":{"id":"big","type":"A:B/C","description":""#
                text += String(repeating: "y", count: 300_000) + "\"}}\n"
            } else {
                text += line.replacing("ID", with: "id-\(i)").replacing("PAD", with: pad) + "\n"
            }
        }
        let limits = InputLimits(maxBytes: 200_000)
        for name in ["big.jsonl", "big.json"] {
            let path = dir.write(name, text)
            var count = 0
            var errors: [String] = []
            var lastSource = ""
            InputReader.forEachItem(fromPath: path, limits: limits) { item in
                count += 1
                lastSource = item.source
                if let e = item.error { errors.append("\(item.source) \(e)") }
            }
            XCTAssertEqual(count, 3000, name)
            XCTAssertEqual(
                errors, ["\(path):1500 too_large: line is 300089 bytes, more than the limit of 200000 bytes; not parsed"], name)
            XCTAssertEqual(lastSource, "\(path):3000", name)
        }
        // The same content as one oversized non-JSON-Lines document is refused unparsed.
        let single = dir.write("single.json", "[\n" + String(repeating: "1,\n", count: 100_000) + "1]\n")
        let items = InputReader.items(fromPath: single, limits: limits)
        XCTAssertEqual(summary(items), ["\(single) too_large"])
        XCTAssertEqual(
            items.first?.error?.message,
            "input is 300005 bytes, more than the limit of 200000 bytes per document, and not JSON Lines; not parsed")
    }

    func testLineLongerThanAChunkButWithinTheLimit() throws {
        let dir = try TemporaryDirectory()
        let long = String(repeating: "z", count: 150_000)
        let path = dir.write(
            "long.jsonl",
            #"{"id":"a","type":"X:Y/Z","severity":1,"description":""# + long + "\"}\n" + #"{"id":"b","type":"X:Y/Z","severity":2}"#)
        let items = InputReader.items(fromPath: path)
        XCTAssertEqual(summary(items), ["\(path):1 finding", "\(path):2 finding"])
        XCTAssertEqual(items[0].finding?.description.count, 150_000)
    }

    func testDirectoryRecursionOrder() throws {
        let dir = try TemporaryDirectory()
        let finding = #"{"id":"ID","type":"X:Y/Z","severity":5}"#
        for name in ["b.json", "a/z.json", "a.json", "A.json", "a/b/c.jsonl", "a-b.json", "d/e.NDJSON"] {
            dir.write(name, finding.replacing("ID", with: name) + "\n")
        }
        dir.write(".hidden.json", finding)
        dir.write(".git/objects.json", finding)
        dir.write("notes.txt", "not json")
        dir.write("a/README.md", "# readme")
        symlink(dir.path, dir.path + "/a/loop")  // a link back to the root: not followed
        symlink(dir.path + "/b.json", dir.path + "/c-link.json")  // a link to a file: followed

        let items = InputReader.items(fromPath: dir.path)
        let root = dir.path
        XCTAssertEqual(
            items.map(\.source),
            [
                "\(root)/A.json", "\(root)/a-b.json", "\(root)/a.json", "\(root)/a/b/c.jsonl:1", "\(root)/a/z.json",
                "\(root)/b.json", "\(root)/c-link.json", "\(root)/d/e.NDJSON:1",
            ])
        XCTAssertEqual(items.compactMap { $0.finding?.id }, ["A.json", "a-b.json", "a.json", "a/b/c.jsonl", "a/z.json", "b.json", "b.json", "d/e.NDJSON"])
        // A trailing slash does not double the separator.
        XCTAssertEqual(InputReader.items(fromPath: root + "/").first?.source, "\(root)/A.json")
    }

    func testFixtureDirectoriesReadCompletely() {
        let findings = InputReader.items(fromPath: Fixtures.path("findings"))
        XCTAssertGreaterThanOrEqual(findings.count, 26)
        XCTAssertTrue(findings.allSatisfy { $0.finding != nil }, summary(findings.filter { $0.finding == nil }).joined(separator: "\n"))
        let sources = findings.map(\.source)
        XCTAssertEqual(sources, sources.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) })

        let examples = InputReader.items(fromPath: Fixtures.repositoryRoot + "/examples")
        XCTAssertGreaterThanOrEqual(examples.count, 9)
        XCTAssertTrue(examples.allSatisfy { $0.finding != nil }, summary(examples).joined(separator: "\n"))
        let labels = Set(examples.compactMap { $0.finding?.severityLabel })
        XCTAssertEqual(labels, [.low, .medium, .high, .critical], "the examples cover every band")
    }

    func testUnreadable() throws {
        let missing = "/nonexistent/router-finding-test.json"
        XCTAssertEqual(
            InputReader.items(fromPath: missing).map { "\($0.source) \($0.error?.description ?? "")" },
            ["\(missing) unreadable: cannot read: No such file or directory"])
        let dir = try TemporaryDirectory()
        dir.write("a.json", #"{"id":"a","type":"X:Y/Z","severity":1}"#)
        symlink(dir.path + "/nowhere.json", dir.path + "/dangling.json")
        XCTAssertEqual(
            InputReader.items(fromPath: dir.path).map { "\($0.source) \($0.error?.description ?? "finding")" },
            ["\(dir.path)/a.json finding", "\(dir.path)/dangling.json unreadable: cannot read: No such file or directory"])
        unlink(dir.path + "/dangling.json")
        unlink(dir.path + "/a.json")

        let locked = dir.write("sub/locked.json", "{}")
        chmod(locked, 0)
        chmod(dir.path + "/sub", 0)
        defer { chmod(dir.path + "/sub", 0o755) }
        guard geteuid() != 0 else { throw XCTSkip("permissions do not apply to root") }
        let items = InputReader.items(fromPath: dir.path)
        XCTAssertEqual(
            items.map { "\($0.source) \($0.error?.description ?? "")" },
            ["\(dir.path)/sub unreadable: cannot list directory: Permission denied"])
    }

    func testStandardInputStream() throws {
        func viaPipe(_ text: String) -> [InputItem] {
            var fds: [Int32] = [0, 0]
            XCTAssertEqual(pipe(&fds), 0)
            let bytes = Array(text.utf8)
            XCTAssertLessThan(bytes.count, 60_000, "must fit the pipe buffer")
            _ = bytes.withUnsafeBufferPointer { write(fds[1], $0.baseAddress, $0.count) }
            close(fds[1])
            defer { close(fds[0]) }
            var out: [InputItem] = []
            InputReader.readStream(fd: fds[0], source: "-", linesOnly: false, limits: .default) { out.append($0) }
            return out
        }
        let event = String(decoding: try Fixtures.bytes("findings/sample-plain.json"), as: UTF8.self)
        XCTAssertEqual(summary(viaPipe(event)), ["- finding"])
        let a = #"{"id":"a","type":"X:Y/Z","severity":1}"#
        XCTAssertEqual(summary(viaPipe(a + "\n" + a + "\n")), ["-:1 finding", "-:2 finding"])
        XCTAssertEqual(summary(viaPipe("")), ["- invalid_json"])
    }
}
