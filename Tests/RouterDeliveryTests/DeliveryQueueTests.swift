import Dispatch
import Foundation
import Synchronization
import XCTest

@testable import RouterDelivery

#if canImport(Glibc)
import Glibc
#endif

/// A fresh directory under /tmp, removed by `tearDown`.
private func makeTempDirectory() -> String {
    var template = Array("/tmp/delivery-queue-test-XXXXXX".utf8CString)
    let p = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
    precondition(p != nil, "mkdtemp failed")
    return String(cString: p!)
}

private func delivery(
    _ key: String, destination: String = "default", channel: String? = "#alerts", payload: [UInt8]? = nil,
    textOnly: [UInt8]? = nil
) -> NewDelivery {
    NewDelivery(
        key: key, findingId: "finding-\(key)", findingType: "Recon:EC2/PortProbeUnprotectedPort", severityLabel: "HIGH",
        destination: destination, channel: channel, payload: payload ?? Array("{\"text\":\"\(key)\"}".utf8),
        textOnlyPayload: textOnly)
}

private func ids(_ results: [EnqueueResult]) -> [Int64] {
    results.map {
        switch $0 {
        case .queued(let id), .duplicate(let id): id
        }
    }
}

final class DeliveryQueueTests: XCTestCase {
    private var directories: [String] = []

    private func tempDirectory() -> String {
        let d = makeTempDirectory()
        directories.append(d)
        return d
    }

    private func openQueue(_ dir: String) throws -> DeliveryQueue {
        try DeliveryQueue(directory: dir)
    }

    override func tearDown() {
        for d in directories { try? FileManager.default.removeItem(atPath: d) }
        directories = []
        super.tearDown()
    }

    // MARK: - Open

    func testCreatesPrivateDirectoryAndFile() throws {
        let dir = tempDirectory() + "/a/b"
        let q = try openQueue(dir)
        XCTAssertEqual(q.path, dir + "/queue.sqlite3")
        var st = stat()
        XCTAssertEqual(stat(dir, &st), 0)
        XCTAssertEqual(st.st_mode & 0o777, 0o700)
        XCTAssertEqual(stat(q.path, &st), 0)
        XCTAssertEqual(st.st_mode & 0o777, 0o600)
        XCTAssertEqual(try q.counts().pending, 0)
        // Opening again (schema present) works, and WAL is on.
        let q2 = try openQueue(dir)
        XCTAssertEqual(try q2.counts().pending, 0)
        _ = try q.enqueue([delivery("k")], now: 1)
        XCTAssertEqual(stat(q.path + "-wal", &st), 0, "not in WAL mode")
        XCTAssertEqual(st.st_mode & 0o777, 0o600)
    }

    /// Several connections creating the same new queue at once: one schema, everyone can write.
    func testConcurrentOpenOfANewFile() throws {
        let dir = tempDirectory() + "/new"
        let errors = Mutex<[String]>([])
        DispatchQueue.concurrentPerform(iterations: 4) { i in
            do {
                let q = try DeliveryQueue(directory: dir)
                _ = try q.enqueue([delivery("k\(i)")], now: 0)
            } catch {
                errors.withLock { $0.append("\(error)") }
            }
        }
        XCTAssertEqual(errors.withLock { $0 }, [])
        XCTAssertEqual(try openQueue(dir).counts().pending, 4)
    }

    func testCorruptFileNamesTheFile() throws {
        let dir = tempDirectory()
        let path = dir + "/queue.sqlite3"
        let garbage = Data(repeating: 0x41, count: 8192)
        XCTAssertTrue(FileManager.default.createFile(atPath: path, contents: garbage))
        XCTAssertEqual(chmod(path, 0o600), 0)
        XCTAssertThrowsError(try DeliveryQueue(directory: dir)) { error in
            let message = (error as? QueueError)?.message ?? ""
            XCTAssertTrue(message.contains(path), message)
            XCTAssertTrue(message.contains("corrupt or not a SQLite database"), message)
        }
    }

    func testNewerSchemaIsRefused() throws {
        let dir = tempDirectory()
        do {
            let q = try openQueue(dir)
            q.close()
        }
        let db = try SQLiteConnection(path: dir + "/queue.sqlite3", flags: 0x2, busyTimeoutMs: 1000)  // READWRITE
        try db.exec("PRAGMA user_version = 99")
        db.close()
        XCTAssertThrowsError(try DeliveryQueue(directory: dir)) { error in
            XCTAssertTrue("\(error)".contains("newer than this router supports"), "\(error)")
        }
    }

