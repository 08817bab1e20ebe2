import Dispatch
import RouterDelivery
import RouterFinding
import RouterJSON
import RouterRules
import RouterSlack
import Synchronization

/// What became of one click, for the caller's log and tests.
public struct ActionResult: Sendable, Equatable {
    public var outcome: ActionLogEntry.Outcome
    /// Why (denied, failed, unknown) or what was done.
    public var detail: String
    /// The message was edited in Slack.
    public var messageUpdated: Bool
}

/// Carries out a verified click: the same rules (`permit`) and the same state (the finding's conversation) as
/// delivery, then GuardDuty, then Slack. The server and the Lambda both hand their clicks here, after the
/// signature check and after acknowledging the request.
///
/// 1. The conversation's state names the finding's message and keeps the finding as it was last routed; a click on
///    anything else is answered "unknown" (to the clicking user only).
/// 2. The rules decide: `permit(action, user, f, ctx)`; a denial changes nothing and tells only the user why.
/// 3. GuardDuty: archive / unarchive, feedback, or a suppression rule (acknowledging calls nothing). A refusal changes
///    nothing and tells the user AWS's error code and message.
/// 4. The state (who did what) is saved, the message edited in place (`chat.update`: the status line, Archive or
///    Unarchive), and a thread reply records archive, unarchive, acknowledgements and suppression rules.
/// 5. Every click, honoured or not, is recorded in the action log.
public final class ActionProcessor: Sendable {
    public typealias Permit = @Sendable (FindingAction, PermitUser, Finding) -> PermitDecision

    let threads: ThreadStore
    let slack: SlackTransport
    /// The Web API destination (chat.update, thread replies).
    let webAPI: Destination
    let guardDuty: GuardDutyAPI?
    let permit: Permit
    let log: ActionLog
    let now: @Sendable () -> Double
    /// Where response URLs may point: Slack's hooks, or (tests) the origin of the Web API's base URL.
    let responseOrigins: [String]
    let warn: @Sendable (String) -> Void
    /// Clicks on one message are saved and shown one at a time in this process (striped by finding and conversation),
    /// so its last edit shows its last state.
    private let stripes = (0..<64).map { _ in DispatchSemaphore(value: 1) }

    public init(
        threads: ThreadStore, slack: SlackTransport, webAPI: Destination, guardDuty: GuardDutyAPI?, permit: @escaping Permit,
        log: ActionLog, now: @escaping @Sendable () -> Double, warn: @escaping @Sendable (String) -> Void = { _ in }
    ) {
        self.threads = threads
        self.slack = slack
        self.webAPI = webAPI
        self.guardDuty = guardDuty
        self.permit = permit
        self.log = log
        self.now = now
        self.warn = warn
        var origins = ["https://hooks.slack.com/"]
        if case .webAPI(_, let base) = webAPI.kind, let origin = Self.origin(base), !origin.hasPrefix("https://slack.com") {
            origins.append(origin + "/")
        }
        responseOrigins = origins
    }

    /// `scheme://host[:port]` of a URL.
    static func origin(_ url: String) -> String? {
        guard let colon = url.firstIndex(of: ":"), url[colon...].hasPrefix("://") else { return nil }
        let afterScheme = url.index(colon, offsetBy: 3)
        let rest = url[afterScheme...]
        let host = rest.prefix { $0 != "/" && $0 != "?" && $0 != "#" }
        guard !host.isEmpty else { return nil }
        return String(url[..<afterScheme]) + host
    }

    public func handle(_ click: SlackInteraction) -> ActionResult {
        let result = process(click)
        log.record(
            ActionLogEntry(
                at: now(), userID: click.user.id, userName: click.user.name, team: click.user.team,
                action: click.action.rawValue, findingId: click.findingId, conversation: click.conversation,
                outcome: result.outcome, detail: result.detail))
        if result.outcome != .done { tellUser(click, ":warning: " + result.detail) }
        return result
    }

