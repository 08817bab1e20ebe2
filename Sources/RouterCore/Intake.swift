import RouterDelivery
import RouterFinding
import RouterRules
import RouterSlack

/// What routing one input item produced: the deliveries to commit to the queue, and what to report.
public struct IntakeResult: Sendable {
    /// The finding's id, nil when the item was an input error.
    public var findingId: String?
    public var findingType: String?
    /// Where the item came from (`InputItem.source`).
    public var source: String
    /// The SQS `messageId` (or SNS `MessageId`) that carried it.
    public var recordId: String?
    public var deliveries: [NewDelivery] = []
    /// The rule file whose filter dropped it.
    public var droppedBy: String?
    public var unrouted = false
    /// `file:line: error: ...` lines, each naming the finding.
    public var ruleErrors: [String] = []
    /// `source: kind: message` when the item was not a usable finding.
    public var inputError: String?
    /// Deliveries not posted because, without a thread store, this event is an update that `on_update` ignores
    /// (`#channel (on_update = ignore; service.count 5)`).
    public var notPosted: [String] = []

    public init(source: String, recordId: String?) {
        self.source = source
        self.recordId = recordId
    }
}

/// Routes findings into queue entries: the part `router send`, the server and the Lambda share. Rule errors never
/// lose a finding (the engine's fallback delivery, or the default destination with a note when a computed `to` is
/// not configured); an unrouted finding goes to the fallback channel when one is set.
///
/// Not thread-safe (the rule engine is one Lua state): callers serialise `route`.
public final class Intake {
    public let engine: RuleEngine
    public let destinations: DestinationSet
    public let fallbackChannel: String?
    /// Whether the delivery engine keeps the finding lifecycle's state (a thread store): then every delivery carries
    /// its lifecycle facts and the engine decides at delivery time. Without one (a Lambda with no state table),
    /// updates are posted as new messages, or not at all when `on_update` ignores them.
    public var stateful: Bool
    /// Whether deliveries get the buttons their rules offer (`actions`): only with the Web API (a bot token) and
    /// Slack's signing secret (to verify the clicks), and a thread store (where clicks find the finding's message).
    public var actionsEnabled: Bool

    public init(
        engine: RuleEngine, destinations: DestinationSet, fallbackChannel: String?, stateful: Bool = true,
        actionsEnabled: Bool = false
    ) {
        self.engine = engine
        self.destinations = destinations
        self.fallbackChannel = fallbackChannel
        self.stateful = stateful
        self.actionsEnabled = actionsEnabled
    }

    /// The start-up check of every runtime: some destination is configured, the rules load, and every literal
    /// `to = "name"` is configured. Returns the reason (`file:line: error:` lines for rules) on failure.
    public static func load(
        rulesDirectory: String, destinations: DestinationSet, fallbackChannel: String?, limits: RuleLimits = .default
    ) -> Result<Intake, IntakeLoadError> {
        if destinations.isEmpty {
            return .failure(IntakeLoadError(kind: .noDestination, lines: [DestinationSet.noneConfiguredMessage]))
        }
        let engine: RuleEngine
        do {
            engine = try RuleEngine(directory: rulesDirectory, limits: limits)
        } catch {
            return .failure(IntakeLoadError(kind: .rules, lines: error.errors.map(\.description)))
        }
        let badOnUpdate = LiteralCheck.unknownOnUpdate(sources: engine.sources)
            + LiteralCheck.unknownActions(sources: engine.sources)
            + LiteralCheck.unknownFields(sources: engine.sources)
        if !badOnUpdate.isEmpty { return .failure(IntakeLoadError(kind: .rules, lines: badOnUpdate)) }
        let missing = LiteralCheck.missingDestinations(sources: engine.sources, destinations: destinations)
        if !missing.isEmpty { return .failure(IntakeLoadError(kind: .destinations, lines: missing)) }
        return .success(Intake(engine: engine, destinations: destinations, fallbackChannel: fallbackChannel))
    }