    func testClosedQueueThrows() throws {
        let q = try openQueue(tempDirectory())
        q.close()
        XCTAssertThrowsError(try q.counts()) { error in
            XCTAssertTrue("\(error)".contains("is closed"))
        }
    }

    // MARK: - Enqueue

    func testEnqueueStoresEverythingAndDeduplicatesByKey() throws {
        let dir = tempDirectory()
        let q = try openQueue(dir)
        let binary: [UInt8] = [0, 1, 2, 255, 0x7B, 0]
        let r = try q.enqueue(
            [
                delivery("a", payload: binary, textOnly: Array("{\"text\":\"t\"}".utf8)),
                delivery("b", destination: "slack-api", channel: nil, payload: []),
                delivery("a"),  // same key in the same batch
            ], now: 100)
        guard case .queued(let a) = r[0], case .queued(let b) = r[1] else { return XCTFail("\(r)") }
        XCTAssertEqual(r[2], .duplicate(id: a))
        XCTAssertLessThan(a, b)

        let stored = try XCTUnwrap(q.delivery(id: a))
        XCTAssertEqual(stored.delivery, delivery("a", payload: binary, textOnly: Array("{\"text\":\"t\"}".utf8)))
        XCTAssertEqual(stored.state, .pending)
        XCTAssertEqual(stored.attempts, 0)
        XCTAssertEqual(stored.enqueuedAt, 100)
        XCTAssertEqual(stored.nextAttemptAt, 100)
        XCTAssertNil(stored.firstError)
        XCTAssertNil(stored.lastError)
        XCTAssertNil(stored.lastAttemptAt)
        XCTAssertFalse(stored.usedTextOnly)
        let sb = try XCTUnwrap(q.delivery(id: b))
        XCTAssertEqual(sb.delivery.payload, [])
        XCTAssertNil(sb.delivery.channel)
        XCTAssertNil(sb.delivery.textOnlyPayload)

        XCTAssertEqual(try q.enqueue([delivery("a"), delivery("c")], now: 101).first, .duplicate(id: a))
        XCTAssertEqual(try q.counts().pending, 3)
        XCTAssertEqual(try q.enqueue([], now: 1), [])

        // A delivered (or dead) key stays a duplicate; also after reopening.
        try q.markDelivered(id: a, now: 102)
        q.close()
        let q2 = try openQueue(dir)
        XCTAssertEqual(try q2.enqueue([delivery("a"), delivery("b")], now: 103), [.duplicate(id: a), .duplicate(id: b)])
        XCTAssertEqual(try q2.counts().pending, 2)
        XCTAssertEqual(try q2.counts().delivered, 1)
    }

    // MARK: - Claim

    func testClaimTakesTheOldestOfEachLaneOldestFirst() throws {
        let q = try openQueue(tempDirectory())
        let r = ids(
            try q.enqueue(
                [
                    delivery("a1", channel: "#a"), delivery("b1", channel: "#b"), delivery("a2", channel: "#a"),
                    delivery("c1", destination: "team-x", channel: nil), delivery("b2", channel: "#b"),
                    delivery("a3", channel: "#a"),
                ], now: 10))
        let (a1, b1, a2, c1, b2, a3) = (r[0], r[1], r[2], r[3], r[4], r[5])

        let first = try q.claim(now: 10, limit: 10, leaseSeconds: 60, owner: "w1")
        XCTAssertEqual(first.map(\.id), [a1, b1, c1])
        XCTAssertEqual(first.map(\.delivery.key), ["a1", "b1", "c1"])
        // Heads are leased: nothing else in those lanes.
        XCTAssertEqual(try q.claim(now: 11, limit: 10, leaseSeconds: 60, owner: "w2").map(\.id), [])

        try q.markDelivered(id: a1, now: 12)
        XCTAssertEqual(try q.claim(now: 12, limit: 10, leaseSeconds: 60, owner: "w2").map(\.id), [a2])
        try q.markDelivered(id: b1, now: 12)
        try q.markDelivered(id: a2, now: 12)
        XCTAssertEqual(try q.claim(now: 12, limit: 1, leaseSeconds: 60, owner: "w2").map(\.id), [b2])  // limit
        XCTAssertEqual(try q.claim(now: 12, limit: 1, leaseSeconds: 60, owner: "w2").map(\.id), [a3])
        XCTAssertEqual(try q.claim(now: 12, limit: 0, leaseSeconds: 60, owner: "w2").map(\.id), [])
    }

