import Dispatch
import Hummingbird
import Logging
import NIOCore
import RouterActions
import RouterCore
import RouterDelivery
import RouterFinding

#if canImport(Glibc)
import Glibc
#endif

/// `router serve`: checks the configuration, loads the rules, opens the durable queue, then serves HTTP while the
/// delivery engine sends what the queue holds. SIGHUP reloads the rules; SIGTERM/SIGINT stop accepting, finish the
/// requests in flight and return (undelivered work stays queued for the next start).
public enum EventServer {
    /// The process's logger: swift-log to standard error, level from `LOG_LEVEL` (default info). Bootstraps the
    /// logging system: call once.
    public static func makeLogger(environment: [String: String]) -> Logger {
        LoggingSystem.bootstrap { label in StreamLogHandler.standardError(label: label) }
        var logger = Logger(label: "router.serve")
        logger.logLevel = environment["LOG_LEVEL"].flatMap { Logger.Level(rawValue: $0) } ?? .info
        return logger
    }

    /// Runs until SIGTERM/SIGINT. Returns the exit status: 0 after a clean shutdown, 1 when the rules do not load,
    /// 78 for an unusable configuration (no token without `--no-auth`, `--no-auth` on a non-loopback address, no
    /// destination, a rule naming a destination that is not configured, a queue that cannot be opened).
    /// `ready` is called with the bound address once the server listens.
    public static func run(
        _ given: ServerConfiguration, logger: Logger, err: @escaping @Sendable (String) -> Void,
        ready: @escaping @Sendable (String) -> Void = { _ in }
    ) async -> Int32 {
        // Slack secrets named by Secrets Manager ARNs are read now, into this process's memory only.
        let original = given.environment
        let config: ServerConfiguration
        switch SlackSecrets.environment(given.environment) {
        case .success(let resolved):
            var c = given
            c.environment = resolved
            config = c
        case .failure(let f):
            err("router serve: \(f)")
            return ExitStatus.config
        }
        if config.apiToken == nil && !config.noAuth {
            err("router serve: ROUTER_API_TOKEN is not set: set it (clients send it as `Authorization: Bearer <token>`), or pass --no-auth to serve without authentication on a loopback address")
            return ExitStatus.config
        }
        if config.noAuth && !ServerConfiguration.isLoopback(config.host) {
            err("router serve: --no-auth listens on a loopback address only (127.0.0.1, ::1 or localhost), not '\(config.host)'")
            return ExitStatus.config
        }
        if config.maxBody < 1 {
            err("router serve: --max-body must be positive")
            return ExitStatus.config
        }
        let destinations = DestinationSet.fromEnvironment(config.environment)
        let intake: Intake
        switch Intake.load(
            rulesDirectory: config.rulesDirectory, destinations: destinations, fallbackChannel: config.fallbackChannel,
            limits: config.limits)
        {
        case .success(let i): intake = i
        case .failure(let e):
            for line in e.lines { err(line) }
            return e.exitStatus
        }
        let queue: DeliveryQueue
        do {
            queue = try DeliveryQueue(directory: config.dataDirectory)
        } catch {
            err("router serve: cannot open the delivery queue in \(config.dataDirectory): \(error)")
            return ExitStatus.config
        }

        // Buttons on findings: only with the Web API and Slack's signing secret.
        let actionsSetup = ActionsSetup.fromEnvironment(config.environment, destinations: destinations)
        intake.actionsEnabled = actionsSetup.enabled
        if let warning = actionsSetup.warning(rules: intake.engine) { logger.warning("\(warning)") }
        var guardDuty: GuardDutyAPI?
        switch GuardDutyConfig.fromEnvironment(config.environment) {
        case .success(let c)?: guardDuty = CurlGuardDuty(config: c)
        case .failure(let e)?:
            err("router serve: \(e.message ?? e.code)")
            return ExitStatus.config
        case nil:
            if actionsSetup.enabled {
                logger.warning("no AWS credentials (AWS_ACCESS_KEY_ID): archive, feedback and suppress clicks will fail; acknowledge works")
            }
        }

        let secrets = destinations.secrets + (config.apiToken.map { [$0] } ?? []) + (actionsSetup.signingSecret.map { [$0] } ?? [])
        let metrics = ServerMetrics()
        let rules = ActiveRules(intake: intake, rulesDirectory: config.rulesDirectory, limits: config.limits)
        let deliveryLog = logger
        let engine = DeliveryEngine(
            queue: queue, destinations: destinations,
            transport: CurlSlackTransport(connectTimeout: config.connectTimeout, totalTimeout: config.totalTimeout),
            policy: config.policy,
            log: { line in deliveryLog.warning("\(Secret.redact(line, secrets))") },
            onEvent: { metrics.delivery($0) }, threads: queue.threads)
        if original.keys.contains(where: SlackSecrets.isReferenceVariable), let reader = SlackSecrets.reader(original) {
            engine.secrets = SecretRefresher(environment: original, reader: reader)
        }
        let committer = GroupCommitter(queue: queue, now: { Timestamps.now() }, committed: { engine.wake() })
        let events = EventsHandler(
            rules: rules, committer: committer, metrics: metrics,
            verifier: SNSVerifier(
                allowedHosts: config.snsAllowedHosts,
                // Plain-http loopback entries (tests with a local certificate) need the loopback fetcher.
                fetch: config.snsAllowedHosts.contains { $0.hasPrefix("http://") }
                    ? SNSVerifier.loopbackHTTPFetch : SNSVerifier.httpsFetch), limits: config.inputLimits, logger: logger)

        // Delivery, continuously, on a thread of its own.
        let engineDone = DispatchSemaphore(value: 0)
        DispatchQueue(label: "router.server.delivery").async {
            let summary = engine.run(finishWithin: 3)
            logger.info(
                "delivery stopped: \(summary.delivered) delivered, \(summary.deadLettered) dead-lettered, \(summary.retries) retried this run")
            engineDone.signal()
        }
        // Delivered rows are kept for `deliveredRetention` (their keys make re-sent findings duplicates).
        let pruner = DispatchSource.makeTimerSource(queue: DispatchQueue(label: "router.server.prune"))
        pruner.schedule(deadline: .now() + 5, repeating: 3600)
        pruner.setEventHandler {
            do { try queue.pruneDelivered(olderThan: Timestamps.now() - config.deliveredRetention) } catch {
                logger.warning("pruning delivered rows: \(error)")
            }
            // GuardDuty keeps a finding 90 days: its conversation state is kept as long after its last event.
            do { try queue.pruneThreads(olderThan: Timestamps.now() - 90 * 86400) } catch {
                logger.warning("pruning finding state: \(error)")
            }
        }
        pruner.resume()
        // SIGHUP: reload the rules.
        signal(SIGHUP, SIG_IGN)
        let hangup = DispatchSource.makeSignalSource(signal: SIGHUP, queue: DispatchQueue(label: "router.server.reload"))
        hangup.setEventHandler {
            switch rules.reload() {
            case .success:
                metrics.reload(ok: true)
                logger.notice("rules reloaded from \(config.rulesDirectory)")
            case .failure(let e):
                metrics.reload(ok: false)
                for line in e.lines { logger.error("\(line)") }
                logger.error("rules NOT reloaded (\(e.lines.count) error\(e.lines.count == 1 ? "" : "s")); the previous rules stay active")
            }
        }
        hangup.resume()

        // SIGTERM/SIGINT: Hummingbird's service lifecycle stops accepting and waits for requests in flight; a client
        // that stalls mid-request must not hold the process: exit anyway after `shutdownGrace` seconds (such a request
        // was never answered 202, so its client sends it again).
        let watchdogQueue = DispatchQueue(label: "router.server.shutdown")
        let watchdogs = [SIGTERM, SIGINT].map { sig -> DispatchSourceSignal in
            signal(sig, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: sig, queue: watchdogQueue)
            source.setEventHandler {
                watchdogQueue.asyncAfter(deadline: .now() + config.shutdownGrace) {
                    logger.warning("requests still in flight \(config.shutdownGrace) s after the stop signal: exiting without them")
                    engine.stop()
                    exit(0)
                }
            }
            source.resume()
            return source
        }
        defer { for w in watchdogs { w.cancel() } }

        var actions: SlackActionsHandler?
        if actionsSetup.enabled, let secret = actionsSetup.signingSecret, let webAPI = destinations.webAPI {
            let processor = ActionProcessor(
                threads: queue.threads,
                slack: CurlSlackTransport(connectTimeout: config.connectTimeout, totalTimeout: config.totalTimeout),
                webAPI: webAPI, guardDuty: guardDuty,
                permit: { action, user, finding in rules.permit(action, user: user, finding: finding, now: Timestamps.now()) },
                log: queue, now: { Timestamps.now() },
                warn: { line in deliveryLog.warning("\(Secret.redact(line, secrets))") })
            actions = SlackActionsHandler(secret: secret, processor: processor, metrics: metrics, logger: logger)
            logger.info("Slack actions enabled: POST /slack/actions")
        }
        let routes = HTTPRoutes(
            events: events, actions: actions, auth: APIAuth(token: config.apiToken, headerName: config.apiKeyHeader), maxBody: config.maxBody,
            metrics: metrics, renderMetrics: { metrics.render(queue: queue) },
            isReady: {
                guard committer.lastCommitSucceeded.load(ordering: .relaxed) else { return (false, "the last commit to the queue failed") }
                guard (try? queue.pendingCount()) != nil else { return (false, "the delivery queue cannot be read") }
                guard access(config.dataDirectory, W_OK) == 0 else { return (false, "the data directory is not writable") }
                return (true, "rules loaded, queue writable")
            })
        var httpLogger = logger
        httpLogger.logLevel = max(logger.logLevel, .notice)
        let app = Application(
            router: routes.build(),
            configuration: .init(address: .hostname(config.host, port: config.port), serverName: nil),
            onServerRunning: { channel in
                let port = channel.localAddress?.port ?? config.port
                ready(config.host.contains(":") ? "[\(config.host)]:\(port)" : "\(config.host):\(port)")
            },
            logger: httpLogger)
        var status = ExitStatus.ok
        do {
            try await app.runService(gracefulShutdownSignals: [.sigterm, .sigint])
        } catch {
            err("router serve: \(error)")
            status = ExitStatus.config
        }
        hangup.cancel()
        pruner.cancel()
        engine.stop()
        _ = engineDone.wait(timeout: .now() + 5)
        logger.info("stopped; \((try? queue.pendingCount()) ?? -1) deliveries stay queued")
        return status
    }
}
