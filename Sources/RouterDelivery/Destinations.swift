/// The Slack destinations configured for this process, from the environment:
/// - `SLACK_WEBHOOK_URL`: the `default` destination, an incoming webhook.
/// - `SLACK_BOT_TOKEN` (+ `SLACK_API_URL`, default `https://slack.com/api`): the Web API; deliveries without `to` then
///   go to their `channel` through `chat.postMessage`.
/// - `SLACK_WEBHOOK_URL_<NAME>`: a named webhook for deliveries with `to = "name"` (name upper-cased,
///   non-alphanumerics as `_`).
public struct DestinationSet: Sendable, Equatable {
    /// Name under which the Web API destination is stored in the queue.
    public static let webAPIName = "slack-api"

    public var defaultWebhook: Destination?
    public var webAPI: Destination?
    /// By normalised name (`TEAM_A`).
    public var named: [String: Destination]

    public init(defaultWebhook: Destination? = nil, webAPI: Destination? = nil, named: [String: Destination] = [:]) {
        self.defaultWebhook = defaultWebhook
        self.webAPI = webAPI
        self.named = named
    }

    public static func fromEnvironment(_ env: [String: String]) -> DestinationSet {
        var set = DestinationSet()
        if let url = env["SLACK_WEBHOOK_URL"], !url.isEmpty {
            set.defaultWebhook = Destination(name: "default", kind: .webhook(url: Secret(url)))
        }
        if let token = env["SLACK_BOT_TOKEN"], !token.isEmpty {
            var base = env["SLACK_API_URL"].flatMap { $0.isEmpty ? nil : $0 } ?? "https://slack.com/api"
            while base.hasSuffix("/") { base.removeLast() }
            set.webAPI = Destination(name: webAPIName, kind: .webAPI(token: Secret(token), baseURL: base))
        }
        let prefix = "SLACK_WEBHOOK_URL_"
        for (key, value) in env where key.hasPrefix(prefix) && !value.isEmpty && !SlackSecrets.isReferenceVariable(key) {
            let name = String(key.dropFirst(prefix.count))
            guard !name.isEmpty else { continue }
            set.named[name] = Destination(name: name.lowercased(), kind: .webhook(url: Secret(value)))
        }
        return set
    }

    /// `team-a` -> `TEAM_A`: the environment-variable suffix of a destination name.
    public static func normalise(_ name: String) -> String {
        String(
            name.unicodeScalars.map { s -> Character in
                let v = s.value
                if (v >= 0x30 && v <= 0x39) || (v >= 0x41 && v <= 0x5A) { return Character(s) }
                if v >= 0x61 && v <= 0x7A { return Character(Unicode.Scalar(v - 32)!) }
                return "_"
            })
    }

    /// Why nothing can be sent when `isEmpty`: the one message every runtime prints.
    public static let noneConfiguredMessage =
        "no Slack destination configured: set SLACK_WEBHOOK_URL (an incoming webhook) or SLACK_BOT_TOKEN"

    public var isEmpty: Bool { defaultWebhook == nil && webAPI == nil && named.isEmpty }

    /// Every secret, for redacting text from outside (library messages).
    public var secrets: [Secret] {
        ([defaultWebhook, webAPI].compactMap { $0 } + Array(named.values)).flatMap(\.secrets)
    }

    /// Where a delivery with this `to` goes: `default` (or no `to`) -> the Web API when a bot token is set, else the
    /// default webhook; any other name -> its `SLACK_WEBHOOK_URL_<NAME>` webhook. nil when not configured.
    public func resolve(to: String) -> Destination? {
        if to == "default" { return webAPI ?? defaultWebhook }
        return named[Self.normalise(to)]
    }

    /// The destination stored in the queue under `name` (`slack-api`, `default`, or a named webhook's name).
    public func stored(_ name: String) -> Destination? {
        if name == Self.webAPIName { return webAPI }
        if name == "default" { return defaultWebhook }
        return named[Self.normalise(name)]
    }

    /// What to tell a person when `to` does not resolve.
    public func missingMessage(to: String) -> String {
        if to == "default" {
            return "no default destination: set SLACK_WEBHOOK_URL (an incoming webhook) or SLACK_BOT_TOKEN"
        }
        return "destination '\(to)' is not configured: set SLACK_WEBHOOK_URL_\(Self.normalise(to))"
    }
}
