import RouterFinding
import RouterJSON
import RouterSlack

/// Where a finding goes and what is posted there.
public struct RoutedDelivery: Sendable, Equatable {
    /// `#name` or a channel ID; nil for the fallback delivery when no fallback channel is configured (the default
    /// destination's own channel, as with an incoming webhook).
    public var channel: String?
    public var mentions: [Mention]
    /// `detailed`, `compact` or a custom format's name.
    public var format: String
    /// The destination's name (`default` unless the rule set `to`).
    public var to: String
    /// The rule file that chose it; nil for the router's own fallback delivery.
    public var file: String?
    /// True when a rule error sent the finding here (or changed how it is rendered).
    public var fallback: Bool
    public var continueRouting: Bool
    /// The rule's `on_update`; nil means the destination's default (`thread` for the Web API, `ignore` for webhooks).
    public var onUpdate: OnUpdate?
    /// The rendered Slack message (without channel).
    public var message: SlackMessage
    /// The buttons the rule offers (`actions`), in the order they appear.
    public var actions: [FindingAction]
    /// What `suppress` matches on (`suppress_by`); empty: the defaults (type, account, resource).
    public var suppressBy: [SuppressCriterion]

    public init(
        channel: String?, mentions: [Mention], format: String, to: String, file: String?, fallback: Bool,
        continueRouting: Bool, message: SlackMessage, onUpdate: OnUpdate? = nil, actions: [FindingAction] = [],
        suppressBy: [SuppressCriterion] = []
    ) {
        self.actions = actions
        self.suppressBy = suppressBy
        self.onUpdate = onUpdate
        self.channel = channel
        self.mentions = mentions
        self.format = format
        self.to = to
        self.file = file
        self.fallback = fallback
        self.continueRouting = continueRouting
        self.message = message
    }

    /// The exact `chat.postMessage` body.
    public var payload: JSONValue { message.payload(channel: channel) }

    /// The exact `chat.postMessage` body as compact JSON: `payload.serializedBytes()`, without building the tree.
    public func payloadBytes() -> [UInt8] { message.payloadBytes(channel: channel) }
}

/// One filter or route call, for `--explain`.
public struct TraceEntry: Sendable, Equatable {
    public enum Outcome: Sendable, Equatable {
        case kept
        case dropped(reason: String?)
        case routed(count: Int, continues: Bool)
        case noRoute
        case error(RuleError)
    }
    public var phase: RuleError.Phase
    public var file: String
    public var line: Int?
    public var outcome: Outcome
}

/// The decision for one finding.
public struct Evaluation: Sendable {
    public struct Drop: Sendable, Equatable {
        public var file: String
        public var reason: String?
        public init(file: String, reason: String?) {
            self.file = file
            self.reason = reason
        }
    }
    public var dropped: Drop?
    public var deliveries: [RoutedDelivery] = []
    public var errors: [RuleError] = []
    public var trace: [TraceEntry] = []
    /// What the scripts printed while evaluating this finding.
    public var output: String = ""

    /// No rule claimed the finding (and no rule error sent it to the fallback).
    public var unrouted: Bool { dropped == nil && deliveries.isEmpty }
}

/// The rules' verdict on a click (`permit(action, user, f, ctx)` of every file that defines it, in file order).
public struct PermitDecision: Sendable, Equatable {
    public var allowed: Bool
    /// The file whose answer decided: the first that said false, else the first that said true; nil when no file had
    /// an opinion (then the click is denied) or a rule error decided.
    public var file: String?
    /// The reason the deciding file gave, or why the click is denied when no file did.
    public var reason: String?
    /// A rule error denies the click.
    public var errors: [RuleError] = []
    /// What the scripts printed.
    public var output: String = ""

    public init(allowed: Bool, file: String?, reason: String?, errors: [RuleError] = [], output: String = "") {
        self.allowed = allowed
        self.file = file
        self.reason = reason
        self.errors = errors
        self.output = output
    }
}

/// Who clicked, as Slack names them.
public struct PermitUser: Sendable, Equatable {
    public var id: String
    public var name: String?
    public var team: String?

    public init(id: String, name: String? = nil, team: String? = nil) {
        self.id = id
        self.name = name
        self.team = team
    }
}
