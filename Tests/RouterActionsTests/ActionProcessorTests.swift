import Foundation
import RouterCore
import RouterDelivery
import RouterFinding
import RouterJSON
import RouterRules
import RouterSlack
import RouterTestSupport
import Synchronization
import XCTest

@testable import RouterActions

/// A finding routed with buttons, posted by the delivery engine, then clicked: the processor's whole path with the
/// in-memory Slack, GuardDuty and the queue's own SQLite state.
final class ActionProcessorTests: QueueTestCase {
    static let rules = ##"""
        return {
          route = function(f)
            return { channel = "#sec", actions = { "ack", "archive", "useful", "not_useful", "suppress" } }
          end,
          permit = function(action, user, f, ctx)
            if user.id == "UBLOCKED" then return false, "blocked users may not act" end
            if action == "suppress" and f.severity >= 7 then return false, "HIGH findings are not suppressed from Slack" end
            if user.team == "T1" then return true end
          end,
        }
        """##

    static func event(id: String = "f0000000000000000000000000000001", severity: Double = 5, archived: Bool = false,
                      updatedAt: String = "2026-01-02T03:04:05.000Z", count: Int = 1, account: String = "111122223333",
                      envelopeAccount: String? = nil) -> String
    {
        """
        {"version":"0","id":"e1","detail-type":"GuardDuty Finding","source":"aws.guardduty","account":"\(envelopeAccount ?? account)",
         "time":"2026-01-02T03:04:05Z","region":"eu-west-1","resources":[],
         "detail":{"schemaVersion":"2.0","accountId":"\(account)","region":"eu-west-1","partition":"aws","id":"\(id)",
           "arn":"arn:aws:guardduty:eu-west-1:\(account):detector/d1/finding/\(id)","type":"Recon:EC2/PortProbeUnprotectedPort",
           "resource":{"resourceType":"Instance","instanceDetails":{"instanceId":"i-0abc123","tags":[]}},
           "service":{"serviceName":"guardduty","count":\(count),"archived":\(archived),"action":{"actionType":"PORT_PROBE"},
             "additionalInfo":{}},
           "severity":\(severity),"createdAt":"2026-01-01T00:00:00.000Z","updatedAt":"\(updatedAt)",
           "title":"Unprotected port on EC2 instance i-0abc123 is being probed.","description":"desc <!channel>"}}
        """
    }

    var slack: InMemorySlackTransport!
    var guardDuty: InMemoryGuardDuty!
    var engine: RuleEngine!
    var processor: ActionProcessor!

    override func setUpWithError() throws {
        try super.setUpWithError()
        slack = InMemorySlackTransport()
        guardDuty = InMemoryGuardDuty()
        engine = try RuleEngine(sources: [("rules/50.lua", Array(Self.rules.utf8))])
        let gate = PermitGate(engine: try RuleEngine(sources: [("rules/50.lua", Array(Self.rules.utf8))]))
        processor = ActionProcessor(
            threads: queue.threads, slack: slack, webAPI: api.webAPI!, guardDuty: guardDuty,
            permit: { action, user, finding in gate.permit(action, user: user, finding: finding, now: 1_767_323_045) },
            log: queue, now: { 1_767_323_045 })
    }

    /// Routes and posts `json`; returns the conversation key.
    @discardableResult
    func post(_ json: String) throws -> String {
        let intake = Intake(engine: engine, destinations: api, fallbackChannel: nil, stateful: true, actionsEnabled: true)
        let item = InputReader.items(fromBytes: Array(json.utf8), source: "test")[0]
        let result = intake.route(item, now: 1_767_323_045)
        XCTAssertEqual(result.ruleErrors, [])
        _ = try queue.enqueue(result.deliveries, now: 1_767_323_045)
        let delivery = DeliveryEngine(queue: queue, destinations: api, transport: slack, policy: fast, threads: queue.threads)
        _ = delivery.drain(until: Date().timeIntervalSince1970 + 10)
        return result.deliveries[0].conversation
    }

    func click(_ action: FindingAction, user: String = "U0ALICE", team: String = "T1", finding: String = "f0000000000000000000000000000001",
               conversation: String) -> ActionResult
    {
        processor.handle(
            SlackInteraction(
                user: PermitUser(id: user, name: user.lowercased(), team: team), action: action, findingId: finding,
                conversation: conversation, suppressBy: [],
                responseURL: "https://hooks.slack.com/actions/T1/1/abc"))
    }

    func lastUpdate() throws -> JSONValue {
        let update = try XCTUnwrap(slack.calls.last(where: { $0.method == .update }))
        return try JSONValue.parse(update.body)
    }

    func testThePostedMessageCarriesButtonsAndTheStateKeepsWhatAClickNeeds() throws {
        let conversation = try post(Self.event())
        let posted = try XCTUnwrap(slack.calls.first)
        let payload = try JSONValue.parse(posted.body)
        let blocks = try XCTUnwrap(payload["attachments"]?[0]?["blocks"]?.arrayValue)
        let actions = try XCTUnwrap(blocks.last)
        XCTAssertEqual(actions["block_id"]?.stringValue, "router.actions")
        let ids = actions["elements"]?.arrayValue?.compactMap { $0["action_id"]?.stringValue }
        XCTAssertEqual(ids, ["router.ack", "router.archive", "router.useful", "router.not_useful", "router.suppress"])
        let archive = try XCTUnwrap(actions["elements"]?[1])
        XCTAssertEqual(archive["style"]?.stringValue, "danger")
        XCTAssertNotNil(archive["confirm"])
        let suppressConfirm = try XCTUnwrap(actions["elements"]?[4]?["confirm"]?["text"]?["text"]?.stringValue)
        XCTAssertTrue(suppressConfirm.contains("type = Recon:EC2/PortProbeUnprotectedPort"), suppressConfirm)
        XCTAssertTrue(suppressConfirm.contains("EC2 instance = i-0abc123"), suppressConfirm)
        XCTAssertTrue(suppressConfirm.contains("account = 111122223333"), suppressConfirm)
        let record = try XCTUnwrap(try queue.threads.load(findingId: "f0000000000000000000000000000001", lane: conversation))
        XCTAssertNotNil(record.message)
        let kept = try XCTUnwrap(record.findingJSON)
        XCTAssertEqual(InputReader.items(fromBytes: kept, source: "state").first?.finding?.id, "f0000000000000000000000000000001")
    }

    func testArchiveCallsGuardDutyEditsTheMessageAndRepliesInTheThread() throws {
        let conversation = try post(Self.event())
        let before = slack.calls.count
        let r = click(.archive, conversation: conversation)
        XCTAssertEqual(r.outcome, .done, r.detail)
        XCTAssertTrue(r.messageUpdated)
        XCTAssertEqual(guardDuty.calls.map(\.operation), ["listDetectors", "archive"])
        XCTAssertEqual(guardDuty.calls.last?.region, "eu-west-1")
        XCTAssertEqual(guardDuty.archived, ["f0000000000000000000000000000001"])
        let calls = Array(slack.calls[before...])
        XCTAssertEqual(calls.map(\.method), [.update, .postMessage])
        let updated = try lastUpdate()
        XCTAssertEqual(updated["ts"]?.stringValue, "1700000000.000001", "the posted message")
        let text = updated.serialized()
        XCTAssertTrue(text.contains("Archived by <@U0ALICE>"), text)
        XCTAssertTrue(text.contains("router.unarchive") && !text.contains("\"router.archive\""), "Unarchive replaces Archive")
        let reply = try JSONValue.parse(calls[1].body)
        XCTAssertEqual(reply["thread_ts"]?.stringValue, "1700000000.000001")
        XCTAssertTrue(reply["text"]?.stringValue?.contains("Archived in GuardDuty by <@U0ALICE>") == true)
        let record = try XCTUnwrap(try queue.threads.load(findingId: "f0000000000000000000000000000001", lane: conversation))
        XCTAssertTrue(record.archived)
        XCTAssertEqual(ActionState(encoded: record.actionState).archivedBy?.id, "U0ALICE")
        XCTAssertEqual(try queue.actionLog().map(\.outcome), [.done])

        // GuardDuty then publishes the finding as archived: already shown, nothing posted, no second reply.
        let n = slack.calls.count
        try post(Self.event(archived: true, updatedAt: "2026-01-02T04:00:00.000Z"))
        XCTAssertEqual(slack.calls.count, n, "\(slack.calls.dropFirst(n).map(\.method))")

        // Unarchive brings Archive back.
        let u = click(.unarchive, conversation: conversation)
        XCTAssertEqual(u.outcome, .done, u.detail)
        XCTAssertEqual(guardDuty.archived, [])
        XCTAssertTrue(try lastUpdate().serialized().contains("\"router.archive\""))
    }

    func testAckTogglesPerUserAndTheStatusSurvivesALifecycleEdit() throws {
        let conversation = try post(Self.event())
        XCTAssertEqual(click(.ack, conversation: conversation).outcome, .done)
        XCTAssertEqual(click(.ack, user: "U0BOB", conversation: conversation).outcome, .done)
        XCTAssertTrue(try lastUpdate().serialized().contains("Acknowledged by <@U0ALICE>, <@U0BOB>"))
        XCTAssertEqual(click(.ack, conversation: conversation).outcome, .done, "a second click by the same user")
        let text = try lastUpdate().serialized()
        XCTAssertTrue(text.contains("Acknowledged by <@U0BOB>") && !text.contains("U0ALICE"), text)
        XCTAssertTrue(guardDuty.calls.isEmpty, "acknowledging calls nothing in AWS")
        // A later event of the finding edits the message: the status stays on it.
        let updatesBefore = slack.calls.filter { $0.method == .update }.count
        try post(Self.event(updatedAt: "2026-01-02T05:00:00.000Z", count: 3))
        XCTAssertEqual(slack.calls.filter { $0.method == .update }.count, updatesBefore + 1, "the event edits the message")
        let edit = try lastUpdate().serialized()
        XCTAssertTrue(edit.contains("Acknowledged by <@U0BOB>"), edit)
        XCTAssertTrue(edit.contains(#"*Count*\n3"#), "the edit is the new event's rendering: \(edit)")
    }

    func testDeniedFailedAndUnknownClicksChangeNothingAndTellOnlyTheUser() throws {
        let conversation = try post(Self.event(severity: 8))
        let posted = slack.calls.count
        // Denied by a rule.
        let d = click(.archive, user: "UBLOCKED", conversation: conversation)
        XCTAssertEqual(d.outcome, .denied)
        XCTAssertTrue(d.detail.contains("blocked users may not act"), d.detail)
        // Denied because no file says true (team T2).
        let n = click(.ack, team: "T2", conversation: conversation)
        XCTAssertEqual(n.outcome, .denied)
        XCTAssertTrue(n.detail.contains("no rule permits ack"), n.detail)
        // A rule's own condition.
        XCTAssertEqual(click(.suppress, conversation: conversation).outcome, .denied)
        // AWS refuses.
        guardDuty.fail("archive", with: AWSCallError(code: "AccessDeniedException", message: "User is not authorized to perform: guardduty:ArchiveFindings", httpStatus: 403))
        let f = click(.archive, conversation: conversation)
        XCTAssertEqual(f.outcome, .failed)
        XCTAssertTrue(f.detail.contains("AccessDeniedException: User is not authorized"), f.detail)
        // Unknown message.
        let u = click(.archive, finding: "ffffffffffffffffffffffffffffffff", conversation: conversation)
        XCTAssertEqual(u.outcome, .unknown)
        // Nothing changed: no edit, no reply; each was told to its user alone through the response URL.
        let after = Array(slack.calls[posted...])
        XCTAssertEqual(after.count, 5)
        XCTAssertTrue(after.allSatisfy { $0.destination == "response_url" && $0.method == .webhook })
        XCTAssertTrue(after.allSatisfy { (try? JSONValue.parse($0.body))?["response_type"]?.stringValue == "ephemeral" })
        let record = try XCTUnwrap(try queue.threads.load(findingId: "f0000000000000000000000000000001", lane: conversation))
        XCTAssertNil(record.actionState)
        XCTAssertFalse(record.archived)
        XCTAssertEqual(try queue.actionLog().map(\.outcome), [.denied, .denied, .denied, .failed, .unknown])
        XCTAssertEqual(try queue.actionLog().first?.userID, "UBLOCKED")
    }

    func testAMemberFindingRefusedByAWSSaysOnlyTheAdministratorMayArchive() throws {
        let conversation = try post(Self.event(account: "444455556666", envelopeAccount: "111122223333"))
        guardDuty.fail("archive", with: AWSCallError(code: "BadRequestException", message: "The request is rejected because the input detectorId is not owned by the current account.", httpStatus: 400))
        let r = click(.archive, conversation: conversation)
        XCTAssertEqual(r.outcome, .failed)
        XCTAssertTrue(r.detail.contains("only the GuardDuty administrator account"), r.detail)
    }

    func testSuppressCreatesOneNamedRuleAndFeedbackShows() throws {
        let conversation = try post(Self.event(severity: 5))
        XCTAssertEqual(click(.suppress, conversation: conversation).outcome, .done)
        XCTAssertEqual(click(.suppress, user: "U0BOB", conversation: conversation).outcome, .done, "the same click twice")
        XCTAssertEqual(guardDuty.filters.count, 1)
        let rule = try XCTUnwrap(guardDuty.filters.values.first)
        XCTAssertEqual(
            rule.criteria.map(\.key), ["type", "accountId", "resource.instanceDetails.instanceId"])
        XCTAssertEqual(rule.criteria.map(\.value), ["Recon:EC2/PortProbeUnprotectedPort", "111122223333", "i-0abc123"])
        let reply = try XCTUnwrap(slack.calls.last(where: { $0.method == .postMessage }))
        let text = try XCTUnwrap(try JSONValue.parse(reply.body)["text"]?.stringValue)
        XCTAssertTrue(text.contains(rule.name) && text.contains("delete-filter") && text.contains("already existed"), text)
        XCTAssertEqual(click(.useful, conversation: conversation).outcome, .done)
        XCTAssertEqual(guardDuty.calls.last?.detail, "USEFUL")
        let status = try lastUpdate().serialized()
        XCTAssertTrue(status.contains("Marked useful by <@U0ALICE>"), status)
        XCTAssertTrue(status.contains("Suppression rule `\(rule.name)` created by <@U0ALICE>"), status)
    }

    func testAResponseURLElsewhereIsNotCalled() throws {
        let conversation = try post(Self.event())
        let before = slack.calls.count
        _ = processor.handle(
            SlackInteraction(
                user: PermitUser(id: "UBLOCKED", name: "x", team: "T1"), action: .ack, findingId: "f0000000000000000000000000000001",
                conversation: conversation, suppressBy: [], responseURL: "https://evil.example/steal"))
        XCTAssertEqual(slack.calls.count, before)
    }
}
