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
        if let x = Timestamps.parse(a), let y = Timestamps.parse(b) { return x > y }
        return a > b
    }
}