    private func process(_ click: SlackInteraction) -> ActionResult {
        let record: ThreadRecord?
        do {
            record = try threads.load(findingId: click.findingId, lane: click.conversation)
        } catch {
            return ActionResult(outcome: .failed, detail: "The router cannot read the finding's state right now (\(error.message)); try again.", messageUpdated: false)
        }
        guard let record, let ts = record.ts, let channel = record.channelID, let json = record.findingJSON,
            let finding = InputReader.items(fromBytes: json, source: "state").first?.finding
        else {
            return ActionResult(
                outcome: .unknown,
                detail: "The router does not know this message (finding \(SlackText.findingInline(click.findingId))): it was not posted by this router, or its state expired.",
                messageUpdated: false)
        }
        // The ack button acts per user (a second click takes it back); every other button does what it shows.
        let decision = permit(click.action, click.user, finding)
        guard decision.allowed else {
            return ActionResult(
                outcome: .denied,
                detail: "You may not \(Self.verb(click.action)) this finding: " + SlackText.findingInline(decision.reason ?? "no rule permits it") + ".",
                messageUpdated: false)
        }
        var state = ActionState(encoded: record.actionState)
        let user = ActionUser(id: click.user.id, name: click.user.name)
        var reply: String?
        var archived: Bool? = nil
        switch click.action {
        case .ack:
            if let i = state.acknowledgedBy.firstIndex(where: { $0.id == user.id }) {
                state.acknowledgedBy.remove(at: i)
                reply = ":leftwards_arrow_with_hook: \(user.mention) took back their acknowledgement"
            } else {
                state.acknowledgedBy.append(user)
                reply = ":eyes: Acknowledged by \(user.mention)"
            }
        case .archive, .unarchive, .useful, .notUseful, .suppress:
            guard let guardDuty else {
                return ActionResult(outcome: .failed, detail: "The router has no AWS credentials to call GuardDuty with.", messageUpdated: false)
            }
            let region = finding.region
            let detector: String
            switch guardDuty.detectorId(region: region) {
            case .success(let d): detector = d
            case .failure(let e): return refused(e, finding: finding)
            }
            let call: Result<String?, AWSCallError>
            switch click.action {
            case .archive:
                call = guardDuty.archive(region: region, detectorId: detector, findingIds: [finding.id]).map { nil }
                state.archivedBy = user
                archived = true
                reply = ":file_cabinet: Archived in GuardDuty by \(user.mention)"
            case .unarchive:
                call = guardDuty.unarchive(region: region, detectorId: detector, findingIds: [finding.id]).map { nil }
                state.archivedBy = nil
                archived = false
                reply = ":outbox_tray: Unarchived in GuardDuty by \(user.mention)"
            case .useful, .notUseful:
                let useful = click.action == .useful
                call = guardDuty.feedback(
                    region: region, detectorId: detector, findingIds: [finding.id], useful: useful,
                    comments: "From Slack, by \(click.user.name ?? click.user.id)").map { nil }
                state.feedback = (useful, user)
            default:  // suppress
                let by = click.suppressBy.compactMap(SuppressCriterion.init(rawValue:))
                guard let rule = SuppressionRule.from(finding, by: by) else {
                    return ActionResult(outcome: .failed, detail: "This finding names nothing a suppression rule can match on.", messageUpdated: false)
                }
                call = guardDuty.createFilter(
                    region: region, detectorId: detector, rule: rule,
                    description: rule.description(createdBy: click.user.name ?? click.user.id)
                ).map { outcome in outcome == .alreadyExists ? "already existed" : nil }
                if !state.suppressions.contains(where: { $0.name == rule.name }) { state.suppressions.append((rule.name, user)) }
                reply = ":no_bell: \(user.mention) created GuardDuty suppression rule `\(rule.name)` (archive automatically) for \(SlackText.finding(rule.summary)). "
                    + "Findings that match are archived as they arrive and no longer reach EventBridge or this channel. "
                    + "To delete it: GuardDuty console > Settings > Suppression rules, or "
                    + "`aws guardduty delete-filter --region \(SlackText.findingInline(region)) --detector-id \(SlackText.findingInline(detector)) --filter-name \(rule.name)`"
            }
            switch call {
            case .failure(let e): return refused(e, finding: finding)
            case .success(let note):
                if let note, let r = reply { reply = r + " (the rule \(note))" }
            }
        }
        // Save the new state with the message as it now reads; a concurrent writer (another click, an update of the
        // finding) means: load again and apply the same change to what it stored.
        var hasher = Hasher()
        hasher.combine(click.findingId)
        hasher.combine(click.conversation)
        let stripe = stripes[Int(UInt(bitPattern: hasher.finalize()) % UInt(stripes.count))]
        stripe.wait()
        defer { stripe.signal() }
        var current = record
        var updated: SlackMessage?
        var written: Int64?
        for _ in 0..<5 {
            var next = current
            var merged = ActionState(encoded: current.actionState)
            Self.apply(click.action, user: user, from: state, to: &merged)
            next.actionState = merged.encoded
            if let archived { next.archived = archived }
            if let bytes = current.message, let message = Self.message(bytes) {
                let restated = ActionButtons.restate(message, state: merged)
                next.message = restated.payloadBytes(channel: nil)
                updated = restated
            }
            next.touchedAt = now()
            do {
                if try threads.replace(next, expectedVersion: current.version) {
                    written = current.version + 1
                    break
                }
                guard let again = try threads.load(findingId: click.findingId, lane: click.conversation) else { break }
                current = again
            } catch {
                warn("actions: cannot save the state of finding \(click.findingId): \(error.message)")
                break
            }
        }
        var edited = false
        if let updated {
            let outcome = slack.send(
                SlackRequest(
                    destination: webAPI, method: .update,
                    body: Self.fields([("channel", channel), ("ts", ts)], updated.payloadBytes(channel: nil))))
            if case .delivered = outcome { edited = true } else { warn("actions: chat.update of finding \(click.findingId): \(outcome)") }
            // Another router (a Lambda instance) may have saved a newer state meanwhile and edited the message before
            // this edit arrived: show the newest.
            if edited, let written, let latest = try? threads.load(findingId: click.findingId, lane: click.conversation),
                latest.version != written, let bytes = latest.message
            {
                _ = slack.send(
                    SlackRequest(destination: webAPI, method: .update, body: Self.fields([("channel", channel), ("ts", ts)], bytes)))
            }
        }
        if let reply {
            let body: JSONValue = ["channel": .string(channel), "thread_ts": .string(ts), "text": .string(reply), "unfurl_links": false]
            let outcome = slack.send(SlackRequest(destination: webAPI, method: .postMessage, body: body.serializedBytes()))
            if case .delivered = outcome {} else { warn("actions: thread reply for finding \(click.findingId): \(outcome)") }
        }
        return ActionResult(outcome: .done, detail: Self.done(click.action), messageUpdated: edited)
    }

