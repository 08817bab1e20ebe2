import Foundation
import RouterDelivery
import RouterJSON
import RouterSlack
import RouterTestSupport
import XCTest

/// The finding lifecycle through the delivery engine: a real queue and its SQLite thread store, the in-memory Slack.
final class LifecycleEngineTests: QueueTestCase {
    /// One event of finding `id`: `minute` orders events (its `updatedAt`).
    func event(
        _ id: String, count: Int, minute: Int, label: String = "MEDIUM", severity: Double = 5, archived: Bool = false,
        onUpdate: OnUpdate = .thread, destination: String = "slack-api", channel: String? = "#sec", mentions: String = "<!here> ",
        type: String = "Recon:EC2/PortProbeUnprotectedPort", account: String = "111122223333"
    ) -> NewDelivery {
        let updatedAt = String(format: "2026-11-27T10:%02d:00.000Z", minute)
        return NewDelivery(
            key: "\(id)|\(updatedAt)|\(destination)|\(channel ?? "")", findingId: id, findingType: type, severityLabel: label,
            destination: destination, channel: channel,
            payload: Array(#"{"text":"\#(id) count \#(count)\#(archived ? " archived" : "")","blocks":[]}"#.utf8),
            lifecycle: FindingEvent(
                updatedAt: updatedAt, count: count, severity: severity, archived: archived, onUpdate: onUpdate,
                title: "Port probe <b>", account: account, region: "eu-west-1", resource: "EC2 i-0abc", lastSeen: updatedAt,
                mentions: mentions))
    }

    func run(_ items: [NewDelivery], destinations: DestinationSet? = nil, transport: InMemorySlackTransport, policy: DeliveryPolicy? = nil) throws -> DrainSummary {
        _ = try queue.enqueue(items, now: Date().timeIntervalSince1970)
        return DeliveryEngine(
            queue: queue, destinations: destinations ?? api, transport: transport, policy: policy ?? fast, threads: queue.threads
        ).drain(until: Date().timeIntervalSince1970 + 30)
    }

    func body(_ call: InMemorySlackTransport.Call) throws -> JSONValue { try JSONValue.parse(call.body) }

    func testCountsOneTwoThreeAreOnePostTwoEditsAndTwoThreadReplies() throws {
        let t = InMemorySlackTransport()
        for (n, minute) in [(1, 0), (2, 15), (3, 30)] {
            // One at a time, as GuardDuty publishes them.
            let s = try run([event("f1", count: n, minute: minute)], transport: t)
            XCTAssertEqual(s.delivered, 1)
        }
        let calls = t.calls
        XCTAssertEqual(calls.map(\.method), [.postMessage, .update, .postMessage, .update, .postMessage])
        guard case .delivered(let rootTs?, _) = calls[0].outcome else { return XCTFail("first post not delivered") }
        for i in [1, 3] {
            let b = try body(calls[i])
            XCTAssertEqual(b["ts"]?.stringValue, rootTs, "chat.update edits the first message")
            XCTAssertEqual(b["channel"]?.stringValue, "#sec")
            XCTAssertEqual(b["text"]?.stringValue, "f1 count \(i == 1 ? 2 : 3)", "the edit carries the new rendering")
        }
        for (i, was, now) in [(2, 1, 2), (4, 2, 3)] {
            let b = try body(calls[i])
            XCTAssertEqual(b["thread_ts"]?.stringValue, rootTs, "the reply is in the first message's thread")
            XCTAssertNil(b["reply_broadcast"], "no broadcast without a severity raise")
            let text = b["text"]?.stringValue ?? ""
            XCTAssertTrue(text.contains("Seen \(now) times (was \(was))"), text)
            XCTAssertFalse(text.contains("<!here>"), "a quiet reply carries no mention: \(text)")
        }
        let state = try queue.allThreads()
        XCTAssertEqual(state.count, 1)
        XCTAssertEqual(state.first?.count, 3)
        XCTAssertEqual(state.first?.ts, rootTs)
        XCTAssertEqual(state.first?.updatedAt, "2026-11-27T10:30:00.000Z")
    }

    func testSeverityRaiseBroadcastsTheReplyWithTheMentions() throws {
        let t = InMemorySlackTransport()
        _ = try run([event("f1", count: 1, minute: 0, label: "MEDIUM", severity: 5)], transport: t)
        _ = try run([event("f1", count: 2, minute: 5, label: "HIGH", severity: 8)], transport: t)
        XCTAssertEqual(t.calls.map(\.method), [.postMessage, .update, .postMessage])
        let reply = try body(t.calls[2])
        XCTAssertEqual(reply["reply_broadcast"], true)
        let text = reply["text"]?.stringValue ?? ""
        XCTAssertTrue(text.hasPrefix("<!here> "), text)
        XCTAssertTrue(text.contains("MEDIUM* -> *HIGH* (8.0)"), text)
        XCTAssertTrue(text.contains("Port probe &lt;b&gt;"), "the title is escaped: \(text)")
        XCTAssertEqual(try queue.allThreads().first?.severityLabel, "HIGH")
    }

    func testDuplicateAndOutOfOrderEventsChangeNothing() throws {
        let t = InMemorySlackTransport()
        _ = try run([event("f1", count: 5, minute: 30)], transport: t)
        // Older (out of order), and the same updatedAt arriving again by another path (a different key).
        var same = event("f1", count: 5, minute: 30)
        same.key += "|again"
        let s = try run([event("f1", count: 2, minute: 10), same], transport: t)
        XCTAssertEqual(t.callCount, 1, "only the first post: \(t.calls.map(\.method))")
        XCTAssertEqual(s.skipped, 2)
        XCTAssertEqual(s.delivered, 2, "still accounted for")
        let outcomes = try (1...3).compactMap { try queue.delivery(id: Int64($0))?.outcome }
        XCTAssertTrue(outcomes[1].contains("already handled"), outcomes[1])
        XCTAssertEqual(try queue.allThreads().first?.count, 5)
    }

    func testArchivedEditsTheMessageAndPostsNothingNew() throws {
        let t = InMemorySlackTransport()
        _ = try run([event("f1", count: 1, minute: 0)], transport: t)
        _ = try run([event("f1", count: 1, minute: 9, archived: true)], transport: t)
        XCTAssertEqual(t.calls.map(\.method), [.postMessage, .update])
        XCTAssertEqual(try body(t.calls[1])["text"]?.stringValue, "f1 count 1 archived")
        XCTAssertEqual(try queue.allThreads().first?.archived, true)
        // Archived on its first appearance: nothing to mark, nothing posted, still accounted for.
        let s = try run([event("f2", count: 1, minute: 0, archived: true)], transport: t)
        XCTAssertEqual(t.callCount, 2)
        XCTAssertEqual(s.skipped, 1)
    }

    func testAGoneMessageFallsBackToANewPostAndIsRemembered() throws {
        let t = InMemorySlackTransport()
        _ = try run([event("f1", count: 1, minute: 0)], transport: t)
        t.enqueue(.permanent(code: "message_not_found", httpStatus: 200))
        _ = try run([event("f1", count: 2, minute: 5)], transport: t)
        XCTAssertEqual(t.calls.map(\.method), [.postMessage, .update, .postMessage])
        XCTAssertNil(try body(t.calls[2])["thread_ts"], "a new top-level message")
        guard case .delivered(let newTs?, _) = t.calls[2].outcome else { return XCTFail() }
        XCTAssertEqual(try queue.allThreads().first?.ts, newTs)
        // The next update edits the new message.
        _ = try run([event("f1", count: 3, minute: 9)], transport: t)
        XCTAssertEqual(try body(t.calls[3])["ts"]?.stringValue, newTs)
    }

    func testUpdateRepostAndIgnoreModes() throws {
        let t = InMemorySlackTransport()
        _ = try run([event("u", count: 1, minute: 0, onUpdate: .update)], transport: t)
        _ = try run([event("u", count: 2, minute: 1, onUpdate: .update)], transport: t)
        XCTAssertEqual(t.calls.map(\.method), [.postMessage, .update], "update: only the edit")
        t.reset()
        _ = try run([event("r", count: 1, minute: 0, onUpdate: .repost)], transport: t)
        _ = try run([event("r", count: 2, minute: 1, onUpdate: .repost)], transport: t)
        XCTAssertEqual(t.calls.map(\.method), [.postMessage, .postMessage], "repost: a new message each time")
        XCTAssertNil(try body(t.calls[1])["thread_ts"])
        t.reset()
        _ = try run([event("i", count: 1, minute: 0, onUpdate: .ignore)], transport: t)
        _ = try run([event("i", count: 2, minute: 1, onUpdate: .ignore)], transport: t)
        XCTAssertEqual(t.callCount, 1, "ignore: nothing for an update")
        _ = try run([event("i", count: 3, minute: 2, label: "HIGH", severity: 7.5, onUpdate: .ignore)], transport: t)
        XCTAssertEqual(t.calls.map(\.method), [.postMessage, .postMessage], "ignore: a raised severity is posted as new")
    }

    func testWebhooksDefaultToIgnoreAndStillRememberTheFinding() throws {
        let t = InMemorySlackTransport()
        let hook = { (n: Int, m: Int, label: String) in
            self.event("w", count: n, minute: m, label: label, onUpdate: .thread, destination: "default", channel: nil)
        }
        _ = try run([hook(1, 0, "MEDIUM")], destinations: webhook, transport: t)
        _ = try run([hook(2, 1, "MEDIUM")], destinations: webhook, transport: t)
        XCTAssertEqual(t.callCount, 1, "a webhook cannot edit or thread: thread acts as ignore")
        _ = try run([hook(3, 2, "HIGH")], destinations: webhook, transport: t)
        XCTAssertEqual(t.calls.map(\.method), [.webhook, .webhook])
    }

    func testAFailedEditIsRetriedAndTheStateOnlyMovesWhenItLands() throws {
        let t = InMemorySlackTransport()
        _ = try run([event("f1", count: 1, minute: 0)], transport: t)
        t.enqueue(.retryable(code: "http_503"), .delivered(ts: nil, channel: nil), .retryable(code: "timeout"))
        _ = try run([event("f1", count: 2, minute: 1)], transport: t)
        // update fails; update ok, reply fails; update again (idempotent), reply ok.
        XCTAssertEqual(t.calls.map(\.method), [.postMessage, .update, .update, .postMessage, .update, .postMessage])
        XCTAssertEqual(try queue.allThreads().first?.count, 2)
    }

    func testABurstIsDigestedAndCriticalIsPostedAlone() throws {
        var p = fast
        p.ratePerSecond = 2
        p.burst = 1
        p.digestWindow = 5  // more than 10 waiting in the lane: digest
        p.maxDigestFindings = 40
        var items: [NewDelivery] = []
        for i in 0..<100 {
            let critical = i % 25 == 7
            items.append(
                event(
                    "b\(i)", count: 1, minute: 0, label: critical ? "CRITICAL" : (i % 2 == 0 ? "HIGH" : "LOW"),
                    severity: critical ? 9.5 : 5, type: "Type\(i % 5)", account: "1111\(i % 3)"))
        }
        let t = InMemorySlackTransport()
        let s = try run(items, transport: t, policy: p)
        XCTAssertEqual(s.delivered, 100, "every finding accounted for")
        XCTAssertEqual(s.pending, 0)
        XCTAssertEqual(try queue.counts().delivered, 100)
        var listed = 0
        var alone: [String] = []
        for call in t.calls {
            let b = try body(call)
            let text = b["text"]?.stringValue ?? ""
            if text.contains("GuardDuty digest:") {
                let n = Int(text.split(separator: ":")[1].split(separator: " ")[0]) ?? 0
                listed += n
                XCTAssertLessThanOrEqual(b["blocks"]?.arrayValue?.count ?? 99, 50)
                XCTAssertFalse(text.contains("CRITICAL"), "no CRITICAL finding in a digest: \(text)")
            } else {
                alone.append(text)
            }
        }
        XCTAssertEqual(listed + alone.count, 100, "listed in a digest or posted alone")
        XCTAssertEqual(alone.filter { $0.hasPrefix("b7 ") || $0.hasPrefix("b32 ") || $0.hasPrefix("b57 ") || $0.hasPrefix("b82 ") }.count, 4,
            "the four CRITICAL findings are posted on their own: \(alone)")
        XCTAssertLessThan(t.callCount, 12, "a burst of 100 takes a handful of messages, not 100")
        // Every finding now has a state: a later update is posted on its own, not digested.
        let states = try queue.allThreads()
        XCTAssertEqual(states.count, 100)
        XCTAssertEqual(states.filter(\.inDigest).count, listed)
        t.reset()
        _ = try run([event("b0", count: 2, minute: 1, label: "HIGH")], transport: t, policy: p)
        XCTAssertEqual(t.calls.map(\.method), [.postMessage], "a digested finding's update is its first message of its own")
    }

    func testAFirstEventWithNothingToDigestWithIsPostedAloneAtOnce() throws {
        var p = fast
        p.digestWindow = 0.001  // any backlog counts as a burst
        // One MEDIUM finding ahead of CRITICAL ones: nothing to combine it with.
        var items = [event("alone", count: 1, minute: 0)]
        for i in 0..<5 { items.append(event("crit\(i)", count: 1, minute: 0, label: "CRITICAL", severity: 9.5)) }
        let t = InMemorySlackTransport()
        let s = try run(items, transport: t, policy: p)
        XCTAssertEqual(s.delivered, 6)
        XCTAssertEqual(s.digests, 0)
        XCTAssertEqual(t.callCount, 6, "each posted on its own")
        let first = try XCTUnwrap(queue.delivery(id: 1))
        XCTAssertNil(first.lastError, "posted without waiting on its own claim: \(first.lastError ?? "")")
        XCTAssertEqual(first.attempts, 1)
    }

    func testTwoRoutersSeeingTheFirstEventAtOncePostOneRootMessage() throws {
        // Two engines with their own queues (two Lambda instances) sharing one store.
        let store = InMemoryThreadStore()
        let dir2 = dir + "-2"
        defer { try? FileManager.default.removeItem(atPath: dir2) }
        let queue2 = try DeliveryQueue(directory: dir2)
        let t = InMemorySlackTransport(delay: .milliseconds(150))
        _ = try queue.enqueue([event("race", count: 1, minute: 0)], now: Date().timeIntervalSince1970)
        _ = try queue2.enqueue([event("race", count: 2, minute: 1)], now: Date().timeIntervalSince1970)
        let a = DeliveryEngine(queue: queue, destinations: api, transport: t, policy: fast, threads: store)
        let b = DeliveryEngine(queue: queue2, destinations: api, transport: t, policy: fast, threads: store)
        let group = DispatchGroup()
        for e in [a, b] {
            group.enter()
            DispatchQueue.global().async {
                _ = e.drain(until: Date().timeIntervalSince1970 + 20)
                group.leave()
            }
        }
        XCTAssertEqual(group.wait(timeout: .now() + 30), .success)
        let roots = t.calls.filter { $0.method == .postMessage && (try? JSONValue.parse($0.body)["thread_ts"]) == nil }
        XCTAssertEqual(roots.count, 1, "one root message: \(t.calls.map { String(decoding: $0.body, as: UTF8.self) })")
        // Whichever posted first, the newer event wins: it edits the older one's message, or (posted first itself)
        // makes the older event a no-op.
        XCTAssertLessThanOrEqual(t.calls.filter { $0.method == .update }.count, 1)
        XCTAssertEqual(store.all.first?.count, 2)
        XCTAssertEqual(store.all.first?.updatedAt, "2026-11-27T10:01:00.000Z")
    }
}
