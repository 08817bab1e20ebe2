import ArgumentParser
#if canImport(Glibc)
import Glibc
#endif
import RouterCore
import RouterFinding
import RouterOptions
import RouterDelivery
import RouterRules

/// Runs `router lambda` when started as a Lambda custom runtime's `bootstrap` (no arguments, `AWS_LAMBDA_RUNTIME_API`
/// set); otherwise the command line decides.
@main
enum Main {
    static func main() async {
        let args = CommandLine.arguments
        let name = args.first.map { $0.split(separator: "/").last.map(String.init) ?? $0 } ?? ""
        if name == "bootstrap" && args.count == 1 && getenv("AWS_LAMBDA_RUNTIME_API") != nil {
            await Router.main(["lambda"])
        } else {
            await Router.main()
        }
    }
}

struct Router: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "router",
        abstract: "Routes AWS GuardDuty findings to Slack through your Lua filter and route rules.",
        subcommands: [
            Test.self, Replay.self, Send.self, Check.self, Dlq.self, Actions.self, LambdaCommand.self, Serve.self, Bench.self,
            BenchQueue.self,
        ]
    )
}

struct Test: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Dry run: show what each finding would post, without sending anything.",
        discussion: """
            INPUT is a JSON file, a JSON Lines file, a directory (every *.json, recursively) or - for standard input. \
            Without INPUT, runs the test cases in RULES/tests/*.json and prints `N passed, M failed`. \
            With --coverage, routes one finding per known GuardDuty finding type and warns about CRITICAL findings \
            that are dropped or unrouted, HIGH ones that are dropped and routes that never match (--strict: exit 1 on warnings). \
            Exit status: 1 if any rule error, else 2 if any input could not be used, else 0; 64 for usage errors.
            """)

    @Argument(help: "The rules directory (every *.lua file directly in it, in byte-wise filename order).")
    var rules: String
    @Argument(help: "Findings to route.")
    var inputs: [String] = []
    @Flag(help: "One JSON object per finding per line.")
    var json = false
    @Flag(help: "Show every filter and route call with its result.")
    var explain = false
    @Option(help: "Pin ctx.now, e.g. 2026-01-02T03:04:05Z (default: the current time).")
    var now: String?
    @Option(help: "Channel of the fallback delivery used when a rule fails (default: the default destination's own channel).")
    var fallbackChannel: String?
    @Option(help: "Start the finding lifecycle simulation from the state a router saved in this data directory (its queue.sqlite3); it is read, never changed.")
    var state: String?
    @Flag(help: "Without INPUT (running RULES/tests): rewrite the golden snapshot files from the actual payloads.")
    var updateSnapshots = false
    @Flag(help: "Route one representative finding per known GuardDuty finding type (Variable types at MEDIUM and HIGH) and report where each goes, with warnings.")
    var coverage = false
    @Flag(help: "With --coverage: exit 1 if there was any warning.")
    var strict = false
    @OptionGroup var limits: LimitOptions

    func validate() throws {
        if let now, Timestamps.parse(now) == nil {
            throw ValidationError("--now must be an ISO-8601 time such as 2026-01-02T03:04:05Z or Unix seconds, not '\(now)'")
        }
        if coverage && !inputs.isEmpty {
            throw ValidationError("--coverage generates its own findings: give no INPUT")
        }
        if strict && !coverage {
            throw ValidationError("--strict applies only with --coverage")
        }
    }

    func run() throws {
        if coverage {
            var options = RuleCoverage.Options(rulesDirectory: rules)
            options.json = json
            options.strict = strict
            options.limits = limits.limits
            let status = RuleCoverage.run(options, out: .standardOutput(), err: .standardError())
            if status != 0 { throw ExitCode(status) }
            return
        }
        if inputs.isEmpty {
            // The rule author's test cases in RULES/tests/.
            var options = RuleTests.Options(rulesDirectory: rules)
            options.json = json
            options.updateSnapshots = updateSnapshots
            options.limits = limits.limits
            let status = RuleTests.run(options, out: .standardOutput(), err: .standardError())
            if status != 0 { throw ExitCode(status) }
            return
        }
        var options = DryRunOptions(rulesDirectory: rules, inputs: inputs)
        options.now = now.flatMap(Timestamps.parse)
        options.json = json
        options.explain = explain
        options.fallbackChannel = fallbackChannel
        options.limits = limits.limits
        options.stateDirectory = state
        options.environment = processEnvironment()
        let status = DryRun.run(options, out: .standardOutput(), err: .standardError())
        if status != 0 { throw ExitCode(status) }
    }
}

