#if canImport(Glibc)
import Glibc
#endif
import RouterDelivery
import RouterFinding
import RouterRules
import RouterSlack

/// `router test`'s view of the finding lifecycle: for each delivery, what the router would do in Slack given the
/// state the earlier findings of the same run built (and, with `--state DIR`, the state a router saved there):
/// a new post, an edit with a thread reply, nothing. Writes stay in memory: the saved state is never changed.
/// Digests depend on the live backlog of a channel and are not simulated.
public final class LifecycleSimulator {
    private let store: InMemoryThreadStore
    private let destinations: DestinationSet
    private var nextTs = 1
    /// The saved state's queue (kept open for reads).
    private let saved: DeliveryQueue?

    /// One delivery's simulated outcome.
    public struct Step: Sendable, Equatable {
        public var action: LifecycleAction
        public var onUpdate: OnUpdate
        /// The thread reply's text when the action replies.
        public var reply: String?
        /// Whether the destination was assumed (not configured in this environment).
        public var assumedDestination: String?
    }

    /// `stateDirectory`: a router's data directory (its `queue.sqlite3`) to start from.
    public init(destinations: DestinationSet, stateDirectory: String?) throws(QueueError) {
        self.destinations = destinations
        if let dir = stateDirectory {
            let path = (dir.hasSuffix("/") ? dir : dir + "/") + DeliveryQueue.fileName
            guard access(path, R_OK) == 0 else {
                throw QueueError("--state \(dir): no saved state there (\(DeliveryQueue.fileName) is missing or unreadable)")
            }
            let queue = try DeliveryQueue(directory: dir)
            saved = queue
            store = InMemoryThreadStore(base: queue.threads)
        } else {
            saved = nil
            store = InMemoryThreadStore()
        }
    }

    /// What the deliveries of one finding would do, in order; the simulated state moves on as the router's would.
    public func steps(for finding: Finding, evaluation: Evaluation) -> [Step] {
        evaluation.deliveries.map { step(for: $0, finding: finding) }
    }

    /// Where a delivery would go in this environment; when its destination is not configured here, the Web API is
    /// assumed for `default` and an incoming webhook for a named one (and `assumed` says so).
    public static func destination(for d: RoutedDelivery, in destinations: DestinationSet) -> (Destination, assumed: String?) {
        if let resolved = DeliveryPlanner.destination(for: d, in: destinations) { return (resolved, nil) }
        if d.to == "default" {
            return (Destination(name: DestinationSet.webAPIName, kind: .webAPI(token: Secret(""), baseURL: "")),
                    "the Web API: SLACK_BOT_TOKEN is not set here")
        }
        return (Destination(name: d.to, kind: .webhook(url: Secret(""))),
                "an incoming webhook: SLACK_WEBHOOK_URL_\(DestinationSet.normalise(d.to)) is not set here")
    }

    private func step(for d: RoutedDelivery, finding: Finding) -> Step {
        let (destination, assumed) = Self.destination(for: d, in: destinations)
        // What the queue's delivery would carry, without rendering its payload: the lifecycle event and the
        // conversation (destination + the channel the rule chose).
        let event = DeliveryPlanner.event(d, finding: finding, destination: destination)
        let conversation = destination.name + "\u{1F}" + (d.channel ?? "")
        let severityLabel = finding.severityLabel.rawValue
        let previous = (try? store.load(findingId: finding.id, lane: conversation)) ?? nil
        let action = Lifecycle.decide(
            previous: previous, event: event, severityLabel: severityLabel, canEdit: destination.canEdit)
        var reply: String?
        let now = Double(time(nil))
        switch action {
        case .nothing:
            break
        case .post:
            let ts = "sim.\(nextTs)"
            nextTs += 1
            let record = ThreadRecord(
                findingId: finding.id, lane: conversation, channelID: destination.canEdit ? d.channel : nil,
                ts: destination.canEdit ? ts : nil, count: event.count, severityLabel: severityLabel,
                updatedAt: event.updatedAt, archived: event.archived, version: previous?.version ?? 0, touchedAt: now)
            if let previous {
                _ = try? store.replace(record, expectedVersion: previous.version)
            } else {
                _ = try? store.insert(record)
            }
        case .edit(_, _, let replies, let broadcast):
            if replies, let previous {
                reply = Lifecycle.replyText(
                    previous: previous, event: event, severityLabel: severityLabel, broadcast: broadcast)
            }
            fallthrough
        case .archive:
            if var record = previous {
                record.count = event.count
                record.severityLabel = severityLabel
                record.updatedAt = event.updatedAt
                record.archived = event.archived
                _ = try? store.replace(record, expectedVersion: record.version)
            }
        }
        return Step(action: action, onUpdate: event.onUpdate, reply: reply, assumedDestination: assumed)
    }
}
