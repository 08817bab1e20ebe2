/// How deliveries are paced, retried and timed out. Defaults suit Slack.
public struct DeliveryPolicy: Sendable, Equatable {
    /// Messages per second per destination and channel (Slack allows about 1).
    public var ratePerSecond: Double = 1
    /// Messages a lane may send at once before pacing starts.
    public var burst: Int = 3
    /// Exponential backoff with full jitter: the n-th retry waits uniformly in 0 ... min(cap, base * 2^(n-1)).
    public var retryBase: Double = 1
    public var retryCap: Double = 300
    /// Attempts before a retryable failure goes to the dead letter.
    public var maxAttempts: Int = 100
    /// Age (since enqueue) after which a retryable failure goes to the dead letter.
    public var maxAge: Double = 24 * 3600
    /// Longest `Retry-After` honoured (seconds); longer values are capped.
    public var retryAfterCap: Double = 300
    /// Wait after a 429 that carried no `Retry-After`.
    public var defaultRetryAfter: Double = 30
    /// Concurrent requests (lanes deliver in parallel, one request in flight per lane).
    public var workers: Int = 8
    /// A claimed delivery whose process died becomes claimable again after this long (or at once when the owner is
    /// known to be dead).
    public var leaseSeconds: Double = 120
    /// Bursts: when more findings wait for a lane than its pace can post in this many seconds, the waiting ones that
    /// are not CRITICAL go out together in digest messages. 0 turns digests off.
    public var digestWindow: Double = 30
    /// Most findings one digest lists.
    public var maxDigestFindings: Int = 100
    /// A first post claimed by another router that has not finished after this long is taken over.
    public var claimStaleAfter: Double = 60

    public init() {}

    public static let `default` = DeliveryPolicy()

    /// Backoff before retry number `attempt` (1-based: the wait after the first failure is attempt 1).
    public func backoff(attempt: Int, random: Double) -> Double {
        let exp = min(Double(max(0, attempt - 1)), 30)
        let ceiling = min(retryCap, retryBase * pow2(exp))
        return ceiling * min(max(random, 0), 1)
    }

    private func pow2(_ x: Double) -> Double {
        var r = 1.0
        var i = 0
        while Double(i) < x {
            r *= 2
            i += 1
        }
        return r
    }
}

/// A lane's pacing: `burst` tokens, refilled at 90% of `ratePerSecond` (so jitter between the router's sends and
/// Slack's arrivals, on a busy network or host, never makes Slack see two messages closer than its limit allows); one
/// token per message. The delivery engine paces each lane with one, and `router replay` simulates the same pacing.
public struct TokenBucket: Sendable {
    public private(set) var tokens: Double
    public private(set) var last: Double
    let burst: Double
    let rate: Double

    /// A full bucket at `time`.
    public init(policy: DeliveryPolicy, at time: Double) {
        burst = Double(policy.burst)
        rate = max(policy.ratePerSecond * 0.9, 1e-9)
        tokens = burst
        last = time
    }

    /// Tokens at `time` (never more than the burst).
    public func available(at time: Double) -> Double {
        min(burst, tokens + max(0, time - last) * rate)
    }

    /// The earliest moment at or after `time` when a token is there.
    public func ready(from time: Double) -> Double {
        let a = available(at: time)
        return a >= 1 ? time : time + (1 - a) / rate
    }

    /// Spends one token at `time`.
    public mutating func take(at time: Double) {
        tokens = available(at: time) - 1
        last = time
    }
}
