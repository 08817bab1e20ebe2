#if canImport(Glibc)
import Glibc
#endif
import Dispatch
import RouterFinding

/// One finding event of a history, with the time it is replayed at (its `updatedAt`).
struct ReplayEvent: Sendable {
    var finding: Finding
    var time: Double
    /// Input order, to keep equal times stable.
    var seq: Int
}

/// Reads a history of findings in `updatedAt` order without holding it all. GuardDuty's S3 export puts each day's
/// findings under `.../YYYY/MM/DD/`: when every input file has such a date in its path, the files are read one day
/// at a time (the next day on a second thread while this one is replayed), each day sorted, and events stamped later
/// than the next day's start carried into it. Other inputs are read whole and sorted once.
final class ReplayReader: @unchecked Sendable {
    struct Batch: Sendable {
        var day: Int?
        var files: [String]
        /// The files' sizes (for progress), read once when the batches are made.
        var bytes = 0
    }

    struct InputProblems: Sendable {
        var count = 0
        var byKind: [String: Int] = [:]
        var examples: [String] = []
        /// Findings whose `updatedAt` (and `createdAt`) is missing or not a time: replayed after the others.
        var untimed = 0

        mutating func add(_ source: String, _ e: InputError) {
            count += 1
            byKind[e.kind.rawValue, default: 0] += 1
            if examples.count < 5 { examples.append("\(source): \(e.kind.rawValue): \(e.message)") }
        }
    }

    let batches: [Batch]
    let totalBytes: Int
    let limits: InputLimits
    private(set) var problems = InputProblems()
    private(set) var bytesRead = 0
    private var seq = 0
    private var untimed: [ReplayEvent] = []

    init(inputs: [String], limits: InputLimits) {
        self.limits = limits
        var files: [String] = []
        var unreadable: [InputItem] = []
        for input in inputs {
            for (path, problem) in InputReader.inputFiles(input) {
                if let problem { unreadable.append(problem) } else { files.append(path) }
            }
        }
        func size(_ f: String) -> Int {
            var info = stat()
            return f != "-" && stat(f, &info) == 0 ? Int(info.st_size) : 0
        }
        let dated = files.map(Self.day(of:))
        var batches: [Batch] = []
        if !files.isEmpty, dated.allSatisfy({ $0 != nil }) {
            var byDay: [Int: [String]] = [:]
            for (f, d) in zip(files, dated) { byDay[d!, default: []].append(f) }
            batches = byDay.keys.sorted().map { Batch(day: $0, files: byDay[$0]!) }
        } else if !files.isEmpty {
            batches = [Batch(day: nil, files: files)]
        }
        for i in batches.indices { batches[i].bytes = batches[i].files.reduce(0) { $0 + size($1) } }
        self.batches = batches
        totalBytes = batches.reduce(0) { $0 + $1.bytes }
        for item in unreadable { problems.add(item.source, item.error!) }
    }

    /// Days since 1970-01-01 of the last `/YYYY/MM/DD/` in a path (the S3 export's layout), or nil.
    static func day(of path: String) -> Int? {
        let parts = path.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count >= 4 else { return nil }
        for i in stride(from: parts.count - 2, through: 2, by: -1) {
            let y = parts[i - 2], m = parts[i - 1], d = parts[i]
            guard y.count == 4, m.count == 2, d.count == 2, let year = Int(y), let month = Int(m), let dd = Int(d),
                (1...12).contains(month), (1...31).contains(dd), year >= 1970
            else { continue }
            return Int((Timestamps.parse("\(y)-\(m)-\(d)") ?? 0) / 86_400)
        }
        return nil
    }

    /// The findings of one batch's files, in input order (problems noted), with their times.
    func load(_ batch: Batch) -> (events: [ReplayEvent], problems: InputProblems, bytes: Int, untimed: [ReplayEvent]) {
        var events: [ReplayEvent] = []
        var problems = InputProblems()
        var untimed: [ReplayEvent] = []
        for file in batch.files {
            InputReader.forEachItem(fromPath: file, limits: limits) { (item: InputItem) in
                switch item.result {
                case .failure(let e):
                    problems.add(item.source, e)
                case .success(let f):
                    if let t = (f.updatedAt ?? f.createdAt).flatMap(Timestamps.parse) {
                        events.append(ReplayEvent(finding: f, time: t, seq: 0))
                    } else {
                        untimed.append(ReplayEvent(finding: f, time: .nan, seq: 0))
                    }
                }
            }
        }
        return (events, problems, batch.bytes, untimed)
    }

