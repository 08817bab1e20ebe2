#if canImport(Glibc)
import Glibc
#endif
import Logging
import RouterDelivery
import RouterFinding
import RouterJSON
import RouterRules
import RouterSlack

/// `router send RULES_DIR INPUT...`: route like `router test`, commit every delivery to the durable queue, deliver,
/// and wait until each one is delivered or dead-lettered.
public struct SendOptions: Sendable {
    public var rulesDirectory: String
    public var inputs: [String]
    public var dataDirectory: String
    public var fallbackChannel: String?
    public var limits: RuleLimits = .default
    public var inputLimits: InputLimits = .default
    public var policy: DeliveryPolicy = .default
    public var connectTimeout: Double = 5
    public var totalTimeout: Double = 15
    /// Stop delivering after this many seconds (what is left stays queued for the next run); nil waits for all.
    public var maxWait: Double?

    public init(rulesDirectory: String, inputs: [String], dataDirectory: String) {
        self.rulesDirectory = rulesDirectory
        self.inputs = inputs
        self.dataDirectory = dataDirectory
    }
}

extension ExitStatus {
    /// Some delivery went to the dead letter.
    public static let deadLettered: Int32 = 3
    /// The configuration is unusable (no destination, a rule names a destination that is not configured, the data
    /// directory cannot be opened).
    public static let config: Int32 = 78
}

/// The data directory: `--data`, else `$ROUTER_DATA_DIR`, else `$XDG_STATE_HOME/guardduty-router`, else
/// `~/.local/state/guardduty-router`.
public func defaultDataDirectory(_ env: [String: String]) -> String {
    if let d = env["ROUTER_DATA_DIR"], !d.isEmpty { return d }
    if let x = env["XDG_STATE_HOME"], !x.isEmpty { return x + "/guardduty-router" }
    if let h = env["HOME"], !h.isEmpty { return h + "/.local/state/guardduty-router" }
    return ".guardduty-router"
}

public func processEnvironment() -> [String: String] {
    var env: [String: String] = [:]
    var p = environ
    while let entry = p.pointee {
        let s = String(cString: entry)
        if let eq = s.firstIndex(of: "=") { env[String(s[..<eq])] = String(s[s.index(after: eq)...]) }
        p += 1
    }
    return env
}

/// Turns routed deliveries into queue entries.
public enum DeliveryPlanner {
    /// The idempotency key: finding id, `updatedAt`, destination, channel.
    public static func key(finding: Finding, destination: String, channel: String?) -> String {
        [finding.id, finding.updatedAt ?? "", destination, channel ?? ""].joined(separator: "|")
    }

    /// A webhook posts to the one channel it was created for, so its deliveries carry no channel: they form one lane
    /// (paced and ordered together), which is what Slack sees. With `lifecycle`, the delivery carries the finding's
    /// lifecycle facts (see ``FindingEvent``) for the engine's thread store.
    public static func newDelivery(
        _ d: RoutedDelivery, finding: Finding, destination: Destination, lifecycle: Bool = true
    ) -> NewDelivery {
        let payload = d.message.payloadBytes(channel: nil)
        let channel: String?
        switch destination.kind {
        case .webhook: channel = nil
        case .webAPI: channel = d.channel
        }
        return NewDelivery(
            key: key(finding: finding, destination: destination.name, channel: d.channel), findingId: finding.id,
            findingType: finding.type, severityLabel: finding.severityLabel.rawValue, destination: destination.name,
            channel: channel, payload: payload, textOnlyPayload: d.message.isTextOnly ? nil : d.message.textOnlyPayloadBytes(),
            lifecycle: lifecycle ? event(d, finding: finding, destination: destination) : nil)
    }

    /// The finding's lifecycle facts for a delivery: `on_update` is the rule's or the destination's default.
    public static func event(_ d: RoutedDelivery, finding: Finding, destination: Destination) -> FindingEvent {
        FindingEvent(
            updatedAt: finding.updatedAt ?? finding.createdAt ?? "", count: finding.count, severity: finding.severity,
            archived: finding.archived, onUpdate: onUpdate(d, destination: destination), title: finding.title,
            account: finding.account, region: finding.region, resource: finding.resourceSummary,
            lastSeen: finding.lastSeen, mentions: Mention.prefix(d.mentions), routedChannel: d.channel)
    }

    /// The rule's `on_update`, else `thread` for the Web API and `ignore` for webhooks.
    public static func onUpdate(_ d: RoutedDelivery, destination: Destination) -> OnUpdate {
        d.onUpdate ?? OnUpdate.defaultFor(canEdit: destination.canEdit)
    }

    /// Without a thread store (a Lambda without a state table): whether this event is posted at all. Nothing tells a
    /// finding's first event in a channel from a later one, so every event is posted (as `repost`), except where a
    /// rule asked for `on_update = "ignore"` explicitly: then only a finding's first event (`service.count` 1 and
    /// `updatedAt` = `createdAt`). A default `ignore` (a webhook's) still posts: a finding first seen at count 37
    /// (the router deployed while it was going on) must not be lost.
    public static func postsWithoutState(_ d: RoutedDelivery, finding: Finding, destination: Destination) -> Bool {
        guard d.onUpdate == .ignore else { return true }
        return !isLaterEvent(finding)
    }