    public func route(_ item: InputItem, now: Double) -> IntakeResult {
        var result = IntakeResult(source: item.source, recordId: item.recordId)
        guard let finding = item.finding else {
            let e = item.error!
            result.inputError = "\(item.source): \(e.kind.rawValue): \(e.message)"
            return result
        }
        result.findingId = finding.id
        result.findingType = finding.type
        let context = EvaluationContext(now: now, mode: "live", fallbackChannel: fallbackChannel)
        var evaluation = engine.evaluate(finding, context: context)
        if let drop = evaluation.dropped {
            result.droppedBy = drop.file
            return result
        }
        if evaluation.unrouted {
            result.unrouted = true
            if let channel = fallbackChannel {
                evaluation.deliveries.append(
                    RoutedDelivery(
                        channel: channel, mentions: [], format: "detailed", to: "default", file: nil, fallback: true,
                        continueRouting: false,
                        message: SlackRenderer.detailed(finding, mentions: [], note: "Unrouted: no rule claimed this finding.")))
            }
        }
        for e in evaluation.errors {
            result.ruleErrors.append("\(e) (finding \(finding.id) from \(item.source))")
        }
        for d in evaluation.deliveries {
            guard let destination = DeliveryPlanner.destination(for: d, in: destinations) else {
                // Checked at start-up for literal names; a computed name that is not configured still never drops the
                // finding: it goes to the default destination with a note.
                result.ruleErrors.append(
                    "\(d.file ?? "router"): error: \(destinations.missingMessage(to: d.to)) (finding \(finding.id))")
                if let fallback = destinations.resolve(to: "default") {
                    let note = "Rule error: " + destinations.missingMessage(to: d.to)
                    let message = SlackRenderer.detailed(finding, mentions: d.mentions, note: note)
                    let redirected = RoutedDelivery(
                        channel: d.channel ?? fallbackChannel, mentions: d.mentions, format: "detailed", to: "default",
                        file: d.file, fallback: true, continueRouting: false, message: message, onUpdate: d.onUpdate)
                    add(redirected, finding: finding, destination: fallback, to: &result)
                }
                continue
            }
            add(d, finding: finding, destination: destination, to: &result)
        }
        return result
    }
}

extension Intake {
    private func add(_ d: RoutedDelivery, finding: Finding, destination: Destination, to result: inout IntakeResult) {
        if !stateful && !DeliveryPlanner.postsWithoutState(d, finding: finding, destination: destination) {
            let mode = DeliveryPlanner.onUpdate(d, destination: destination)
            result.notPosted.append(
                "\(d.channel ?? destination.name) (on_update = \(mode.rawValue) without a state table: a later event, "
                    + "service.count \(finding.count))")
            return
        }
        var d = d
        var findingJSON: [UInt8]? = nil
        if !d.actions.isEmpty, actionsEnabled, stateful, destination.canEdit {
            let conversation = destination.name + "\u{1F}" + (d.channel ?? "")
            let suppression = d.actions.contains(.suppress) ? SuppressionRule.from(finding, by: d.suppressBy) : nil
            let before = d.message
            d.message = ActionButtons.add(
                to: d.message, actions: d.actions,
                context: ActionButtons.Context(
                    findingId: finding.id, conversation: conversation, suppression: suppression, suppressBy: d.suppressBy))
            if d.message != before { findingJSON = finding.eventJSON }
        }
        var delivery = DeliveryPlanner.newDelivery(d, finding: finding, destination: destination, lifecycle: stateful)
        delivery.lifecycle?.findingJSON = findingJSON
        result.deliveries.append(delivery)
    }
}

public struct IntakeLoadError: Error, Sendable {
    /// `rules`: the rules do not load; `destinations`: a rule names a destination that is not configured;
    /// `noDestination`: no Slack destination at all.
    public enum Kind: Sendable { case rules, destinations, noDestination }
    public var kind: Kind
    /// `file:line: error: ...` lines.
    public var lines: [String]

    /// The exit status of a command that cannot start: 1 for rules that do not load, 78 for the configuration.
    public var exitStatus: Int32 { kind == .rules ? ExitStatus.ruleError : ExitStatus.config }
}