struct Replay: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "What the rules would have posted over a history of findings (and, with --against, what an edit changes).",
        discussion: """
            Every finding event is evaluated in updatedAt order with ctx.now = its time (ctx.mode = "replay"), and what \
            Slack would have seen is simulated with the finding lifecycle and the digests under router send's pacing \
            (--rate, --burst, --digest-window, --digest-size). Nothing is sent and no state is written. INPUT is any \
            input of router test; a synced GuardDuty S3 export (AWSLogs/.../YYYY/MM/DD/*.jsonl.gz) is read a day at a \
            time. Exit status: 0; 1 on rule errors loading the rules, or with --strict when a CRITICAL or HIGH finding \
            the old rules delivered is dropped or unrouted by the new ones; 2 when no input could be used; 64 for usage errors.
            """)

    @Argument(help: "The rules directory.")
    var rules: String
    @Argument(help: "The history: files, JSON Lines, gzip, directories (a synced S3 export), or - for standard input.")
    var inputs: [String] = []
    @Option(help: "Replay the same history through these rules too, and report what changes.")
    var against: String?
    @Option(help: "Only events whose updatedAt is at or after this time (ISO-8601 or Unix seconds).")
    var since: String?
    @Option(help: "Only events whose updatedAt is before this time.")
    var until: String?
    @Flag(help: "The whole report as one JSON document.")
    var json = false
    @Option(help: "Also write the report as a self-contained HTML page with charts to this file.")
    var html: String?
    @Flag(help: "With --against: exit 1 when a CRITICAL or HIGH finding the old rules delivered is dropped or unrouted by the new rules.")
    var strict = false
    @Option(help: "Channel of the fallback delivery used when a rule fails.")
    var fallbackChannel: String?
    @OptionGroup var pacing: PacingOptions
    @OptionGroup var limits: LimitOptions

    func validate() throws {
        if inputs.isEmpty { throw ValidationError("give at least one INPUT (a file, a directory or -)") }
        for (name, value) in [("--since", since), ("--until", until)] {
            if let value, Timestamps.parse(value) == nil {
                throw ValidationError("\(name) must be an ISO-8601 time such as 2026-01-02T03:04:05Z or Unix seconds, not '\(value)'")
            }
        }
        if strict && against == nil { throw ValidationError("--strict applies only with --against") }
    }

    func run() throws {
        var options = ReplayOptions(rulesDirectory: rules, inputs: inputs)
        options.against = against
        options.since = since.flatMap(Timestamps.parse)
        options.until = until.flatMap(Timestamps.parse)
        options.json = json
        options.html = html
        options.strict = strict
        options.policy = pacing.policy
        options.fallbackChannel = fallbackChannel
        options.limits = limits.limits
        options.environment = processEnvironment()
        options.progress = isatty(2) != 0
        let status = RouterCore.Replay.run(options, out: .standardOutput(), err: .standardError())
        if status != 0 { throw ExitCode(status) }
    }
}

struct Check: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Load and validate the rule files without any finding; exit 1 with file:line messages on errors.")

    @Argument(help: "The rules directory.")
    var rules: String
    @OptionGroup var limits: LimitOptions

    func run() throws {
        let status = RuleCheck.run(rulesDirectory: rules, limits: limits.limits, environment: processEnvironment(), out: .standardOutput(), err: .standardError())
        if status != 0 { throw ExitCode(status) }
    }
}

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure events/s, per-event latency and peak memory of the whole path on one thread.")

    @Argument(help: "The rules directory.")
    var rules: String
    @Argument(help: "A JSON Lines file, one event per line.")
    var events: String
    @Option(help: "Passes over the events file.")
    var passes: Int = 1
    @Option(help: "Events run before measuring.")
    var warmup: Int = 500

    func run() throws {
        var options = RouterCore.Bench.Options(rulesDirectory: rules, eventsPath: events)
        options.passes = max(1, passes)
        options.warmup = max(0, warmup)
        let status = RouterCore.Bench.run(options, out: .standardOutput(), err: .standardError())
        if status != 0 { throw ExitCode(status) }
    }
}

