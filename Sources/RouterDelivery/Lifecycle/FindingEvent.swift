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

    public init(
        updatedAt: String, count: Int, severity: Double, archived: Bool, onUpdate: OnUpdate, title: String,
        account: String, region: String, resource: String?, lastSeen: String?, mentions: String,
        routedChannel: String? = nil
    ) {
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

/// Finding timestamps (`2024-01-02T03:04:05.123Z`, with or without fraction, `Z` or `+hh:mm`) as milliseconds since
/// the epoch, to order events whose strings differ in form.
public enum EventTime {
    public static func millis(_ s: String) -> Int64? {
        let b = Array(s.utf8)
        func num(_ from: Int, _ n: Int) -> Int64? {
            guard from + n <= b.count else { return nil }
            var v: Int64 = 0
            for i in from..<(from + n) {
                guard b[i] >= 48 && b[i] <= 57 else { return nil }
                v = v * 10 + Int64(b[i] - 48)
            }
            return v
        }
        guard b.count >= 19, b[4] == 45, b[7] == 45, b[10] == 84 || b[10] == 116 || b[10] == 32, b[13] == 58,
            b[16] == 58, let y = num(0, 4), let mo = num(5, 2), let d = num(8, 2), let h = num(11, 2),
            let mi = num(14, 2), let sec = num(17, 2), (1...12).contains(mo), (1...31).contains(d)
        else { return nil }
        var i = 19
        var ms: Int64 = 0
        if i < b.count && b[i] == 46 {
            i += 1
            var digits = 0
            while i < b.count && b[i] >= 48 && b[i] <= 57 {
                if digits < 3 { ms = ms * 10 + Int64(b[i] - 48) }
                digits += 1
                i += 1
            }
            guard digits > 0 else { return nil }
            for _ in min(digits, 3)..<3 { ms *= 10 }
        }
        var offset: Int64 = 0
        if i < b.count {
            if b[i] == 90 || b[i] == 122 {
                i += 1
            } else if b[i] == 43 || b[i] == 45, let oh = num(i + 1, 2), let om = num(i + 4, 2), i + 3 < b.count,
                b[i + 3] == 58
            {
                offset = (oh * 60 + om) * 60_000 * (b[i] == 43 ? 1 : -1)
                i += 6
            } else {
                return nil
            }
        }
        guard i == b.count else { return nil }
        // Days from civil (Howard Hinnant's algorithm).
        let yy = mo <= 2 ? y - 1 : y
        let era = (yy >= 0 ? yy : yy - 399) / 400
        let yoe = yy - era * 400
        let mp = (mo + 9) % 12
        let doy = (153 * mp + 2) / 5 + d - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        let days = era * 146_097 + doe - 719_468
        return ((days * 24 + h) * 60 + mi) * 60_000 + sec * 1000 + ms - offset
    }

    /// Whether `a` is later than `b`: by time when both parse, else by string.
    public static func isNewer(_ a: String, than b: String) -> Bool {
        if let x = millis(a), let y = millis(b) { return x > y }
        return a > b
    }
}
