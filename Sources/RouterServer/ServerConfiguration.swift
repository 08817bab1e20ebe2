import RouterDelivery
import RouterFinding
import RouterRules

/// Everything `router serve` needs, from its command line and environment.
public struct ServerConfiguration: Sendable {
    public var rulesDirectory: String
    /// The address to listen on.
    public var host: String
    public var port: Int
    public var dataDirectory: String
    /// Largest request body accepted, in bytes (1 MiB by default).
    public var maxBody: Int = 1 << 20
    /// The API token (`ROUTER_API_TOKEN`); nil only with `noAuth`.
    public var apiToken: Secret?
    /// A header that may carry the token instead of `Authorization: Bearer` (e.g. `x-api-key`).
    public var apiKeyHeader: String?
    /// No authentication: allowed on a loopback address only.
    public var noAuth = false
    public var fallbackChannel: String?
    /// Hosts allowed to serve SNS signing certificates (patterns like `sns.*.amazonaws.com`).
    public var snsAllowedHosts: [String] = SNSVerifier.defaultAllowedHosts
    public var limits: RuleLimits = .default
    public var policy: DeliveryPolicy = .default
    public var connectTimeout: Double = 5
    public var totalTimeout: Double = 15
    /// How long delivered rows are kept.
    public var deliveredRetention: Double = DeliveryQueue.defaultDeliveredRetention
    /// After SIGTERM/SIGINT, how long requests in flight may take before the process exits without them.
    public var shutdownGrace: Double = 8
    /// The process environment (Slack destinations).
    public var environment: [String: String] = [:]

    public init(rulesDirectory: String, host: String, port: Int, dataDirectory: String) {
        self.rulesDirectory = rulesDirectory
        self.host = host
        self.port = port
        self.dataDirectory = dataDirectory
    }

    /// The input limits of one request body.
    var inputLimits: InputLimits { InputLimits(maxBytes: maxBody) }

    /// Parses `HOST:PORT` (`[::1]:8080` for IPv6); nil when it is not one.
    public static func parseListen(_ text: String) -> (host: String, port: Int)? {
        var host: Substring
        let portText: Substring
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else { return nil }
            host = text[text.index(after: text.startIndex)..<close]
            let rest = text[text.index(after: close)...]
            guard rest.hasPrefix(":") else { return nil }
            portText = rest.dropFirst()
        } else {
            guard let colon = text.lastIndex(of: ":") else { return nil }
            host = text[..<colon]
            portText = text[text.index(after: colon)...]
            if host.contains(":") { return nil }
        }
        if host.isEmpty { host = "0.0.0.0" }
        guard let port = Int(portText), (0...65535).contains(port) else { return nil }
        return (String(host), port)
    }

    /// Whether `host` is a loopback address (`127.0.0.0/8`, `::1`, `localhost`).
    public static func isLoopback(_ host: String) -> Bool {
        if host == "localhost" || host == "::1" { return true }
        let parts = host.split(separator: ".", omittingEmptySubsequences: false)
        return parts.count == 4 && parts[0] == "127" && parts.allSatisfy { UInt8($0) != nil }
    }
}
