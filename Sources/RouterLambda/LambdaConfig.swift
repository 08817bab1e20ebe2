import RouterCore
import RouterDelivery
import RouterFinding
import RouterRules

/// What the Lambda runtime reads from its environment at init.
///
/// - `ROUTER_RULES`: the rules directory (default `$LAMBDA_TASK_ROOT/rules`, else `./rules`).
/// - `ROUTER_DATA_DIR`: the delivery queue's directory (default `/tmp/guardduty-router`: one per warm instance,
///   so a retried event whose deliveries were already posted is not posted again by that instance).
/// - `ROUTER_LAMBDA_MARGIN_MS`: time kept free before the invocation deadline to answer (default 1500; at most a
///   quarter of an invocation's time is kept).
/// - `ROUTER_LAMBDA_SLACK_TIMEOUT_MS`: the longest Slack request (default 10000; shorter when the invocation has
///   less time).
/// - `ROUTER_SLACK_RATE` (messages per second per channel, default 1) and `ROUTER_SLACK_BURST` (default 3): pacing.
/// - `ROUTER_FALLBACK_CHANNEL`: channel for unrouted findings and rule-error fallbacks.
/// - Slack destinations: `SLACK_WEBHOOK_URL`, `SLACK_BOT_TOKEN` (+ `SLACK_API_URL`), `SLACK_WEBHOOK_URL_<NAME>`.
/// - `ROUTER_STATE_TABLE`: the DynamoDB table of the finding lifecycle's state (with `AWS_REGION` and the function's
///   credentials; `ROUTER_DYNAMODB_ENDPOINT` overrides the endpoint). Without it, findings are not threaded.
/// - `ROUTER_DIGEST_WINDOW` (seconds, default 30; 0 turns digests off).
/// - Buttons: `SLACK_SIGNING_SECRET` (with `SLACK_BOT_TOKEN` and a state table) enables them, clicks arrive as function
///   URL requests; `ROUTER_GUARDDUTY_DETECTOR_ID` and `ROUTER_GUARDDUTY_ENDPOINT` (tests) for GuardDuty.
public struct LambdaConfig: Sendable {
    public var rulesDirectory: String
    public var dataDirectory: String
    public var fallbackChannel: String?
    public var destinations: DestinationSet
    /// Seconds kept free before the deadline (before capping to a quarter of the invocation's time).
    public var margin: Double = 1.5
    /// Longest Slack request, seconds.
    public var slackTimeoutCap: Double = 10
    public var limits: RuleLimits = .default
    /// SQS batches and synchronous invokes can carry up to 6 MB.
    public var inputLimits = InputLimits(maxBytes: CurlLambdaRuntimeAPI.maxEventBytes)
    public var policy: DeliveryPolicy = .default
    /// The finding lifecycle's state table; nil: updates are posted as new messages, or not at all (`ignore`).
    public var stateTable: DynamoDBConfig?
    /// Slack's signing secret (`SLACK_SIGNING_SECRET`): with the Web API and a state table, deliveries get the buttons
    /// their rules offer and the function answers clicks.
    public var signingSecret: Secret?
    /// GuardDuty for archive, feedback and suppression clicks; nil without AWS credentials.
    public var guardDuty: GuardDutyConfig?

    public init(rulesDirectory: String, dataDirectory: String, destinations: DestinationSet) {
        self.rulesDirectory = rulesDirectory
        self.dataDirectory = dataDirectory
        self.destinations = destinations
    }

    public static let defaultDataDirectory = "/tmp/guardduty-router"

