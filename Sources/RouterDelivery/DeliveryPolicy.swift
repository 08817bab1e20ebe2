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