    func testHeadNotYetDueBlocksItsLane() throws {
        let q = try openQueue(tempDirectory())
        let r = ids(try q.enqueue([delivery("a1", channel: "#a"), delivery("a2", channel: "#a"), delivery("b1", channel: "#b")], now: 0))
        let head = try q.claim(now: 0, limit: 1, leaseSeconds: 60, owner: "w")
        XCTAssertEqual(head.map(\.id), [r[0]])
        try q.scheduleRetry(id: r[0], attempts: 1, nextAttemptAt: 30, error: "internal_error", now: 1)

        // a2 is due but must wait behind a1.
        XCTAssertEqual(try q.claim(now: 2, limit: 10, leaseSeconds: 60, owner: "w").map(\.id), [r[2]])
        XCTAssertEqual(try q.claim(now: 29.9, limit: 10, leaseSeconds: 60, owner: "w").map(\.id), [])
        XCTAssertEqual(try q.nextDueTime(), 30)
        XCTAssertEqual(try q.claim(now: 30, limit: 10, leaseSeconds: 60, owner: "w").map(\.id), [r[0]])
    }

    func testExcludedLanesAndDestinations() throws {
        let q = try openQueue(tempDirectory())
        let items = [
            delivery("a", destination: "default", channel: "#a"), delivery("b", destination: "default", channel: "#b"),
            delivery("c", destination: "slack-api", channel: "#a"), delivery("d", destination: "team", channel: nil),
        ]
        let r = ids(try q.enqueue(items, now: 0))
        let claimed = try q.claim(
            now: 0, limit: 10, excludingLanes: [items[1].lane], excludingDestinations: ["slack-api"], leaseSeconds: 60,
            owner: "w")
        XCTAssertEqual(claimed.map(\.id), [r[0], r[3]])
        XCTAssertEqual(
            try q.nextDueTime(excludingLanes: [items[1].lane, items[0].lane], excludingDestinations: ["slack-api", "team"]),
            nil)
        XCTAssertEqual(try q.nextDueTime(excludingLanes: [items[0].lane], excludingDestinations: ["team"]), 0)
        XCTAssertEqual(
            try q.claim(now: 0, limit: 10, excludingLanes: [items[1].lane], leaseSeconds: 60, owner: "w").map(\.id),
            [r[2]])
    }

    // MARK: - Leases

    func testLeasesExpireAndCanBeReleased() throws {
        let q = try openQueue(tempDirectory())
        let r = ids(try q.enqueue([delivery("a", channel: "#a"), delivery("b", channel: "#b"), delivery("c", channel: "#c")], now: 0))
        XCTAssertEqual(try q.claim(now: 0, limit: 1, leaseSeconds: 60, owner: "pid:1:x").map(\.id), [r[0]])
        XCTAssertEqual(try q.claim(now: 0, limit: 1, leaseSeconds: 60, owner: "pid:2:x").map(\.id), [r[1]])
        XCTAssertEqual(try q.claim(now: 0, limit: 1, leaseSeconds: 60, owner: "pid:3:x").map(\.id), [r[2]])
        XCTAssertEqual(try q.claim(now: 59, limit: 10, leaseSeconds: 60, owner: "w").map(\.id), [])
        // The earliest lease end is when something becomes claimable again.
        XCTAssertEqual(try q.nextDueTime(), 60)

        try q.releaseLeases(owner: "pid:1:x")
        XCTAssertEqual(try q.claim(now: 1, limit: 10, leaseSeconds: 60, owner: "pid:1:y").map(\.id), [r[0]])

        var asked: [String] = []
        try q.releaseStaleLeases(now: 2) { owner in
            asked.append(owner)
            return owner != "pid:2:x"
        }
        XCTAssertEqual(asked.sorted(), ["pid:1:y", "pid:2:x", "pid:3:x"])
        XCTAssertEqual(try q.claim(now: 2, limit: 10, leaseSeconds: 60, owner: "w").map(\.id), [r[1]])

        // Expired: claimable without any release.
        XCTAssertEqual(try q.claim(now: 60, limit: 10, leaseSeconds: 60, owner: "w").map(\.id), [r[2]])
        XCTAssertThrowsError(try q.claim(now: 0, limit: 1, leaseSeconds: 0, owner: "w"))
    }

