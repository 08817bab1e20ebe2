import RouterDelivery
import RouterFinding
import RouterRules
import RouterSlack

/// One rule set over the history: every event evaluated at its own time, the deliveries simulated in Slack, and
/// what the rules did that sent nothing (drops, unrouted findings, rule errors).
final class RuleSetReplay {
    let name: String
    let engine: RuleEngine
    let destinations: DestinationSet
    let simulation: SlackSimulation
    let fallbackChannel: String?

    struct Drop: Hashable {
        var file: String
        var reason: String
    }

    var events = 0
    var drops: [Drop: (events: Int, findings: Set<Int32>)] = [:]
    var unroutedEvents = 0
    var unroutedFindings = Set<Int32>()
    var unroutedTypes: [String: Int] = [:]
    /// `file:line: message` -> events.
    var ruleErrors: [String: Int] = [:]
    var fallbacks = 0
    var assumed = Set<String>()

    init(name: String, engine: RuleEngine, destinations: DestinationSet, policy: DeliveryPolicy, fallbackChannel: String?) {
        self.name = name
        self.engine = engine
        self.destinations = destinations
        self.simulation = SlackSimulation(policy: policy)
        self.fallbackChannel = fallbackChannel
    }

    /// Evaluates one event and hands its deliveries to the simulation. Returns its outcome, for comparisons.
    /// `number`: the finding's number in the history (its id, interned).
    func replay(_ e: ReplayEvent, number: Int32) -> Outcome {
        let f = e.finding
        events += 1
        let context = EvaluationContext(now: e.time, mode: "replay", fallbackChannel: fallbackChannel)
        var ctx = context
        ctx.render = false
        let evaluation = engine.evaluate(f, context: ctx)
        for error in evaluation.errors {
            ruleErrors["\(error)", default: 0] += 1
        }
        if let drop = evaluation.dropped {
            // Mutated in place: a copy of the entry would copy its set of findings at every event.
            let key = Drop(file: drop.file, reason: drop.reason ?? "")
            drops[key, default: (0, [])].events += 1
            drops[key, default: (0, [])].findings.insert(number)
            // By file name: the same file in two rules directories is the same rule.
            return .dropped(file: Outcome.base(drop.file), reason: drop.reason)
        }
        if evaluation.unrouted && evaluation.deliveries.isEmpty {
            unroutedEvents += 1
            unroutedFindings.insert(number)
            unroutedTypes[f.type, default: 0] += 1
            return .unrouted
        }
        var channels: [String] = []
        for d in evaluation.deliveries {
            if d.fallback { fallbacks += 1 }
            let (destination, assumedWhat) = LifecycleSimulator.destination(for: d, in: destinations)
            if let assumedWhat { assumed.insert(assumedWhat) }
            // What the lifecycle's decision reads (no reply is written here: the texts stay empty).
            let event = FindingEvent(
                updatedAt: f.updatedAt ?? f.createdAt ?? "", count: f.count, severity: f.severity, archived: f.archived,
                onUpdate: DeliveryPlanner.onUpdate(d, destination: destination), title: "", account: "", region: "",
                resource: nil, lastSeen: nil, mentions: "")
            let channel = d.channel ?? "(the webhook's channel)"
            let laneChannel: String
            switch destination.kind {
            case .webhook: laneChannel = ""
            case .webAPI: laneChannel = d.channel ?? ""
            }
            let conversation = destination.name + "\u{1F}" + (d.channel ?? "")
            simulation.enqueue(
                SlackSimulation.Pending(
                    arrival: e.time, findingId: f.id, number: number, type: f.type, conversation: conversation, event: event,
                    severityLabel: f.severityLabel.rawValue, mentions: d.mentions, sample: f.sample),
                lane: destination.name + "\u{1F}" + laneChannel, canEdit: destination.canEdit, destination: destination.name,
                channel: channel)
            channels.append(channel)
        }
        return evaluation.errors.isEmpty ? .delivered(Array(Set(channels)).sorted()) : .error(Array(Set(channels)).sorted())
    }

    /// What one event's routing came to, compared between rule sets.
    enum Outcome: Equatable {
        case dropped(file: String, reason: String?)
        case unrouted
        case delivered([String])
        /// A rule error: the finding still went to the fallback delivery (the channels listed).
        case error([String])

        var delivers: Bool {
            switch self {
            case .delivered, .error: true
            default: false
            }
        }

        var text: String {
            switch self {
            case .dropped(let file, let reason): "dropped by \(file)" + (reason.map { ": \($0)" } ?? "")
            case .unrouted: "unrouted"
            case .delivered(let c): c.joined(separator: ", ")
            case .error(let c): "rule error (fallback to \(c.joined(separator: ", ")))"
            }
        }

        static func base(_ path: String) -> String { path.split(separator: "/").last.map(String.init) ?? path }
    }
}
