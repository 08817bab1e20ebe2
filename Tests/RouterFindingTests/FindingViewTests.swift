import RouterJSON
import RouterTestRandom
import XCTest

@testable import RouterFinding

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The finding view, every field of it, against views recorded in `Tests/Fixtures/view-golden/`: on the fixtures and
/// the corpus, on hand-made edge cases (escaped keys, non-ASCII and canonically equivalent text, odd kinds, every
/// resource type), and on randomly mutated fixtures and corpus findings. The recordings were made by the general
/// `JSONNode` reader, which the tape reader was checked against while both existed; the tape reader is now the only one.
final class FindingViewTests: XCTestCase {
    /// Every field of the view, the lazy details included, as text.
    static func describe(_ result: Result<Finding, InputError>) -> String {
        switch result {
        case .failure(let e): return "error \(e)"
        case .success(let f):
            let fields: [(String, Any?)] = [
                ("id", f.id), ("type", f.type), ("purpose", f.purpose), ("resourceKind", f.resourceKind),
                ("family", f.family), ("artifact", f.artifact), ("severity", f.severity),
                ("severityLabel", f.severityLabel.rawValue), ("title", f.title), ("description", f.description),
                ("account", f.account), ("eventAccount", f.eventAccount), ("region", f.region),
                ("partition", f.partition), ("resourceType", f.resourceType), ("actionType", f.actionType),
                ("count", f.count), ("firstSeen", f.firstSeen), ("lastSeen", f.lastSeen), ("createdAt", f.createdAt),
                ("updatedAt", f.updatedAt), ("archived", f.archived), ("sample", f.sample),
                ("consoleURL", f.consoleURL), ("resourceSummary", f.resourceSummary), ("format", f.format.rawValue),
                ("detail", f.detail.index), ("arn", f.arn), ("remoteIPAddress", f.remoteIPAddress),
                ("remoteCountry", f.remoteCountry), ("remoteOrganization", f.remoteOrganization),
                ("apiCall", f.apiCall), ("domain", f.domain), ("signals", f.attackSequenceSignalCount),
            ]
            return fields.map { "\($0.0)=\($0.1.map { String(reflecting: $0) } ?? "nil")" }.joined(separator: "\n")
        }
    }

    /// The view of one document through the public initializer; for a `GuardDuty Finding` event also checks that
    /// the input reader (which scans the envelope itself) gives the same.
    func view(_ bytes: [UInt8], _ label: String, file: StaticString = #filePath, line: UInt = #line) -> String? {
        guard let document = try? JSONDocument(bytes: bytes) else { return nil }
        let root = document.root
        let event: JSONNode? = root["detail"] != nil ? root : nil
        let detail = root["detail"] ?? root
        let viaInit = Self.describe(Result { () throws(InputError) -> Finding in try Finding(event: event, detail: detail) })
        if event != nil, root["detail-type"]?.stringEquals("GuardDuty Finding") == true {
            let items = InputReader.items(fromBytes: bytes, source: "x")
            XCTAssertEqual(items.count, 1, label, file: file, line: line)
            if let item = items.first {
                XCTAssertEqual(Self.describe(item.result), viaInit, label, file: file, line: line)
            }
        }
        return viaInit
    }

    /// Views recorded in `Tests/Fixtures/view-golden/NAME`: `=== label` lines, each followed by the view's lines (or
    /// by one FNV-1a hash line when `hashed`, for views of `../shared`'s corpus, which stays out of the repository).
    /// They were recorded by the general `JSONNode` reader that the tape reader replaced, and every change since is
    /// reviewed in the diff. `ROUTER_RECORD_VIEWS=1` rewrites them.
    func compare(_ views: [(String, String)], golden name: String, hashed: Bool = false, file: StaticString = #filePath, line: UInt = #line) throws {
        let path = Fixtures.path("view-golden/" + name)
        let body: (String) -> String = { hashed ? Self.fnv1a($0) : $0 }
        if getenv("ROUTER_RECORD_VIEWS") != nil {
            let text = views.map { "=== \($0.0)\n\(body($0.1))\n" }.joined()
            let f = try XCTUnwrap(fopen(path, "wb"), path)
            fputs(text, f)
            fclose(f)
            return
        }
        let text = String(decoding: try XCTUnwrap(read(path), "\(path) is missing (ROUTER_RECORD_VIEWS=1 records it)"), as: UTF8.self)
        var recorded: [String: String] = [:]
        for entry in text.components(separatedBy: "=== ").dropFirst() {
            guard let newline = entry.firstIndex(of: "\n") else { continue }
            var value = String(entry[entry.index(after: newline)...])
            if value.hasSuffix("\n") { value.removeLast() }
            recorded[String(entry[..<newline])] = value
        }
        XCTAssertEqual(recorded.count, views.count, "\(name): entries", file: file, line: line)
        for (label, view) in views {
            guard let expected = recorded[label] else {
                XCTFail("\(name): no recorded view for \(label)", file: file, line: line)
                continue
            }
            XCTAssertEqual(body(view), expected, "\(name): \(label)\n\(view)", file: file, line: line)
        }
    }

