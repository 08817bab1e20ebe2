#if canImport(Glibc)
import Glibc
#endif
import RouterFinding
import RouterJSON
import RouterRules

/// `router bench RULES_DIR EVENTS.jsonl`: the whole per-event path (parse, filter, route, render, serialise) on one
/// thread, with throughput, per-event latency percentiles per stage, and peak memory.
public enum Bench {
    public struct Options: Sendable {
        public var rulesDirectory: String
        public var eventsPath: String
        /// Passes over the events file.
        public var passes: Int = 1
        /// Events run before measuring (JIT-free, but warms caches and the allocator).
        public var warmup: Int = 500

        public init(rulesDirectory: String, eventsPath: String) {
            self.rulesDirectory = rulesDirectory
            self.eventsPath = eventsPath
        }
    }

    static func nanos() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
    }

    public static func run(_ options: Options, out: OutputSink, err: OutputSink) -> Int32 {
        defer {
            out.flush()
            err.flush()
        }
        // Events are streamed from the file (it can be larger than the memory budget being measured).
        guard let probe = LineReader(path: options.eventsPath) else {
            err.line("\(options.eventsPath): cannot read the events file")
            return ExitStatus.inputError
        }
        var warmupLines: [[UInt8]] = []
        while warmupLines.count < options.warmup, let line = probe.next() { warmupLines.append(line) }
        guard !warmupLines.isEmpty || options.warmup == 0 else {
            err.line("\(options.eventsPath): no events (expected JSON Lines: one event per line)")
            return ExitStatus.inputError
        }
        let engine: RuleEngine
        do {
            engine = try RuleEngine(directory: options.rulesDirectory)
        } catch {
            for e in error.errors { err.line(e.description) }
            return ExitStatus.ruleError
        }
        let context = EvaluationContext(now: Timestamps.now(), mode: "bench")
        var buffer: [UInt8] = []
        buffer.reserveCapacity(1 << 16)

        var parseNs: [UInt64] = [], rulesNs: [UInt64] = [], serialiseNs: [UInt64] = [], totalNs: [UInt64] = []
        var findings = 0, deliveries = 0, inputErrors = 0, ruleErrors = 0, payloadBytes = 0

        func one(_ line: ArraySlice<UInt8>, record: Bool) {
            let t0 = nanos()
            let items = InputReader.items(fromBytes: line, source: "bench")
            let t1 = nanos()
            var evaluations: [Evaluation] = []
            evaluations.reserveCapacity(items.count)
            var itemErrors = 0
            for i in items.indices {
                switch items[i].result {
                case .success(let f): evaluations.append(engine.evaluate(f, context: context))
                case .failure: itemErrors += 1
                }
            }
            let t2 = nanos()
            for e in evaluations.indices {
                for d in evaluations[e].deliveries.indices {
                    buffer.removeAll(keepingCapacity: true)
                    evaluations[e].deliveries[d].message.write(channel: evaluations[e].deliveries[d].channel, into: &buffer)
                    if record { payloadBytes += buffer.count }
                }
            }
            let t3 = nanos()
            guard record else { return }
            parseNs.append(t1 - t0)
            rulesNs.append(t2 - t1)
            serialiseNs.append(t3 - t2)
            totalNs.append(t3 - t0)
            inputErrors += itemErrors
            findings += evaluations.count
            for e in evaluations.indices {
                deliveries += evaluations[e].deliveries.count
                ruleErrors += evaluations[e].errors.count
            }
        }

        for line in warmupLines { one(line[...], record: false) }
        warmupLines = []
        var lineCount = 0
        var wallNs: UInt64 = 0
        for _ in 0..<options.passes {
            guard let reader = LineReader(path: options.eventsPath) else { break }
            lineCount = 0
            while let line = reader.next() {
                lineCount += 1
                let t = nanos()
                one(line[...], record: true)
                wallNs += nanos() - t
            }
        }
        // What reading the file costs on its own (the same reader, nothing done with the lines): `router test` pays
        // it too, so comparisons of whole processes with the loop above add it.
        var readNs: UInt64 = 0
        var readBytes = 0
        if let reader = LineReader(path: options.eventsPath) {
            let t = nanos()
            while let line = reader.next() { readBytes &+= line.count }
            readNs = nanos() - t
        }
        guard !totalNs.isEmpty else {
            err.line("\(options.eventsPath): no events (expected JSON Lines: one event per line)")
            return ExitStatus.inputError
        }
        let wall = Double(wallNs) / 1e9

        var usage = rusage()
        getrusage(Int32(RUSAGE_SELF.rawValue), &usage)
        let peakMB = Double(usage.ru_maxrss) / 1024

        func row(_ name: String, _ values: [UInt64]) -> String {
            let sorted = values.sorted()
            func pct(_ p: Double) -> Double {
                let i = min(sorted.count - 1, Int((Double(sorted.count) * p).rounded(.up)) - 1)
                return Double(sorted[max(0, i)]) / 1000
            }
            let mean = Double(values.reduce(0, +)) / Double(values.count) / 1000
            return pad(name, 10) + pad(fixed(mean, 2), 9, left: true) + " " + pad(fixed(pct(0.5), 2), 9, left: true) + " "
                + pad(fixed(pct(0.99), 2), 9, left: true)
        }
        out.line("router bench: \(options.rulesDirectory) over \(options.eventsPath)")
        out.line("events: \(totalNs.count) (\(lineCount) lines x \(options.passes) passes), findings: \(findings), deliveries: \(deliveries), input errors: \(inputErrors), rule errors: \(ruleErrors)")
        out.line("throughput: \(fixed(Double(totalNs.count) / wall, 0)) events/s on one thread (\(fixed(wall, 3)) s in the measured loop, reading excluded)")
        out.line("reading the file once: \(fixed(Double(readNs) / 1e9, 3)) s (\(readBytes) bytes in lines)")
        out.line("stage        mean us    p50 us    p99 us")
        out.line(row("parse", parseNs))
        out.line(row("rules", rulesNs) + "   (filter, route, render)")
        out.line(row("serialise", serialiseNs))
        out.line(row("total", totalNs))
        out.line("payload bytes: \(payloadBytes) (\(fixed(deliveries > 0 ? Double(payloadBytes) / Double(deliveries) : 0, 0)) per delivery)")
        out.line("peak memory (max RSS): \(fixed(peakMB, 1)) MB; Lua heap now: \(fixed(Double(engine.memoryUsed) / 1024, 0)) KB")
        return ExitStatus.ok
    }
}

