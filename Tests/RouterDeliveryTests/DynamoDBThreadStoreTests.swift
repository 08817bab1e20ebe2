import Foundation
import RouterJSON
import RouterTestSupport
import XCTest

@testable import RouterDelivery

/// ``DynamoDBThreadStore`` against an independent DynamoDB: PyPI moto[server] on loopback (see ``MotoServer``).
/// Each test uses its own table, created through the store's own signed call.
final class DynamoDBThreadStoreTests: XCTestCase {
    private static let secretKey = "router-test-SECRET-7f3a9c"
    private static let sessionToken = "router-test-TOKEN-b41e2d"
    /// 2026-11-27T04:00:00.25Z
    private static let now = 1_795_752_000.25

    override class func tearDown() {
        MotoServer.stop()
        super.tearDown()
    }

    private func config(port: String, table: String) -> DynamoDBConfig {
        DynamoDBConfig(
            table: table, region: "eu-west-1", endpoint: "http://127.0.0.1:\(port)/",
            accessKey: Secret("AKIDROUTERTEST"),
            secretKey: Secret(Self.secretKey), sessionToken: Secret(Self.sessionToken))
    }

    /// A store over a new table (`pk` S HASH, on demand).
    private func makeStore(file: StaticString = #filePath, line: UInt = #line) throws -> DynamoDBThreadStore {
        let port = try MotoServer.port(file: file, line: line)
        let table = "router-state-\(UUID().uuidString.prefix(8))"
        let store = DynamoDBThreadStore(config: config(port: port, table: table))
        let create: JSONValue = [
            "TableName": .string(table),
            "AttributeDefinitions": [["AttributeName": "pk", "AttributeType": "S"]],
            "KeySchema": [["AttributeName": "pk", "KeyType": "HASH"]],
            "BillingMode": "PAY_PER_REQUEST",
        ]
        guard case .done(let answer) = try store.call("CreateTable", create, idempotent: false) else {
            throw NSError(domain: "test", code: 1, userInfo: [NSLocalizedDescriptionKey: "CreateTable failed"])
        }
        XCTAssertEqual(answer["TableDescription", "TableName"]?.stringValue, table, file: file, line: line)
        return store
    }

    private func record(_ id: String = "7cbd4f8a1e2b3c4d5e6f", lane: String = "webapi\u{1F}C0SECURITY") -> ThreadRecord
    {
        ThreadRecord(
            findingId: id, lane: lane, count: 1, severityLabel: "MEDIUM", updatedAt: "2026-11-27T03:59:00.000Z",
            touchedAt: Self.now)
    }

    private func fullRecord() -> ThreadRecord {
        ThreadRecord(
            findingId: "id|with\\odd \"chars\" ünï", lane: "webapi\u{1F}#sécu|rity", channelID: "C0123ABCD",
            ts: "1795752000.123456", count: 2_147_483_648, severityLabel: "CRITICAL",
            updatedAt: "2026-11-27T03:59:59.999Z",
            archived: true, inDigest: true, claimedBy: "router-42@host:pid", claimedAt: 1_795_752_001.125, version: 0,
            touchedAt: 1_795_752_002.0625)
    }

    private func expectError(
        _ fragments: [String], file: StaticString = #filePath, line: UInt = #line, _ body: () throws -> Void
    ) -> StateStoreError? {
        do {
            try body()
            XCTFail("expected a StateStoreError, got success", file: file, line: line)
        } catch let error as StateStoreError {
            for fragment in fragments {
                XCTAssertTrue(
                    error.message.contains(fragment), "\"\(error)\" lacks \"\(fragment)\"", file: file, line: line)
            }
            return error
        } catch {
            XCTFail("expected a StateStoreError, got \(error)", file: file, line: line)
        }
        return nil
    }

    private func assertNoCredentials(_ error: StateStoreError?, file: StaticString = #filePath, line: UInt = #line) {
        guard let error else { return }
        for text in [error.message, "\(error)", String(reflecting: error)] {
            XCTAssertFalse(text.contains(Self.secretKey), text, file: file, line: line)
            XCTAssertFalse(text.contains(Self.sessionToken), text, file: file, line: line)
            XCTAssertFalse(text.lowercased().contains("authorization"), text, file: file, line: line)
            XCTAssertFalse(text.lowercased().contains("x-amz-"), text, file: file, line: line)
        }
    }

