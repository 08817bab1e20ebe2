import RouterJSON
import XCTest

@testable import RouterFinding

final class FindingParsingTests: XCTestCase {
    // MARK: - Every field of the view

    func testInstanceFindingEveryField() throws {
        let f = try Fixtures.finding("findings/instance-high-crypto-dns.json")
        XCTAssertEqual(f.id, "749163aa3b70f7a71165e0c587cd8c94")
        XCTAssertEqual(f.type, "CryptoCurrency:EC2/BitcoinTool.B!DNS")
        XCTAssertEqual(f.purpose, "CryptoCurrency")
        XCTAssertEqual(f.resourceKind, "EC2")
        XCTAssertEqual(f.family, "BitcoinTool.B")
        XCTAssertEqual(f.artifact, "DNS")
        XCTAssertEqual(f.severity, 8)
        XCTAssertEqual(f.severityLabel, .high)
        XCTAssertEqual(f.title, "Bitcoin-related domain name queried by EC2 instance i-0a1b2c3d4e5f60718.")
        XCTAssertTrue(f.description.hasPrefix("EC2 instance i-0a1b2c3d4e5f60718 is querying"))
        XCTAssertEqual(f.account, "111122223333")
        XCTAssertEqual(f.eventAccount, "111122223333")
        XCTAssertEqual(f.region, "us-east-1")
        XCTAssertEqual(f.partition, "aws")
        XCTAssertEqual(f.resourceType, "Instance")
        XCTAssertEqual(f.actionType, "DNS_REQUEST")
        XCTAssertEqual(f.count, 1)
        XCTAssertEqual(f.firstSeen, "2024-06-11T09:05:31.000Z")
        XCTAssertEqual(f.lastSeen, "2024-06-11T09:05:31.000Z")
        XCTAssertEqual(f.createdAt, "2024-06-11T09:12:44.517Z")
        XCTAssertEqual(f.updatedAt, "2024-06-11T09:12:44.517Z")
        XCTAssertFalse(f.archived)
        XCTAssertFalse(f.sample)
        XCTAssertEqual(
            f.consoleURL,
            "https://console.aws.amazon.com/guardduty/home?region=us-east-1#/findings?macros=current&fId=749163aa3b70f7a71165e0c587cd8c94"
        )
        XCTAssertEqual(f.resourceSummary, "EC2 instance i-0a1b2c3d4e5f60718 (web-prod-1)")
        XCTAssertEqual(f.format, .guardDuty)
        XCTAssertEqual(f.detail["id"]?.string, f.id)
        XCTAssertEqual(f.document.root["detail-type"]?.string, "GuardDuty Finding")
    }

    func testAccessKeyFindingEveryField() throws {
        let f = try Fixtures.finding("findings/accesskey-medium-anomalous.json")
        XCTAssertEqual(f.id, "973efc806605c7be568c87093fe37dcc")
        XCTAssertEqual(f.purpose, "CredentialAccess")
        XCTAssertEqual(f.resourceKind, "IAMUser")
        XCTAssertEqual(f.family, "AnomalousBehavior")
        XCTAssertNil(f.artifact)
        XCTAssertEqual(f.severity, 5)
        XCTAssertEqual(f.severityLabel, .medium)
        XCTAssertEqual(f.resourceType, "AccessKey")
        XCTAssertEqual(f.actionType, "AWS_API_CALL")
        XCTAssertEqual(f.firstSeen, "2024-06-11T08:58:02.000Z")
        XCTAssertEqual(f.lastSeen, "2024-06-11T09:01:40.000Z")
        XCTAssertFalse(f.sample, "additionalInfo.value without sample")
        XCTAssertEqual(f.resourceSummary, "IAMUser alice, access key AKIAIOSFODNN7EXAMPLE")
    }

