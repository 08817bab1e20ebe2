import RouterDelivery
import RouterRules

/// Whether this process can offer buttons, from its environment: the Web API (`SLACK_BOT_TOKEN`: chat.update and
/// thread replies) and Slack's signing secret (`SLACK_SIGNING_SECRET`: the only authentication of a click).
public struct ActionsSetup: Sendable {
    public var signingSecret: Secret?
    public var webAPI: Destination?

    public init(signingSecret: Secret?, webAPI: Destination?) {
        self.signingSecret = signingSecret
        self.webAPI = webAPI
    }

    public static func fromEnvironment(_ env: [String: String], destinations: DestinationSet) -> ActionsSetup {
        ActionsSetup(
            signingSecret: env["SLACK_SIGNING_SECRET"].flatMap { $0.isEmpty ? nil : Secret($0) }, webAPI: destinations.webAPI)
    }

    public var enabled: Bool { signingSecret != nil && webAPI != nil }

    /// What is missing for buttons, or nil.
    public var missing: String? {
        switch (webAPI == nil, signingSecret == nil) {
        case (true, true): "SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET are not set"
        case (true, false): "SLACK_BOT_TOKEN is not set"
        case (false, true): "SLACK_SIGNING_SECRET is not set"
        default: nil
        }
    }

    /// The one start-up warning when rules offer buttons that cannot be shown (nil otherwise): names the first places.
    public func warning(rules: RuleEngine, stateful: Bool = true) -> String? {
        var why = missing
        if why == nil && !stateful { why = "there is no state table (ROUTER_STATE_TABLE) to keep the messages' state in" }
        guard let why else { return nil }
        let places = LiteralCheck.offeredActions(sources: rules.sources)
        guard !places.isEmpty else { return nil }
        let shown = places.prefix(3).joined(separator: ", ") + (places.count > 3 ? " and \(places.count - 3) more" : "")
        return "rules offer buttons (actions at \(shown)) but \(why): deliveries are posted without them"
    }
}
