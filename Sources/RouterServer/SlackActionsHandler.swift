import Dispatch
import Foundation
import Logging
import RouterActions
import RouterDelivery
import RouterFinding
import Synchronization

/// `POST /slack/actions`, the Slack app's Interactivity Request URL: authenticated by Slack's request signature
/// only (checked before anything is decoded), answered 200 at once, and carried out afterwards on threads of its own
/// (at most `concurrency` at a time), so Slack's 3 seconds hold whatever GuardDuty and Slack take.
final class SlackActionsHandler: @unchecked Sendable {
    let secret: Secret
    let processor: ActionProcessor
    let metrics: ServerMetrics
    let logger: Logger
    private let workers: ClickWorkers
    /// Clicks accepted and not yet carried out (for tests and the shutdown log).
    private let pending = Mutex(0)

    init(secret: Secret, processor: ActionProcessor, metrics: ServerMetrics, logger: Logger, concurrency: Int = 8) {
        self.secret = secret
        self.processor = processor
        self.metrics = metrics
        self.logger = logger
        workers = ClickWorkers(count: concurrency)
    }

    func handle(body: [UInt8], timestamp: String?, signature: String?) -> ClickEndpoint.Answer {
        let (answer, click) = ClickEndpoint.accept(
            body: body, timestamp: timestamp, signature: signature, secret: secret, now: Timestamps.now())
        if answer.status == 401 {
            metrics.slackAction(outcome: "unauthorized")
            logger.notice("refused a click: \(answer.error ?? "")")
        }
        guard let click else { return answer }
        pending.withLock { $0 += 1 }
        workers.submit { [self] in
            defer { pending.withLock { $0 -= 1 } }
            let result = processor.handle(click)
            metrics.slackAction(outcome: result.outcome.rawValue)
            logger.info(
                "click: \(click.action.rawValue) by \(click.user.id) on finding \(click.findingId): \(result.outcome.rawValue) (\(result.detail))")
        }
        return answer
    }

    var inFlight: Int { pending.withLock { $0 } }
}

/// Threads of their own for carrying out clicks, at a lower CPU priority than the threads that answer HTTP: under
/// load, acknowledging the next click within Slack's 3 seconds comes before finishing the previous one.
final class ClickWorkers: @unchecked Sendable {
    private let jobs = Mutex<[@Sendable () -> Void]>([])
    private let available = DispatchSemaphore(value: 0)

    init(count: Int, nice: Int32 = 10) {
        for n in 0..<max(1, count) {
            let thread = Thread { [self] in
                // Linux: PRIO_PROCESS with who 0 is the calling thread (nice is per thread)
                _ = setpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0, nice)
                while true {
                    available.wait()
                    guard let job = jobs.withLock({ $0.isEmpty ? nil : $0.removeFirst() }) else { continue }
                    job()
                }
            }
            thread.name = "router.click.\(n)"
            thread.start()
        }
    }

    func submit(_ job: @escaping @Sendable () -> Void) {
        jobs.withLock { $0.append(job) }
        available.signal()
    }
}
