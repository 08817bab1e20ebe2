#if canImport(Glibc)
import Glibc
#endif
import RouterDelivery
import RouterFinding
import RouterJSON
import RouterRules
import RouterSlack

/// `router replay RULES INPUT... [--against OLD_RULES]`: what the rules would have posted over a history.
public struct ReplayOptions: Sendable {
    public var rulesDirectory: String
    public var inputs: [String]
    public var against: String?
    public var since: Double?
    public var until: Double?
    public var json = false
    public var html: String?
    public var strict = false
    /// Pacing and digests as `router send` has them (`--rate`, `--burst`, `--digest-window`, `--digest-size`).
    public var policy = DeliveryPolicy.default
    public var fallbackChannel: String?
    public var limits: RuleLimits = .default
    public var inputLimits: InputLimits = .default
    public var environment: [String: String] = [:]
    /// Progress on standard error (the command turns it on when standard error is a terminal).
    public var progress = false

    public init(rulesDirectory: String, inputs: [String]) {
        self.rulesDirectory = rulesDirectory
        self.inputs = inputs
    }
}

public enum Replay {
    public static func run(_ options: ReplayOptions, out: OutputSink, err: OutputSink) -> Int32 {
        defer {
            out.flush()
            err.flush()
        }
        func load(_ dir: String) -> RuleEngine? {
            do {
                return try RuleEngine(directory: dir, limits: options.limits)
            } catch {
                for e in error.errors { err.line(e.description) }
                err.line("\(error.errors.count) rule error\(error.errors.count == 1 ? "" : "s") in \(dir): nothing was replayed")
                return nil
            }
        }
        guard let engine = load(options.rulesDirectory) else { return ExitStatus.ruleError }
        var oldEngine: RuleEngine?
        if let against = options.against {
            guard let e = load(against) else { return ExitStatus.ruleError }
            oldEngine = e
        }
        let destinations = DestinationSet.fromEnvironment(options.environment)
        let current = RuleSetReplay(
            name: options.rulesDirectory, engine: engine, destinations: destinations, policy: options.policy,
            fallbackChannel: options.fallbackChannel)
        let old = oldEngine.map {
            RuleSetReplay(name: options.against!, engine: $0, destinations: destinations, policy: options.policy, fallbackChannel: options.fallbackChannel)
        }
        let reader = ReplayReader(inputs: options.inputs, limits: options.inputLimits)
        var comparison = Comparison()
        var history = History()
        let progress = options.progress ? Progress(totalBytes: reader.totalBytes, err: err) : nil
        let started = Timestamps.monotonic()

        reader.forEach { e in
            if let since = options.since, e.time < since { return }
            if let until = options.until, e.time >= until { return }
            let number = history.add(e)
            let now = current.replay(e, number: number)
            if let old {
                let before = old.replay(e, number: number)
                comparison.add(e.finding, number: number, old: before, new: now)
            }
            progress?.tick(events: history.events, bytes: reader.bytesRead)
        }
        current.simulation.finish()
        old?.simulation.finish()
        progress?.done()
        let elapsed = Timestamps.monotonic() - started

        let report = ReplayReport(
            options: options, history: history, problems: reader.problems, current: current, old: old,
            comparison: comparison, seconds: elapsed)
        if options.json {
            out.line(report.json().serialized())
        } else {
            report.writeText(to: out)
        }
        if let path = options.html {
            let page = ReplayHTML.page(report)
            guard writeFile(path, Array(page.utf8)) else {
                err.line("router replay: cannot write \(path): \(String(cString: strerror(errno)))")
                return ExitStatus.inputError
            }
            if !options.json { out.line("HTML report: \(path)") }
        }
        for w in comparison.warnings { err.line("warning: " + w.text) }
        if options.strict && !comparison.warnings.isEmpty { return ExitStatus.ruleError }
        if history.events == 0 && reader.problems.count > 0 { return ExitStatus.inputError }
        return ExitStatus.ok
    }

    static func writeFile(_ path: String, _ bytes: [UInt8]) -> Bool {
        guard let f = fopen(path, "wb") else { return false }
        defer { fclose(f) }
        return bytes.withUnsafeBufferPointer { fwrite($0.baseAddress, 1, $0.count, f) } == bytes.count
    }
}

/// What the history held: events, findings, sample findings, its time span.
struct History {
    var events = 0
    /// Every finding id seen, numbered in order of appearance: the counters elsewhere keep numbers, not strings.
    var numbers: [String: Int32] = [:]
    var sampleEvents = 0
    var sampleFindingIds: Set<Int32> = []
    var first = Double.infinity
    var last = -Double.infinity
    /// Distinct findings.
    var findings: Int { numbers.count }

    /// Counts the event; returns its finding's number.
    mutating func add(_ e: ReplayEvent) -> Int32 {
        events += 1
        let next = Int32(numbers.count)
        let n = numbers[e.finding.id, default: next]
        if n == next { numbers[e.finding.id] = n }
        if e.finding.sample {
            sampleEvents += 1
            sampleFindingIds.insert(n)
        }
        first = min(first, e.time)
        last = max(last, e.time)
        return n
    }
}

/// The same history through two rule sets: where routing changed, and the warnings `--strict` fails on.
struct Comparison {
    struct Change: Hashable {
        var type: String
        var old: String
        var new: String
    }

    struct Warning {
        var findingId: String
        var type: String
        var severityLabel: String
        var old: String
        var new: String
        var text: String { "\(severityLabel) finding \(findingId) (\(type)): the old rules delivered it (\(old)); the new rules \(new == "unrouted" ? "leave it unrouted" : new)" }
    }

    var changes: [Change: (findings: Set<Int32>, events: Int, example: String)] = [:]
    var warnings: [Warning] = []
    private var warned = Set<Int32>()

    mutating func add(_ f: Finding, number: Int32, old: RuleSetReplay.Outcome, new: RuleSetReplay.Outcome) {
        guard old != new else { return }
        let key = Change(type: f.type, old: old.text, new: new.text)
        changes[key, default: ([], 0, f.id)].findings.insert(number)
        changes[key, default: ([], 0, f.id)].events += 1
        if old.delivers, !new.delivers, f.severityLabel >= .high, warned.insert(number).inserted {
            warnings.append(Warning(findingId: f.id, type: f.type, severityLabel: f.severityLabel.rawValue, old: old.text, new: new.text))
        }
    }
}

/// Findings read, rate and time left on standard error, at most twice a second.
final class Progress {
    let totalBytes: Int
    let err: OutputSink
    let start = Timestamps.monotonic()
    var lastShown = 0.0

    init(totalBytes: Int, err: OutputSink) {
        self.totalBytes = totalBytes
        self.err = err
    }

    func tick(events: Int, bytes: Int) {
        guard events % 1024 == 0 else { return }
        let now = Timestamps.monotonic()
        guard now - lastShown >= 0.5 else { return }
        lastShown = now
        let elapsed = max(now - start, 1e-3)
        var line = "\rreplay: \(ReplayReport.grouped(events)) findings read, \(ReplayReport.grouped(Int(Double(events) / elapsed)))/s"
        if totalBytes > 0, bytes > 0 {
            let left = elapsed * Double(totalBytes - bytes) / Double(bytes)
            line += ", about \(Int(left.rounded())) s left"
        }
        err.write(line + "   ")
        err.flush()
    }

    func done() {
        if lastShown > 0 {
            err.write("\r" + String(repeating: " ", count: 72) + "\r")
            err.flush()
        }
    }
}