    static func fnv1a(_ s: String) -> String {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in s.utf8 {
            h ^= UInt64(b)
            h = h &* 0x100_0000_01b3
        }
        return String(h, radix: 16)
    }

    func jsonFiles(_ dir: String) -> [String] {
        var out: [String] = []
        guard let d = opendir(dir) else { return out }
        defer { closedir(d) }
        while let e = readdir(d) {
            let name = withUnsafeBytes(of: e.pointee.d_name) {
                String(decoding: $0.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            if name.hasSuffix(".json") { out.append(dir + "/" + name) }
        }
        return out.sorted()
    }

    func read(_ path: String) -> [UInt8]? {
        guard let f = fopen(path, "rb") else { return nil }
        defer { fclose(f) }
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = fread(&chunk, 1, chunk.count, f)
            if n <= 0 { break }
            out += chunk[0..<n]
        }
        return out
    }

    func testFixturesAndCorpus() throws {
        func views(_ dir: String) -> [(String, String)] {
            jsonFiles(dir).compactMap { path in
                read(path).flatMap { view($0, path) }.map { (String(path.split(separator: "/").last!), $0) }
            }
        }
        let fixtures = views(Fixtures.path("findings"))
        XCTAssertGreaterThan(fixtures.count, 20)
        try compare(fixtures, golden: "fixtures.txt")
        let corpus = views(CorpusTests.corpus + "/eventbridge")
        if !corpus.isEmpty { try compare(corpus, golden: "corpus.txt", hashed: true) }
    }

    func testEdgeCases() throws {
        func event(_ detail: String, envelope: String = #""account":"111122223333","region":"eu-west-1""#) -> [UInt8] {
            Array(#"{"detail-type":"GuardDuty Finding",\#(envelope),"detail":\#(detail)}"#.utf8)
        }
        let base = #""id":"abc","type":"Recon:EC2/PortProbeUnprotectedPort","severity":5"#
        let cases: [String] = [
            #"{\#(base)}"#,
            #"{\#(base),"\u0069d":"escaped-key"}"#,
            #"{"\u0069d":"x","type":"A:B/C"}"#,
            #"{\#(base),"id":"duplicate","severity":9}"#,
            #"{\#(base),"accountId":123456789012,"region":"","partition":""}"#,
            #"{\#(base),"accountId":1.5e3,"arn":"arn:aws-us-gov:guardduty:us-gov-west-1:1:detector/x"}"#,
            #"{\#(base),"arn":"arn:aws-cn:guardduty:cn-north-1:1:detector/x","region":null}"#,
            #"{\#(base),"severity":" 8.5 ","service":{"count":"7","archived":"TRUE"}}"#,
            #"{\#(base),"severity":"0x10","service":{"count":2.0,"archived":true}}"#,
            #"{\#(base),"service":{"count":-3,"eventFirstSeen":1700000000.5,"eventLastSeen":1.7e12}}"#,
            #"{\#(base),"service":{"additionalInfo":{"value":"{\"sample\":true}"}}}"#,
            #"{\#(base),"service":{"additionalInfo":{"value":"{\"sample\": \"true\"}"}}}"#,
            #"{\#(base),"service":{"additionalInfo":{"value":"{\"\u0073ample\":true}"}}}"#,
            #"{\#(base),"service":{"additionalInfo":{"value":"{\"x\":1}","sample":"True"}}}"#,
            #"{\#(base),"service":{"additionalInfo":{"v\u0061lue":"{\"sample\":true}"}}}"#,
            #"{\#(base),"service":{"action":{"actionType":"NETWORK_CONNECTION"},"\u0063ount":4}}"#,
            #"{\#(base),"resource":{"resourceType":"E\u212ASCluster","eksClusterDetails":{"name":"c"}}}"#,
            #"{\#(base),"resource":{"resourceType":"Instance","instanceDetails":{"instanceId":" i-1\t","tags":[{"key":"Name","value":"  web  1 "}]}}}"#,
            #"{\#(base),"resource":{"resourceType":"Instance","instanceDetails":{"instanceId":"i-1","tags":[{"key":"N\u0061me","value":"x"}]}}}"#,
            #"{\#(base),"resource":{"resourceType":"Instance","instanceDetails":{"instanceId":"i-1","tags":[{"key":"Name","value":"caf\u00e9"}]}}}"#,
            #"{\#(base),"resource":{"resourceType":"Instance","instanceDetails":{"instanceId":"\#(String(repeating: "i", count: 120))"}}}"#,
            #"{\#(base),"resource":{"resourceType":"AccessKey","accessKeyDetails":{"userType":"Root","userName":"Root","accessKeyId":"AKIA"}}}"#,
            #"{\#(base),"resource":{"resourceType":"AccessKey","accessKeyDetails":{"userName":"alice"},"s3BucketDetails":[{"name":"a"},{"arn":"b"},{"x":1},{"name":"c"},{"name":"d"}]}}"#,
            #"{\#(base),"resource":{"resourceType":"S3Bucket","s3BucketDetails":[{"name":"only"}],"accessKeyDetails":{"accessKeyId":"AKIA"}}}"#,
            #"{\#(base),"resource":{"resourceType":"S3Object","s3BucketDetails":[{"name":"b","s3ObjectDetails":[{"key":"k"}]}]}}"#,
            #"{\#(base),"resource":{"resourceType":"EKSCluster","kubernetesDetails":{"kubernetesWorkloadDetails":{"name":"w","namespace":"ns","type":"pods"}}}}"#,
            #"{\#(base),"resource":{"resourceType":"KubernetesCluster","eksClusterDetails":{"name":"c"},"kubernetesDetails":{"kubernetesWorkloadDetails":{"name":"w"}}}}"#,
            #"{\#(base),"resource":{"resourceType":"Container","containerDetails":{"id":"cid","image":"img"}}}"#,
            #"{\#(base),"resource":{"resourceType":"RDSDBInstance","rdsDbInstanceDetails":{"dbClusterIdentifier":"db"},"rdsDbUserDetails":{"user":"u"}}}"#,
            #"{\#(base),"resource":{"resourceType":"RDSLimitlessDB","rdsLimitlessDbDetails":{"dbClusterIdentifier":"l"}}}"#,
            #"{\#(base),"resource":{"resourceType":"Lambda","lambdaDetails":{"functionArn":"arn:fn"}}}"#,
            #"{\#(base),"resource":{"resourceType":"ECSCluster","ecsClusterDetails":{"arn":"arn:ecs"}}}"#,
            #"{\#(base),"resource":{"resourceType":"AttackSequence"},"service":{"detection":{"sequence":{"signals":[1],"resources":[1,2]}}}}"#,
            #"{\#(base),"resource":{"resourceType":"Unknown","lambdaDetails":{"functionName":"f"}}}"#,
            #"{\#(base),"resource":{"resourceType":"","instanceDetails":{"instanceId":"i-2"}}}"#,
            #"{\#(base),"resource":{"resourceType":"RecoveryPoint","recoveryPointDetails":{"recoveryPointArn":"a/b","backupVaultName":"v"}}}"#,
            #"{\#(base),"resource":{"\u0072esourceType":"Instance"}}"#,
            #"{\#(base),"title":"t \"q\"","description":"d\n","createdAt":"","updatedAt":5}"#,
            #"{"id":"","type":"A:B/C"}"#,
            #"{"id":"x","type":7}"#,
            #"{"Id":"x","Type":"A:B/C"}"#,
            #"[1]"#,
            #"{\#(base),"accountId":1e3,"service":{"count":3.5}}"#,
            #"{\#(base),"accountId":"","service":{"count":"0"}}"#,
            #"{\#(base),"resource":{"resourceType":"S3Object","s3BucketDetails":[{"name":"b","s3ObjectDetails":[{"key":"k1"},{"key":"k2"},{"x":1}]},{"s3ObjectDetails":[{"key":"\#(String(repeating: "é", count: 120))"}]}]}}"#,
            #"{\#(base),"resource":{"resourceType":"S3Object","s3BucketDetails":[{"name":"b","s3ObjectDetails":{"key":"k"}}],"accessKeyDetails":{"userName":"u"}}}"#,
            #"{\#(base),"resource":{"resourceType":"S3Object","s3BucketDetails":[{"name":"only-bucket"}]}}"#,
            #"{\#(base),"resource":{"resourceType":"EBSSnapshot","ebsSnapshotDetails":{"snapshotArn":"arn:aws:ec2:r::snapshot/snap-1"}}}"#,
            #"{\#(base),"resource":{"resourceType":"EBSSnapshot","ebsSnapshotDetails":{"snapshotArn":"arn:aws:ec2:r::snapshot/ "}}}"#,
            #"{\#(base),"resource":{"resourceType":"EC2Image","ec2ImageDetails":{"imageArn":"arn:aws:ec2:r::image/ami-\u0031"}}}"#,
            #"{\#(base),"resource":{"resourceType":"RecoveryPoint","recoveryPointDetails":{"recoveryPointArn":"a/  "}}}"#,
            #"{\#(base),"resource":{"resourceType":"RecoveryPoint","recoveryPointDetails":{"recoveryPointArn":7}}}"#,
            #"{\#(base),"resource":{"resourceType":"AccessKey","accessKeyDetails":{"userType":"Root","userName":"R\u006fot"}}}"#,
            #"{\#(base),"resource":{"resourceType":"AccessKey","accessKeyDetails":{"userType":"\u212A","userName":"K"}}}"#,
            #"{\#(base),"resource":{"resourceType":"AccessKey","accessKeyDetails":{"userType":"é\u0301","userName":"e\u0301\u0301"}}}"#,
            #"{\#(base),"resource":{"resourceType":"Instance","instanceDetails":{"instanceId":"i-\u0001x ","tags":[{"key":"Name","value":"\#(String(repeating: "日", count: 101))"}]}}}"#,
            #"{\#(base),"resource":{"resourceType":"Instance","instanceDetails":{"instanceId":"\u00a0i\u00a0","tags":[{"key":"Name","value":"\u0020\u0009"}]}}}"#,
            #"{\#(base),"resource":{"resourceType":"\u0049nstance","instanceDetails":{"instanceId":"i-3"}}}"#,
            #"{\#(base),"resource":{"resourceType":"Lambda","lambdaDetails":{"functionName":"\#(String(repeating: "f", count: 99))é"}}}"#,
            #"{\#(base),"resource":{"resourceType":"Container","containerDetails":{"name":"c\u0061fe\u0301","image":"i"}}}"#,
            #"{\#(base),"resource":{"resourceType":"EKSCluster","eksClusterDetails":{"name":"e\u0301"},"kubernetesDetails":{"kubernetesWorkloadDetails":{"name":"w\u0000"}}}}"#,
            #"{\#(base),"resource":{"s3BucketDetails":[{"name":"\u0062"},{"name":"é"},{"arn":"a"},{"name":"d"}],"accessKeyDetails":{"userType":"IAMUser"}}}"#,
            #"{\#(base),"service":{"additionalInfo":{"value":"{\"sample\":false}","sample":false}}}"#,
            #"{\#(base),"service":{"additionalInfo":{"value":"{\"sample\":true"}}}"#,
            #"{\#(base),"service":{"additionalInfo":{"value":"[{\"sample\":true}]"}}}"#,
            #"{\#(base),"service":{"additionalInfo":[]}}"#,
            #"{\#(base),"s\u0065rvice":{"count":5},"service":{"count":6}}"#,
            #"{"id":"x","type":"A:B/C","Severity":1,"SchemaVersion":"2"}"#,
            #"{"id":"x","AccountId":"1"}"#,
            #"{"id":null,"type":"A"}"#,
            #"{"id":"x","type":""}"#,
            #"{"id":"x"}"#,
            #"{"i\u0064":"x","t\u0079pe":"A:B/C!d"}"#,
            #"{"id":"x","type":"Recon:EC2/PortProbeUnprotectedPort","severity":"8","arn":"nope"}"#,
            #""str""#,
            #"null"#,
        ]
        var views: [(String, String)] = []
        for detail in cases {
            views.append(("event " + detail, view(event(detail), detail) ?? "not JSON"))
            views.append(("bare " + detail, view(Array(detail.utf8), detail) ?? "not JSON"))
        }
        // Envelope variants: numeric account, escaped keys, a second detail-type, no detail.
        let detail = #"{\#(base)}"#
        for envelope in [
            #""account":123,"region":"us-east-1""#, #""account":1.5,"region":7"#, #""\u0061ccount":"1","region":"r""#,
            #""account":"","region":"","detail-type":"other""#,
        ] {
            views.append(("envelope " + envelope, view(event(detail, envelope: envelope), envelope) ?? "not JSON"))
        }
        try compare(views, golden: "edge-cases.txt")
        let noDetail = InputReader.items(fromBytes: Array(#"{"detail-type":"GuardDuty Finding","x":1}"#.utf8), source: "s")
        XCTAssertEqual(noDetail.first?.error, .notAFinding("'GuardDuty Finding' event has no 'detail'"))
    }

    /// Random edits of real findings (members removed, duplicated, retyped, renamed; strings escaped).
    func testMutatedFindings() throws {
        var rng = SplitMix64(seed: 0x5EED)
        let corpus = CorpusTests.corpus + "/eventbridge"
        let paths = jsonFiles(Fixtures.path("findings")) + jsonFiles(corpus).prefix(40)
        var fixtureViews: [(String, String)] = []
        var corpusViews: [(String, String)] = []
        for path in paths {
            guard let bytes = read(path), let value = try? JSONValue.parse(bytes) else { continue }
            for round in 0..<12 {
                var v = value
                for _ in 0..<(1 + Int(rng.next() % 4)) {
                    if var d = v["detail"], rng.next() % 4 != 0 {
                        Self.mutate(&d, &rng)
                        v["detail"] = d
                    } else {
                        Self.mutate(&v, &rng)
                    }
                }
                var out = v.serializedBytes()
                if round % 4 == 3 { out = Self.escapeLetters(out, &rng) }
                let label = "\(path.split(separator: "/").last!) round \(round)"
                let described = view(out, label) ?? "not JSON"
                if path.hasPrefix(corpus) { corpusViews.append((label, described)) } else { fixtureViews.append((label, described)) }
            }
        }
        XCTAssertGreaterThan(fixtureViews.count, 100)
        try compare(fixtureViews, golden: "mutated-fixtures.txt")
        if !corpusViews.isEmpty { try compare(corpusViews, golden: "mutated-corpus.txt", hashed: true) }
    }

    static let scalars: [JSONValue] = [
        .null, true, false, 0, -3, 7, 8.5, 1.5e12, 1_700_000_000.123, .double(.infinity), "", " ", "true", "TRUE",
        "8.0", " 5 ", "+5", "abc", "us-gov-west-1", "cn-north-1", "a/b!c", "x:y/z!", "\u{1}ctl\u{7f}", "é\"\\/",
        " padded name ", "tab\there", "\u{212A}ubernetesCluster", "E\u{212A}SCluster", "日本語", "cafe\u{301}",
        .string(String(repeating: "x", count: 120)), .string("  " + String(repeating: "y", count: 99) + " "),
        "Instance", "AccessKey", "S3Bucket", "S3Object", "EKSCluster", "Container", "Lambda", "AttackSequence",
        "Name", "aws-cn", "{\"sample\":true}", "{\"sample\": \"true\"}", "sample", [], [:], ["x", 1],
        ["key": "Name", "value": "tagged"],
    ]

    static func mutate(_ v: inout JSONValue, _ rng: inout SplitMix64) {
        switch v {
        case .object(let o):
            var members = o.members
            guard !members.isEmpty else { return }
            let i = Int(rng.next() % UInt64(members.count))
            switch rng.next() % 10 {
            case 0: members.remove(at: i)
            case 1: members[i].value = scalars[Int(rng.next() % UInt64(scalars.count))]
            case 2: members.insert((members[i].key, scalars[Int(rng.next() % UInt64(scalars.count))]), at: i)
            case 3: members[i].key = members[i].key.uppercased()
            default: mutate(&members[i].value, &rng)
            }
            v = .object(JSONObject(members))
        case .array(var a):
            guard !a.isEmpty else {
                v = .array([scalars[Int(rng.next() % UInt64(scalars.count))]])
                return
            }
            let i = Int(rng.next() % UInt64(a.count))
            switch rng.next() % 4 {
            case 0: a.remove(at: i)
            case 1: a[i] = scalars[Int(rng.next() % UInt64(scalars.count))]
            default: mutate(&a[i], &rng)
            }
            v = .array(a)
        default:
            v = scalars[Int(rng.next() % UInt64(scalars.count))]
        }
    }

    /// Writes some lowercase letters inside strings (keys included) as `\u00XX` escapes.
    static func escapeLetters(_ bytes: [UInt8], _ rng: inout SplitMix64) -> [UInt8] {
        var out: [UInt8] = []
        var inString = false
        var escaped = false
        let hex = Array("0123456789abcdef".utf8)
        for b in bytes {
            if inString {
                if escaped {
                    escaped = false
                } else if b == UInt8(ascii: "\\") {
                    escaped = true
                } else if b == UInt8(ascii: "\"") {
                    inString = false
                } else if b >= 0x61 && b <= 0x7A && rng.next() % 5 == 0 {
                    out += Array("\\u00".utf8) + [hex[Int(b >> 4)], hex[Int(b & 0xF)]]
                    continue
                }
            } else if b == UInt8(ascii: "\"") {
                inString = true
            }
            out.append(b)
        }
        return out
    }

    func testConsoleURLEncoding() {
        XCTAssertEqual(
            ConsoleURL.finding(id: "a b/ü~", region: "us-east-1", partition: "aws"),
            "https://console.aws.amazon.com/guardduty/home?region=us-east-1#/findings?macros=current&fId=a%20b%2F%C3%BC~")
        XCTAssertEqual(
            ConsoleURL.finding(id: "x", region: "", partition: "aws-cn"),
            "https://console.amazonaws.cn/guardduty/home?region=#/findings?macros=current&fId=x")
        XCTAssertEqual(
            ConsoleURL.finding(id: "", region: "r!", partition: "aws-us-gov"),
            "https://console.amazonaws-us-gov.com/guardduty/home?region=r%21#/findings?macros=current&fId=")
        for b in 0...255 {
            let byte = UInt8(b)
            let expected =
                (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A) || (byte >= 0x30 && byte <= 0x39)
                || byte == 0x2D || byte == 0x2E || byte == 0x5F || byte == 0x7E
            XCTAssertEqual(ConsoleURL.unreserved(byte), expected, "byte \(b)")
        }
    }

    func testKnownFindingTypes() {
        let names = KnownFindingTypes.names
        XCTAssertEqual(names, names.sorted(), "sorted")
        XCTAssertEqual(Set(names).count, names.count, "no duplicates")
        XCTAssertGreaterThan(names.count, 190)
        for name in names {
            var bytes = Array(name.utf8)
            let entry = bytes.withUnsafeBufferPointer { KnownFindingTypes.lookup($0) }
            XCTAssertEqual(entry?.type, name)
            let parts = Finding.parseType(name)
            XCTAssertTrue(
                entry.map {
                    $0.purpose == parts.purpose && $0.resourceKind == parts.resourceKind && $0.family == parts.family
                        && $0.artifact == parts.artifact
                } ?? false, name)
            bytes.append(UInt8(ascii: "x"))
            XCTAssertNil(bytes.withUnsafeBufferPointer { KnownFindingTypes.lookup($0) }, name + "x")
            bytes.removeLast(2)
            XCTAssertNil(bytes.withUnsafeBufferPointer { KnownFindingTypes.lookup($0) }, String(name.dropLast()))
        }
        for other in ["", "Recon", "Recon:EC2/PortProbeUnprotectedPorT", "recon:EC2/PortProbeUnprotectedPort"] {
            XCTAssertNil(Array(other.utf8).withUnsafeBufferPointer { KnownFindingTypes.lookup($0) }, other)
        }
    }

    func testParseTypeEdges() {
        XCTAssertTrue(Finding.parseType("") == ("", "", "", nil))
        XCTAssertTrue(Finding.parseType("a:b/c!") == ("a", "b", "c", nil))
        XCTAssertTrue(Finding.parseType("/!x") == ("", "", "", "x"))
        XCTAssertTrue(Finding.parseType("é:ü/ö!ä") == ("é", "ü", "ö", "ä"))
        XCTAssertTrue(Finding.parseType(":::") == ("", "::", "", nil))
    }
}
