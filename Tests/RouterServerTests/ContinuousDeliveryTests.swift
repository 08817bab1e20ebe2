import Foundation
import Synchronization
import XCTest

@testable import RouterServer
import RouterDelivery
import RouterTestSupport

/// The delivery engine's continuous mode (what the server runs) and the group committer in front of the queue.
final class ContinuousDeliveryTests: QueueTestCase {
    func item(_ n: Int) -> NewDelivery { Self.item(n) }

    static func item(_ n: Int) -> NewDelivery {
        NewDelivery(
            key: "k\(n)", findingId: "f\(n)", findingType: "T", severityLabel: "HIGH", destination: "default", channel: nil,
            payload: Array("{\"text\":\"m\(n)\"}".utf8), textOnlyPayload: nil)
    }

    func waitUntil(_ timeout: Double, _ condition: () -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if condition() { return true }
            usleep(10_000)
        }
        return condition()
    }

    func testRunKeepsGoingWhenEmptyDeliversLaterWorkAndStops() throws {
        let t = InMemorySlackTransport()
        let events = Mutex<[DeliveryEvent]>([])
        let engine = DeliveryEngine(
            queue: queue, destinations: webhook, transport: t, policy: fast, onEvent: { e in events.withLock { $0.append(e) } })
        let done = DispatchSemaphore(value: 0)
        nonisolated(unsafe) var summary = DrainSummary()
        DispatchQueue.global().async {
            summary = engine.run(finishWithin: 1)
            done.signal()
        }
        // Empty queue: still running.
        XCTAssertEqual(done.wait(timeout: .now() + 0.3), .timedOut)
        _ = try queue.enqueue([item(1), item(2)], now: Date().timeIntervalSince1970)
        engine.wake()
        XCTAssertTrue(waitUntil(5) { t.callCount == 2 })
        t.enqueue(.retryable(code: "http_503"), .rateLimited(retryAfter: 0), .permanent(code: "no_service", httpStatus: 404))
        _ = try queue.enqueue([item(3)], now: Date().timeIntervalSince1970)
        _ = try queue.enqueue([item(4)], now: Date().timeIntervalSince1970)
        engine.wake()
        XCTAssertTrue(waitUntil(5) { events.withLock { $0.count } == 6 })
        engine.stop()
        XCTAssertEqual(done.wait(timeout: .now() + 3), .success)
        XCTAssertEqual(summary.delivered, 3)
        XCTAssertEqual(summary.deadLettered, 1)
        XCTAssertEqual(
            events.withLock { $0 },
            [
                .delivered(destination: "default"), .delivered(destination: "default"),
                .retried(destination: "default", rateLimited: false), .retried(destination: "default", rateLimited: true),
                .deadLettered(destination: "default"), .delivered(destination: "default"),
            ])
    }

    func testGroupCommitterAnswersEachRequestWithItsOwnResults() async throws {
        let commits = Atomic<Int>(0)
        let committer = GroupCommitter(queue: queue, now: { Date().timeIntervalSince1970 }, committed: {
            commits.add(1, ordering: .relaxed)
        })
        let results = await withTaskGroup(of: (Int, [EnqueueResult]).self) { group in
            for r in 0..<50 {
                group.addTask {
                    let out = await committer.commit([Self.item(r * 2), Self.item(r * 2 + 1), Self.item(0)])
                    return (r, (try? out.get()) ?? [])
                }
            }
            var all: [Int: [EnqueueResult]] = [:]
            for await (r, res) in group { all[r] = res }
            return all
        }
        XCTAssertEqual(results.count, 50)
        // Every request's own items are queued; item 0 (in every request, and first in request 0) is queued exactly
        // once, by whichever request's commit came first, and a duplicate everywhere else.
        var itemZero: [EnqueueResult] = []
        for (r, res) in results {
            guard res.count == 3 else { return XCTFail("request \(r): \(res)") }
            if r == 0 {
                itemZero.append(res[0])
            } else {
                guard case .queued = res[0] else { return XCTFail("request \(r): \(res)") }
            }
            guard case .queued = res[1] else { return XCTFail("request \(r): \(res)") }
            itemZero.append(res[2])
        }
        let queuedOnce = itemZero.filter { if case .queued = $0 { true } else { false } }.count
        XCTAssertEqual(queuedOnce, 1, "item 0: \(itemZero)")
        XCTAssertEqual(itemZero.count - queuedOnce, 50, "item 0 duplicates: \(itemZero)")
        XCTAssertEqual(try queue.counts().pending, 100)
        XCTAssertLessThanOrEqual(commits.load(ordering: .relaxed), 50)
        let empty = await committer.commit([])
        XCTAssertEqual(try empty.get(), [])
    }
}