    // MARK: - Outcomes

    func testRetryBookkeepingKeepsFirstAndLastError() throws {
        let q = try openQueue(tempDirectory())
        let id = ids(try q.enqueue([delivery("a")], now: 0))[0]
        _ = try q.claim(now: 0, limit: 1, leaseSeconds: 60, owner: "w")
        try q.scheduleRetry(id: id, attempts: 1, nextAttemptAt: 5, error: "internal_error (HTTP 500)", now: 1)
        var d = try XCTUnwrap(q.delivery(id: id))
        XCTAssertEqual(d.attempts, 1)
        XCTAssertEqual(d.nextAttemptAt, 5)
        XCTAssertEqual(d.firstError, "internal_error (HTTP 500)")
        XCTAssertEqual(d.lastError, "internal_error (HTTP 500)")
        XCTAssertEqual(d.lastAttemptAt, 1)
        XCTAssertEqual(d.state, .pending)

        XCTAssertEqual(try q.claim(now: 5, limit: 1, leaseSeconds: 60, owner: "w").map(\.attempts), [1])
        try q.scheduleRetry(id: id, attempts: 2, nextAttemptAt: 9, error: "rate_limited", now: 6)
        d = try XCTUnwrap(q.delivery(id: id))
        XCTAssertEqual(d.attempts, 2)
        XCTAssertEqual(d.firstError, "internal_error (HTTP 500)")
        XCTAssertEqual(d.lastError, "rate_limited")
        XCTAssertEqual(d.lastAttemptAt, 6)

        try q.markTextOnly(id: id)
        XCTAssertTrue(try XCTUnwrap(q.delivery(id: id)).usedTextOnly)

        _ = try q.claim(now: 9, limit: 1, leaseSeconds: 60, owner: "w")
        try q.markDelivered(id: id, now: 10)
        d = try XCTUnwrap(q.delivery(id: id))
        XCTAssertEqual(d.state, .delivered)
        XCTAssertEqual(d.attempts, 3)
        XCTAssertEqual(d.lastAttemptAt, 10)
        XCTAssertEqual(d.firstError, "internal_error (HTTP 500)")
        // A late retry or dead letter does not resurrect a delivered row.
        try q.scheduleRetry(id: id, attempts: 4, nextAttemptAt: 11, error: "late", now: 11)
        try q.deadLetter(id: id, attempts: 4, error: "late", now: 11)
        XCTAssertEqual(try XCTUnwrap(q.delivery(id: id)).state, .delivered)
        XCTAssertEqual(try q.nextDueTime(), nil)
        // Unknown ids are no-ops.
        try q.markDelivered(id: 9999, now: 1)
    }

