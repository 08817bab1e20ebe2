import RouterDelivery
import RouterJSON

/// `router dlq list|replay|purge` on the data directory's queue.
public enum DeadLetters {
    public static func list(dataDirectory: String, json: Bool, out: OutputSink, err: OutputSink) -> Int32 {
        defer {
            out.flush()
            err.flush()
        }
        guard let queue = open(dataDirectory, err) else { return ExitStatus.config }
        let items: [QueuedDelivery]
        do { items = try queue.deadLetters() } catch {
            err.line("router dlq: \(error)")
            return ExitStatus.config
        }
        for d in items {
            if json {
                let v: JSONValue = [
                    "id": .int(d.id), "finding_id": .string(d.delivery.findingId), "type": .string(d.delivery.findingType),
                    "severity_label": .string(d.delivery.severityLabel), "destination": .string(d.delivery.destination),
                    "channel": d.delivery.channel.map(JSONValue.string) ?? .null, "attempts": .int(Int64(d.attempts)),
                    "first_error": d.firstError.map(JSONValue.string) ?? .null,
                    "last_error": d.lastError.map(JSONValue.string) ?? .null,
                    "enqueued_at": .string(iso(d.enqueuedAt)),
                    "last_attempt_at": d.lastAttemptAt.map { .string(iso($0)) } ?? .null,
                ]
                out.line(v.serialized())
            } else {
                out.line(
                    "#\(d.id) \(d.delivery.severityLabel) \(d.delivery.findingType) finding \(d.delivery.findingId) -> "
                        + "\(d.delivery.destination)\(d.delivery.channel.map { " " + $0 } ?? "")")
                out.line("    attempts \(d.attempts), queued \(iso(d.enqueuedAt)), last attempt \(d.lastAttemptAt.map(iso) ?? "-")")
                out.line("    first error: \(d.firstError ?? "-")")
                out.line("    last error:  \(d.lastError ?? "-")")
            }
        }
        if !json { out.line("\(items.count) dead-lettered deliver\(items.count == 1 ? "y" : "ies")") }
        return ExitStatus.ok
    }

    public static func replay(dataDirectory: String, ids: [Int64]?, out: OutputSink, err: OutputSink) -> Int32 {
        defer {
            out.flush()
            err.flush()
        }
        guard let queue = open(dataDirectory, err) else { return ExitStatus.config }
        do {
            let n = try queue.replay(ids: ids, now: Timestamps.now())
            out.line("\(n) deliver\(n == 1 ? "y" : "ies") back in the queue; `router send` or the server delivers them")
            return ExitStatus.ok
        } catch {
            err.line("router dlq: \(error)")
            return ExitStatus.config
        }
    }

    public static func purge(dataDirectory: String, ids: [Int64]?, out: OutputSink, err: OutputSink) -> Int32 {
        defer {
            out.flush()
            err.flush()
        }
        guard let queue = open(dataDirectory, err) else { return ExitStatus.config }
        do {
            let n = try queue.purge(ids: ids)
            out.line("\(n) dead-lettered deliver\(n == 1 ? "y" : "ies") purged")
            return ExitStatus.ok
        } catch {
            err.line("router dlq: \(error)")
            return ExitStatus.config
        }
    }

    static func open(_ dir: String, _ err: OutputSink) -> DeliveryQueue? {
        do { return try DeliveryQueue(directory: dir) } catch {
            err.line("router dlq: cannot open the delivery queue in \(dir): \(error)")
            return nil
        }
    }

    /// Unix seconds as `2026-01-02T03:04:05Z`.
    public static func iso(_ t: Double) -> String {
        let secs = Int64(t.rounded(.down))
        var days = secs / 86400
        var rem = secs % 86400
        if rem < 0 {
            rem += 86400
            days -= 1
        }
        // civil from days (Howard Hinnant)
        let z = days + 719468
        let era = (z >= 0 ? z : z - 146096) / 146097
        let doe = z - era * 146097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        let y = yoe + era * 400 + (m <= 2 ? 1 : 0)
        func two(_ n: Int64) -> String { n < 10 ? "0\(n)" : "\(n)" }
        return "\(y)-\(two(m))-\(two(d))T\(two(rem / 3600)):\(two(rem % 3600 / 60)):\(two(rem % 60))Z"
    }
}