struct Send: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Route findings, queue their deliveries durably and send them to Slack; wait until each is delivered or dead-lettered.",
        discussion: """
            Destinations come from the environment: SLACK_WEBHOOK_URL (the default incoming webhook), SLACK_BOT_TOKEN \
            (+ SLACK_API_URL) for the Web API, SLACK_WEBHOOK_URL_<NAME> for deliveries with to = "name". \
            Exit status: 0 when all were delivered, 3 when any went to the dead letter, 1 on rule errors, 2 when some \
            input could not be used, 78 when the configuration is unusable, 64 for usage errors.
            """)

    @Argument(help: "The rules directory.")
    var rules: String
    @Argument(help: "Findings to route (files, JSON Lines, directories, or - for standard input).")
    var inputs: [String] = []
    @Option(help: "Channel for unrouted findings and for rule-error fallbacks (default: none / the default destination's own channel).")
    var fallbackChannel: String?
    @Option(help: "Stop delivering after this many seconds; what is left stays queued.")
    var maxWait: Double?
    @OptionGroup var data: DataOptions
    @OptionGroup var delivery: DeliveryOptions
    @OptionGroup var limits: LimitOptions

    func validate() throws {
        if inputs.isEmpty { throw ValidationError("give at least one INPUT (a file, a directory or -)") }
    }

    func run() throws {
        let env = processEnvironment()
        var options = SendOptions(rulesDirectory: rules, inputs: inputs, dataDirectory: data.directory)
        options.fallbackChannel = fallbackChannel ?? env["ROUTER_FALLBACK_CHANNEL"].flatMap { $0.isEmpty ? nil : $0 }
        options.limits = limits.limits
        options.policy = delivery.policy
        options.connectTimeout = delivery.connectTimeout
        options.totalTimeout = delivery.timeout
        options.maxWait = maxWait
        let status = RouterCore.Send.run(options, environment: env, out: .standardOutput(), err: .standardError())
        if status != 0 { throw ExitCode(status) }
    }
}

struct Dlq: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "The dead letter: deliveries Slack refused for good or that ran out of retries.",
        subcommands: [List.self, Replay.self, Purge.self])

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show dead-lettered deliveries: finding, channel, destination, attempts, first and last error, when.")
        @Flag(help: "One JSON object per line.")
        var json = false
        @OptionGroup var data: DataOptions

        func run() throws {
            let status = DeadLetters.list(dataDirectory: data.directory, json: json, out: .standardOutput(), err: .standardError())
            if status != 0 { throw ExitCode(status) }
        }
    }

    /// Which dead-lettered deliveries a command acts on: ids, or `--all`.
    struct Selection: ParsableArguments {
        @Argument(help: "Delivery ids (from `router dlq list`).")
        var ids: [Int64] = []
        @Flag(help: "Every dead-lettered delivery.")
        var all = false

        /// nil means all.
        var chosen: [Int64]? { all ? nil : ids }

        func validate() throws {
            if all == !ids.isEmpty { throw ValidationError("give delivery ids or --all (not both)") }
        }
    }

    struct Replay: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Put dead-lettered deliveries back in the queue (attempts reset).")
        @OptionGroup var selection: Selection
        @OptionGroup var data: DataOptions

        func run() throws {
            let status = DeadLetters.replay(dataDirectory: data.directory, ids: selection.chosen, out: .standardOutput(), err: .standardError())
            if status != 0 { throw ExitCode(status) }
        }
    }

    struct Purge: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Delete dead-lettered deliveries.")
        @OptionGroup var selection: Selection
        @OptionGroup var data: DataOptions

        func run() throws {
            let status = DeadLetters.purge(dataDirectory: data.directory, ids: selection.chosen, out: .standardOutput(), err: .standardError())
            if status != 0 { throw ExitCode(status) }
        }
    }
}

struct Actions: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Clicks on finding buttons (acknowledge, archive, feedback, suppress) the server recorded.",
        subcommands: [Log.self])

    struct Log: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List the recorded clicks, oldest first: when, the outcome (done, denied, failed, unknown), the action, who, the finding, and why.")
        @Flag(help: "One JSON object per line.")
        var json = false
        @Option(help: "Show the last N clicks.")
        var limit: Int = 1000
        @OptionGroup var data: DataOptions

        func run() throws {
            let status = ActionsLog.list(dataDirectory: data.directory, json: json, limit: max(1, limit), out: .standardOutput(), err: .standardError())
            if status != 0 { throw ExitCode(status) }
        }
    }
}

struct BenchQueue: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench-queue", abstract: "Measure enqueue throughput into the durable queue.")
    @Option(help: "Deliveries to enqueue.")
    var count: Int = 20000
    @Option(help: "Deliveries per committed transaction.")
    var batch: Int = 100
    @OptionGroup var data: DataOptions

    func run() throws {
        let status = QueueBench.run(dataDirectory: data.directory, count: max(1, count), batch: max(1, batch), out: .standardOutput(), err: .standardError())
        if status != 0 { throw ExitCode(status) }
    }
}
