import Dispatch
import RouterJSON
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Unix time, injectable for tests.
public protocol RouterClock: Sendable {
    func now() -> Double
}

public struct SystemClock: RouterClock {
    public init() {}
    public func now() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }
}

/// What one `drain` did.
public struct DrainSummary: Sendable, Equatable {
    public var delivered = 0
    public var deadLettered = 0
    /// Failed attempts that were scheduled again (429s included).
    public var retries = 0
    public var rateLimited = 0
    /// Still pending when the drain stopped (deadline reached, or waiting for a later retry).
    public var pending = 0
    /// Lifecycle deliveries that needed nothing sent (already handled, `ignore`, archived before posted).
    public var skipped = 0
    /// Digest messages posted, and the deliveries they accounted for (counted in `delivered` too).
    public var digests = 0
    public var digested = 0
    public init() {}
}

/// One outcome of one delivery attempt, for metrics (`DeliveryEngine`'s `onEvent`).
public enum DeliveryEvent: Sendable, Equatable {
    case delivered(destination: String)
    /// A failed attempt scheduled again; `rateLimited` for a 429.
    case retried(destination: String, rateLimited: Bool)
    case deadLettered(destination: String)
}

/// Sends what the durable queue holds to Slack: lanes (destination + channel) in parallel, one request in flight and
/// strict order within a lane, each lane paced by a token bucket, a destination held back after a 429 for its
/// `Retry-After`, retryable failures backed off with full jitter, permanent ones dead-lettered with Slack's code.
///
/// Every state change is committed to the queue before the next step, so a crash at any point loses nothing: a
/// delivery in flight at a crash is sent again by the next process (at most those can be duplicated).
public final class DeliveryEngine: @unchecked Sendable {
    public let queue: DeliveryQueue
    public let destinations: DestinationSet
    public let transport: SlackTransport
    public let policy: DeliveryPolicy
    public let clock: RouterClock
    /// The finding lifecycle's state; nil: every delivery is a plain post.
    public let threads: ThreadStore?
    /// Reads a destination's secret again when Slack says it is no longer valid (secrets from Secrets Manager).
    public var secrets: SecretRefresher?
    let log: @Sendable (String) -> Void
    let onEvent: (@Sendable (DeliveryEvent) -> Void)?
    let owner: String
    /// Continuous mode: set by `stop()`; `idle` while sleeping with nothing pending (so `wake()` signals only then).
    private let control = Mutex((stopped: false, idle: false))

    struct State {
        /// Destinations whose secret was read again after Slack refused the old one (rotation).
        var rotated: [String: Destination] = [:]
        var inFlight: Set<String> = []
        var buckets: [String: TokenBucket] = [:]
        var blockedUntil: [String: Double] = [:]
        var summary = DrainSummary()
        var random = SystemRandomNumberGenerator()
    }

    let state = Mutex(State())
    private let wakeUp = DispatchSemaphore(value: 0)
    private let workQueue = DispatchQueue(label: "router.delivery", attributes: .concurrent)

    public init(
        queue: DeliveryQueue, destinations: DestinationSet, transport: SlackTransport,
        policy: DeliveryPolicy = .default, clock: RouterClock = SystemClock(),
        log: @escaping @Sendable (String) -> Void = { _ in },
        onEvent: (@Sendable (DeliveryEvent) -> Void)? = nil, threads: ThreadStore? = nil
    ) {
        self.threads = threads
        self.onEvent = onEvent
        self.queue = queue
        self.destinations = destinations
        self.transport = transport
        self.policy = policy
        self.clock = clock
        self.log = log
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        self.owner = "pid:\(getpid()):\(ts.tv_sec).\(ts.tv_nsec):\(Self.hostName)"
    }

    static let hostName: String = {
        var buf = [CChar](repeating: 0, count: 256)
        gethostname(&buf, buf.count - 1)
        return String(cString: buf)
    }()

    /// Whether the process that holds a lease (`pid:<n>:<start>:<host>`) may still be running. Only a process on this
    /// host (same host name: same PID namespace) can be known to be gone; any other owner counts as alive, and its
    /// leases expire after `leaseSeconds`.
    public static func ownerIsAlive(_ owner: String) -> Bool {
        let parts = owner.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count >= 4, parts[0] == "pid", let pid = Int32(parts[1]) else { return true }
        guard parts[3...].joined(separator: ":") == hostName else { return true }
        if pid == getpid() { return true }
        return kill(pid, 0) == 0 || errno == EPERM
    }

