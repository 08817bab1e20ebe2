import RouterActions
import RouterCore
import RouterDelivery
import RouterFinding
import RouterJSON

#if canImport(Glibc)
    import Glibc
#endif

/// How one invocation is answered.
public enum LambdaOutcome: Sendable, Equatable {
    /// `POST .../response` with this body.
    case response([UInt8])
    /// `POST .../error`.
    case error(LambdaErrorReport)
}

/// Handles one invocation after init: reads the event (EventBridge event, SNS records, SQS records, arrays of
/// them), routes every finding, commits its deliveries to the durable queue, delivers them within the invocation's
/// time, and answers:
/// - every delivery delivered (or the finding dropped): a success response;
/// - a delivery Slack refused for good: an error `Router.SlackPermanentError` naming Slack's code;
/// - a delivery still pending at the deadline or given up: an error `Router.DeliveryFailed` (Lambda's retries and
///   its on-failure destination keep the event);
/// - input that is not a finding: an error `Router.InvalidInput` with the reason.
/// An SQS batch (`Records[].eventSource == "aws:sqs"`) gets `{"batchItemFailures":[...]}` naming only the records
/// whose body is not a usable finding or whose deliveries did not all succeed.
///
/// A retried event finds its deliveries by their idempotency keys: those already posted are not posted again; those
/// that went to the dead letter are put back and tried again. Not thread-safe: one invocation at a time.
public final class LambdaHandler {
    public let config: LambdaConfig
    public let intake: Intake
    public let queue: DeliveryQueue
    public let log: LambdaLog
    private let clock: RouterClock
    private let transportOverride: SlackTransport?
    /// The finding lifecycle's state (DynamoDB); nil without a state table.
    public let threads: ThreadStore?
    /// Engines by Slack timeout (ms): kept so connections and pacing survive from one invocation to the next.
    private var engines: [Int: DeliveryEngine] = [:]
    /// Clicks on finding buttons (function URL requests); nil when buttons are not enabled.
    public let clicks: ActionProcessor?
    /// The click acknowledged by the last answer, to carry out before the next invocation.
    private var pendingClick: SlackInteraction?
    /// Reads Slack secrets again when Slack refuses them (rotation); nil when none came from Secrets Manager.
    public var secrets: SecretRefresher?

    public init(
        config: LambdaConfig, intake: Intake, queue: DeliveryQueue, log: LambdaLog, transport: SlackTransport? = nil,
        clock: RouterClock = SystemClock(), threads: ThreadStore? = nil, clicks: ActionProcessor? = nil
    ) {
        self.clicks = clicks
        self.threads = threads
        self.config = config
        self.intake = intake
        self.queue = queue
        self.log = log
        self.transportOverride = transport
        self.clock = clock
    }

    /// One routed input item and the record (SQS batch index) it came from.
    private struct Routed {
        var result: IntakeResult
        var record: Int?
    }

