import Dispatch
import Synchronization
import RouterDelivery

/// Group commit: requests hand their deliveries to one committer thread, which stores everything that arrived while
/// the previous transaction was being committed in ONE transaction (one fsync), then answers each request. With
/// `synchronous=FULL` a transaction per request caps the server at a few hundred requests per second; a group commit
/// costs one fsync per batch, whatever the number of requests in it.
final class GroupCommitter: @unchecked Sendable {
    typealias Outcome = Result<[EnqueueResult], QueueError>

    private struct Job {
        var deliveries: [NewDelivery]
        var done: @Sendable (Outcome) -> Void
    }

    private let queue: DeliveryQueue
    private let jobs = Mutex<[Job]>([])
    private let arrived = DispatchSemaphore(value: 0)
    private let thread = DispatchQueue(label: "router.server.commit")
    private let now: @Sendable () -> Double
    /// Called after each successful commit (wakes the delivery engine).
    private let committed: @Sendable () -> Void
    /// Whether the last commit succeeded (`/readyz`).
    let lastCommitSucceeded = Atomic<Bool>(true)

    init(queue: DeliveryQueue, now: @escaping @Sendable () -> Double, committed: @escaping @Sendable () -> Void) {
        self.queue = queue
        self.now = now
        self.committed = committed
        thread.async { [self] in loop() }
    }

    /// Stores `deliveries` durably (in a transaction shared with other requests) and returns once it is committed.
    func commit(_ deliveries: [NewDelivery]) async -> Outcome {
        if deliveries.isEmpty { return .success([]) }
        return await withCheckedContinuation { (c: CheckedContinuation<Outcome, Never>) in
            jobs.withLock { $0.append(Job(deliveries: deliveries, done: { c.resume(returning: $0) })) }
            arrived.signal()
        }
    }

    private func loop() {
        while true {
            arrived.wait()
            let batch = jobs.withLock { j -> [Job] in
                let taken = j
                j.removeAll(keepingCapacity: true)
                return taken
            }
            if batch.isEmpty { continue }
            var all: [NewDelivery] = []
            all.reserveCapacity(batch.reduce(0) { $0 + $1.deliveries.count })
            for job in batch { all += job.deliveries }
            do {
                let results = try queue.enqueue(all, now: now())
                lastCommitSucceeded.store(true, ordering: .relaxed)
                var start = 0
                for job in batch {
                    let end = start + job.deliveries.count
                    job.done(.success(Array(results[start..<end])))
                    start = end
                }
                committed()
            } catch {
                lastCommitSucceeded.store(false, ordering: .relaxed)
                for job in batch { job.done(.failure(error)) }
            }
        }
    }
}