    /// Delivers until nothing is pending (every delivery delivered or dead-lettered) or `deadline` (Unix seconds)
    /// passes; then waits for requests in flight and returns what happened.
    public func drain(until deadline: Double? = nil) -> DrainSummary {
        loop(deadline: deadline, continuous: false, finishWithin: nil)
    }

    /// Continuous mode (the server): delivers what the queue holds and keeps running when it is empty, until `stop()`;
    /// enqueuers call `wake()` after committing. On stop, waits up to `finishWithin` seconds for requests in flight
    /// (what is not finished keeps its lease, which the next process releases: it is sent again). Blocks the caller.
    public func run(finishWithin: Double) -> DrainSummary {
        loop(deadline: nil, continuous: true, finishWithin: finishWithin)
    }

    /// New work was committed: an idle continuous `run` looks at the queue now rather than within 0.5 s.
    public func wake() {
        let idle = control.withLock { c in
            let was = c.idle
            c.idle = false
            return was
        }
        if idle { wakeUp.signal() }
    }

    /// Ends a continuous `run` (it stops claiming at once).
    public func stop() {
        control.withLock { $0.stopped = true }
        wakeUp.signal()
    }

    private func loop(deadline: Double?, continuous: Bool, finishWithin: Double?) -> DrainSummary {
        try? queue.releaseStaleLeases(now: clock.now(), isAlive: Self.ownerIsAlive)
        while true {
            let now = clock.now()
            if let deadline, now >= deadline { break }
            if continuous && control.withLock({ $0.stopped }) { break }
            let (excludedLanes, excludedDestinations, free) = state.withLock { s -> (Set<String>, Set<String>, Int) in
                var lanes = s.inFlight
                for (lane, b) in s.buckets where b.available(at: now) < 1 { lanes.insert(lane) }
                let dests = Set(s.blockedUntil.filter { $0.value > now }.keys)
                return (lanes, dests, policy.workers - s.inFlight.count)
            }
            var claimed: [QueuedDelivery] = []
            if free > 0 {
                do {
                    claimed = try queue.claim(
                        now: now, limit: free, excludingLanes: excludedLanes, excludingDestinations: excludedDestinations,
                        leaseSeconds: policy.leaseSeconds, owner: owner)
                } catch {
                    log("delivery queue: \(error)")
                }
            }
            for item in claimed {
                let lane = item.delivery.lane
                state.withLock { s in
                    s.inFlight.insert(lane)
                    var b = s.buckets[lane] ?? TokenBucket(policy: policy, at: now)
                    b.take(at: now)
                    s.buckets[lane] = b
                }
                workQueue.async { [self] in
                    process(item)
                    state.withLock { s in _ = s.inFlight.remove(lane) }
                    wakeUp.signal()
                }
            }
            if !claimed.isEmpty { continue }

            // Nothing to start now: finished, or sleep until something can start.
            let inFlight = state.withLock { $0.inFlight.count }
            var next = now + 0.5
            if continuous {
                // No COUNT here: it costs in proportion to the pending rows, and a server can hold many.
                let due = try? queue.nextDueTime()
                if let due, due > now { next = min(next, due) }
                if due == nil && inFlight == 0 { control.withLock { $0.idle = true } }
            } else {
                let pending = (try? queue.pendingCount()) ?? 0
                if inFlight == 0 && pending == 0 { break }
                if let due = try? queue.nextDueTime(), due > now { next = min(next, due) }
            }
            state.withLock { s in
                for (_, b) in s.buckets where b.available(at: now) < 1 { next = min(next, b.ready(from: now)) }
                for (_, until) in s.blockedUntil where until > now { next = min(next, until) }
            }
            if let deadline { next = min(next, deadline) }
            let wait = max(0.002, next - now)
            _ = wakeUp.wait(timeout: .now() + .nanoseconds(Int(wait * 1e9)))
        }
        // Let requests in flight finish (they are bounded by the transport's timeouts, and by `finishWithin`).
        let giveUp = finishWithin.map { clock.now() + $0 }
        while state.withLock({ !$0.inFlight.isEmpty }) {
            if let giveUp, clock.now() >= giveUp { break }
            _ = wakeUp.wait(timeout: .now() + .milliseconds(50))
        }
        var summary = state.withLock { $0.summary }
        summary.pending = (try? queue.pendingCount()) ?? 0
        return summary
    }

