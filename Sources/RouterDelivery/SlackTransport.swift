/// Where a delivery is posted.
public struct Destination: Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        /// An incoming webhook: the URL is the secret; the channel is fixed by the webhook.
        case webhook(url: Secret)
        /// The Web API (`chat.postMessage`) with a bot token; `baseURL` like `https://slack.com/api` (no trailing slash).
        case webAPI(token: Secret, baseURL: String)
    }

    /// The name rules use in `to` (`default`, or a named webhook); `slack-api` for the bot token's Web API.
    public var name: String
    public var kind: Kind

    public init(name: String, kind: Kind) {
        self.name = name
        self.kind = kind
    }

    /// The Web API can edit messages and reply in threads; an incoming webhook can do neither.
    public var canEdit: Bool {
        if case .webAPI = kind { return true }
        return false
    }

    public var secrets: [Secret] {
        switch kind {
        case .webhook(let url): [url]
        case .webAPI(let token, _): [token]
        }
    }
}

/// One HTTP POST to Slack.
public struct SlackRequest: Sendable {
    public enum Method: String, Sendable { case webhook, postMessage = "chat.postMessage", update = "chat.update" }
    public var destination: Destination
    public var method: Method
    /// The JSON body (for the Web API it includes `channel`).
    public var body: [UInt8]

    public init(destination: Destination, method: Method, body: [UInt8]) {
        self.destination = destination
        self.method = method
        self.body = body
    }
}

/// What Slack's answer means for the delivery.
public enum SlackOutcome: Sendable, Equatable {
    /// Posted. The Web API returns the message's `ts` and channel ID; webhooks return neither.
    case delivered(ts: String?, channel: String?)
    /// HTTP 429 (or `ratelimited`): wait `retryAfter` seconds (when given) before sending anything to this destination.
    case rateLimited(retryAfter: Double?)
    /// Worth retrying with backoff: 5xx, timeouts, connection errors, Slack `internal_error`/`fatal_error`/...
    /// `code` is short and safe to show (`http_503`, `timeout`, `connect_failed`, `internal_error`).
    case retryable(code: String)
    /// Will fail the same way again: dead-letter at once with Slack's own code (`channel_not_found`, ...).
    case permanent(code: String, httpStatus: Int?)
}

/// The boundary to Slack. Implementations are called from delivery worker threads, one request at a time per call;
/// they block until Slack answered or the timeout passed. They never throw: every failure is an outcome.
public protocol SlackTransport: Sendable {
    func send(_ request: SlackRequest) -> SlackOutcome
}