    public func handle(_ invocation: LambdaInvocation) -> LambdaOutcome {
        let start = clock.now()
        if let trace = invocation.traceId { setenv("_X_AMZN_TRACE_ID", trace, 1) } else { unsetenv("_X_AMZN_TRACE_ID") }
        if invocation.bodyTooLarge {
            return fail("Router.InvalidInput", "event is larger than \(config.inputLimits.maxBytes) bytes; not read")
        }

        // Read: one parse; SQS batches are recognised on the parsed document, function URL requests too.
        var sqsRecordIds: [String?]?
        var items: [InputItem]
        if invocation.body.count <= config.inputLimits.maxBytes,
            let document = try? JSONDocument(bytes: invocation.body, maxDepth: config.inputLimits.maxDepth)
        {
            let root = document.root
            if let request = FunctionURLRequest.from(root) { return handleHTTP(request) }
            if root.kind == .object, let records = root["Records"], records.kind == .array, records.count > 0,
                records.elements.allSatisfy({ $0["eventSource"]?.stringEquals("aws:sqs") ?? false })
            {
                sqsRecordIds = records.elements.map { $0["messageId"]?.string }
            }
            items = InputReader.items(from: root, source: "event", limits: config.inputLimits)
        } else {
            items = InputReader.items(fromBytes: invocation.body, source: "event", limits: config.inputLimits)
        }

        // Route.
        let now = start
        var routed: [Routed] = []
        routed.reserveCapacity(items.count)
        for item in items {
            let r = intake.route(item, now: now)
            routed.append(Routed(result: r, record: sqsRecordIds == nil ? nil : Self.recordIndex(item.source)))
            if let e = r.inputError {
                log.warn("input is not a usable finding", [("error", e)] + (r.recordId.map { [("messageId", $0)] } ?? []))
            }
            for e in r.ruleErrors { log.warn("rule error (the fallback delivery goes out)", [("error", e)]) }
            for n in r.notPosted { log.info("update not posted", [("findingId", r.findingId ?? ""), ("delivery", n)]) }
            if let file = r.droppedBy {
                log.info("finding dropped", [("findingId", r.findingId ?? ""), ("by", file)])
            } else if r.unrouted && r.deliveries.isEmpty {
                log.warn("finding unrouted (no rule claimed it and no ROUTER_FALLBACK_CHANNEL)", [("findingId", r.findingId ?? "")])
            }
        }

        // Commit, then deliver.
        let deliveries = routed.flatMap(\.result.deliveries)
        var statuses: [String: DeliveryStatus] = [:]
        if !deliveries.isEmpty {
            do {
                let keys = deliveries.map(\.key)
                let results = try queue.enqueue(deliveries, now: clock.now())
                let duplicates = results.filter { if case .duplicate = $0 { true } else { false } }.count
                statuses = try queue.statuses(keys: keys)
                let dead = statuses.values.filter { $0.state == .dead }.map(\.id)
                if !dead.isEmpty {
                    // A retried event: what failed before is tried again now.
                    try queue.replay(ids: dead, now: clock.now())
                    log.info("retrying deliveries that failed in an earlier invocation", [("count", String(dead.count))])
                }
                if duplicates > 0 {
                    let posted = statuses.values.filter { $0.state == .delivered }.count
                    log.info(
                        "event seen before", [("alreadyDelivered", String(posted)), ("duplicates", String(duplicates))])
                }
                if statuses.values.contains(where: { $0.state != .delivered }) {
                    let deadline = invocation.deadlineMs > 0 ? Double(invocation.deadlineMs) / 1000 : start + 3
                    let budget = config.budget(remaining: deadline - clock.now())
                    _ = engine(slackTimeout: budget.slackTimeout).drain(until: deadline - budget.stopBefore)
                    statuses = try queue.statuses(keys: keys)
                }
            } catch {
                return fail("Router.QueueError", "\(error)")
            }
        }

        // Answer.
        func undelivered(_ r: IntakeResult) -> [DeliveryStatus] {
            r.deliveries.compactMap { d in
                guard let s = statuses[d.key] else { return DeliveryStatus(id: -1, state: .pending, attempts: 0, lastError: "not queued") }
                return s.state == .delivered ? nil : s
            }
        }
        let failures = routed.flatMap { undelivered($0.result) }
        let summary: [(String, String)] = [
            ("findings", String(routed.filter { $0.result.findingId != nil }.count)),
            ("dropped", String(routed.filter { $0.result.droppedBy != nil }.count)),
            ("deliveries", String(Set(deliveries.map(\.key)).count)),
            ("undelivered", String(Set(failures.map(\.id)).count)),
            ("inputErrors", String(routed.filter { $0.result.inputError != nil }.count)),
            ("durationMs", String(Int(((clock.now() - start) * 1000).rounded()))),
        ]
        for f in Self.unique(failures) {
            let code = f.lastError ?? "no attempt before the deadline"
            log.error(
                Self.isPermanent(f) ? "Slack refused a delivery for good" : "delivery not done",
                [("deliveryId", String(f.id)), ("state", f.state.rawValue), ("attempts", String(f.attempts)), ("code", code)])
        }

        if let ids = sqsRecordIds {
            var failed = Set<Int>()
            var seen = Set<Int>()
            for r in routed {
                guard let i = r.record else { continue }
                seen.insert(i)
                if r.result.inputError != nil || !undelivered(r.result).isEmpty { failed.insert(i) }
            }
            // A record that yielded nothing (an empty array body) is not a usable finding either.
            for i in ids.indices where !seen.contains(i) { failed.insert(i) }
            var out: [UInt8] = Array(#"{"batchItemFailures":["#.utf8)
            for (n, i) in failed.sorted().enumerated() {
                guard let id = ids[i] else {
                    return fail("Router.InvalidInput", "SQS record #\(i) failed and has no messageId: the whole batch is retried")
                }
                if n > 0 { out.append(UInt8(ascii: ",")) }
                out += Array(#"{"itemIdentifier":"#.utf8)
                JSONString.write(id, into: &out)
                out.append(UInt8(ascii: "}"))
            }
            out += Array("]}".utf8)
            log.info("SQS batch handled", summary + [("records", String(ids.count)), ("failedRecords", String(failed.count))])
            return .response(out)
        }

        log.info("invocation handled", summary)
        let unique = Self.unique(failures)
        if let permanent = unique.first(where: Self.isPermanent) {
            return fail(
                "Router.SlackPermanentError",
                "Slack refused \(unique.filter(Self.isPermanent).count) delivery(ies) for good: \(permanent.lastError ?? "")"
                    + " (delivery \(permanent.id))")
        }
        if !unique.isEmpty {
            let pending = unique.filter { $0.state == .pending }.count
            let last = unique.compactMap(\.lastError).first ?? "no attempt before the deadline"
            return fail(
                "Router.DeliveryFailed",
                "\(unique.count) of \(Set(deliveries.map(\.key)).count) deliveries not delivered (\(pending) still pending at the deadline); last error: \(last)")
        }
        let inputErrors = routed.compactMap(\.result.inputError)
        if !inputErrors.isEmpty {
            let shown = inputErrors.prefix(3).joined(separator: "; ")
            let more = inputErrors.count > 3 ? " (and \(inputErrors.count - 3) more)" : ""
            return fail("Router.InvalidInput", "not a GuardDuty finding: \(shown)\(more)")
        }
        if routed.isEmpty { return fail("Router.InvalidInput", "the event holds no finding") }
        var out: [UInt8] = Array(#"{"findings":"#.utf8)
        out += Array(summary[0].1.utf8) + Array(#","dropped":"#.utf8) + Array(summary[1].1.utf8)
        out += Array(#","delivered":"#.utf8) + Array(summary[2].1.utf8) + [UInt8(ascii: "}")]
        return .response(out)
    }

    /// A function URL request: a click on a finding's button (Slack's Interactivity Request URL), verified here and
    /// acknowledged at once; ``finishAfterResponse()`` then carries it out. Anything else is refused.
    func handleHTTP(_ request: FunctionURLRequest) -> LambdaOutcome {
        guard clicks != nil, let secret = config.signingSecret else {
            log.warn("a function URL request, but Slack actions are not enabled (SLACK_SIGNING_SECRET, SLACK_BOT_TOKEN, ROUTER_STATE_TABLE)")
            return .response(FunctionURLRequest.response(status: 404, body: ["error": "Slack actions are not enabled"]))
        }
        guard request.method == "POST" else {
            return .response(FunctionURLRequest.response(status: 405, body: ["error": "POST only"]))
        }
        let (answer, click) = ClickEndpoint.accept(
            body: request.body, timestamp: request.headers["x-slack-request-timestamp"],
            signature: request.headers["x-slack-signature"], secret: secret, now: clock.now())
        if let error = answer.error {
            log.warn("click refused", [("status", String(answer.status)), ("error", error)])
            return .response(FunctionURLRequest.response(status: answer.status, body: ["error": .string(error)]))
        }
        pendingClick = click
        return .response(FunctionURLRequest.response(status: 200))
    }

    /// Carries out the click the last answer acknowledged (if any); the runtime calls it after answering.
    public func finishAfterResponse() {
        guard let click = pendingClick, let clicks else { return }
        pendingClick = nil
        let result = clicks.handle(click)
        log.info(
            "click handled",
            [("action", click.action.rawValue), ("user", click.user.id), ("findingId", click.findingId),
             ("outcome", result.outcome.rawValue), ("detail", result.detail)])
    }

    private func fail(_ type: String, _ message: String) -> LambdaOutcome {
        log.error("invocation failed", [("errorType", type), ("errorMessage", message)])
        return .error(LambdaErrorReport(errorType: type, errorMessage: message))
    }

    /// The engine for deliveries bounded by `slackTimeout` seconds.
    private func engine(slackTimeout: Double) -> DeliveryEngine {
        let key = Int((slackTimeout * 1000).rounded())
        if let e = engines[key] { return e }
        let transport =
            transportOverride
            ?? CurlSlackTransport(connectTimeout: min(3, slackTimeout), totalTimeout: slackTimeout, userAgent: "guardduty-router-lambda")
        let log = self.log
        let e = DeliveryEngine(
            queue: queue, destinations: config.destinations, transport: transport, policy: config.policy, clock: clock,
            log: { line in log.warn(line) }, threads: threads)
        e.secrets = secrets
        engines[key] = e
        return e
    }

    /// A dead delivery refused by Slack itself (not one given up after retries).
    static func isPermanent(_ s: DeliveryStatus) -> Bool {
        s.state == .dead && !(s.lastError ?? "").hasPrefix("gave up after")
    }

    static func unique(_ list: [DeliveryStatus]) -> [DeliveryStatus] {
        var seen = Set<Int64>()
        return list.filter { seen.insert($0.id).inserted }
    }

    /// `event#3#0` -> 3.
    static func recordIndex(_ source: String) -> Int? {
        guard source.hasPrefix("event#") else { return nil }
        return Int(source.dropFirst(6).prefix { $0 != "#" })
    }
}
