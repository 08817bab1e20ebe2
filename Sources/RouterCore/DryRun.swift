import RouterDelivery
import RouterFinding
import RouterJSON
import RouterRules
import RouterSlack

/// `router test RULES_DIR INPUT...`: routes findings and shows what would be posted, without sending anything.
public struct DryRunOptions: Sendable {
    public var rulesDirectory: String
    public var inputs: [String]
    /// `ctx.now`; the current time when nil.
    public var now: Double?
    public var json: Bool = false
    public var explain: Bool = false
    public var fallbackChannel: String?
    public var limits: RuleLimits = .default
    public var inputLimits: InputLimits = .default
    /// A router's data directory whose saved finding state the lifecycle simulation starts from.
    public var stateDirectory: String?
    /// For resolving destinations (the Web API or a webhook decides what `on_update` can do).
    public var environment: [String: String] = [:]

    public init(rulesDirectory: String, inputs: [String]) {
        self.rulesDirectory = rulesDirectory
        self.inputs = inputs
    }
}

/// Exit statuses shared by the commands.
public enum ExitStatus {
    public static let ok: Int32 = 0
    /// A rule error (load, filter, route, format, budget, memory).
    public static let ruleError: Int32 = 1
    /// Some input could not be used (invalid JSON, not a finding, too large, unreadable).
    public static let inputError: Int32 = 2
    /// Usage error (EX_USAGE).
    public static let usage: Int32 = 64
}

public enum DryRun {
    /// Runs the dry run, writing results to `out` and compiler-style rule errors and input problems to `err`.
    /// Returns the exit status: 1 if any rule error, else 2 if any input could not be used, else 0.
    public static func run(_ options: DryRunOptions, out: OutputSink, err: OutputSink) -> Int32 {
        defer {
            out.flush()
            err.flush()
        }
        let engine: RuleEngine
        do {
            engine = try RuleEngine(directory: options.rulesDirectory, limits: options.limits)
        } catch {
            for e in error.errors { err.line(e.description) }
            err.line("\(error.errors.count) rule error\(error.errors.count == 1 ? "" : "s"): nothing was evaluated")
            return ExitStatus.ruleError
        }
        if engine.files.isEmpty {
            err.line("\(options.rulesDirectory): warning: no *.lua rule files: every finding will be unrouted")
        }
        let simulator: LifecycleSimulator
        do {
            simulator = try LifecycleSimulator(
                destinations: DestinationSet.fromEnvironment(options.environment), stateDirectory: options.stateDirectory)
        } catch {
            err.line("router test: \(error)")
            return ExitStatus.usage
        }
        let context = EvaluationContext(
            now: options.now ?? Timestamps.now(), mode: "test", fallbackChannel: options.fallbackChannel,
            explain: options.explain)
        let destinations = DestinationSet.fromEnvironment(options.environment)
        let actions = ActionsSetup.fromEnvironment(options.environment, destinations: destinations)
        var sawRuleError = false
        var sawInputError = false
        var counts = (findings: 0, routed: 0, dropped: 0, unrouted: 0, inputErrors: 0, ruleErrors: 0)
        var line: [UInt8] = []

        for input in options.inputs {
            InputReader.forEachItem(fromPath: input, limits: options.inputLimits) { (item: InputItem) in
                switch item.result {
                case .failure(let error):
                    sawInputError = true
                    counts.inputErrors += 1
                    if options.json {
                        out.line(ResultJSON.inputError(source: item.source, error: error).serialized())
                    } else {
                        out.line("\(item.source): \(error.kind.rawValue): \(error.message)")
                    }
                    err.line("\(item.source): \(error.kind.rawValue): \(error.message)")
                case .success(let finding):
                    counts.findings += 1
                    var evaluation = engine.evaluate(finding, context: context)
                    if actions.enabled { ActionPreview.addButtons(&evaluation, finding: finding, destinations: destinations) }
                    if !evaluation.errors.isEmpty {
                        sawRuleError = true
                        counts.ruleErrors += evaluation.errors.count
                        for e in evaluation.errors { err.line("\(e) (finding \(finding.id) from \(item.source))") }
                    }
                    if evaluation.dropped != nil { counts.dropped += 1 }
                    else if evaluation.unrouted { counts.unrouted += 1 }
                    else { counts.routed += 1 }
                    let steps = simulator.steps(for: finding, evaluation: evaluation)
                    if options.json {
                        line.removeAll(keepingCapacity: true)
                        ResultJSON.write(
                            source: item.source, finding: finding, evaluation: evaluation, lifecycle: steps,
                            buttonsMissing: actions.missing, into: &line)
                        line.append(0x0A)
                        out.write(bytes: line)
                    } else {
                        HumanReport.write(
                            source: item.source, finding: finding, evaluation: evaluation, explain: options.explain,
                            lifecycle: steps, buttonsMissing: actions.missing, to: out)
                    }
                }
            }
        }
        if !options.json {
            out.line(
                "\(counts.findings) finding\(counts.findings == 1 ? "" : "s"): \(counts.routed) routed, \(counts.dropped) dropped, "
                    + "\(counts.unrouted) unrouted; \(counts.ruleErrors) rule error\(counts.ruleErrors == 1 ? "" : "s"), "
                    + "\(counts.inputErrors) input error\(counts.inputErrors == 1 ? "" : "s")")
        }
        if sawRuleError { return ExitStatus.ruleError }
        if sawInputError { return ExitStatus.inputError }
        return ExitStatus.ok
    }
}