    func testDeadLetterReplayAndPurge() throws {
        let q = try openQueue(tempDirectory())
        let r = ids(try q.enqueue([delivery("a1", channel: "#a"), delivery("a2", channel: "#a"), delivery("b1", channel: "#b"), delivery("c1", channel: "#c")], now: 0))
        XCTAssertEqual(try q.claim(now: 0, limit: 10, leaseSeconds: 60, owner: "w").map(\.id), [r[0], r[2], r[3]])
        try q.scheduleRetry(id: r[0], attempts: 1, nextAttemptAt: 1, error: "internal_error", now: 0.5)
        _ = try q.claim(now: 1, limit: 10, leaseSeconds: 60, owner: "w")
        try q.deadLetter(id: r[0], attempts: 2, error: "channel_not_found (HTTP 404)", now: 2)
        try q.deadLetter(id: r[2], attempts: 1, error: "invalid_blocks", now: 3)
        try q.deadLetter(id: r[3], attempts: 1, error: "no_service", now: 4)

        // The lane moves on past its dead letter.
        XCTAssertEqual(try q.claim(now: 5, limit: 10, leaseSeconds: 60, owner: "w").map(\.id), [r[1]])
        let dead = try q.deadLetters()
        XCTAssertEqual(dead.map(\.id), [r[0], r[2], r[3]])
        XCTAssertEqual(dead[0].state, .dead)
        XCTAssertEqual(dead[0].attempts, 2)
        XCTAssertEqual(dead[0].firstError, "internal_error")
        XCTAssertEqual(dead[0].lastError, "channel_not_found (HTTP 404)")
        XCTAssertEqual(dead[0].lastAttemptAt, 2)
        XCTAssertEqual(try q.counts().dead, 3)

        // Replay by id: back to pending, attempts reset, due now; ids not dead are ignored.
        XCTAssertEqual(try q.replay(ids: [r[2], r[1], 12345], now: 10), 1)
        let replayed = try XCTUnwrap(q.delivery(id: r[2]))
        XCTAssertEqual(replayed.state, .pending)
        XCTAssertEqual(replayed.attempts, 0)
        XCTAssertEqual(replayed.nextAttemptAt, 10)
        XCTAssertEqual(replayed.enqueuedAt, 10, "a replay restarts the age clock")
        XCTAssertEqual(try q.claim(now: 10, limit: 10, leaseSeconds: 60, owner: "w").map(\.id), [r[2]])

        XCTAssertEqual(try q.purge(ids: [r[3], r[2]]), 1)  // r[2] is pending now
        XCTAssertEqual(try q.deadLetters().map(\.id), [r[0]])
        XCTAssertEqual(try q.replay(ids: nil, now: 20), 1)
        XCTAssertEqual(try q.deadLetters().map(\.id), [])
        try q.deadLetter(id: r[0], attempts: 1, error: "x", now: 21)
        XCTAssertEqual(try q.purge(ids: nil), 1)
        XCTAssertNil(try q.delivery(id: r[0]))
        // A purged key can be enqueued again (as a new row).
        guard case .queued(let again) = try q.enqueue([delivery("a1", channel: "#a")], now: 22)[0] else {
            return XCTFail("purged key not accepted again")
        }
        XCTAssertGreaterThan(again, r[3])
    }

    func testCountsNextDueTimeAndPrune() throws {
        let q = try openQueue(tempDirectory())
        XCTAssertEqual(try q.nextDueTime(), nil)
        let r = ids(try q.enqueue((0..<6).map { delivery("k\($0)", channel: "#\($0)") }, now: 100))
        XCTAssertEqual(try q.nextDueTime(), 100)
        _ = try q.claim(now: 100, limit: 10, leaseSeconds: 60, owner: "w")
        try q.markDelivered(id: r[0], now: 100)
        try q.markDelivered(id: r[1], now: 200)
        try q.markDelivered(id: r[2], now: 300)
        try q.deadLetter(id: r[3], attempts: 1, error: "e", now: 300)
        try q.scheduleRetry(id: r[4], attempts: 1, nextAttemptAt: 500, error: "e", now: 300)
        try q.scheduleRetry(id: r[5], attempts: 1, nextAttemptAt: 400, error: "e", now: 300)
        let c = try q.counts()
        XCTAssertEqual(c.pending, 2)
        XCTAssertEqual(c.delivered, 3)
        XCTAssertEqual(c.dead, 1)
        XCTAssertEqual(try q.nextDueTime(), 400)

        try q.pruneDelivered(olderThan: 250)
        XCTAssertEqual(try q.counts().delivered, 1)
        XCTAssertNil(try q.delivery(id: r[0]))
        XCTAssertNil(try q.delivery(id: r[1]))
        XCTAssertNotNil(try q.delivery(id: r[2]))
        XCTAssertNotNil(try q.delivery(id: r[3]))  // dead rows are never pruned
        // Pruned keys are accepted again.
        XCTAssertEqual(try q.enqueue([delivery("k0", channel: "#0")], now: 600).count, 1)
        if case .duplicate = try q.enqueue([delivery("k0", channel: "#0")], now: 600)[0] {} else { XCTFail() }
    }