    /// The HTTP body for `item`: its payload, with `channel` added for the Web API.
    static func body(for item: QueuedDelivery, destination: Destination) -> [UInt8] {
        guard case .webAPI = destination.kind, let channel = item.delivery.channel else { return payload(of: item) }
        return body(fields: [("channel", channel)], payload: payload(of: item))
    }

    /// The payload to send: the text-only one once Slack rejected the blocks.
    static func payload(of item: QueuedDelivery) -> [UInt8] {
        item.usedTextOnly ? (item.delivery.textOnlyPayload ?? item.delivery.payload) : item.delivery.payload
    }

    /// `payload` (a JSON object) with string members `fields` put first: `channel` for `chat.postMessage`, `channel`
    /// and `ts` for `chat.update`.
    static func body(fields: [(String, String)], payload: [UInt8]) -> [UInt8] {
        guard !fields.isEmpty, payload.first == UInt8(ascii: "{") else { return payload }
        var out: [UInt8] = [UInt8(ascii: "{")]
        for (i, (name, value)) in fields.enumerated() {
            if i > 0 { out.append(UInt8(ascii: ",")) }
            JSONString.write(name, into: &out)
            out.append(UInt8(ascii: ":"))
            JSONString.write(value, into: &out)
        }
        let rest = payload.dropFirst().drop { $0 == 0x20 || $0 == 0x0A || $0 == 0x0D || $0 == 0x09 }
        if rest.first != UInt8(ascii: "}") { out.append(UInt8(ascii: ",")) }
        out.append(contentsOf: rest)
        return out
    }

    /// The destination stored under `name`: as configured, or as last read again after a rotation.
    func destination(_ name: String) -> Destination? {
        state.withLock { $0.rotated[name] } ?? destinations.stored(name)
    }

    /// Slack codes that mean the credential itself is no longer good: read the secret again once before giving up.
    static let credentialCodes: Set<String> = ["invalid_auth", "token_revoked", "no_service", "invalid_token", "account_inactive"]

    private func process(_ item: QueuedDelivery) {
        guard let destination = destination(item.delivery.destination) else {
            let reason = "destination_not_configured: " + destinations.missingMessage(to: item.delivery.destination)
            finish(item, dead: reason, attempts: item.attempts)
            return
        }
        if let event = item.delivery.lifecycle, let threads {
            processLifecycle(item, event: event, destination: destination, threads: threads)
            return
        }
        let outcome = transport.send(
            SlackRequest(destination: destination, method: Self.postMethod(destination), body: Self.body(for: item, destination: destination)))
        if case .delivered = outcome {
            recordDelivered(item, outcome: nil)
        } else {
            settleFailure(item, outcome)
        }
    }

    static func postMethod(_ destination: Destination) -> SlackRequest.Method {
        switch destination.kind {
        case .webhook: .webhook
        case .webAPI: .postMessage
        }
    }

    /// Records `item` as delivered (with what was done, for lifecycle deliveries).
    func recordDelivered(_ item: QueuedDelivery, outcome: String?, skipped: Bool = false) {
        do {
            try queue.markDelivered(id: item.id, now: clock.now(), outcome: outcome)
            state.withLock { s in
                s.summary.delivered += 1
                if skipped { s.summary.skipped += 1 }
            }
            onEvent?(.delivered(destination: item.delivery.destination))
        } catch {
            log("delivery queue: cannot record delivery \(item.id): \(error)")
        }
    }

