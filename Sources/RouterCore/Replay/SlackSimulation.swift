import RouterDelivery
import RouterFinding
import RouterRules
import RouterSlack

/// What Slack would have seen of one rule set's deliveries over a history, without sending anything: each lane
/// (destination + channel) paced by the delivery engine's token bucket (`--rate`, `--burst`, refilled 10% under the
/// rate), strictly in order, each delivery decided when the lane reaches it by the lifecycle's own rules
/// (``Lifecycle/decide(previous:event:severityLabel:canEdit:)``: first post, edit + thread reply, broadcast on a
/// severity rise, nothing) and bursts listed in digests by ``DigestRule`` as the engine does. Slack is assumed to answer
/// at once and never fail. Lanes never share state, so each is advanced only when a delivery arrives for it (and all
/// at the end).
final class SlackSimulation {
    /// One delivery waiting in a lane.
    struct Pending {
        var arrival: Double
        var findingId: String
        var number: Int32
        var type: String
        var conversation: String
        var event: FindingEvent
        var severityLabel: String
        var mentions: [Mention]
        var sample: Bool
    }

    struct Lane {
        var canEdit: Bool
        /// The engine's pacing of the lane.
        var bucket: TokenBucket
        var queue: [Pending] = []
        var head = 0
    }

    /// What the lane holds for a finding in a conversation (the thread store's record, compact).
    struct Record {
        var updatedAt: String
        var severityLabel: String
        var count: Int
        var archived: Bool
        var inDigest: Bool
        var posted: Bool
    }

    let policy: DeliveryPolicy
    private var lanes: [String: Lane] = [:]
    private var records: [String: Record] = [:]
    /// Per conversation (destination + channel): what was posted there.
    private(set) var channels: [String: ChannelStats] = [:]

    init(policy: DeliveryPolicy) {
        self.policy = policy
    }

    /// A delivery routed at `time` (the event's time) to `lane` (`canEdit`: the Web API).
    func enqueue(_ p: Pending, lane key: String, canEdit: Bool, destination: String, channel: String) {
        if channels[p.conversation] == nil {
            channels[p.conversation] = ChannelStats(destination: destination, channel: channel)
        }
        channels[p.conversation]!.routed(p)
        if lanes[key] == nil {
            lanes[key] = Lane(canEdit: canEdit, bucket: TokenBucket(policy: policy, at: p.arrival))
        }
        advance(key, to: p.arrival)
        lanes[key]!.queue.append(p)  // in place
        // Nothing waits ahead and a token is there: it goes out now (keeps queues empty in quiet times).
        advance(key, to: p.arrival)
    }

    /// Delivers everything still waiting (the end of the history: the lanes drain at their pace).
    func finish() {
        for key in lanes.keys { advance(key, to: .infinity) }
    }

    /// Sends what the lane can send up to `time`.
    private func advance(_ key: String, to time: Double) {
        // The lane is taken out of the dictionary while it is worked on, so its queue is never copied.
        guard var lane = lanes.removeValue(forKey: key) else { return }
        defer { lanes[key] = lane }
        while lane.head < lane.queue.count {
            // The earliest moment the head has arrived and a token is there.
            let at = lane.bucket.ready(from: max(lane.queue[lane.head].arrival, lane.bucket.last))
            guard at <= time else { break }
            lane.bucket.take(at: at)
            process(&lane, at: at)
            if lane.head > 1024 && lane.head * 2 > lane.queue.count {
                lane.queue.removeFirst(lane.head)
                lane.head = 0
            }
        }
    }

    private static func recordKey(_ conversation: String, _ findingId: String) -> String {
        conversation + "\u{1F}" + findingId
    }

    /// The lane's head goes out at `at`: alone, or with other waiting first events in a digest.
    private func process(_ lane: inout Lane, at: Double) {
        let item = lane.queue[lane.head]
        lane.head += 1
        let key = Self.recordKey(item.conversation, item.findingId)
        let previous = records[key]
        let firstHere = previous == nil
        // The backlog the engine would see: what has arrived by now, the head included.
        if DigestRule.opens(
            firstHere: firstHere, archived: item.event.archived, severityLabel: item.severityLabel,
            backlog: 1 + arrived(lane, by: at), policy: policy),
            digest(&lane, head: item, at: at)
        {
            return
        }
        let threadRecord = previous.map { r in
            ThreadRecord(
                findingId: item.findingId, lane: item.conversation, channelID: r.posted ? "C" : nil, ts: r.posted ? "1" : nil,
                count: r.count, severityLabel: r.severityLabel, updatedAt: r.updatedAt, archived: r.archived, inDigest: r.inDigest,
                version: 1, touchedAt: 0)
        }
        let action = Lifecycle.decide(
            previous: threadRecord, event: item.event, severityLabel: item.severityLabel, canEdit: lane.canEdit)
        // The stats are mutated in place (a copy would copy their dictionaries at every delivery).
        switch action {
        case .nothing:
            break
        case .post:
            channels[item.conversation]!.post(at: at, mentions: item.mentions, sample: item.sample)
            records[key] = Record(
                updatedAt: item.event.updatedAt, severityLabel: item.severityLabel, count: item.event.count,
                archived: item.event.archived, inDigest: false, posted: lane.canEdit)
        case .edit(_, _, let reply, let broadcast):
            channels[item.conversation]!.edits += 1
            if reply {
                channels[item.conversation]!.reply(at: at, broadcast: broadcast, mentions: broadcast ? item.mentions : [], sample: item.sample)
            }
            update(key, item)
        case .archive:
            channels[item.conversation]!.edits += 1
            update(key, item)
        }
    }