    // MARK: - Against moto_server

    func testLoadOfAMissingKeyIsNil() throws {
        let store = try makeStore()
        XCTAssertNil(try store.load(findingId: "nothing-here", lane: "webhook\u{1F}"))
    }

    func testInsertStoresVersionOneAndASecondInsertReturnsTheStoredRecordUnchanged() throws {
        let store = try makeStore()
        let first = record()
        XCTAssertNil(try store.insert(first))
        var expected = first
        expected.version = 1
        XCTAssertEqual(try store.load(findingId: first.findingId, lane: first.lane), expected)

        var second = first
        second.count = 9
        second.claimedBy = "another-router"
        second.version = 7
        XCTAssertEqual(try store.insert(second), expected, "the stored record, not the one offered")
        XCTAssertEqual(try store.load(findingId: first.findingId, lane: first.lane), expected, "nothing was written")

        // Another lane of the same finding is another key.
        var otherLane = first
        otherLane.lane = "webapi\u{1F}C0OTHER"
        XCTAssertNil(try store.insert(otherLane))
    }

    func testReplaceWithTheRightVersionBumpsItAndAStaleVersionChangesNothing() throws {
        let store = try makeStore()
        let first = record()
        XCTAssertNil(try store.insert(first))

        var update = first
        update.count = 5
        update.ts = "1795752000.000100"
        update.channelID = "C0SECURITY"
        update.version = 99  // ignored: the store writes expectedVersion + 1
        XCTAssertTrue(try store.replace(update, expectedVersion: 1))
        var expected = update
        expected.version = 2
        XCTAssertEqual(try store.load(findingId: first.findingId, lane: first.lane), expected)

        var stale = update
        stale.count = 100
        stale.severityLabel = "HIGH"
        XCTAssertFalse(try store.replace(stale, expectedVersion: 1))
        XCTAssertFalse(try store.replace(stale, expectedVersion: 3))
        XCTAssertEqual(try store.load(findingId: first.findingId, lane: first.lane), expected, "nothing changed")

        // Nothing stored: no version can match.
        XCTAssertFalse(try store.replace(record("never-inserted"), expectedVersion: 0))
        XCTAssertNil(try store.load(findingId: "never-inserted", lane: first.lane))
    }

    func testRecordsWithNoOptionalFieldAndWithEveryFieldRoundTripExactly() throws {
        let store = try makeStore()
        var emptyStrings = record("empty-strings", lane: "")
        emptyStrings.severityLabel = ""
        emptyStrings.updatedAt = ""
        emptyStrings.ts = ""
        for original in [record(), fullRecord(), emptyStrings] {
            XCTAssertNil(try store.insert(original))
            var expected = original
            expected.version = 1
            XCTAssertEqual(try store.load(findingId: original.findingId, lane: original.lane), expected)

            var changed = expected
            changed.count += 1
            changed.touchedAt += 0.5
            XCTAssertTrue(try store.replace(changed, expectedVersion: 1))
            changed.version = 2
            XCTAssertEqual(try store.load(findingId: original.findingId, lane: original.lane), changed)
        }
        // Unset fields are absent from the item, and the TTL attribute is there.
        let full = fullRecord()
        let bare = record()
        let bareItem = try rawItem(store, bare)
        for name in ["channel_id", "ts", "claimed_by", "claimed_at"] {
            XCTAssertNil(bareItem[name], name)
        }
        XCTAssertEqual(bareItem["pk", "S"]?.stringValue, bare.findingId + "|" + bare.lane)
        XCTAssertEqual(bareItem["expires_at", "N"]?.stringValue, String(Int64(Self.now) + 90 * 86_400))
        XCTAssertEqual(bareItem["version", "N"]?.stringValue, "2")
        XCTAssertEqual(try rawItem(store, full)["claimed_by", "S"]?.stringValue, full.claimedBy)
    }

