import RouterDelivery
import RouterFinding
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

    /// Unix seconds as ISO-8601 (`2026-01-02T03:04:05.000Z`).
    public static func iso(_ t: Double) -> String { Timestamp.iso8601(epoch: t) ?? String(t) }
}
