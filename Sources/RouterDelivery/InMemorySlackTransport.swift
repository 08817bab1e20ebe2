import RouterJSON
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// A `SlackTransport` for unit tests of the delivery engine: records every request and answers from a scripted
/// queue of outcomes. With nothing scripted it answers `.delivered` with an increasing `ts` and the request's
/// channel (nil for webhooks). Thread-safe; a call blocks for its delay (if any) without holding the lock.
public final class InMemorySlackTransport: SlackTransport, @unchecked Sendable {
    /// One recorded request.
    public struct Call: Sendable, Equatable {
        /// 0-based, in arrival order.
        public var index: Int
        /// `Destination.name` (never the secret).
        public var destination: String
        public var method: SlackRequest.Method
        /// The body's `channel` (nil for a webhook body without one, or an unparsable body).
        public var channel: String?
        public var body: [UInt8]
        /// When the call arrived (monotonic).
        public var at: ContinuousClock.Instant
        /// The outcome it was given.
        public var outcome: SlackOutcome
    }

    /// A scripted answer: the outcome, and how long the call blocks before returning it.
    public struct Step: Sendable, Equatable {
        public var outcome: SlackOutcome
        public var delay: Duration?
        public init(_ outcome: SlackOutcome, delay: Duration? = nil) {
            self.outcome = outcome
            self.delay = delay
        }
    }

    private struct State {
        var queue: [Step] = []
        var perDestination: [String: [Step]] = [:]
        var calls: [Call] = []
        var nextTs = 1
        var delay: Duration
        var inFlight = 0
        var maxInFlight = 0
    }

    private let state: Mutex<State>

    /// `delay`: how long every call blocks (unless its scripted step says otherwise).
    public init(delay: Duration = .zero) {
        state = Mutex(State(delay: delay))
    }

    // MARK: - Scripting

    /// Appends outcomes to the shared queue (used by calls to any destination without a queue of its own).
    public func enqueue(_ outcomes: SlackOutcome...) { enqueue(steps: outcomes.map { Step($0) }) }

    public func enqueue(_ outcomes: [SlackOutcome]) { enqueue(steps: outcomes.map { Step($0) }) }

    public func enqueue(steps: [Step]) { state.withLock { $0.queue.append(contentsOf: steps) } }

    /// Appends outcomes for calls to the destination named `destination` only (taken before the shared queue).
    public func enqueue(_ outcomes: [SlackOutcome], for destination: String) {
        enqueue(steps: outcomes.map { Step($0) }, for: destination)
    }

    public func enqueue(steps: [Step], for destination: String) {
        state.withLock { $0.perDestination[destination, default: []].append(contentsOf: steps) }
    }

    /// Changes the default per-call delay.
    public func setDelay(_ delay: Duration) { state.withLock { $0.delay = delay } }

    /// Scripted steps not used yet (shared and per-destination).
    public var pendingSteps: Int {
        state.withLock { s in s.queue.count + s.perDestination.values.reduce(0) { $0 + $1.count } }
    }

    // MARK: - Inspection

    /// Every request so far, in arrival order.
    public var calls: [Call] { state.withLock { $0.calls } }

    public var callCount: Int { state.withLock { $0.calls.count } }

    /// Most calls that were in progress at the same time.
    public var maxConcurrentCalls: Int { state.withLock { $0.maxInFlight } }

    /// Forgets the calls and the script (the `ts` counter keeps increasing).
    public func reset() {
        state.withLock { s in
            s.queue.removeAll()
            s.perDestination.removeAll()
            s.calls.removeAll()
            s.maxInFlight = s.inFlight
        }
    }

    // MARK: - SlackTransport

    public func send(_ request: SlackRequest) -> SlackOutcome {
        let arrival = ContinuousClock.now
        let channel = Self.channel(of: request.body)
        let (outcome, delay): (SlackOutcome, Duration) = state.withLock { s in
            s.inFlight += 1
            s.maxInFlight = max(s.maxInFlight, s.inFlight)
            let step: Step?
            if var own = s.perDestination[request.destination.name], !own.isEmpty {
                step = own.removeFirst()
                s.perDestination[request.destination.name] = own
            } else if !s.queue.isEmpty {
                step = s.queue.removeFirst()
            } else {
                step = nil
            }
            let outcome: SlackOutcome
            if let step {
                outcome = step.outcome
            } else {
                outcome = .delivered(ts: Self.ts(s.nextTs), channel: Self.isWebhook(request) ? nil : channel)
                s.nextTs += 1
            }
            s.calls.append(
                Call(
                    index: s.calls.count, destination: request.destination.name, method: request.method,
                    channel: channel, body: request.body, at: arrival, outcome: outcome))
            return (outcome, step?.delay ?? s.delay)
        }
        if delay > .zero { Self.sleep(delay) }
        state.withLock { $0.inFlight -= 1 }
        return outcome
    }

    private static func isWebhook(_ request: SlackRequest) -> Bool {
        if case .webhook = request.destination.kind { return true }
        return false
    }

    /// `1700000000.000001`, `1700000000.000002`, ...: unique and increasing like Slack's.
    static func ts(_ n: Int) -> String {
        let micros = String(n % 1_000_000)
        return "\(1_700_000_000 + n / 1_000_000)." + String(repeating: "0", count: 6 - micros.count) + micros
    }

    static func channel(of body: [UInt8]) -> String? {
        guard !body.isEmpty, let doc = try? JSONDocument(bytes: body, maxDepth: 64) else { return nil }
        return doc.root["channel"]?.string
    }

    private static func sleep(_ d: Duration) {
        let (seconds, attoseconds) = d.components
        var req = timespec(tv_sec: Int(seconds), tv_nsec: Int(attoseconds / 1_000_000_000))
        var rem = timespec()
        while nanosleep(&req, &rem) != 0 && errno == EINTR { req = rem }
    }
}