    /// Calls `body` with each event in time order, batch after batch (the next batch loading meanwhile); events
    /// without a usable time last, at the last time seen.
    func forEach(_ body: (ReplayEvent) -> Void) {
        var carried: [ReplayEvent] = []
        /// The previous batch's events, freed by the loading thread that allocated them (glibc frees another
        /// thread's memory under that arena's lock, which the loader is busy taking).
        var consumed: [ReplayEvent] = []
        var lastTime = -Double.infinity
        let prefetch = Prefetcher(reader: self)
        for (i, batch) in batches.enumerated() {
            if i == 0 { prefetch.start(batch) }
            var loaded = prefetch.take()
            if i + 1 < batches.count {
                prefetch.start(batches[i + 1], freeing: consume consumed)
            } else {
                _ = consume consumed
            }
            bytesRead += loaded.bytes
            mergeProblems(loaded.problems)
            for k in loaded.events.indices {
                loaded.events[k].seq = seq
                seq += 1
            }
            for var e in loaded.untimed {
                e.seq = seq
                seq += 1
                untimed.append(e)
            }
            // Sorted by index (the events themselves are large: moving them would retain and release every field).
            struct Key {
                var time: Double
                var seq: Int
                var carried: Bool
                var index: Int
            }
            var keys: [Key] = []
            keys.reserveCapacity(carried.count + loaded.events.count)
            for (k, e) in carried.enumerated() { keys.append(Key(time: e.time, seq: e.seq, carried: true, index: k)) }
            for (k, e) in loaded.events.enumerated() { keys.append(Key(time: e.time, seq: e.seq, carried: false, index: k)) }
            keys.sort { $0.time < $1.time || ($0.time == $1.time && $0.seq < $1.seq) }
            var end = keys.count
            if i + 1 < batches.count, let next = batches[i + 1].day {
                let nextStart = Double(next) * 86_400
                end = keys.firstIndex { $0.time >= nextStart } ?? keys.count
            }
            for k in keys[..<end] {
                let e = k.carried ? carried[k.index] : loaded.events[k.index]
                lastTime = max(lastTime, e.time)
                body(e)
            }
            carried = keys[end...].map { $0.carried ? carried[$0.index] : loaded.events[$0.index] }
            consumed = loaded.events
            loaded.events = []
        }
        problems.untimed = untimed.count
        for var e in untimed {
            e.time = lastTime.isFinite ? lastTime : 0
            body(e)
        }
    }

    private func mergeProblems(_ p: InputProblems) {
        problems.count += p.count
        for (k, v) in p.byKind { problems.byKind[k, default: 0] += v }
        for e in p.examples where problems.examples.count < 5 { problems.examples.append(e) }
    }
}

/// Loads one batch on a thread of its own while the caller replays the previous one.
private final class Prefetcher: @unchecked Sendable {
    typealias Loaded = (events: [ReplayEvent], problems: ReplayReader.InputProblems, bytes: Int, untimed: [ReplayEvent])
    let reader: ReplayReader
    private let done = DispatchSemaphore(value: 0)
    private var result: Loaded?

    init(reader: ReplayReader) { self.reader = reader }

    func start(_ batch: ReplayReader.Batch, freeing consumed: consuming [ReplayEvent] = []) {
        let box = Box(consume consumed)
        DispatchQueue.global().async { [self] in
            box.value = []
            result = reader.load(batch)
            done.signal()
        }
    }

    private final class Box: @unchecked Sendable {
        var value: [ReplayEvent]
        init(_ value: consuming [ReplayEvent]) { self.value = value }
    }

    func take() -> Loaded {
        done.wait()
        defer { result = nil }
        return result!
    }
}
