import RouterFinding
import RouterSlack

/// What the lifecycle of a finding in Slack needs to know about one event of it: carried by a queued delivery, so
/// the decision (first post, edit, thread reply, nothing) is taken when the lane reaches it, against the state the
/// earlier events of the lane left behind.
public struct FindingEvent: Sendable, Equatable {
    /// The finding's `updatedAt` as given (ISO-8601); events are ordered by it.
    public var updatedAt: String
    /// `service.count`.
    public var count: Int
    public var severity: Double
    /// `service.archived`.
    public var archived: Bool
    /// The rule's choice, or the destination's default (`thread` for the Web API, `ignore` for webhooks).
    public var onUpdate: OnUpdate
    public var title: String
    public var account: String
    public var region: String
    /// A short description of the resource (`EC2 i-0abc`, `S3 bucket-name`), nil when unknown.
    public var resource: String?
    /// `service.eventLastSeen`.
    public var lastSeen: String?
    /// The delivery's mentions in Slack syntax (`<!here> <@U0123>`), for a broadcast reply and digests; built from the
    /// rule's validated mentions, never from finding text.
    public var mentions: String
    /// The channel the rule chose, also for a webhook (whose deliveries carry no channel): one finding routed to two
    /// channels through one webhook is two conversations.
    public var routedChannel: String?
    /// The finding as an EventBridge event, carried only by deliveries whose message has buttons: the conversation's
    /// state keeps it for the clicks (the `f` of `permit`).
    public var findingJSON: [UInt8]?

    public init(
        updatedAt: String, count: Int, severity: Double, archived: Bool, onUpdate: OnUpdate, title: String,
        account: String, region: String, resource: String?, lastSeen: String?, mentions: String,
        routedChannel: String? = nil, findingJSON: [UInt8]? = nil
    ) {
        self.findingJSON = findingJSON
        self.routedChannel = routedChannel
        self.updatedAt = updatedAt
        self.count = count
        self.severity = severity
        self.archived = archived
        self.onUpdate = onUpdate
        self.title = title
        self.account = account
        self.region = region
        self.resource = resource
        self.lastSeen = lastSeen
        self.mentions = mentions
    }
}

/// GuardDuty's severity labels in order (`LOW` < `MEDIUM` < `HIGH` < `CRITICAL`); unknown labels rank lowest.
public enum SeverityRank {
    public static func of(_ label: String) -> Int {
        switch label {
        case "LOW": 1
        case "MEDIUM": 2
        case "HIGH": 3
        case "CRITICAL": 4
        default: 0
        }
    }
}

/// Ordering events by their `updatedAt`: by time when both parse (`Timestamps.parse`: with or without a fraction, `Z`
/// or an offset), else by string.
public enum EventTime {
    public static func isNewer(_ a: String, than b: String) -> Bool {
        if let fast = sameShapeUTC(a, b) { return fast }
        if let x = Timestamps.parse(a), let y = Timestamps.parse(b) { return x > y }
        return a > b
    }

    /// Two UTC times written the same way (`2026-01-02T03:04:05.123Z`: same length, digits where the other has digits,
    /// the same separators, `Z`) order as their bytes do: compared without parsing. Nil when they are not both so.
    @inline(__always)
    static func sameShapeUTC(_ a: String, _ b: String) -> Bool? {
        var a = a, b = b
        return a.withUTF8 { x in
            b.withUTF8 { y -> Bool? in
                guard x.count == y.count, x.count >= 20, x.count <= 40, x[x.count - 1] == UInt8(ascii: "Z"), y[y.count - 1] == UInt8(ascii: "Z"),
                    x[4] == UInt8(ascii: "-"), x[10] == UInt8(ascii: "T")
                else { return nil }
                var order = 0
                for i in 0..<(x.count - 1) {
                    let p = x[i], q = y[i]
                    let pd = p >= 48 && p <= 57, qd = q >= 48 && q <= 57
                    guard pd == qd, pd || p == q else { return nil }
                    if order == 0 && p != q { order = p > q ? 1 : -1 }
                }
                return order > 0
            }
        }
    }
}