    func testKeysOfFindingIdsAndLanesHoldingTheSeparatorDoNotCollide() throws {
        let store = try makeStore()
        let a = record("a|b", lane: "c")
        let b = record("a", lane: "b|c")
        let c = record("a\\", lane: "|b|c")
        XCTAssertNil(try store.insert(a))
        XCTAssertNil(try store.insert(b), "(a, b|c) is not (a|b, c)")
        XCTAssertNil(try store.insert(c))
        XCTAssertEqual(try store.load(findingId: "a", lane: "b|c")?.findingId, "a")
        XCTAssertEqual(try store.load(findingId: "a|b", lane: "c")?.lane, "c")
        XCTAssertNil(try store.load(findingId: "a|b|c", lane: ""))
    }

    func testTwoStoresRacingToInsertOneKeyHaveExactlyOneWinnerEachTime() throws {
        let first = try makeStore()
        let second = DynamoDBThreadStore(config: first.config)
        let stores = [first, second, first, second]
        for round in 0..<20 {
            let id = "race-\(round)"
            let results = Results(count: stores.count)
            let start = DispatchSemaphore(value: 0)
            let done = DispatchGroup()
            for (i, store) in stores.enumerated() {
                var r = record(id)
                r.claimedBy = "router-\(i)"
                done.enter()
                Thread.detachNewThread { [r] in
                    start.wait()
                    results.set(i, Result { () throws(StateStoreError) in try store.insert(r) })
                    done.leave()
                }
            }
            for _ in stores { start.signal() }
            XCTAssertEqual(done.wait(timeout: .now() + 30), .success, "round \(round) did not finish")
            let outcomes = try results.all.map { try XCTUnwrap($0).get() }
            let winners = outcomes.indices.filter { outcomes[$0] == nil }
            XCTAssertEqual(winners.count, 1, "round \(round): \(outcomes)")
            let stored = try XCTUnwrap(first.load(findingId: id, lane: record().lane))
            XCTAssertEqual(stored.claimedBy, winners.first.map { "router-\($0)" }, "round \(round)")
            XCTAssertEqual(stored.version, 1)
            for case let loser? in outcomes {
                XCTAssertEqual(loser, stored, "round \(round): losers see the winner's record")
            }
        }
    }

    func testAMissingTableIsAStateStoreErrorNamingTheTableAndResourceNotFound() throws {
        let port = try MotoServer.port()
        let store = DynamoDBThreadStore(config: config(port: port, table: "router-no-such-table"))
        let fragments = ["router-no-such-table", "ResourceNotFoundException"]
        assertNoCredentials(expectError(fragments + ["GetItem"]) { _ = try store.load(findingId: "x", lane: "y") })
        assertNoCredentials(expectError(fragments + ["PutItem"]) { _ = try store.insert(record()) })
        assertNoCredentials(
            expectError(fragments + ["PutItem"]) { _ = try store.replace(record(), expectedVersion: 1) })
    }

    func testATransportFailureNamesTheTableAndTheShortErrorAndNoCredential() throws {
        // A port nothing listens on (bound, then closed).
        let port = try closedLoopbackPort()
        let store = DynamoDBThreadStore(config: config(port: String(port), table: "router-unreachable"))
        let started = Date()
        assertNoCredentials(
            expectError(["router-unreachable", "GetItem", "connect_failed"]) {
                _ = try store.load(findingId: "x", lane: "y")
            })
        assertNoCredentials(
            expectError(["router-unreachable", "PutItem", "connect_failed"]) { _ = try store.insert(record()) })
        XCTAssertLessThan(Date().timeIntervalSince(started), 10, "bounded: connect 2 s, total 5 s, two quick retries")
    }

    func testTooLongAKeyIsRefusedBeforeAnyCall() throws {
        let store = DynamoDBThreadStore(config: config(port: "9", table: "router-state"))
        let long = String(repeating: "f", count: 2100)
        _ = expectError(["router-state", "longer than a key can be"]) { _ = try store.load(findingId: long, lane: "l") }
        _ = expectError(["longer than a key can be"]) { _ = try store.insert(record(long)) }
    }