/// Reads a file line by line in 1 MiB chunks, skipping blank lines.
final class LineReader {
    private let fd: Int32
    private var buffer: [UInt8] = []
    private var start = 0
    private var eof = false

    init?(path: String) {
        fd = open(path, O_RDONLY)
        if fd < 0 { return nil }
    }

    deinit { close(fd) }

    func next() -> [UInt8]? {
        while true {
            if let nl = buffer[start...].firstIndex(of: 0x0A) {
                let line = Array(buffer[start..<nl])
                start = nl + 1
                if line.contains(where: { $0 != 0x20 && $0 != 0x0D && $0 != 0x09 }) { return line }
                continue
            }
            if eof {
                guard start < buffer.count else { return nil }
                let line = Array(buffer[start...])
                start = buffer.count
                return line.contains(where: { $0 != 0x20 && $0 != 0x0D && $0 != 0x09 }) ? line : nil
            }
            buffer.removeFirst(start)
            start = 0
            let old = buffer.count
            buffer.append(contentsOf: repeatElement(0, count: 1 << 20))
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress! + old, 1 << 20) }
            buffer.removeLast((1 << 20) - max(0, n))
            if n <= 0 { eof = true }
        }
    }
}

/// `x` with `digits` decimals (no Foundation).
func fixed(_ x: Double, _ digits: Int) -> String {
    guard x.isFinite else { return "\(x)" }
    var scale = 1.0
    for _ in 0..<digits { scale *= 10 }
    let n = Int64((abs(x) * scale).rounded())
    let whole = n / Int64(scale)
    var s = (x < 0 && n != 0 ? "-" : "") + String(whole)
    if digits > 0 {
        let frac = String(n % Int64(scale))
        s += "." + String(repeating: "0", count: digits - frac.count) + frac
    }
    return s
}

func pad(_ s: String, _ width: Int, left: Bool = false) -> String {
    let n = max(0, width - s.count)
    return left ? String(repeating: " ", count: n) + s : s + String(repeating: " ", count: n)
}