    /// An event of a finding GuardDuty has published before: `service.count` above 1, or `updatedAt` after `createdAt`.
    public static func isLaterEvent(_ finding: Finding) -> Bool {
        if finding.count > 1 { return true }
        if let u = finding.updatedAt, let c = finding.createdAt { return EventTime.isNewer(u, than: c) }
        return false
    }

    /// Where a routed delivery goes. A delivery without a channel goes to the default webhook when there is one
    /// (the Web API needs a channel).
    public static func destination(for d: RoutedDelivery, in set: DestinationSet) -> Destination? {
        if d.to == "default" && d.channel == nil { return set.defaultWebhook ?? set.webAPI }
        return set.resolve(to: d.to)
    }
}

public enum Send {
    public static func run(
        _ options: SendOptions, environment: [String: String], transport: SlackTransport? = nil, out: OutputSink,
        err: OutputSink
    ) -> Int32 {
        defer {
            out.flush()
            err.flush()
        }
        var environment = environment
        switch SlackSecrets.environment(environment) {
        case .success(let resolved): environment = resolved
        case .failure(let f):
            err.line("router send: \(f)")
            return ExitStatus.config
        }
        let destinations = DestinationSet.fromEnvironment(environment)
        let intake: Intake
        switch Intake.load(
            rulesDirectory: options.rulesDirectory, destinations: destinations, fallbackChannel: options.fallbackChannel,
            limits: options.limits)
        {
        case .success(let i): intake = i
        case .failure(let e):
            for line in e.lines { err.line(line) }
            return e.exitStatus
        }
        let queue: DeliveryQueue
        do {
            queue = try DeliveryQueue(directory: options.dataDirectory)
        } catch {
            err.line("router send: cannot open the delivery queue in \(options.dataDirectory): \(error)")
            return ExitStatus.config
        }
        let now = Timestamps.now()
        var sawRuleError = false, sawInputError = false
        var counts = (findings: 0, dropped: 0, unrouted: 0, queued: 0, duplicates: 0)

        for input in options.inputs {
            var batch: [NewDelivery] = []
            InputReader.forEachItem(fromPath: input, limits: options.inputLimits) { (item: InputItem) in
                let r = intake.route(item, now: now)
                if let e = r.inputError {
                    sawInputError = true
                    err.line(e)
                    return
                }
                counts.findings += 1
                if r.droppedBy != nil {
                    counts.dropped += 1
                    return
                }
                if r.unrouted {
                    counts.unrouted += 1
                    err.line("unrouted: finding \(r.findingId ?? "") \(r.findingType ?? "") from \(item.source)")
                }
                for e in r.ruleErrors {
                    sawRuleError = true
                    err.line(e)
                }
                batch += r.deliveries
            }
            // Committed before anything is sent (and, for a server or Lambda, before the input is acknowledged).
            do {
                for r in try queue.enqueue(batch, now: Timestamps.now()) {
                    switch r {
                    case .queued: counts.queued += 1
                    case .duplicate: counts.duplicates += 1
                    }
                }
            } catch {
                err.line("router send: cannot queue deliveries: \(error)")
                return ExitStatus.config
            }
        }

        let secrets = destinations.secrets
        var logger = Logger(label: "router.delivery") { label in StreamLogHandler.standardError(label: label) }
        logger.logLevel = .info
        let log = logger
        let delivery = DeliveryEngine(
            queue: queue, destinations: destinations,
            transport: transport
                ?? CurlSlackTransport(connectTimeout: options.connectTimeout, totalTimeout: options.totalTimeout),
            policy: options.policy,
            log: { line in
                // Every line from the engine is redacted: no URL or token can reach the log.
                log.warning("\(Secret.redact(line, secrets))")
            }, threads: queue.threads)
        let summary = delivery.drain(until: options.maxWait.map { Timestamps.now() + $0 })
        let dead = (try? queue.counts().dead) ?? 0
        out.line(
            "\(counts.findings) finding\(counts.findings == 1 ? "" : "s"): \(counts.dropped) dropped, \(counts.unrouted) unrouted; "
                + "\(counts.queued) deliver\(counts.queued == 1 ? "y" : "ies") queued (\(counts.duplicates) already sent or queued); "
                + "\(summary.delivered) delivered, \(summary.deadLettered) dead-lettered, \(summary.retries) retried, "
                + "\(summary.pending) still pending; dead letter holds \(dead)"
                + (summary.skipped > 0 ? "; \(summary.skipped) needed nothing posted (already handled or ignored updates)" : "")
                + (summary.digests > 0 ? "; \(summary.digested) listed in \(summary.digests) digest\(summary.digests == 1 ? "" : "s")" : ""))
        if sawRuleError { return ExitStatus.ruleError }
        if summary.deadLettered > 0 { return ExitStatus.deadLettered }
        if sawInputError { return ExitStatus.inputError }
        return ExitStatus.ok
    }
}
