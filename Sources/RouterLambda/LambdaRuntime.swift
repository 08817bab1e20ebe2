import RouterActions
import RouterCore
import RouterDelivery

/// The custom runtime: init (configuration, rules, queue), then the `next` -> handle -> answer loop, each
/// invocation answered exactly once.
public enum LambdaRuntime {
    /// Exit statuses of ``run(environment:api:transport:clock:log:)``.
    public enum Exit {
        /// The in-memory API ran out of events.
        public static let finished: Int32 = 0
        /// The Runtime API failed (Lambda replaces the environment).
        public static let apiFailure: Int32 = 1
        /// Init failed and was reported with `POST /runtime/init/error`.
        public static let initFailed: Int32 = 78
    }

    /// Builds the handler from the environment, or the init error to report.
    public static func initialise(
        environment env: [String: String], transport: SlackTransport? = nil, clock: RouterClock = SystemClock(),
        log: LambdaLog
    ) -> Result<LambdaHandler, LambdaErrorReport> {
        // Slack secrets named by Secrets Manager ARNs are read now, into this process's memory only.
        let original = env
        var env = env
        switch SlackSecrets.environment(env) {
        case .success(let resolved): env = resolved
        case .failure(let f):
            return .failure(LambdaErrorReport(errorType: "Runtime.ConfigInvalid", errorMessage: f.description))
        }
        let config: LambdaConfig
        switch LambdaConfig.fromEnvironment(env) {
        case .success(let c): config = c
        case .failure(let e): return .failure(e)
        }
        log.setSecrets(
            config.destinations.secrets
                + (config.stateTable.map { [$0.accessKey, $0.secretKey] + ($0.sessionToken.map { [$0] } ?? []) } ?? [])
                + (config.signingSecret.map { [$0] } ?? []) + (config.guardDuty?.credentials.secrets ?? []))
        let intake: Intake
        switch Intake.load(
            rulesDirectory: config.rulesDirectory, destinations: config.destinations,
            fallbackChannel: config.fallbackChannel, limits: config.limits)
        {
        case .success(let i): intake = i
        case .failure(let e):
            let lines = e.lines.joined(separator: "\n")
            let message: String
            switch e.kind {
            case .rules: message = "rules in \(config.rulesDirectory) do not load:\n" + lines
            case .destinations: message = "rules name destinations that are not configured:\n" + lines
            case .noDestination: message = lines
            }
            return .failure(LambdaErrorReport(errorType: "Runtime.ConfigInvalid", errorMessage: message))
        }
        let queue: DeliveryQueue
        do {
            // /tmp does not outlive the instance: commits need to survive the process, not a power loss.
            queue = try DeliveryQueue(directory: config.dataDirectory, durability: .processCrash)
        } catch {
            return .failure(
                LambdaErrorReport(errorType: "Runtime.ConfigInvalid", errorMessage: "cannot open the delivery queue: \(error)"))
        }
        var threads: ThreadStore?
        if let table = config.stateTable {
            threads = DynamoDBThreadStore(config: table)
            log.info("finding lifecycle state in DynamoDB", [("table", table.table), ("region", table.region)])
        } else {
            intake.stateful = false
            log.warn(
                "no ROUTER_STATE_TABLE: findings are not threaded or edited; every event is posted as a new message "
                    + "(repost), except deliveries with on_update = \"ignore\", which post only a finding's first event "
                    + "(service.count 1)")
        }
        // Buttons: the Web API, Slack's signing secret and a state table (where a click finds the message).
        let setup = ActionsSetup(signingSecret: config.signingSecret, webAPI: config.destinations.webAPI)
        intake.actionsEnabled = setup.enabled && threads != nil
        if let warning = setup.warning(rules: intake.engine, stateful: threads != nil) { log.warn(warning) }
        var clicks: ActionProcessor?
        if intake.actionsEnabled, let webAPI = setup.webAPI, let threads {
            let gate = PermitGate(engine: intake.engine)
            let actionLog = LambdaActionLog(log: log, table: threads as? DynamoDBThreadStore)
            if config.guardDuty == nil {
                log.warn("no AWS credentials: archive, feedback and suppress clicks will fail; acknowledge works")
            }
            clicks = ActionProcessor(
                threads: threads,
                slack: transport ?? CurlSlackTransport(connectTimeout: 2, totalTimeout: 5, userAgent: "guardduty-router-lambda"),
                webAPI: webAPI, guardDuty: config.guardDuty.map { CurlGuardDuty(config: $0) },
                permit: { action, user, finding in gate.permit(action, user: user, finding: finding, now: clock.now()) },
                log: actionLog, now: { clock.now() }, warn: { line in log.warn(line) })
        }
        let handler = LambdaHandler(
            config: config, intake: intake, queue: queue, log: log, transport: transport, clock: clock,
            threads: threads, clicks: clicks)
        if original.keys.contains(where: SlackSecrets.isReferenceVariable), let reader = SlackSecrets.reader(original) {
            handler.secrets = SecretRefresher(environment: original, reader: reader)
            log.info("Slack secrets read from Secrets Manager", [("count", String(original.keys.filter(SlackSecrets.isReferenceVariable).count))])
        }
        return .success(handler)
    }

    /// Runs until the Runtime API fails (or, in memory, runs out of events). Returns the process exit status.
    public static func run(
        environment env: [String: String], api: LambdaRuntimeAPI, transport: SlackTransport? = nil,
        clock: RouterClock = SystemClock(), log: LambdaLog = LambdaLog()
    ) -> Int32 {
        let handler: LambdaHandler
        switch initialise(environment: env, transport: transport, clock: clock, log: log) {
        case .success(let h): handler = h
        case .failure(let report):
            for line in report.errorMessage.split(separator: "\n") {
                log.error("init failed", [("errorType", report.errorType), ("error", String(line))])
            }
            do {
                try api.initError(report)
            } catch {
                log.error("cannot report the init error", [("error", error.message)])
            }
            return Exit.initFailed
        }
        while true {
            let invocation: LambdaInvocation
            do {
                invocation = try api.next()
            } catch {
                log.requestId = nil
                if error.kind == .finished { return Exit.finished }
                log.error("Runtime API failed; exiting", [("error", error.message)])
                return Exit.apiFailure
            }
            log.requestId = invocation.requestId
            let outcome = handler.handle(invocation)
            do {
                switch outcome {
                case .response(let body): try api.respond(requestId: invocation.requestId, body: body)
                case .error(let report): try api.fail(requestId: invocation.requestId, error: report)
                }
            } catch {
                if case .transport = error.kind {
                    log.error("cannot answer the invocation; exiting", [("error", error.message)])
                    return Exit.apiFailure
                }
                // Refused (already answered, too large, ...): Lambda reports the invocation; carry on.
                log.error("the Runtime API refused the answer", [("error", error.message)])
            }
            // A click is acknowledged first (Slack waits 3 s), then carried out before the next invocation.
            handler.finishAfterResponse()
            log.requestId = nil
        }
    }
}
