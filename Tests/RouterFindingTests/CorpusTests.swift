import RouterFinding
import XCTest

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Runs the reader over the shared sample corpus (`../shared/corpus/guardduty` next to the repository), which is
/// reference data kept outside the repository. Skipped when it is absent.
final class CorpusTests: XCTestCase {
    static let corpus = Fixtures.repositoryRoot + "/../shared/corpus/guardduty"

    func corpusDirectory(_ sub: String) throws -> String {
        let path = Self.corpus + "/" + sub
        var info = stat()
        guard stat(path, &info) == 0, (info.st_mode & S_IFMT) == S_IFDIR else {
            throw XCTSkip("corpus not present at \(path)")
        }
        return path
    }

    func describe(_ items: [InputItem]) -> String {
        items.filter { $0.finding == nil }.map { "\($0.source): \($0.error!)" }.joined(separator: "\n")
    }

    func testEventBridgeCorpusYieldsOneFindingPerFile() throws {
        let dir = try corpusDirectory("eventbridge")
        let items = InputReader.items(fromPath: dir)
        XCTAssertGreaterThanOrEqual(items.count, 100)
        XCTAssertEqual(describe(items), "")
        var files = Set<String>()
        for item in items {
            files.insert(item.source)
            guard let f = item.finding else { continue }
            XCTAssertFalse(f.id.isEmpty, item.source)
            XCTAssertFalse(f.account.isEmpty, item.source)
            XCTAssertFalse(f.region.isEmpty, item.source)
            XCTAssertNotEqual(f.severityLabel, .unknown, item.source)
            XCTAssertFalse(f.family.isEmpty, item.source)
            XCTAssertTrue(f.consoleURL.hasPrefix("https://console.aws.amazon.com/guardduty/home?region="), item.source)
            XCTAssertNotNil(f.createdAt, item.source)
            if let updated = f.updatedAt { XCTAssertFalse(updated.isEmpty) }
            if f.resourceType == "AttackSequence" { XCTAssertEqual(f.severityLabel, .critical, item.source) }
        }
        XCTAssertEqual(files.count, items.count, "one finding per file, source = the file path")
        XCTAssertGreaterThan(items.filter { $0.finding?.sample == true }.count, 100, "most corpus findings are samples")
        XCTAssertTrue(items.contains { $0.finding?.resourceSummary?.hasPrefix("S3 bucket") == true })
    }

    func testWrapperCorpus() throws {
        let dir = try corpusDirectory("wrappers")
        let items = InputReader.items(fromPath: dir)
        XCTAssertFalse(items.isEmpty)
        for item in items {
            if item.source.contains("/other-detail-types/") {
                XCTAssertEqual(item.error?.kind, .notAFinding, item.source)
            } else {
                XCTAssertNotNil(item.finding, "\(item.source): \(item.error.map(String.init(describing:)) ?? "")")
            }
        }
        let asff = items.first { $0.source.contains("/securityhub/") }?.finding
        XCTAssertEqual(asff?.type, "UnauthorizedAccess:EC2/SSHBruteForce")
        XCTAssertEqual(asff?.severity, 2)
        XCTAssertEqual(asff?.count, 74)
        XCTAssertEqual(asff?.resourceSummary, "EC2 instance i-0c10c2c7863d1a356 (kubectl)")
        let sqs = items.filter { $0.source.contains("/sqs/") }
        XCTAssertEqual(sqs.count, 2)
        XCTAssertTrue(sqs.allSatisfy { $0.recordId == "059f36b4-87a3-44ab-83d2-661975830a7d" })
    }

    func testVariantsDoNotCrash() throws {
        let dir = try corpusDirectory("variants")
        let items = InputReader.items(fromPath: dir)
        XCTAssertFalse(items.isEmpty)
        // SDK-shaped (PascalCase) findings pasted into EventBridge envelopes: translated with the service model and
        // read like the events EventBridge sends.
        let sdk = items.filter { $0.source.contains("/pascalcase/") }
        XCTAssertEqual(sdk.count, 15)
        for item in sdk {
            let f = try XCTUnwrap(item.finding, "\(item.source): \(item.error.map(String.init(describing:)) ?? "")")
            XCTAssertFalse(f.id.isEmpty || f.type.isEmpty || f.account.isEmpty || f.region.isEmpty, item.source)
            XCTAssertNotEqual(f.severityLabel, .unknown, item.source)
            XCTAssertNotNil(f.updatedAt, item.source)
            XCTAssertNotNil(f.detail["service"], item.source)
        }
        for item in items where item.source.contains("/partial/") {
            XCTAssertNotNil(item.finding, "\(item.source): \(item.error.map(String.init(describing:)) ?? "")")
        }
    }
}
