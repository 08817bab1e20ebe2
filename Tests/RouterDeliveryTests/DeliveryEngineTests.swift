import Foundation
import RouterDelivery
import RouterTestSupport
import XCTest

/// The delivery engine over a real queue (temp directory) and the in-memory transport.
final class DeliveryEngineTests: QueueTestCase {
    func item(_ n: Int, destination: String = "default", channel: String? = nil, blocks: Bool = true) -> NewDelivery {
        NewDelivery(
            key: "k\(n)-\(channel ?? "")", findingId: "f\(n)", findingType: "T", severityLabel: "HIGH", destination: destination,
            channel: channel, payload: Array("{\"text\":\"m\(n)\"\(blocks ? ",\"blocks\":[]" : "")}".utf8),
            textOnlyPayload: blocks ? Array("{\"text\":\"m\(n)\"}".utf8) : nil)
    }

    func testDeliversAndRecordsIt() throws {
        _ = try queue.enqueue([item(1), item(2)], now: Date().timeIntervalSince1970)
        let t = InMemorySlackTransport()
        let s = DeliveryEngine(queue: queue, destinations: webhook, transport: t, policy: fast).drain()
        XCTAssertEqual(s.delivered, 2)
        XCTAssertEqual(t.callCount, 2)
        XCTAssertEqual(try queue.counts().delivered, 2)
        XCTAssertEqual(t.calls.map { String(decoding: $0.body, as: UTF8.self) }, [#"{"text":"m1","blocks":[]}"#, #"{"text":"m2","blocks":[]}"#])
    }

    func testWebAPIBodyCarriesTheChannel() throws {
        _ = try queue.enqueue([item(1, destination: "slack-api", channel: "#sec \"x\"")], now: Date().timeIntervalSince1970)
        let t = InMemorySlackTransport()
        _ = DeliveryEngine(queue: queue, destinations: api, transport: t, policy: fast).drain()
        XCTAssertEqual(String(decoding: t.calls[0].body, as: UTF8.self), ##"{"channel":"#sec \"x\"","text":"m1","blocks":[]}"##)
        XCTAssertEqual(t.calls[0].method, .postMessage)
    }

    func testRetryableFailuresBackOffThenDeliver() throws {
        _ = try queue.enqueue([item(1)], now: Date().timeIntervalSince1970)
        let t = InMemorySlackTransport()
        t.enqueue(.retryable(code: "http_503"), .retryable(code: "timeout"))
        let s = DeliveryEngine(queue: queue, destinations: webhook, transport: t, policy: fast).drain()
        XCTAssertEqual(s.delivered, 1)
        XCTAssertEqual(s.retries, 2)
        XCTAssertEqual(t.callCount, 3)
    }

    func testPermanentErrorsAreDeadLetteredWithTheCode() throws {
        _ = try queue.enqueue([item(1)], now: Date().timeIntervalSince1970)
        let t = InMemorySlackTransport()
        t.enqueue(.permanent(code: "channel_is_archived", httpStatus: 410))
        let s = DeliveryEngine(queue: queue, destinations: webhook, transport: t, policy: fast).drain()
        XCTAssertEqual(s.deadLettered, 1)
        let dead = try queue.deadLetters()
        XCTAssertEqual(dead.first?.lastError, "channel_is_archived (HTTP 410)")
        XCTAssertEqual(dead.first?.attempts, 1)
        XCTAssertEqual(t.callCount, 1)
    }

    func testInvalidBlocksRetriesOnceAsTextOnly() throws {
        _ = try queue.enqueue([item(1), item(2, blocks: false)], now: Date().timeIntervalSince1970)
        let t = InMemorySlackTransport()
        t.enqueue(.permanent(code: "invalid_blocks", httpStatus: 400), .permanent(code: "invalid_blocks", httpStatus: 400))
        let s = DeliveryEngine(queue: queue, destinations: webhook, transport: t, policy: fast).drain()
        // m1: blocks refused, text-only delivered; m2 (text only already): refused for good.
        XCTAssertEqual(s.delivered, 1)
        XCTAssertEqual(s.deadLettered, 1)
        XCTAssertEqual(t.calls.map { String(decoding: $0.body, as: UTF8.self) },
                       [#"{"text":"m1","blocks":[]}"#, #"{"text":"m1"}"#, #"{"text":"m2"}"#])
    }

    func testMaxAttemptsEndsInTheDeadLetter() throws {
        _ = try queue.enqueue([item(1)], now: Date().timeIntervalSince1970)
        let t = InMemorySlackTransport()
        t.enqueue(Array(repeating: SlackOutcome.retryable(code: "http_500"), count: 10))
        var p = fast
        p.maxAttempts = 3
        let s = DeliveryEngine(queue: queue, destinations: webhook, transport: t, policy: p).drain()
        XCTAssertEqual(s.deadLettered, 1)
        XCTAssertEqual(t.callCount, 3)
        XCTAssertEqual(try queue.deadLetters().first?.lastError, "gave up after 3 attempts: http_500")
        XCTAssertEqual(try queue.deadLetters().first?.firstError, "http_500")
    }

    func testRateLimitHoldsTheDestinationForRetryAfter() throws {
        _ = try queue.enqueue([item(1), item(2)], now: Date().timeIntervalSince1970)
        let t = InMemorySlackTransport()
        t.enqueue(.rateLimited(retryAfter: 0.4))
        let start = ContinuousClock.now
        let s = DeliveryEngine(queue: queue, destinations: webhook, transport: t, policy: fast).drain()
        XCTAssertEqual(s.delivered, 2)
        XCTAssertEqual(s.rateLimited, 1)
        let calls = t.calls
        XCTAssertEqual(calls.count, 3)
        XCTAssertGreaterThanOrEqual(calls[1].at - calls[0].at, .milliseconds(390), "nothing sent during Retry-After")
        XCTAssertEqual(String(decoding: calls[1].body, as: UTF8.self), #"{"text":"m1","blocks":[]}"#, "order kept")
        XCTAssertLessThan(ContinuousClock.now - start, .seconds(5))
    }

    func testLanesRunInParallelAndInOrderWithinALane() throws {
        var items: [NewDelivery] = []
        for n in 0..<12 { items.append(item(n, destination: "slack-api", channel: "#c\(n % 4)")) }
        _ = try queue.enqueue(items, now: Date().timeIntervalSince1970)
        let t = InMemorySlackTransport(delay: .milliseconds(50))
        let s = DeliveryEngine(queue: queue, destinations: api, transport: t, policy: fast).drain()
        XCTAssertEqual(s.delivered, 12)
        XCTAssertGreaterThan(t.maxConcurrentCalls, 1, "channels deliver concurrently")
        XCTAssertLessThanOrEqual(t.maxConcurrentCalls, 4, "one request in flight per lane")
        for c in 0..<4 {
            let order = t.calls.filter { $0.channel == "#c\(c)" }.map { String(decoding: $0.body, as: UTF8.self) }
            XCTAssertEqual(order, [c, c + 4, c + 8].map { "{\"channel\":\"#c\(c)\",\"text\":\"m\($0)\",\"blocks\":[]}" })
        }
    }

    func testOneLanesOutageDoesNotBlockAnother() throws {
        _ = try queue.enqueue([item(1, destination: "slack-api", channel: "#down"), item(2, destination: "slack-api", channel: "#up")],
                              now: Date().timeIntervalSince1970)
        let t = InMemorySlackTransport()
        t.enqueue(steps: [InMemorySlackTransport.Step(.retryable(code: "timeout"), delay: .milliseconds(300))])
        let s = DeliveryEngine(queue: queue, destinations: api, transport: t, policy: fast).drain()
        XCTAssertEqual(s.delivered, 2)
        let up = try XCTUnwrap(t.calls.first { $0.channel == "#up" })
        let downRetry = try XCTUnwrap(t.calls.last { $0.channel == "#down" })
        XCTAssertLessThan(up.at, downRetry.at)
    }

    func testPacingPerLane() throws {
        _ = try queue.enqueue((0..<6).map { item($0) }, now: Date().timeIntervalSince1970)
        let t = InMemorySlackTransport()
        var p = fast
        p.ratePerSecond = 10
        p.burst = 2
        _ = DeliveryEngine(queue: queue, destinations: webhook, transport: t, policy: p).drain()
        let at = t.calls.map(\.at)
        XCTAssertEqual(at.count, 6)
        // After the burst of 2, at most 10 per second (9 with the router's 10% margin).
        XCTAssertGreaterThanOrEqual(at[5] - at[1], .milliseconds(390))
    }

    func testUnconfiguredDestinationIsDeadLetteredWithAnActionableReason() throws {
        _ = try queue.enqueue([item(1, destination: "team-a")], now: Date().timeIntervalSince1970)
        let t = InMemorySlackTransport()
        let s = DeliveryEngine(queue: queue, destinations: webhook, transport: t, policy: fast).drain()
        XCTAssertEqual(s.deadLettered, 1)
        XCTAssertEqual(t.callCount, 0)
        XCTAssertTrue(try queue.deadLetters().first?.lastError?.contains("SLACK_WEBHOOK_URL_TEAM_A") ?? false)
    }

    func testDestinationsFromTheEnvironmentAndSecretsRedact() {
        let set = DestinationSet.fromEnvironment([
            "SLACK_WEBHOOK_URL": "https://hooks.slack.com/services/T/B/abc", "SLACK_BOT_TOKEN": "xoxb-1",
            "SLACK_API_URL": "http://127.0.0.1:9/api/", "SLACK_WEBHOOK_URL_TEAM_A": "https://hooks.slack.com/services/T/B/team",
        ])
        XCTAssertEqual(set.resolve(to: "default")?.name, "slack-api")
        XCTAssertEqual(set.resolve(to: "team-a")?.name, "team_a")
        XCTAssertEqual(set.resolve(to: "Team.A")?.name, "team_a")
        XCTAssertNil(set.resolve(to: "team-b"))
        XCTAssertEqual(set.stored("slack-api"), set.webAPI)
        if case .webAPI(_, let base) = set.webAPI!.kind { XCTAssertEqual(base, "http://127.0.0.1:9/api") }
        XCTAssertEqual("\(set)".contains("abc") || "\(set)".contains("xoxb-1"), false, "descriptions redact secrets")
        XCTAssertEqual(Secret.redact("failed: https://hooks.slack.com/services/T/B/abc", set.secrets), "failed: <redacted>")
    }

    func testBackoffIsFullJitterWithinTheCap() {
        let p = DeliveryPolicy()
        XCTAssertEqual(p.backoff(attempt: 1, random: 1), 1)
        XCTAssertEqual(p.backoff(attempt: 4, random: 1), 8)
        XCTAssertEqual(p.backoff(attempt: 4, random: 0), 0)
        XCTAssertEqual(p.backoff(attempt: 30, random: 1), 300)
        XCTAssertEqual(p.backoff(attempt: 4, random: 0.5), 4)
    }
}