    func testEverythingSurvivesReopen() throws {
        let dir = tempDirectory()
        var q: DeliveryQueue? = try openQueue(dir)
        let r = ids(try q!.enqueue((0..<20).map { delivery("k\($0)", channel: "#\($0 % 4)", textOnly: $0 % 2 == 0 ? [1, 2] : nil) }, now: 1))
        _ = try q!.claim(now: 1, limit: 4, leaseSeconds: 60, owner: "w")
        try q!.markDelivered(id: r[0], now: 2)
        try q!.scheduleRetry(id: r[1], attempts: 1, nextAttemptAt: 9, error: "e1", now: 2)
        try q!.deadLetter(id: r[2], attempts: 3, error: "e2", now: 2)
        try q!.markTextOnly(id: r[4])
        let before = try r.map { try XCTUnwrap(q!.delivery(id: $0)) }
        let countsBefore = try q!.counts()
        q!.close()
        q = nil

        let q2 = try openQueue(dir)
        XCTAssertEqual(try r.map { try XCTUnwrap(q2.delivery(id: $0)) }, before)
        let countsAfter = try q2.counts()
        XCTAssertEqual(countsAfter.pending, countsBefore.pending)
        XCTAssertEqual(countsAfter.delivered, countsBefore.delivered)
        XCTAssertEqual(countsAfter.dead, countsBefore.dead)
        // Lanes moved on past r[0] (delivered) and r[2] (dead); the lease of r[3] (claimed, never finished) survived.
        XCTAssertEqual(try q2.claim(now: 10, limit: 10, leaseSeconds: 60, owner: "w").map(\.id), [r[1], r[4], r[6]])
        XCTAssertEqual(try q2.claim(now: 61, limit: 10, leaseSeconds: 60, owner: "w").map(\.id), [r[3]])
    }

    // MARK: - Concurrency

    /// Two connections (two queue instances on one file, as two processes would have) claim from two threads:
    /// no delivery is ever handed out twice, and each lane is delivered in enqueue order.
    func testTwoConnectionsClaimingConcurrentlyNeverShareADelivery() throws {
        let dir = tempDirectory()
        let queues = [try openQueue(dir), try openQueue(dir)]
        let lanes = 40
        var laneOf: [Int64: Int] = [:]
        for batch in 0..<10 {
            let items = (0..<200).map { i in delivery("k\(batch)-\(i)", channel: "#\(i % lanes)") }
            for (i, id) in ids(try queues[0].enqueue(items, now: 0)).enumerated() { laneOf[id] = i % lanes }
        }
        let total = laneOf.count
        XCTAssertEqual(total, 2000)

        struct Log {
            var claims: [(id: Int64, ticket: Int, worker: Int)] = []
            var ticket = 0
            var errors: [String] = []
            var claimCalls = 0
        }
        let log = Mutex(Log())
        DispatchQueue.concurrentPerform(iterations: 2) { worker in
            let q = queues[worker]
            var idle = 0
            while idle < 2000 {
                do {
                    log.withLock { $0.claimCalls += 1 }
                    let got = try q.claim(now: 1, limit: 1 + worker, leaseSeconds: 600, owner: "worker\(worker)")
                    if got.isEmpty {
                        if try q.counts().pending == 0 { break }
                        idle += 1
                        usleep(100)
                        continue
                    }
                    idle = 0
                    log.withLock { l in
                        for d in got {
                            l.ticket += 1
                            l.claims.append((d.id, l.ticket, worker))
                        }
                    }
                    for d in got { try q.markDelivered(id: d.id, now: 2) }
                } catch {
                    log.withLock { $0.errors.append("\(error)") }
                    return
                }
            }
        }
        let result = log.withLock { $0 }
        XCTAssertEqual(result.errors, [])
        XCTAssertEqual(result.claims.count, total, "every delivery claimed exactly once")
        XCTAssertEqual(Set(result.claims.map(\.id)).count, result.claims.count, "a delivery was claimed twice")
        XCTAssertEqual(try queues[1].counts().delivered, total)
        XCTAssertGreaterThan(Set(result.claims.map(\.worker)).count, 1, "both connections claimed")
        // Per lane, claims happened in id order.
        var lastIdOfLane: [Int: Int64] = [:]
        for c in result.claims.sorted(by: { $0.ticket < $1.ticket }) {
            let lane = laneOf[c.id]!
            if let last = lastIdOfLane[lane] { XCTAssertLessThan(last, c.id, "lane \(lane) out of order") }
            lastIdOfLane[lane] = c.id
        }
        let byWorker = (0..<2).map { w in result.claims.filter { $0.worker == w }.count }
        print("two connections: \(result.claims.count) deliveries claimed in \(result.claimCalls) claim calls, \(byWorker)")
    }

    // MARK: - Several processes (Linux: the test binary re-runs itself as a worker)

    #if os(Linux)
    private static let childEnv = "DELIVERY_QUEUE_TEST_CHILD"