    /// Applies a Slack answer other than `.delivered`: wait and retry, fall back to text only, or dead-letter.
    func settleFailure(_ item: QueuedDelivery, _ outcome: SlackOutcome) {
        let now = clock.now()
        let attempts = item.attempts + 1
        switch outcome {
        case .delivered:
            recordDelivered(item, outcome: nil)
        case .rateLimited(let retryAfter):
            let wait = min(policy.retryAfterCap, max(0, retryAfter ?? policy.defaultRetryAfter))
            state.withLock { s in
                s.blockedUntil[item.delivery.destination] = max(s.blockedUntil[item.delivery.destination] ?? 0, now + wait)
                s.summary.rateLimited += 1
            }
            retry(item, attempts: attempts, at: now + wait, error: "rate_limited (HTTP 429, waiting \(Int(wait.rounded(.up))) s)", now: now,
                rateLimited: true)
        case .retryable(let code):
            let r = state.withLock { s in Double.random(in: 0...1, using: &s.random) }
            retry(item, attempts: attempts, at: now + policy.backoff(attempt: attempts, random: r), error: code, now: now)
        case .permanent(let code, let status):
            if Self.credentialCodes.contains(code), let secrets, let current = destination(item.delivery.destination),
                let fresh = secrets.refreshed(current)
            {
                // The secret was rotated: send again at once with the new value.
                state.withLock { $0.rotated[item.delivery.destination] = fresh }
                log("Slack refused the \(item.delivery.destination) credential (\(code)); read it again from Secrets Manager: it changed, retrying")
                do {
                    try queue.scheduleRetry(id: item.id, attempts: attempts, nextAttemptAt: now, error: code + " (secret read again)", now: now)
                } catch {
                    log("delivery queue: \(error)")
                }
                return
            }
            let blocksRejected = code == "invalid_blocks" || code == "msg_blocks_too_long"
            if blocksRejected && !item.usedTextOnly && item.delivery.textOnlyPayload != nil {
                do {
                    try queue.markTextOnly(id: item.id)
                    try queue.scheduleRetry(id: item.id, attempts: attempts, nextAttemptAt: now, error: code + " (retrying as text only)", now: now)
                    state.withLock { $0.summary.retries += 1 }
                    onEvent?(.retried(destination: item.delivery.destination, rateLimited: false))
                } catch {
                    log("delivery queue: \(error)")
                }
                return
            }
            finish(item, dead: code + (status.map { $0 == 200 ? "" : " (HTTP \($0))" } ?? ""), attempts: attempts)
        }
    }

    /// A failed attempt that is not Slack's answer (the state store): backed off like a retryable Slack failure.
    func retryLater(_ item: QueuedDelivery, error: String) {
        let now = clock.now()
        let attempts = item.attempts + 1
        let r = state.withLock { s in Double.random(in: 0...1, using: &s.random) }
        retry(item, attempts: attempts, at: now + policy.backoff(attempt: attempts, random: r), error: error, now: now)
    }

    /// Puts `item` back to wait `seconds` without counting an attempt (another router is posting the finding's first
    /// message).
    func waitAndRetry(_ item: QueuedDelivery, seconds: Double, why: String) {
        let now = clock.now()
        if now - item.enqueuedAt >= policy.maxAge {
            finish(item, dead: "gave up after \(Int(now - item.enqueuedAt)) s: \(why)", attempts: item.attempts)
            return
        }
        do {
            try queue.scheduleRetry(id: item.id, attempts: item.attempts, nextAttemptAt: now + seconds, error: why, now: now)
        } catch {
            log("delivery queue: \(error)")
        }
    }

    private func retry(
        _ item: QueuedDelivery, attempts: Int, at: Double, error: String, now: Double, rateLimited: Bool = false
    ) {
        if attempts >= policy.maxAttempts || now - item.enqueuedAt >= policy.maxAge {
            let why = attempts >= policy.maxAttempts ? "\(attempts) attempts" : "\(Int(now - item.enqueuedAt)) s"
            finish(item, dead: "gave up after \(why): \(error)", attempts: attempts)
            return
        }
        do {
            try queue.scheduleRetry(id: item.id, attempts: attempts, nextAttemptAt: at, error: error, now: now)
            state.withLock { $0.summary.retries += 1 }
            onEvent?(.retried(destination: item.delivery.destination, rateLimited: rateLimited))
        } catch {
            log("delivery queue: \(error)")
        }
    }

    func finish(_ item: QueuedDelivery, dead reason: String, attempts: Int) {
        do {
            try queue.deadLetter(id: item.id, attempts: attempts, error: reason, now: clock.now())
            state.withLock { $0.summary.deadLettered += 1 }
            onEvent?(.deadLettered(destination: item.delivery.destination))
            log("dead letter: delivery \(item.id) of finding \(item.delivery.findingId) to \(item.delivery.destination)\(item.delivery.channel.map { " " + $0 } ?? ""): \(reason)")
        } catch {
            log("delivery queue: \(error)")
        }
    }
}
