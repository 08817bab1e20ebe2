/// When a lane's deliveries go out in a digest: shared by the delivery engine and `router replay`'s simulation.
public enum DigestRule {
    /// Whether the lane's next delivery opens a digest: it is a finding's first event here, not archived and not
    /// CRITICAL, digests are on, and more deliveries wait in the lane (`backlog`, the head included) than its pace can
    /// post within the digest window.
    public static func opens(firstHere: Bool, archived: Bool, severityLabel: String, backlog: Int, policy: DeliveryPolicy) -> Bool {
        firstHere && !archived && severityLabel != "CRITICAL" && policy.digestWindow > 0
            && Double(backlog) > max(1, policy.ratePerSecond * policy.digestWindow)
    }

    /// Whether a waiting delivery may be listed in someone else's digest (what the queue's `claimForDigest` selects,
    /// before the first posts are claimed): not CRITICAL, and it carries the finding lifecycle.
    public static func mayJoin(severityLabel: String, hasLifecycle: Bool) -> Bool {
        severityLabel != "CRITICAL" && hasLifecycle
    }
}