    private func update(_ key: String, _ item: Pending) {
        guard records[key] != nil else { return }
        records[key]!.updatedAt = item.event.updatedAt
        records[key]!.severityLabel = item.severityLabel
        records[key]!.count = item.event.count
        records[key]!.archived = item.event.archived
    }

    /// Waiting deliveries (after the head) that have arrived by `at`.
    private func arrived(_ lane: Lane, by at: Double) -> Int {
        var lo = lane.head, hi = lane.queue.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if lane.queue[mid].arrival <= at { lo = mid + 1 } else { hi = mid }
        }
        return lo - lane.head
    }

    /// The engine's digest: up to `maxDigestFindings - 1` other waiting deliveries that may join (in queue order), of
    /// findings nothing is stored for in their conversation; all of a chosen finding's waiting events are listed once.
    /// False when nothing joins (the head then goes out alone).
    private func digest(_ lane: inout Lane, head: Pending, at: Double) -> Bool {
        let end = lane.head + arrived(lane, by: at)
        var candidates: [Int] = []
        for i in lane.head..<end where candidates.count < policy.maxDigestFindings - 1 {
            if DigestRule.mayJoin(severityLabel: lane.queue[i].severityLabel, hasLifecycle: true) { candidates.append(i) }
        }
        let headKey = Self.recordKey(head.conversation, head.findingId)
        var claimed: Set<String> = [headKey]
        for i in candidates {
            let p = lane.queue[i]
            let k = Self.recordKey(p.conversation, p.findingId)
            if !p.event.archived, records[k] == nil { claimed.insert(k) }
        }
        let members = candidates.filter { claimed.contains(Self.recordKey(lane.queue[$0].conversation, lane.queue[$0].findingId)) }
        guard !members.isEmpty else { return false }
        var latest: [String: Pending] = [headKey: head]
        var mentions = head.mentions
        var order = [headKey]
        for i in members {
            let p = lane.queue[i]
            let k = Self.recordKey(p.conversation, p.findingId)
            if let seen = latest[k] {
                if EventTime.isNewer(p.event.updatedAt, than: seen.event.updatedAt) { latest[k] = p }
            } else {
                latest[k] = p
                order.append(k)
            }
            for m in p.mentions where !mentions.contains(m) { mentions.append(m) }
        }
        // The members leave the queue; the rest keep their order.
        let taken = Set(members)
        var rest: [Pending] = []
        rest.reserveCapacity(lane.queue.count - lane.head - members.count)
        for i in lane.head..<lane.queue.count where !taken.contains(i) { rest.append(lane.queue[i]) }
        lane.queue = rest
        lane.head = 0
        channels[head.conversation]!.digest(at: at, findings: order.count, mentions: mentions, samples: order.filter { latest[$0]!.sample }.count)
        for k in order {
            let p = latest[k]!
            records[k] = Record(
                updatedAt: p.event.updatedAt, severityLabel: p.severityLabel, count: p.event.count, archived: false,
                inDigest: true, posted: lane.canEdit)
        }
        return true
    }
}

/// What one conversation (destination + channel) received over the history.
struct ChannelStats {
    var destination: String
    var channel: String
    /// Distinct findings routed here, real and sample.
    var findingIds = Set<Int32>()
    var sampleFindingIds = Set<Int32>()
    var events = 0
    var posts = 0
    var replies = 0
    var broadcasts = 0
    var edits = 0
    var digests = 0
    var digestedFindings = 0
    /// Messages (posts, replies, digests) that came from sample findings.
    var sampleMessages = 0
    var mentions: [String: Int] = [:]
    /// Messages per UTC day (days since 1970-01-01) and per UTC hour (hours since 1970).
    var perDay: [Int: Int] = [:]
    var perHour: [Int: Int] = [:]
    var types: [String: Set<Int32>] = [:]

    init(destination: String, channel: String) {
        self.destination = destination
        self.channel = channel
    }

    var messages: Int { posts + replies + digests }

    mutating func routed(_ p: SlackSimulation.Pending) {
        events += 1
        if p.sample { sampleFindingIds.insert(p.number) } else { findingIds.insert(p.number) }
        types[p.type, default: []].insert(p.number)
    }

    private mutating func message(at: Double, mentions: [Mention], sample: Bool) {
        let day = Int((at / 86_400).rounded(.down)), hour = Int((at / 3_600).rounded(.down))
        perDay[day, default: 0] += 1
        perHour[hour, default: 0] += 1
        if sample { sampleMessages += 1 }
        for m in mentions { self.mentions[Self.kind(m), default: 0] += 1 }
    }

    mutating func post(at: Double, mentions: [Mention], sample: Bool) {
        posts += 1
        message(at: at, mentions: mentions, sample: sample)
    }

    mutating func reply(at: Double, broadcast: Bool, mentions: [Mention], sample: Bool) {
        replies += 1
        if broadcast { broadcasts += 1 }
        message(at: at, mentions: mentions, sample: sample)
    }

    mutating func digest(at: Double, findings: Int, mentions: [Mention], samples: Int) {
        digests += 1
        digestedFindings += findings
        message(at: at, mentions: mentions, sample: samples == findings)
    }

    /// `@here`, `@channel`, `@everyone`, `user group`, `user`.
    static func kind(_ m: Mention) -> String {
        switch m {
        case .here: "@here"
        case .channel: "@channel"
        case .everyone: "@everyone"
        case .group: "user group"
        case .user: "user"
        }
    }
}
