#if canImport(Glibc)
import Glibc
#endif
import RouterDelivery
import RouterFinding

/// `router bench-queue`: enqueue throughput into the durable queue (each batch is one committed transaction).
public enum QueueBench {
    public static func run(dataDirectory: String, count: Int, batch: Int, out: OutputSink, err: OutputSink) -> Int32 {
        defer {
            out.flush()
            err.flush()
        }
        let queue: DeliveryQueue
        do { queue = try DeliveryQueue(directory: dataDirectory) } catch {
            err.line("router bench-queue: \(error)")
            return ExitStatus.config
        }
        // A realistic payload: about 1.6 KB, like a detailed message.
        let payload = Array(("{\"text\":\"" + String(repeating: "x", count: 1600) + "\"}").utf8)
        let run = Int(Timestamps.now() * 1000)
        let start = Bench.nanos()
        var done = 0
        while done < count {
            let n = min(batch, count - done)
            let items = (0..<n).map { i in
                NewDelivery(
                    key: "bench-\(run)-\(done + i)", findingId: String(done + i), findingType: "Bench:EC2/Queue",
                    severityLabel: "HIGH", destination: "default", channel: "#bench-\((done + i) % 20)", payload: payload)
            }
            do { _ = try queue.enqueue(items, now: Timestamps.now()) } catch {
                err.line("router bench-queue: \(error)")
                return ExitStatus.config
            }
            done += n
        }
        let seconds = Double(Bench.nanos() - start) / 1e9
        out.line("enqueued \(count) deliveries of \(payload.count) bytes in batches of \(batch): \(fixed(Double(count) / seconds, 0)) deliveries/s (\(fixed(seconds * 1000 / Double((count + batch - 1) / batch), 2)) ms per committed batch)")
        return ExitStatus.ok
    }
}