    /// The configuration, or the init error to report (`Runtime.ConfigInvalid`).
    public static func fromEnvironment(_ env: [String: String]) -> Result<LambdaConfig, LambdaErrorReport> {
        func value(_ name: String) -> String? { env[name].flatMap { $0.isEmpty ? nil : $0 } }
        let rules = value("ROUTER_RULES") ?? value("LAMBDA_TASK_ROOT").map { $0 + "/rules" } ?? "rules"
        // No destination at all is reported by Intake.load, with the other start-up checks.
        let destinations = DestinationSet.fromEnvironment(env)
        var config = LambdaConfig(
            rulesDirectory: rules, dataDirectory: value("ROUTER_DATA_DIR") ?? defaultDataDirectory,
            destinations: destinations)
        config.fallbackChannel = value("ROUTER_FALLBACK_CHANNEL")
        for (name, keyPath, low, high) in [
            ("ROUTER_LAMBDA_MARGIN_MS", \LambdaConfig.margin, 0.0, 60_000.0),
            ("ROUTER_LAMBDA_SLACK_TIMEOUT_MS", \LambdaConfig.slackTimeoutCap, 100.0, 60_000.0),
        ] {
            guard let text = value(name) else { continue }
            guard let ms = Double(text), ms.isFinite, ms >= low, ms <= high else {
                return .failure(
                    LambdaErrorReport(
                        errorType: "Runtime.ConfigInvalid",
                        errorMessage: "\(name) must be milliseconds between \(Int(low)) and \(Int(high)), not '\(text.prefix(40))'"))
            }
            config[keyPath: keyPath] = ms / 1000
        }
        /// `name`'s number when set: within `range`, else the init error saying what it must be.
        func number(_ name: String, _ range: ClosedRange<Double>, integer: Bool = false, must what: String)
            -> Result<Double?, LambdaErrorReport>
        {
            guard let text = value(name) else { return .success(nil) }
            guard let v = Double(text), v.isFinite, range.contains(v), !integer || v == v.rounded() else {
                return .failure(
                    LambdaErrorReport(
                        errorType: "Runtime.ConfigInvalid", errorMessage: "\(name) must be \(what), not '\(text.prefix(40))'"))
            }
            return .success(v)
        }
        let rate = number("ROUTER_SLACK_RATE", 0.000_001...10_000, must: "messages per second from 0.000001 to 10000")
        let burst = number("ROUTER_SLACK_BURST", 1...10_000, integer: true, must: "a whole number of messages from 1 to 10000")
        let window = number("ROUTER_DIGEST_WINDOW", 0...3600, must: "seconds from 0 to 3600")
        do {
            if let r = try rate.get() { config.policy.ratePerSecond = r }
            if let b = try burst.get() { config.policy.burst = Int(b) }
            if let w = try window.get() { config.policy.digestWindow = w }
        } catch {
            return .failure(error)
        }
        switch DynamoDBConfig.fromEnvironment(env) {
        case nil: break
        case .success(let table)?: config.stateTable = table
        case .failure(let e)?:
            return .failure(LambdaErrorReport(errorType: "Runtime.ConfigInvalid", errorMessage: e.message))
        }
        config.signingSecret = value("SLACK_SIGNING_SECRET").map(Secret.init)
        switch GuardDutyConfig.fromEnvironment(env) {
        case nil: break
        case .success(let gd)?: config.guardDuty = gd
        case .failure(let e)?:
            return .failure(LambdaErrorReport(errorType: "Runtime.ConfigInvalid", errorMessage: e.message ?? e.code))
        }
        return .success(config)
    }

    /// How an invocation with `remaining` seconds spends them: deliveries start until `remaining - stopBefore`;
    /// each Slack request is bounded by `slackTimeout`, so the last one ends `margin` before the deadline.
    public func budget(remaining: Double) -> (stopBefore: Double, slackTimeout: Double) {
        let margin = min(self.margin, max(0, remaining / 4))
        // A whole number of half seconds, so invocations of one function share a transport (and its connections).
        let share = ((max(0, remaining - margin) * 0.3) * 2).rounded(.down) / 2
        let slackTimeout = min(slackTimeoutCap, max(min(1, slackTimeoutCap), share))
        return (margin + slackTimeout, slackTimeout)
    }
}
