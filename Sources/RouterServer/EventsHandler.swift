import Dispatch
import Logging
import RouterCore
import RouterDelivery
import RouterFinding
import RouterJSON

/// The answer to one `POST /events`: an HTTP status and a JSON body.
struct EventsReply: Sendable {
    var status: Int
    var body: JSONValue

    static func error(_ status: Int, _ message: String, rejected: [JSONValue] = []) -> EventsReply {
        var o: JSONObject = ["error": .string(message)]
        if !rejected.isEmpty { o["rejected"] = .array(rejected) }
        return EventsReply(status: status, body: .object(o))
    }
}

/// `POST /events` once the request is authenticated and its body read: SNS messages are verified (and
/// confirmations confirmed); findings are routed and their deliveries committed durably before the answer.
///
/// A batch that mixes findings and items that are not findings: the findings are accepted (202, their ids in
/// `accepted`) and every other item is listed in `rejected` with its reason, so nothing good is lost and the caller
/// sees what was refused. Only a request without a single finding is answered 400.
final class EventsHandler: @unchecked Sendable {
    let rules: ActiveRules
    let committer: GroupCommitter
    let metrics: ServerMetrics
    let verifier: SNSVerifier
    let limits: InputLimits
    let logger: Logger
    let secrets: [Secret]
    private let blocking = DispatchQueue(label: "router.server.sns", attributes: .concurrent)

    init(
        rules: ActiveRules, committer: GroupCommitter, metrics: ServerMetrics, verifier: SNSVerifier,
        limits: InputLimits, logger: Logger
    ) {
        self.rules = rules
        self.committer = committer
        self.metrics = metrics
        self.verifier = verifier
        self.limits = limits
        self.logger = logger
        self.secrets = rules.destinations.secrets
    }

    func handle(body: [UInt8], snsMessageType: String?) async -> EventsReply {
        if let bad = UTF8Check.firstInvalidOffset(body) {
            metrics.inputRejected(kind: InputErrorKind.invalidJSON.rawValue)
            return .error(400, "invalid_json: the body is not UTF-8 (byte \(bad))")
        }
        if let snsMessageType { return await handleSNS(body: body, headerType: snsMessageType) }
        return await accept(InputReader.items(fromBytes: body, source: "body", limits: limits))
    }

    // MARK: - Findings

    func accept(_ items: [InputItem]) async -> EventsReply {
        var findings: [InputItem] = []
        var rejected: [JSONValue] = []
        for item in items {
            if let e = item.error {
                metrics.inputRejected(kind: e.kind.rawValue)
                rejected.append(["source": .string(item.source), "error": .string(e.description)])
            } else {
                findings.append(item)
            }
        }
        if findings.isEmpty {
            let first = items.first?.error?.description ?? "no input"
            let message = items.count == 1 ? first : "no finding in \(items.count) item\(items.count == 1 ? "" : "s")"
            return .error(400, message, rejected: items.count == 1 ? [] : rejected)
        }

        let results = rules.route(findings, now: Timestamps.now())
        var deliveries: [NewDelivery] = []
        var accepted: [JSONValue] = []
        var dropped = 0, unrouted = 0
        for r in results {
            metrics.findingsReceived.increment()
            accepted.append(.string(r.findingId ?? ""))
            if let file = r.droppedBy {
                dropped += 1
                metrics.dropped(byFile: file)
                continue
            }
            if r.unrouted {
                unrouted += 1
                metrics.findingsUnrouted.increment()
                logger.notice("unrouted: finding \(r.findingId ?? "") \(r.findingType ?? "") from \(r.source)")
            }
            for e in r.ruleErrors {
                metrics.ruleErrors.increment()
                logger.warning("\(Secret.redact(e, secrets))")
            }
            deliveries += r.deliveries
        }

        switch await committer.commit(deliveries) {
        case .failure(let e):
            logger.error("cannot queue deliveries: \(e)")
            return .error(503, "the delivery queue cannot store deliveries now; retry later")
        case .success(let stored):
            var queued = 0, duplicates = 0
            for s in stored {
                if case .queued = s { queued += 1 } else { duplicates += 1 }
            }
            var o: JSONObject = [
                "accepted": .array(accepted),
                "deliveries": ["queued": .int(Int64(queued)), "duplicates": .int(Int64(duplicates))],
                "dropped": .int(Int64(dropped)),
                "unrouted": .int(Int64(unrouted)),
            ]
            if !rejected.isEmpty { o["rejected"] = .array(rejected) }
            return EventsReply(status: 202, body: .object(o))
        }
    }

    // MARK: - SNS HTTPS subscriptions

    func handleSNS(body: [UInt8], headerType: String) async -> EventsReply {
        let message: SNSMessage
        do {
            message = try SNSMessage.parse(body)
        } catch {
            return .error(400, "invalid SNS message: \(error.description)")
        }
        guard message.type == headerType else {
            return .error(400, "x-amz-sns-message-type '\(short(headerType))' does not match the message Type '\(short(message.type))'")
        }
        switch message.type {
        case "SubscriptionConfirmation", "Notification", "UnsubscribeConfirmation": break
        default: return .error(400, "unknown SNS message type '\(short(message.type))'")
        }
        if let failure = await offThread({ [verifier] () -> SNSError? in
            do throws(SNSError) { try verifier.verify(message) } catch { return error }
            return nil
        }) {
            logger.warning("SNS \(message.type) \(message.messageId) from \(message.topicArn) refused: \(failure.description)")
            return .error(403, "SNS signature not verified: \(failure.description)")
        }
        switch message.type {
        case "SubscriptionConfirmation":
            if let failure = await offThread({ [verifier] () -> SNSError? in
                do throws(SNSError) { try verifier.confirm(message) } catch { return error }
                return nil
            }) {
                logger.error("SNS subscription to \(message.topicArn) not confirmed: \(failure.description)")
                return .error(502, "SNS subscription not confirmed: \(failure.description)")
            }
            logger.notice("SNS subscription to \(message.topicArn) confirmed")
            return EventsReply(status: 200, body: ["confirmed": .string(message.topicArn)])
        case "UnsubscribeConfirmation":
            logger.notice("SNS unsubscribed from \(message.topicArn) (message \(message.messageId))")
            return EventsReply(status: 200, body: ["unsubscribed": .string(message.topicArn)])
        default:
            var items = InputReader.items(
                fromBytes: Array(message.message.utf8), source: "sns:\(message.messageId)", limits: limits)
            for i in items.indices where items[i].recordId == nil { items[i].recordId = message.messageId }
            return await accept(items)
        }
    }

    private func offThread<T: Sendable>(_ work: @escaping @Sendable () -> T) async -> T {
        await withCheckedContinuation { c in blocking.async { c.resume(returning: work()) } }
    }

    private func short(_ s: String) -> String { s.count > 64 ? String(s.prefix(64)) + "..." : s }
}