    /// The signature itself, checked by botocore (moto accepts any): region, service, session token, target.
    func testRequestsAreSignedForDynamoDBWithTheSessionTokenAsBotocoreComputesIt() throws {
        let checker = try HelperProcess(
            try MotoServer.python(), [MotoServer.sigV4Checker, "AKIDROUTERTEST", Self.secretKey],
            waitFor: #"PORT (\d+)"#)
        defer { checker.terminate() }
        let request: JSONValue = [
            "TableName": "router-state", "Key": DynamoDBItem.key(findingId: "f", lane: "l"), "ConsistentRead": true,
        ]

        let store = DynamoDBThreadStore(config: config(port: checker.port, table: "router-state"))
        guard case .done(let seen) = try store.call("GetItem", request, idempotent: true) else {
            return XCTFail("the checker answered an error")
        }
        XCTAssertEqual(seen["valid"]?.boolValue, true, seen["why"]?.stringValue ?? "\(seen)")
        XCTAssertEqual(seen["accessKey"]?.stringValue, "AKIDROUTERTEST")
        XCTAssertEqual(seen["scope"]?.stringValue?.hasSuffix("/eu-west-1/dynamodb/aws4_request"), true, "\(seen)")
        XCTAssertEqual(seen["securityToken"]?.stringValue, Self.sessionToken)
        let signed = (seen["signedHeaders"]?.arrayValue ?? []).compactMap(\.stringValue)
        for header in ["host", "x-amz-date", "x-amz-security-token", "x-amz-target", "content-type"] {
            XCTAssertTrue(signed.contains(header), "\(header) not signed: \(signed)")
        }
        XCTAssertEqual(seen["target"]?.stringValue, "DynamoDB_20120810.GetItem")
        XCTAssertEqual(seen["contentType"]?.stringValue, "application/x-amz-json-1.0")
        XCTAssertEqual(try JSONValue.parse(seen["body"]?.stringValue ?? ""), request)

        // Without a session token: no token header. With another secret: botocore disagrees (the check can fail).
        var other = store.config
        other.sessionToken = nil
        other.secretKey = Secret("another-secret")
        guard
            case .done(let unsigned) = try DynamoDBThreadStore(config: other).call("GetItem", request, idempotent: true)
        else { return XCTFail("the checker answered an error") }
        XCTAssertEqual(unsigned["valid"]?.boolValue, false)
        XCTAssertEqual(unsigned["why"]?.stringValue, "signature mismatch")
        XCTAssertEqual(unsigned["securityToken"], .null)
    }

    // MARK: - Failures moto cannot produce (a scripted endpoint)

    func testThrottledReadsAreRetriedTwiceThenTheErrorIsNamed() throws {
        let stored = storedRecord()
        let (store, log, pauses) = try scripted([
            (400, awsError("ProvisionedThroughputExceededException"), 0), (400, awsError("ThrottlingException"), 0),
            (200, itemAnswer(stored), 0), (400, awsError("ProvisionedThroughputExceededException"), 0),
        ])
        XCTAssertEqual(try store.load(findingId: stored.findingId, lane: stored.lane), stored)
        XCTAssertEqual(try log(), Array(repeating: "DynamoDB_20120810.GetItem", count: 3))
        XCTAssertEqual(pauses.all, [1, 2])

        _ = expectError(["router-scripted", "GetItem", "ProvisionedThroughputExceededException (HTTP 400)"]) {
            _ = try store.load(findingId: stored.findingId, lane: stored.lane)
        }
        XCTAssertEqual(try log().count, 6, "three attempts, no more")
    }

    func testAWriteIsNotRepeatedAfterAServerErrorButAReadIs() throws {
        let (store, log, _) = try scripted([(500, awsError("InternalServerError"), 0)])
        _ = expectError(["router-scripted", "PutItem", "InternalServerError (HTTP 500)"]) {
            _ = try store.insert(record())
        }
        XCTAssertEqual(try log(), ["DynamoDB_20120810.PutItem"], "the write may have happened: not repeated")
        _ = expectError(["PutItem", "InternalServerError"]) { _ = try store.replace(record(), expectedVersion: 1) }
        XCTAssertEqual(try log().count, 2)
        _ = expectError(["GetItem", "InternalServerError"]) { _ = try store.load(findingId: "f", lane: "l") }
        XCTAssertEqual(try log().count, 5, "a read is repeated")
    }

    func testAConditionFailureWithoutTheStoredItemFallsBackToAConsistentRead() throws {
        let stored = storedRecord()
        let (store, log, _) = try scripted([
            (400, awsError("ConditionalCheckFailedException"), 0), (200, itemAnswer(stored), 0),
            (400, awsError("ConditionalCheckFailedException"), 0), (200, itemAnswer(stored), 0),
        ])
        XCTAssertEqual(try store.insert(record(stored.findingId, lane: stored.lane)), stored)
        XCTAssertEqual(try log(), ["DynamoDB_20120810.PutItem", "DynamoDB_20120810.GetItem"])
        // An answer for another key is refused.
        _ = expectError(["GetItem", "another finding or lane"]) { _ = try store.insert(record()) }
    }

    func testDynamoDBsOwnMessageNeverReachesTheError() throws {
        // What AWS says about a bad signature quotes the canonical request, signed token header included.
        let message =
            "The request signature we calculated does not match. The Canonical String for this request "
            + "should have been 'POST / content-type:application/x-amz-json-1.0 x-amz-security-token:\(Self.sessionToken) "
            + "\(Self.secretKey)'"
        let (store, _, _) = try scripted([
            (400, awsError("InvalidSignatureException", message: message), 0),
            (403, "<html>\(Self.secretKey) \(Self.sessionToken)</html>", 0),
        ])
        assertNoCredentials(
            expectError(["router-scripted", "InvalidSignatureException (HTTP 400)"]) { _ = try store.insert(record()) })
        let plain = expectError(["router-scripted", "PutItem failed: HTTP 403"]) { _ = try store.insert(record()) }
        assertNoCredentials(plain)
        XCTAssertFalse(plain?.message.contains("Canonical") ?? true)
    }

    func testMalformedAnswersAreErrorsNamingWhatIsWrong() throws {
        var item = DynamoDBItem.item(storedRecord(), version: 3) ?? JSONObject()
        _ = item.removeValue(forKey: "version")
        let (store, _, _) = try scripted([
            (200, JSONValue.object(["Item": .object(item)]).serialized(), 0), (200, "not json", 0),
        ])
        _ = expectError(["router-scripted", "GetItem", "no valid 'version'"]) {
            _ = try store.load(findingId: "f", lane: "l")
        }
        _ = expectError(["GetItem", "HTTP 200 without a JSON object"]) { _ = try store.load(findingId: "f", lane: "l") }
    }

    func testASlowAnswerTimesOutOnceWithinTheBound() throws {
        let (store, log, _) = try scripted([(200, "{}", 8)])
        let started = Date()
        _ = expectError(["router-scripted", "GetItem", "timeout"]) { _ = try store.load(findingId: "f", lane: "l") }
        let elapsed = Date().timeIntervalSince(started)
        XCTAssertGreaterThan(elapsed, 4.5)
        XCTAssertLessThan(elapsed, 7.5, "total bound 5 s, not retried")
        XCTAssertEqual(try log().count, 1)
    }

    // MARK: - Without moto

    func testErrorTypesAreReducedToTheirName() {
        XCTAssertEqual(
            AWSClient.errorType("com.amazonaws.dynamodb.v20120810#ResourceNotFoundException"),
            "ResourceNotFoundException")
        XCTAssertEqual(
            AWSClient.errorType(
                "ThrottlingException:http://internal.amazon.com/coral/com.amazon.coral.availability/"),
            "ThrottlingException")
        XCTAssertEqual(
            AWSClient.errorType("ProvisionedThroughputExceededException"),
            "ProvisionedThroughputExceededException")
        XCTAssertNil(AWSClient.errorType("Bad type with spaces and \(Self.secretKey)/"))
        XCTAssertNil(AWSClient.errorType(""))
        XCTAssertNil(AWSClient.errorType(nil))
    }

    func testPartitionKeysAreUnambiguous() {
        XCTAssertEqual(DynamoDBItem.partitionKey(findingId: "abc123", lane: "webapi\u{1F}C1"), "abc123|webapi\u{1F}C1")
        XCTAssertEqual(DynamoDBItem.partitionKey(findingId: "a|b", lane: "c"), "a\\|b|c")
        XCTAssertNotEqual(
            DynamoDBItem.partitionKey(findingId: "a|b", lane: "c"),
            DynamoDBItem.partitionKey(findingId: "a", lane: "b|c"))
        XCTAssertNotEqual(
            DynamoDBItem.partitionKey(findingId: "a\\", lane: "|b"),
            DynamoDBItem.partitionKey(findingId: "a\\|", lane: "b"))
    }

    func testFromEnvironment() throws {
        XCTAssertNil(DynamoDBConfig.fromEnvironment([:]))
        XCTAssertNil(DynamoDBConfig.fromEnvironment(["ROUTER_STATE_TABLE": "", "AWS_REGION": "eu-west-1"]))

        let credentials = ["AWS_ACCESS_KEY_ID": "AKIDENV", "AWS_SECRET_ACCESS_KEY": Self.secretKey]
        func failure(_ env: [String: String]) -> String? {
            guard case .failure(let e)? = DynamoDBConfig.fromEnvironment(env) else { return nil }
            XCTAssertFalse(e.message.contains(Self.secretKey))
            return e.message
        }
        let noRegion = try XCTUnwrap(failure(credentials.merging(["ROUTER_STATE_TABLE": "router-state"]) { $1 }))
        XCTAssertTrue(noRegion.contains("AWS_REGION") && noRegion.contains("router-state"), noRegion)

        let noSecret = try XCTUnwrap(
            failure(["ROUTER_STATE_TABLE": "router-state", "AWS_REGION": "eu-west-1", "AWS_ACCESS_KEY_ID": "AKIDENV"]))
        XCTAssertTrue(noSecret.contains("AWS_SECRET_ACCESS_KEY"), noSecret)
        XCTAssertFalse(noSecret.contains("AWS_ACCESS_KEY_ID"), noSecret)

        let badTable = try XCTUnwrap(
            failure(credentials.merging(["ROUTER_STATE_TABLE": "a b", "AWS_REGION": "x"]) { $1 }))
        XCTAssertTrue(badTable.contains("ROUTER_STATE_TABLE"), badTable)
        XCTAssertNotNil(failure(credentials.merging(["ROUTER_STATE_TABLE": "t-1", "AWS_REGION": "eu:west"]) { $1 }))
        XCTAssertNotNil(
            failure(
                credentials.merging(
                    ["ROUTER_STATE_TABLE": "t-1", "AWS_REGION": "eu-west-1", "ROUTER_DYNAMODB_ENDPOINT": "ftp://x"]) {
                        $1
                    }))

        // AWS_DEFAULT_REGION as the fallback; the default endpoint; no session token.
        let plain = try XCTUnwrap(
            DynamoDBConfig.fromEnvironment(
                credentials.merging(["ROUTER_STATE_TABLE": "router-state", "AWS_DEFAULT_REGION": "us-east-2"]) { $1 })
        ).get()
        XCTAssertEqual(plain.table, "router-state")
        XCTAssertEqual(plain.region, "us-east-2")
        XCTAssertEqual(plain.endpoint, "https://dynamodb.us-east-2.amazonaws.com")
        XCTAssertEqual(plain.secretKey.reveal(), Self.secretKey)
        XCTAssertNil(plain.sessionToken)

        // AWS_REGION wins; endpoint override (trailing slash dropped); the Lambda's session token.
        let lambda = try XCTUnwrap(
            DynamoDBConfig.fromEnvironment(
                credentials.merging([
                    "ROUTER_STATE_TABLE": "router-state", "AWS_REGION": "eu-west-1", "AWS_DEFAULT_REGION": "us-east-2",
                    "ROUTER_DYNAMODB_ENDPOINT": "http://127.0.0.1:5000/", "AWS_SESSION_TOKEN": Self.sessionToken,
                ]) { $1 })
        ).get()
        XCTAssertEqual(lambda.region, "eu-west-1")
        XCTAssertEqual(lambda.endpoint, "http://127.0.0.1:5000")
        XCTAssertEqual(lambda.sessionToken?.reveal(), Self.sessionToken)
        for text in ["\(lambda)", String(reflecting: lambda), "\(lambda.secretKey)"] {
            XCTAssertFalse(text.contains(Self.secretKey), text)
            XCTAssertFalse(text.contains(Self.sessionToken), text)
        }
    }

    // MARK: - Helpers

    /// The stored item as DynamoDB holds it.
    private func rawItem(_ store: DynamoDBThreadStore, _ r: ThreadRecord) throws -> JSONValue {
        let request: JSONValue = [
            "TableName": .string(store.config.table), "Key": DynamoDBItem.key(findingId: r.findingId, lane: r.lane),
            "ConsistentRead": true,
        ]
        guard case .done(let answer) = try store.call("GetItem", request, idempotent: true) else {
            throw NSError(domain: "test", code: 1)
        }
        return try XCTUnwrap(answer["Item"])
    }

    /// A store over Tests/Moto/scripted_dynamodb.py answering `steps` (status, body, delay) in order; the X-Amz-Target
    /// of every request it received; the retry pauses the store asked for (none is slept).
    private func scripted(_ steps: [(Int, String, Double)]) throws -> (
        DynamoDBThreadStore, () throws -> [String], Pauses
    ) {
        let script = FileManager.default.temporaryDirectory.appendingPathComponent("script-\(UUID().uuidString).json")
        let json = JSONValue.array(
            steps.map { .object(["status": .int(Int64($0.0)), "body": .string($0.1), "delay": .double($0.2)]) })
        try Data(json.serializedBytes()).write(to: script)
        let helper = try HelperProcess(
            try MotoServer.python(), [MotoServer.scriptedDynamoDB, script.path], waitFor: #"PORT (\d+)"#)
        addTeardownBlock {
            helper.terminate()
            try? FileManager.default.removeItem(at: script)
        }
        let pauses = Pauses()
        let store = DynamoDBThreadStore(
            config: config(port: helper.port, table: "router-scripted"), maxIdleClients: 2, pause: { pauses.add($0) })
        let log = { () throws -> [String] in
            var request = HTTPRequest(method: .get, url: "http://127.0.0.1:\(helper.port)/log")
            request.totalTimeout = 5
            guard case .success(let r) = HTTPClient().send(request) else { throw NSError(domain: "test", code: 2) }
            return (try JSONValue.parse(r.body).arrayValue ?? []).compactMap(\.stringValue)
        }
        return (store, log, pauses)
    }

    private func awsError(_ type: String, message: String = "an error") -> String {
        JSONValue.object(["__type": .string("com.amazonaws.dynamodb.v20120810#" + type), "message": .string(message)])
            .serialized()
    }

    private func storedRecord() -> ThreadRecord {
        var r = fullRecord()
        r.version = 3
        return r
    }

    private func itemAnswer(_ r: ThreadRecord) -> String {
        JSONValue.object(["Item": .object(DynamoDBItem.item(r, version: r.version) ?? JSONObject())]).serialized()
    }

    private func closedLoopbackPort() throws -> UInt16 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        XCTAssertGreaterThanOrEqual(fd, 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { p in
                bind(fd, p, length) == 0 && getsockname(fd, p, &length) == 0
            }
        }
        XCTAssertTrue(bound)
        return UInt16(bigEndian: address.sin_port)
    }
}

/// One result slot per racing thread.
private final class Results: @unchecked Sendable {
    private let lock = NSLock()
    private var slots: [Result<ThreadRecord?, StateStoreError>?]
    init(count: Int) { slots = Array(repeating: nil, count: count) }
    func set(_ i: Int, _ r: Result<ThreadRecord?, StateStoreError>) { lock.withLock { slots[i] = r } }
    var all: [Result<ThreadRecord?, StateStoreError>?] { lock.withLock { slots } }
}

/// Retry pauses asked for by a store under test.
private final class Pauses: @unchecked Sendable {
    private let lock = NSLock()
    private var attempts: [Int] = []
    func add(_ attempt: Int) { lock.withLock { attempts.append(attempt) } }
    var all: [Int] { lock.withLock { attempts } }
}