    func testAttackSequenceIsCriticalAndSummarised() throws {
        let f = try Fixtures.finding("findings/attack-sequence-critical-s3.json")
        XCTAssertEqual(f.type, "AttackSequence:S3/CompromisedData")
        XCTAssertEqual(f.purpose, "AttackSequence")
        XCTAssertEqual(f.resourceKind, "S3")
        XCTAssertEqual(f.family, "CompromisedData")
        XCTAssertEqual(f.severity, 9.2)
        XCTAssertEqual(f.severityLabel, .critical)
        XCTAssertEqual(f.resourceType, "AttackSequence")
        XCTAssertNil(f.actionType, "attack sequences have no service.action")
        XCTAssertEqual(f.resourceSummary, "attack sequence of 14 signals across 3 resources")
    }

    func testSummariesPerResourceType() throws {
        let expected: [String: String?] = [
            "findings/s3bucket-high-exfiltration.json":
                "S3 bucket acme-customer-exports (AssumedRole etl-runner, access key ASIAEXAMPLEETLRUN001)",
            "findings/s3-policy-accesskey-low.json":
                "S3 bucket acme-public-assets (IAMUser bob, access key AKIAEXAMPLEBOB00001)",
            "findings/eks-medium-privileged-container.json": "EKS cluster prod-eks (pods default/debug-shell)",
            "findings/ecs-high-runtime-reverse-shell.json": "ECS cluster checkout",
            "findings/container-medium-suspicious-file.json":
                "container report-worker (image ghcr.io/acme/report-worker:1.8.0)",
            "findings/rds-high-successful-login.json": "RDS DB instance orders-db-1 (user app_admin)",
            "findings/lambda-high-cc-activity.json": "Lambda function thumbnailer",
            "findings/malware-s3-object-high.json": "S3 object s3://acme-uploads/incoming/invoice-2291.pdf.exe",
            "findings/malware-ebs-snapshot.json": "EBS snapshot snap-0a1b2c3d4e5f60718",
            "findings/archived-low-port-probe.json": "EC2 instance i-0bb1cc2dd3ee4ff50 (bastion)",
            "findings/sample-plain.json": "EC2 instance i-99999999",
            "findings/delegated-admin.json":
                "AssumedRole web-prod, access key ASIAEXAMPLEWEBPROD01",
            "findings/epoch-timestamps.json": "EKS cluster staging",
            "findings/unknown-new-type-medium.json": nil,
            "findings/minimal-no-service.json": nil,
        ]
        for (fixture, summary) in expected {
            let f = try Fixtures.finding(fixture)
            XCTAssertEqual(f.resourceSummary, summary, fixture)
        }
    }

    func testResourceTypesOfFixtures() throws {
        let expected = [
            "ecs-high-runtime-reverse-shell": "ECSCluster", "container-medium-suspicious-file": "Container",
            "rds-high-successful-login": "RDSDBInstance", "lambda-high-cc-activity": "Lambda",
            "malware-s3-object-high": "S3Object", "eks-medium-privileged-container": "EKSCluster",
            "s3bucket-high-exfiltration": "S3Bucket",
        ]
        for (name, type) in expected {
            XCTAssertEqual(try Fixtures.finding("findings/\(name).json").resourceType, type, name)
        }
    }

    // MARK: - Severity

    func testSeverityBandsAtTheBoundaries() {
        let cases: [(Double?, SeverityLabel)] = [
            (0, .low), (1.0, .low), (3.9, .low), (3.99, .low), (4.0, .medium), (6.9, .medium), (7.0, .high),
            (8.9, .high), (8.99, .high), (9.0, .critical), (9.9, .critical), (10, .critical), (nil, .unknown),
            (.nan, .unknown), (.infinity, .unknown),
        ]
        for (severity, label) in cases {
            XCTAssertEqual(SeverityLabel(severity: severity), label, "\(String(describing: severity))")
        }
        XCTAssertLessThan(SeverityLabel.high, .critical, "CRITICAL is above HIGH, never folded into it")
        XCTAssertLessThan(SeverityLabel.unknown, .low)
    }