    /// Runs this test binary as a worker process doing `mode` on the queue in `dir`, appending lines to `out`.
    private func spawnWorker(mode: String, dir: String, out: String) throws -> Process {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        p.arguments = ["RouterDeliveryTests.DeliveryQueueTests/testWorkerProcess"]
        var env = ProcessInfo.processInfo.environment
        env[Self.childEnv] = "\(mode)|\(dir)|\(out)"
        p.environment = env
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        return p
    }

    private func lines(_ path: String) -> [Substring] {
        guard let data = FileManager.default.contents(atPath: path) else { return [] }
        // Only complete lines (a killed worker may have written half of one).
        var text = String(decoding: data, as: UTF8.self)
        if let nl = text.lastIndex(of: "\n") { text = String(text[...nl]) } else { text = "" }
        return text.split(separator: "\n")
    }

    private func waitForLines(_ path: String, atLeast n: Int, timeout: Double = 30) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if lines(path).count >= n { return true }
            usleep(2000)
        }
        return false
    }

    private func waitForExit(_ p: Process, timeout: Double = 120) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while p.isRunning && Date() < deadline { usleep(5000) }
        return !p.isRunning
    }

    /// Not a test on its own: the body of the worker processes the tests below start (does nothing otherwise).
    func testWorkerProcess() throws {
        guard let spec = ProcessInfo.processInfo.environment[Self.childEnv] else { return }
        let parts = spec.split(separator: "|", maxSplits: 2).map(String.init)
        let (mode, dir, outPath) = (parts[0], parts[1], parts[2])
        let out = open(outPath, O_WRONLY | O_CREAT | O_APPEND, 0o600)
        precondition(out >= 0)
        func emit(_ line: String) {
            var bytes = Array((line + "\n").utf8)
            _ = bytes.withUnsafeMutableBytes { write(out, $0.baseAddress, $0.count) }
        }
        let q = try DeliveryQueue(directory: dir, busyTimeoutMs: 30_000)
        let owner = "pid:\(getpid()):test"
        switch mode {
        case "enqueue":
            // Batches of 10 until killed; a batch is reported only after enqueue returned (committed).
            var batch = 0
            while true {
                let items = (0..<10).map { delivery("p\(getpid())-\(batch)-\($0)", channel: "#\($0 % 3)") }
                _ = try q.enqueue(items, now: 0)
                emit("p\(getpid())-\(batch)")
                batch += 1
            }
        case "hold":
            // Claim what can be claimed with long leases, report, and wait to be killed.
            let got = try q.claim(now: 1, limit: 1000, leaseSeconds: 3600, owner: owner)
            emit("claimed \(got.count)")
            while true { sleep(1) }
        case "claim":
            // Start together with the other worker (the parent creates `go` once both are ready).
            emit("ready")
            while access(dir + "/go", F_OK) != 0 { usleep(1000) }
            var idle = 0
            while idle < 20000 {
                let got = try q.claim(now: 1, limit: 2, leaseSeconds: 3600, owner: owner)
                if got.isEmpty {
                    if try q.counts().pending == 0 { break }
                    idle += 1
                    usleep(200)
                    continue
                }
                idle = 0
                var ts = timespec()
                clock_gettime(CLOCK_MONOTONIC, &ts)
                let t = Int(ts.tv_sec) * 1_000_000_000 + Int(ts.tv_nsec)
                for d in got { emit("\(d.id) \(t)") }
                for d in got { try q.markDelivered(id: d.id, now: 2) }
            }
            emit("done")
        default:
            XCTFail("unknown worker mode \(mode)")
        }
    }

    /// kill -9 of a process in the middle of enqueueing: every batch it saw committed is there, whole; no batch is
    /// partly stored; the file opens fine afterwards.
    func testKillDashNineLosesNothingCommitted() throws {
        let dir = tempDirectory()
        _ = try openQueue(dir)  // schema first, so workers start writing at once
        for round in 0..<3 {
            let out = dir + "/acks-\(round).txt"
            let p = try spawnWorker(mode: "enqueue", dir: dir, out: out)
            XCTAssertTrue(waitForLines(out, atLeast: 3 + round * 5), "worker made no progress")
            usleep(UInt32.random(in: 0..<30_000))
            kill(p.processIdentifier, SIGKILL)
            XCTAssertTrue(waitForExit(p))
            XCTAssertEqual(p.terminationReason, .uncaughtSignal)

            let q = try openQueue(dir)
            let acked = lines(out).map(String.init)
            XCTAssertFalse(acked.isEmpty)
            let probe = acked.flatMap { b in (0..<10).map { delivery("\(b)-\($0)", channel: "#\($0 % 3)") } }
            for r in try q.enqueue(probe, now: 0) {
                guard case .duplicate = r else { return XCTFail("a committed delivery was lost (round \(round))") }
            }
            // The batch after the last acknowledged one: all or nothing.
            let pid = acked[0].split(separator: "-")[0]
            let next = (0..<10).map { delivery("\(pid)-\(acked.count)-\($0)", channel: "#\($0 % 3)") }
            let r = try q.enqueue(next, now: 0)
            let stored = r.filter { if case .duplicate = $0 { true } else { false } }.count
            XCTAssertTrue(stored == 0 || stored == 10, "a batch was stored in part: \(stored) of 10")
            q.close()
        }
    }

    /// A process that dies holding leases: its deliveries stay leased until the stale leases are released.
    func testLeasesOfAKilledProcessAreReleased() throws {
        let dir = tempDirectory()
        let q = try openQueue(dir)
        let r = ids(try q.enqueue((0..<5).map { delivery("k\($0)", channel: "#\($0)") }, now: 0))
        let out = dir + "/hold.txt"
        let p = try spawnWorker(mode: "hold", dir: dir, out: out)
        XCTAssertTrue(waitForLines(out, atLeast: 1))
        XCTAssertEqual(lines(out).first, "claimed 5")
        XCTAssertEqual(try q.claim(now: 2, limit: 10, leaseSeconds: 60, owner: "me").map(\.id), [])
        kill(p.processIdentifier, SIGKILL)
        XCTAssertTrue(waitForExit(p))

        let isAlive: (String) -> Bool = { owner in
            let parts = owner.split(separator: ":")
            guard parts.count >= 2, parts[0] == "pid", let pid = Int32(parts[1]) else { return true }
            return kill(pid, 0) == 0 || errno == EPERM
        }
        try q.releaseStaleLeases(now: 2, isAlive: isAlive)
        XCTAssertEqual(try q.claim(now: 2, limit: 10, leaseSeconds: 60, owner: "me").map(\.id), r)
    }

    /// Two processes claiming from one file: every delivery claimed once, lanes in order.
    func testTwoProcessesClaimingNeverShareADelivery() throws {
        let dir = tempDirectory()
        let q = try openQueue(dir)
        var laneOf: [Int64: Int] = [:]
        let items = (0..<600).map { delivery("k\($0)", channel: "#\($0 % 12)") }
        for (i, id) in ids(try q.enqueue(items, now: 0)).enumerated() { laneOf[id] = i % 12 }
        let outs = [dir + "/w0.txt", dir + "/w1.txt"]
        let ps = try outs.map { try spawnWorker(mode: "claim", dir: dir, out: $0) }
        for out in outs { XCTAssertTrue(waitForLines(out, atLeast: 1), "worker did not start") }
        XCTAssertTrue(FileManager.default.createFile(atPath: dir + "/go", contents: nil))
        for p in ps {
            XCTAssertTrue(waitForExit(p, timeout: 300))
            XCTAssertEqual(p.terminationStatus, 0)
        }
        var claims: [(id: Int64, t: Int)] = []
        for out in outs {
            let ls = lines(out).dropFirst()  // "ready"
            XCTAssertEqual(ls.last, "done")
            XCTAssertGreaterThan(ls.count, 1, "a worker claimed nothing")
            for l in ls.dropLast() {
                let f = l.split(separator: " ")
                claims.append((Int64(f[0])!, Int(f[1])!))
            }
        }
        XCTAssertEqual(claims.count, 600)
        XCTAssertEqual(Set(claims.map(\.id)).count, 600, "a delivery was claimed by both processes")
        XCTAssertEqual(try q.counts().delivered, 600)
        var lastIdOfLane: [Int: (Int64, Int)] = [:]
        for c in claims.sorted(by: { ($0.t, $0.id) < ($1.t, $1.id) }) {
            let lane = laneOf[c.id]!
            if let (last, t) = lastIdOfLane[lane] {
                XCTAssertLessThan(last, c.id, "lane \(lane) out of order")
                XCTAssertLessThan(t, c.t, "two deliveries of lane \(lane) in flight at once")
            }
            lastIdOfLane[lane] = (c.id, c.t)
        }
    }
    #endif
}