    /// The one change `action` makes, applied to a state another writer stored meanwhile.
    static func apply(_ action: FindingAction, user: ActionUser, from mine: ActionState, to state: inout ActionState) {
        switch action {
        case .ack:
            let wanted = mine.acknowledgedBy.contains(where: { $0.id == user.id })
            state.acknowledgedBy.removeAll { $0.id == user.id }
            if wanted { state.acknowledgedBy.append(user) }
        case .archive, .unarchive: state.archivedBy = mine.archivedBy
        case .useful, .notUseful: state.feedback = mine.feedback
        case .suppress:
            for s in mine.suppressions where !state.suppressions.contains(where: { $0.name == s.name }) { state.suppressions.append(s) }
        }
    }

    private func refused(_ e: AWSCallError, finding: Finding) -> ActionResult {
        var text = "GuardDuty refused: " + SlackText.findingInline(e.description) + "."
        if let receiver = finding.eventAccount, receiver != finding.account,
            ["AccessDeniedException", "BadRequestException", "InvalidInputException"].contains(e.code)
        {
            text += " This finding belongs to account \(SlackText.findingInline(finding.account)) and reached the router through account "
                + "\(SlackText.findingInline(receiver)): only the GuardDuty administrator account can archive or suppress its members' findings."
        }
        return ActionResult(outcome: .failed, detail: text, messageUpdated: false)
    }

    static func verb(_ a: FindingAction) -> String {
        switch a {
        case .ack: "acknowledge"
        case .archive: "archive"
        case .unarchive: "unarchive"
        case .useful, .notUseful: "give feedback on"
        case .suppress: "create a suppression rule from"
        }
    }

    static func done(_ a: FindingAction) -> String {
        switch a {
        case .ack: "acknowledgement recorded"
        case .archive: "archived"
        case .unarchive: "unarchived"
        case .useful: "marked useful"
        case .notUseful: "marked not useful"
        case .suppress: "suppression rule created"
        }
    }

    static func message(_ bytes: [UInt8]) -> SlackMessage? {
        guard let v = try? JSONValue.parse(bytes) else { return nil }
        return SlackMessage(text: v["text"]?.stringValue ?? "", blocks: v["blocks"]?.arrayValue, attachments: v["attachments"]?.arrayValue)
    }

    /// `payload` (a JSON object) with string members put first.
    static func fields(_ fields: [(String, String)], _ payload: [UInt8]) -> [UInt8] {
        var o = JSONObject()
        for (k, v) in fields { o[k] = .string(v) }
        if let p = try? JSONValue.parse(payload), let members = p.objectValue {
            for (k, v) in members { o[k] = v }
        }
        return JSONValue.object(o).serializedBytes()
    }

    /// An ephemeral answer to the clicking user alone, through the click's response URL (only one that points at
    /// Slack, or at the configured Web API's origin).
    private func tellUser(_ click: SlackInteraction, _ text: String) {
        guard let url = click.responseURL, responseOrigins.contains(where: { url.hasPrefix($0) }) else { return }
        let body: JSONValue = ["response_type": "ephemeral", "replace_original": false, "text": .string(text)]
        let outcome = slack.send(
            SlackRequest(
                destination: Destination(name: "response_url", kind: .webhook(url: Secret(url))), method: .webhook,
                body: body.serializedBytes()))
        if case .delivered = outcome {} else { warn("actions: answering the user of a click on finding \(click.findingId): \(outcome)") }
    }
}

/// A rule engine asked for permits from several threads: one question at a time (a Lua state is single-threaded).
public final class PermitGate: @unchecked Sendable {
    private let lock = Mutex(())
    private let engine: RuleEngine

    public init(engine: RuleEngine) { self.engine = engine }

    public func permit(_ action: FindingAction, user: PermitUser, finding: Finding, now: Double) -> PermitDecision {
        lock.withLock { _ in engine.permit(action, user: user, finding: finding, context: EvaluationContext(now: now)) }
    }
}