    func testSeverityFromJSONValues() throws {
        let cases: [(String, Double, SeverityLabel)] = [
            ("3.9", 3.9, .low), ("4.0", 4, .medium), ("4", 4, .medium), ("6.9", 6.9, .medium), ("7.0", 7, .high),
            ("8.9", 8.9, .high), ("9.0", 9, .critical), ("10", 10, .critical), ("\"8.0\"", 8, .high),
            ("\" 5 \"", 5, .medium), ("\"high\"", 0, .unknown), ("\"NaN\"", 0, .unknown), ("\"0x10\"", 0, .unknown),
            ("null", 0, .unknown), ("true", 0, .unknown), ("[8]", 0, .unknown), ("{}", 0, .unknown),
        ]
        for (json, severity, label) in cases {
            let f = try bare(#""severity":\#(json)"#)
            XCTAssertEqual(f.severity, severity, json)
            XCTAssertEqual(f.severityLabel, label, json)
        }
        let absent = try bare(#""resource":{}"#)
        XCTAssertEqual(absent.severity, 0)
        XCTAssertEqual(absent.severityLabel, .unknown)
        XCTAssertEqual(try Fixtures.finding("findings/severity-numeric-string.json").severityLabel, .high)
        XCTAssertEqual(try Fixtures.finding("findings/severity-numeric-string.json").count, 12, "count as a digit string")
        XCTAssertEqual(try Fixtures.finding("findings/malformed-type.json").severityLabel, .low, "3.9 is LOW")
        XCTAssertEqual(try Fixtures.finding("findings/unknown-new-type-medium.json").severityLabel, .medium, "6.9")
        XCTAssertEqual(try Fixtures.finding("findings/rds-high-successful-login.json").severityLabel, .high, "7.0")
        XCTAssertEqual(try Fixtures.finding("findings/s3-policy-accesskey-low.json").severityLabel, .low)
    }

    // MARK: - Type parsing

    func testTypeParsing() {
        let cases: [(String, String, String, String, String?)] = [
            ("CryptoCurrency:EC2/BitcoinTool.B!DNS", "CryptoCurrency", "EC2", "BitcoinTool.B", "DNS"),
            ("Backdoor:EC2/DenialOfService.Tcp", "Backdoor", "EC2", "DenialOfService.Tcp", nil),
            ("Backdoor:EC2/C&CActivity.B!DNS", "Backdoor", "EC2", "C&CActivity.B", "DNS"),
            ("Execution:EC2/MaliciousFile!Snapshot", "Execution", "EC2", "MaliciousFile", "Snapshot"),
            ("AttackSequence:IAM/CompromisedCredentials", "AttackSequence", "IAM", "CompromisedCredentials", nil),
            ("PenTest:IAMUser/KaliLinux", "PenTest", "IAMUser", "KaliLinux", nil),
            ("Canary:EC2/Stateless.IntegTest", "Canary", "EC2", "Stateless.IntegTest", nil),
            ("Recon:EC2 PortProbeUnprotectedPort", "Recon", "EC2 PortProbeUnprotectedPort", "", nil),
            ("EC2/Portscan", "", "EC2", "Portscan", nil),
            ("JustAWord", "", "JustAWord", "", nil),
            ("", "", "", "", nil),
            ("A:B/C/D!E!F", "A", "B", "C/D", "E!F"),
            ("A:B/C!", "A", "B", "C", nil),
            ("A:/!x", "A", "", "", "x"),
            ("Ünïcode:Ресурс/Семья.1!Ä", "Ünïcode", "Ресурс", "Семья.1", "Ä"),
        ]
        for (type, purpose, kind, family, artifact) in cases {
            let p = Finding.parseType(type)
            XCTAssertEqual(p.purpose, purpose, type)
            XCTAssertEqual(p.resourceKind, kind, type)
            XCTAssertEqual(p.family, family, type)
            XCTAssertEqual(p.artifact, artifact, type)
        }
    }

    func testMalformedAndUnknownTypesStillYieldFindings() throws {
        let malformed = try Fixtures.finding("findings/malformed-type.json")
        XCTAssertEqual(malformed.purpose, "Recon")
        XCTAssertEqual(malformed.resourceKind, "EC2 PortProbeUnprotectedPort")
        XCTAssertEqual(malformed.family, "")
        XCTAssertNil(malformed.actionType, "service without action")
        let unknown = try Fixtures.finding("findings/unknown-new-type-medium.json")
        XCTAssertEqual(unknown.resourceKind, "Bedrock")
        XCTAssertEqual(unknown.family, "UnusualModelInvocation.Volume")
        XCTAssertEqual(unknown.resourceType, "BedrockModel")
    }

    // MARK: - Accounts, regions, partitions

    func testDelegatedAdministratorAccounts() throws {
        let f = try Fixtures.finding("findings/delegated-admin.json")
        XCTAssertEqual(f.account, "777788889999", "the account the finding is about")
        XCTAssertEqual(f.eventAccount, "444455556666", "the receiving administrator account")
        XCTAssertEqual(f.region, "eu-west-1")
    }

    func testPartitionsAndConsoleURLs() throws {
        let cn = try Fixtures.finding("findings/partition-aws-cn.json")
        XCTAssertEqual(cn.partition, "aws-cn")
        XCTAssertEqual(cn.region, "cn-north-1")
        XCTAssertEqual(
            cn.consoleURL,
            "https://console.amazonaws.cn/guardduty/home?region=cn-north-1#/findings?macros=current&fId=4460f508856a048bd0d6f6bd2258051b"
        )
        let gov = try Fixtures.finding("findings/partition-aws-us-gov.json")
        XCTAssertEqual(gov.partition, "aws-us-gov")
        XCTAssertEqual(
            gov.consoleURL,
            "https://console.amazonaws-us-gov.com/guardduty/home?region=us-gov-west-1#/findings?macros=current&fId=69efed6059f13a1bd326cb780a7cda0e"
        )
    }

    func testAccountRegionPartitionFallbacks() throws {
        let doc = try JSONDocument(
            string: #"""
                {"account":"123456789012","region":"ap-south-1","detail":
                 {"id":"abc","type":"Recon:EC2/Portscan","arn":"arn:aws-us-gov:guardduty:us-gov-east-1:210987654321:detector/d/finding/abc"}}
                """#)
        let f = try Finding(event: doc.root, detail: doc.root["detail"]!)
        XCTAssertEqual(f.account, "123456789012", "envelope account when detail.accountId is absent")
        XCTAssertEqual(f.region, "ap-south-1", "envelope region before the arn")
        XCTAssertEqual(f.partition, "aws-us-gov", "from the arn")

        let bareDoc = try JSONDocument(string: #"{"id":"abc","type":"X:Y/Z","region":"cn-northwest-1"}"#)
        let bare = try Finding(event: nil, detail: bareDoc.root)
        XCTAssertEqual(bare.partition, "aws-cn", "derived from a cn- region")
        XCTAssertEqual(bare.account, "")
        XCTAssertNil(bare.eventAccount)

        let plain = try JSONDocument(string: #"{"id":"abc","type":"X:Y/Z"}"#)
        let p = try Finding(event: nil, detail: plain.root)
        XCTAssertEqual(p.partition, "aws")
        XCTAssertEqual(p.region, "")
        XCTAssertEqual(p.count, 1)
        XCTAssertNil(p.resourceType)
        XCTAssertNil(p.resourceSummary)
        XCTAssertEqual(p.title, "")
    }

    func testConsoleURLPercentEncodesRegionAndId() {
        XCTAssertEqual(
            ConsoleURL.finding(id: "a b&c#d/é", region: "us-east-1?x=1", partition: "aws"),
            "https://console.aws.amazon.com/guardduty/home?region=us-east-1%3Fx%3D1#/findings?macros=current&fId=a%20b%26c%23d%2F%C3%A9"
        )
        XCTAssertTrue(ConsoleURL.finding(id: "x", region: "r", partition: "aws-iso").hasPrefix("https://console.aws.amazon.com/"))
    }

    // MARK: - Counts, timestamps, flags

    func testUpdatedFindingKeepsIdAndCarriesNewerCount() throws {
        let first = try Fixtures.finding("findings/instance-high-crypto-dns.json")
        let update = try Fixtures.finding("findings/instance-high-crypto-dns-update.json")
        XCTAssertEqual(first.id, update.id)
        XCTAssertEqual(update.count, 5)
        XCTAssertEqual(update.lastSeen, "2024-06-11T15:02:19.000Z")
        XCTAssertEqual(update.updatedAt, "2024-06-11T15:12:47.103Z")
        XCTAssertEqual(update.createdAt, first.createdAt)
    }

    func testEpochTimestampsBecomeISO() throws {
        let f = try Fixtures.finding("findings/epoch-timestamps.json")
        XCTAssertEqual(f.createdAt, "2024-06-11T09:12:44.517Z", "float seconds")
        XCTAssertEqual(f.updatedAt, "2024-06-11T10:12:44.517Z", "milliseconds")
        XCTAssertEqual(f.firstSeen, "2024-06-11T09:00:00.000Z", "integer seconds")
        XCTAssertEqual(f.lastSeen, "2024-06-11T10:00:00.500Z")
    }

    func testStringTimestampsAreKeptAsGiven() throws {
        let f = try Fixtures.finding("findings/timestamps-space-separated.json")
        XCTAssertEqual(f.createdAt, "2024-06-11 09:12:44.517")
        XCTAssertEqual(f.firstSeen, "2024-06-11 09:05:31.000000000")
    }

    func testEpochConversion() {
        let cases: [(Double, String?)] = [
            (0, "1970-01-01T00:00:00.000Z"),
            (1633450420.337, "2021-10-05T16:13:40.337Z"),
            (1_718_100_764_517, "2024-06-11T10:12:44.517Z"),
            (951_782_400, "2000-02-29T00:00:00.000Z"),
            (4_107_542_399.999, "2100-02-28T23:59:59.999Z"),
            (-1, "1969-12-31T23:59:59.000Z"),
            (-0.0005, "1969-12-31T23:59:59.999Z"),
            (99_999_999_999, "5138-11-16T09:46:39.000Z"),
            (100_000_000_001, "1973-03-03T09:46:40.001Z"),
            (253_402_300_799, "1978-01-11T21:31:40.799Z"),  // above 1e11: milliseconds
            (253_402_300_799_999, "9999-12-31T23:59:59.999Z"),
            (253_402_300_800_000, nil),
            (-62_135_596_800_000, "0001-01-01T00:00:00.000Z"),
            (-62_135_596_800_001, nil),
            (1e300, nil),
            (.nan, nil),
        ]
        for (value, iso) in cases {
            XCTAssertEqual(Timestamp.iso8601(epoch: value), iso, "\(value)")
        }
    }

    func testCountDefaultsToOne() throws {
        for json in [#""service":{}"#, #""service":{"count":0}"#, #""service":{"count":-3}"#,
            #""service":{"count":"many"}"#, #""service":{"count":2.5}"#, #""service":null"#]
        {
            XCTAssertEqual(try bare(json).count, 1, json)
        }
        XCTAssertEqual(try bare(#""service":{"count":204}"#).count, 204)
        XCTAssertEqual(try bare(#""service":{"count":24.0}"#).count, 24)
    }

    func testArchived() throws {
        XCTAssertTrue(try Fixtures.finding("findings/archived-low-port-probe.json").archived)
        XCTAssertTrue(try bare(#""service":{"archived":"true"}"#).archived)
        XCTAssertTrue(try bare(#""service":{"archived":"TRUE"}"#).archived)
        XCTAssertFalse(try bare(#""service":{"archived":"yes"}"#).archived)
        XCTAssertFalse(try bare(#""service":{"archived":1}"#).archived)
        XCTAssertFalse(try bare(#""service":{}"#).archived)
    }

    func testSample() throws {
        XCTAssertTrue(try Fixtures.finding("findings/sample-plain.json").sample)
        XCTAssertTrue(try Fixtures.finding("findings/sample-string-value.json").sample)
        XCTAssertFalse(try Fixtures.finding("findings/instance-high-crypto-dns.json").sample)
        let cases: [(String, Bool)] = [
            (#"{"sample":true}"#, true),
            (#"{"sample":"true"}"#, true),
            (#"{"sample":false}"#, false),
            (#"{"value":"{\"sample\":true}","type":"default"}"#, true),
            (#"{"value":"{\"sample\":\"true\"}"}"#, true),
            (#"{"value":"{\"sample\":false}"}"#, false),
            (#"{"value":"{\"unusual\":{\"sample\":true}}"}"#, false),
            (#"{"value":"not json, mentions sample"}"#, false),
            (#"{"value":"{}"}"#, false),
            (#"{"value":"[\"sample\"]"}"#, false),
            ("null", false),
            (#""sample""#, false),
        ]
        for (info, sample) in cases {
            XCTAssertEqual(try bare(#""service":{"additionalInfo":\#(info)}"#).sample, sample, info)
        }
    }

    // MARK: - Details for renderers

    func testDetailsForRenderers() throws {
        let dns = try Fixtures.finding("findings/instance-high-crypto-dns.json")
        XCTAssertEqual(
            dns.arn,
            "arn:aws:guardduty:us-east-1:111122223333:detector/4ab7c2f0e1d94c3b8a6f5e2d1c0b9a87/finding/749163aa3b70f7a71165e0c587cd8c94"
        )
        XCTAssertNil(dns.remoteIPAddress)
        XCTAssertEqual(dns.domain, "pool.minexmr.example")
        XCTAssertNil(dns.apiCall)
        XCTAssertNil(dns.attackSequenceSignalCount)

        let api = try Fixtures.finding("findings/accesskey-medium-anomalous.json")
        XCTAssertEqual(api.remoteIPAddress, "198.51.100.23")
        XCTAssertEqual(api.remoteCountry, "Netherlands")
        XCTAssertEqual(api.remoteOrganization, "Example Hosting B.V.")
        XCTAssertEqual(api.apiCall, "secretsmanager.amazonaws.com GetSecretValue")

        let probe = try Fixtures.finding("findings/archived-low-port-probe.json")
        XCTAssertEqual(probe.remoteIPAddress, "192.0.2.200")
        XCTAssertEqual(probe.remoteCountry, "China")

        let rds = try Fixtures.finding("findings/rds-high-successful-login.json")
        XCTAssertEqual(rds.remoteIPAddress, "203.0.113.201")
        let eks = try Fixtures.finding("findings/eks-medium-privileged-container.json")
        XCTAssertEqual(eks.remoteIPAddress, "192.0.2.77")

        let sequence = try Fixtures.finding("findings/attack-sequence-critical-s3.json")
        XCTAssertEqual(sequence.attackSequenceSignalCount, 14)
        XCTAssertEqual(sequence.remoteIPAddress, "198.51.100.23")
        XCTAssertEqual(sequence.remoteCountry, "Netherlands")

        let runtime = try Fixtures.finding("findings/ecs-high-runtime-reverse-shell.json")
        XCTAssertNil(runtime.remoteIPAddress)
        XCTAssertNil(runtime.domain)

        let asff = try XCTUnwrap(Fixtures.items("wrappers/securityhub-asff.json").first?.finding)
        XCTAssertEqual(asff.arn, "arn:aws:guardduty:us-east-1:111122223333:detector/4ab7c2f0e1d94c3b8a6f5e2d1c0b9a87/finding/7f06f6b5c16008900cdaeb46eb537818")
        XCTAssertEqual(asff.remoteIPAddress, "198.51.100.23")
        XCTAssertEqual(asff.remoteCountry, "Netherlands")
        XCTAssertNil(asff.apiCall)
        XCTAssertNil(asff.attackSequenceSignalCount)
    }

    // MARK: - Hostile and odd content

    func testHostileStringsAreKeptVerbatim() throws {
        let f = try Fixtures.finding("findings/hostile-strings.json")
        XCTAssertTrue(f.title.hasPrefix("<!channel> API GetCallerIdentity"))
        XCTAssertTrue(f.description.contains("<@U123>"))
        XCTAssertTrue(f.description.contains("<https://evil.example/login|click here>"))
        XCTAssertTrue(f.description.contains("&amp;"))
        XCTAssertEqual(f.resourceSummary, "EC2 instance i-0deadbeef0000001 (<!here> prod & <@U999>)")
        XCTAssertEqual(
            f.detail["service", "action", "awsApiCallAction", "userAgent"]?.string,
            "Mozilla/5.0 <!channel> <https://evil.example|update required> &lt;script&gt;")
    }

    func testVeryLongTextIsKeptAndSummaryIsClipped() throws {
        let long = String(repeating: "A<!channel>", count: 5000)  // 55,000 characters
        let json = """
            {"detail-type":"GuardDuty Finding","account":"111122223333","detail":{"id":"0123456789abcdef0123456789abcdef",
            "type":"Recon:EC2/Portscan","severity":5,"title":"\(long)","description":"\(long)",
            "resource":{"resourceType":"Instance","instanceDetails":{"instanceId":"i-1","tags":[{"key":"Name","value":"\(long)"}]}}}}
            """
        let items = InputReader.items(fromBytes: Array(json.utf8), source: "long")
        let f = try XCTUnwrap(items.first?.finding)
        XCTAssertEqual(f.title.count, 55_000)
        XCTAssertEqual(f.description, long)
        let summary = try XCTUnwrap(f.resourceSummary)
        XCTAssertLessThanOrEqual(summary.count, 130)
        XCTAssertTrue(summary.hasSuffix("…)"))
    }

    func testControlCharactersInNamesDoNotBreakTheSummary() throws {
        let f = try bare(#""resource":{"resourceType":"Lambda","lambdaDetails":{"functionName":"fn\nnext\tline"}}"#)
        XCTAssertEqual(f.resourceSummary, "Lambda function fn next line")
    }

    func testToleratesNullEvidenceEmptyActionAndMissingService() throws {
        let ecs = try Fixtures.finding("findings/ecs-high-runtime-reverse-shell.json")
        XCTAssertNil(ecs.actionType, "action is {}")
        let minimal = try Fixtures.finding("findings/minimal-no-service.json")
        XCTAssertEqual(minimal.count, 1)
        XCTAssertNil(minimal.firstSeen)
        XCTAssertNil(minimal.resourceType, "resource is null")
        XCTAssertFalse(minimal.archived)
        XCTAssertFalse(minimal.sample)
        for odd in [#""service":{"action":null,"evidence":null,"additionalInfo":null}"#,
            #""service":[],"resource":[]"#, #""service":"x","resource":"y""#,
            #""resource":{"resourceType":"AttackSequence"},"service":{"detection":{"sequence":{"signals":"x"}}}"#]
        {
            XCTAssertNoThrow(try bare(odd), odd)
        }
    }

    // MARK: - Not findings

    func testRequiredIdAndType() throws {
        let cases: [(String, String)] = [
            (#"{"type":"X:Y/Z"}"#, "detail has no string 'id'"),
            (#"{"id":"abc"}"#, "detail has no string 'type'"),
            (#"{"id":"abc","type":7}"#, "detail has no string 'type' (it is a number)"),
            (#"{"id":"","type":"X:Y/Z"}"#, "detail has an empty 'id'"),
            (#"{"Id":"abc","Type":"X:Y/Z","Severity":5}"#, "keys are PascalCase (SDK shape), EventBridge delivers camelCase"),
            (#"[]"#, "detail is an array, not an object"),
            (#""text""#, "detail is a string, not an object"),
        ]
        for (json, message) in cases {
            let doc = try JSONDocument(string: json)
            XCTAssertThrowsError(try Finding(event: nil, detail: doc.root), json) { error in
                XCTAssertEqual(error as? InputError, .notAFinding(message), json)
            }
        }
    }

    func testInputErrorDescription() {
        XCTAssertEqual(InputError.notAFinding("x").description, "not_a_finding: x")
        XCTAssertEqual(InputErrorKind.allCases.map(\.rawValue), ["invalid_json", "not_a_finding", "too_large", "unreadable"])
    }

    // MARK: - Helpers

    /// A bare finding with a valid id and type plus the given members.
    func bare(_ members: String, file: StaticString = #filePath, line: UInt = #line) throws -> Finding {
        let json = #"{"id":"0123456789abcdef0123456789abcdef","type":"Recon:EC2/Portscan","#
            + members + "}"
        let doc = try JSONDocument(string: json)
        return try Finding(event: nil, detail: doc.root)
    }
}
