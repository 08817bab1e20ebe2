import RouterSlack

/// What to do in Slack for one event of a finding, given what the lane already holds for it.
public enum LifecycleAction: Sendable, Equatable {
    /// A new top-level message, remembered as the finding's message from now on.
    case post(reason: String)
    /// `chat.update` of the finding's message (`channelID`, `ts`) with the new rendering; with `reply`, also a reply
    /// in its thread saying what changed, broadcast to the channel with the delivery's mentions when `broadcast`.
    case edit(channelID: String, ts: String, reply: Bool, broadcast: Bool)
    /// `chat.update` marking the message archived; nothing new is posted.
    case archive(channelID: String, ts: String)
    /// Nothing is sent (the event is still accounted for: the reason is recorded on the delivery).
    case nothing(reason: String)

    /// For people: `new post (first event of this finding here)`, `edit + thread reply`, ...
    public var summary: String {
        switch self {
        case .post(let reason): "new post (\(reason))"
        case .edit(_, _, let reply, let broadcast):
            reply ? (broadcast ? "edit + thread reply broadcast to the channel" : "edit + thread reply") : "edit in place"
        case .archive: "edit: marked archived"
        case .nothing(let reason): "nothing posted (\(reason))"
        }
    }

    /// `post`, `edit`, `edit+reply`, `edit+broadcast`, `archive`, `nothing`: for JSON output.
    public var kind: String {
        switch self {
        case .post: "post"
        case .edit(_, _, let reply, let broadcast): reply ? (broadcast ? "edit+broadcast" : "edit+reply") : "edit"
        case .archive: "archive"
        case .nothing: "nothing"
        }
    }
}

/// The finding lifecycle's rules, shared by the delivery engine and `router test`'s simulation.
public enum Lifecycle {
    /// - `previous`: what the lane holds for the finding (nil: never seen here).
    /// - `canEdit`: the destination is the Web API (a webhook can neither edit nor thread).
    public static func decide(
        previous: ThreadRecord?, event: FindingEvent, severityLabel: String, canEdit: Bool
    ) -> LifecycleAction {
        guard let previous, !previous.isClaimOnly else {
            if event.archived { return .nothing(reason: "archived before it was ever posted here") }
            return .post(reason: "first event of this finding here")
        }
        guard EventTime.isNewer(event.updatedAt, than: previous.updatedAt) else {
            return .nothing(reason: "already handled: updatedAt \(event.updatedAt) is not newer than \(previous.updatedAt)")
        }
        let message = (canEdit && !previous.inDigest) ? previous.ts.flatMap { ts in previous.channelID.map { ($0, ts) } } : nil
        if event.archived {
            if previous.archived { return .nothing(reason: "already marked archived") }
            guard let (channel, ts) = message else {
                return .nothing(reason: "archived; \(previous.inDigest ? "it was listed in a digest" : "a webhook message cannot be edited")")
            }
            return .archive(channelID: channel, ts: ts)
        }
        let raised = SeverityRank.of(severityLabel) > SeverityRank.of(previous.severityLabel)
        switch event.onUpdate.effective(canEdit: canEdit) {
        case .repost:
            return .post(reason: "on_update = repost")
        case .ignore:
            return raised
                ? .post(reason: "severity raised \(previous.severityLabel) -> \(severityLabel)")
                : .nothing(reason: "on_update = \(event.onUpdate == .ignore ? "ignore" : event.onUpdate.rawValue + " (a webhook cannot edit: acts as ignore)")")
        case .thread, .update:
            guard let (channel, ts) = message else {
                // Listed in a digest: its first message of its own.
                return .post(reason: "first message of its own (it was listed in a digest)")
            }
            let thread = event.onUpdate == .thread
            return .edit(channelID: channel, ts: ts, reply: thread, broadcast: thread && raised)
        }
    }

    /// The short thread reply saying what changed (`thread`): count, severity, last seen; with the mentions and the
    /// title when broadcast (it then shows in the channel on its own).
    public static func replyText(
        previous: ThreadRecord, event: FindingEvent, severityLabel: String, broadcast: Bool
    ) -> String {
        var parts: [String] = []
        if SeverityRank.of(severityLabel) > SeverityRank.of(previous.severityLabel) {
            parts.append(":arrow_up: Severity raised *\(previous.severityLabel)* -> *\(severityLabel)* (\(SlackRenderer.formatSeverity(event.severity)))")
        } else if severityLabel != previous.severityLabel {
            parts.append("Severity now *\(severityLabel)* (was \(previous.severityLabel))")
        }
        if event.count != previous.count {
            parts.append("\(parts.isEmpty ? "Seen" : "seen") \(event.count) time\(event.count == 1 ? "" : "s") (was \(previous.count))")
        }
        if let last = event.lastSeen {
            parts.append("last seen \(SlackText.findingInline(last))")
        }
        if parts.isEmpty { parts.append("Updated at \(SlackText.findingInline(event.updatedAt))") }
        var text = parts.joined(separator: ", ")
        if broadcast {
            text = event.mentions + text + ": " + SlackText.findingInline(event.title)
        } else {
            text = ":repeat: " + text
        }
        return text
    }
}
