import ArgumentParser
import RouterCore
import RouterRules

@main
struct Router: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "router",
        abstract: "Routes AWS GuardDuty findings to Slack through your Lua filter and route rules.",
        subcommands: [Test.self, Check.self, Bench.self]
    )
}

/// Rule sandbox limits, shared by the commands that evaluate rules.
struct LimitOptions: ParsableArguments {
    @Option(help: "Lua VM instructions per finding.")
    var maxInstructions: Int = RuleLimits.default.instructions
    @Option(help: "Wall-clock milliseconds per finding.")
    var maxMilliseconds: Int = Int(RuleLimits.default.wallSeconds * 1000)
    @Option(help: "Lua heap cap in MiB while rules run.")
    var maxMemoryMib: Int = RuleLimits.default.memoryBytes >> 20
    @Option(help: "Pattern-matching steps per string.find/match/gsub call.")
    var maxPatternSteps: Int = RuleLimits.default.patternSteps
    @Option(help: "Deliveries per finding.")
    var maxDeliveries: Int = RuleLimits.default.maxDeliveries

    var limits: RuleLimits {
        var l = RuleLimits()
        l.instructions = maxInstructions
        l.wallSeconds = Double(maxMilliseconds) / 1000
        l.memoryBytes = maxMemoryMib << 20
        l.maxDeliveries = maxDeliveries
        l.patternSteps = maxPatternSteps
        return l
    }

    func validate() throws {
        guard maxInstructions > 0, maxMilliseconds > 0, maxMemoryMib > 0, maxDeliveries > 0, maxPatternSteps > 0 else {
            throw ValidationError("limits must be positive")
        }
    }
}

struct Test: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Dry run: show what each finding would post, without sending anything.",
        discussion: """
            INPUT is a JSON file, a JSON Lines file, a directory (every *.json, recursively) or - for standard input. \
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
    @OptionGroup var limits: LimitOptions

    func validate() throws {
        if inputs.isEmpty { throw ValidationError("give at least one INPUT (a file, a directory or -)") }
        if let now, Timestamps.parse(now) == nil {
            throw ValidationError("--now must be an ISO-8601 time such as 2026-01-02T03:04:05Z or Unix seconds, not '\(now)'")
        }
    }

    func run() throws {
        var options = DryRunOptions(rulesDirectory: rules, inputs: inputs)
        options.now = now.flatMap(Timestamps.parse)
        options.json = json
        options.explain = explain
        options.fallbackChannel = fallbackChannel
        options.limits = limits.limits
        let status = DryRun.run(options, out: .standardOutput(), err: .standardError())
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
        let status = RuleCheck.run(rulesDirectory: rules, limits: limits.limits, out: .standardOutput(), err: .standardError())
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
