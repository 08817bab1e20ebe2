import RouterJSON
import RouterSlack

/// The finding lifecycle in the delivery engine: when a lane reaches a delivery that carries a ``FindingEvent``, the
/// engine looks up what the lane already holds for the finding and posts, edits (`chat.update`) and replies in the
/// thread, or does nothing, as ``Lifecycle/decide(previous:event:severityLabel:canEdit:)`` says; in a burst it lists
/// waiting findings in digests. Each step's outcome is committed before the delivery counts as done; a failure is
/// retried like any other delivery (an edit is idempotent, so a retry repeats it harmlessly).
extension DeliveryEngine {
    /// Slack codes of `chat.update` that mean the message is gone or can no longer be edited: post a new one.
    static let messageGoneCodes: Set<String> = ["message_not_found", "cant_update_message", "edit_window_closed"]

    func processLifecycle(_ item: QueuedDelivery, event: FindingEvent, destination: Destination, threads: ThreadStore) {
        let lane = item.delivery.lane
        let findingId = item.delivery.findingId
        var previous: ThreadRecord?
        do {
            previous = try threads.load(findingId: findingId, lane: item.delivery.conversation)
        } catch {
            retryLater(item, error: "state_store: \(error.message)")
            return
        }
        let now = clock.now()
        if let p = previous, p.isClaimOnly, let holder = p.claimedBy, holder != owner,
            now - (p.claimedAt ?? 0) < policy.claimStaleAfter, Self.ownerIsAlive(holder)
        {
            // Another router is posting this finding's first message here: wait for it, then update it.
            waitAndRetry(item, seconds: 1, why: "waiting for another router's first post of this finding")
            return
        }
        let firstHere = previous == nil || previous!.isClaimOnly
        if firstHere, !event.archived, item.delivery.severityLabel != "CRITICAL", policy.digestWindow > 0,
            let backlog = try? queue.pendingCount(lane: lane),
            DigestRule.opens(
                firstHere: firstHere, archived: event.archived, severityLabel: item.delivery.severityLabel, backlog: backlog,
                policy: policy),
            processDigest(head: item, destination: destination, threads: threads)
        {
            return
        }
        let canEdit = destination.canEdit
        let action = Lifecycle.decide(
            previous: previous, event: event, severityLabel: item.delivery.severityLabel, canEdit: canEdit)
        switch action {
        case .nothing:
            recordDelivered(item, outcome: action.summary, skipped: true)
        case .post:
            postRoot(item, event: event, previous: previous, destination: destination, threads: threads, summary: action.summary)
        case .edit(let channelID, let ts, let reply, let broadcast):
            edit(
                item, event: event, previous: previous!, channelID: channelID, ts: ts, reply: reply, broadcast: broadcast,
                destination: destination, threads: threads, summary: action.summary)
        case .archive(let channelID, let ts):
            edit(
                item, event: event, previous: previous!, channelID: channelID, ts: ts, reply: false, broadcast: false,
                destination: destination, threads: threads, summary: action.summary)
        }
    }

    // MARK: - Posting a root message

    /// Posts the delivery as a new top-level message and remembers it as the finding's message. A first post is
    /// claimed in the store first (a conditional insert), so two routers cannot both post it.
    private func postRoot(
        _ item: QueuedDelivery, event: FindingEvent, previous: ThreadRecord?, destination: Destination,
        threads: ThreadStore, summary: String
    ) {
        let now = clock.now()
        var base: ThreadRecord
        let claim = ThreadRecord(
            findingId: item.delivery.findingId, lane: item.delivery.conversation, count: event.count,
            severityLabel: item.delivery.severityLabel, updatedAt: event.updatedAt, claimedBy: owner, claimedAt: now,
            touchedAt: now)
        do {
            if let previous {
                base = previous
                if previous.isClaimOnly && previous.claimedBy != owner {
                    // A stale claim of a router that did not finish: take it over.
                    var mine = claim
                    mine.version = previous.version
                    guard try threads.replace(mine, expectedVersion: previous.version) else {
                        waitAndRetry(item, seconds: 1, why: "another router took over this finding's first post")
                        return
                    }
                    base.version = previous.version + 1
                }
            } else if let existing = try threads.insert(claim) {
                // Our own claim (a digest that found nothing to combine with) is ours to post; anything else means
                // another router got there first: decide again shortly, against what it stored.
                guard existing.isClaimOnly, existing.claimedBy == owner else {
                    waitAndRetry(item, seconds: 0.2, why: "another router is posting this finding's first message")
                    return
                }
                base = existing
            } else {
                base = claim
                base.version = 1
            }
        } catch {
            retryLater(item, error: "state_store: \(error.message)")
            return
        }
        let (payload, hasButtons) = Self.statedPayload(item, state: base.actionState)
        var fields: [(String, String)] = []
        if case .webAPI = destination.kind, let channel = item.delivery.channel { fields.append(("channel", channel)) }
        let outcome = transport.send(
            SlackRequest(destination: destination, method: Self.postMethod(destination), body: Self.body(fields: fields, payload: payload)))
        guard case .delivered(let ts, let channelID) = outcome else {
            if base.isClaimOnly { releaseClaim(base, threads: threads) }
            settleFailure(item, outcome)
            return
        }
        var record = base
        record.channelID = channelID ?? (destination.canEdit ? item.delivery.channel : nil)
        record.ts = ts
        record.count = event.count
        record.severityLabel = item.delivery.severityLabel
        record.updatedAt = event.updatedAt
        record.archived = event.archived
        record.inDigest = false
        record.claimedBy = nil
        record.claimedAt = nil
        record.touchedAt = clock.now()
        if hasButtons {
            record.message = payload
            record.findingJSON = event.findingJSON ?? record.findingJSON
        }
        save(record, expectedVersion: base.version, threads: threads)
        recordDelivered(item, outcome: summary + (ts.map { " ts \($0)" } ?? ""))
    }

    // MARK: - Editing in place (and replying in the thread)

    private func edit(
        _ item: QueuedDelivery, event: FindingEvent, previous: ThreadRecord, channelID: String, ts: String, reply: Bool,
        broadcast: Bool, destination: Destination, threads: ThreadStore, summary: String
    ) {
        let (payload, hasButtons) = Self.statedPayload(item, state: previous.actionState)
        let update = transport.send(
            SlackRequest(
                destination: destination, method: .update,
                body: Self.body(fields: [("channel", channelID), ("ts", ts)], payload: payload)))
        switch update {
        case .delivered:
            break
        case .permanent(let code, _) where Self.messageGoneCodes.contains(code):
            // The message was deleted or can no longer be edited: a new one, remembered from now on.
            if event.archived {
                var record = previous
                record.archived = true
                record.updatedAt = event.updatedAt
                record.touchedAt = clock.now()
                save(record, expectedVersion: previous.version, threads: threads)
                recordDelivered(item, outcome: "nothing posted (archived; its message is gone: \(code))", skipped: true)
                return
            }
            postRoot(
                item, event: event, previous: previous, destination: destination, threads: threads,
                summary: "new post (the earlier message is gone: \(code))")
            return
        default:
            settleFailure(item, update)
            return
        }
        if reply {
            let text = Lifecycle.replyText(
                previous: previous, event: event, severityLabel: item.delivery.severityLabel, broadcast: broadcast)
            var body: JSONObject = ["channel": .string(channelID), "thread_ts": .string(ts), "text": .string(text)]
            if broadcast { body["reply_broadcast"] = true }
            body["unfurl_links"] = false
            let answer = transport.send(
                SlackRequest(destination: destination, method: .postMessage, body: JSONValue.object(body).serializedBytes()))
            guard case .delivered = answer else {
                settleFailure(item, answer)
                return
            }
        }
        var record = previous
        record.count = event.count
        record.severityLabel = item.delivery.severityLabel
        record.updatedAt = event.updatedAt
        record.archived = event.archived
        record.touchedAt = clock.now()
        if hasButtons {
            record.message = payload
            record.findingJSON = event.findingJSON ?? record.findingJSON
        }
        save(record, expectedVersion: previous.version, threads: threads)
        recordDelivered(item, outcome: summary)
    }

    /// The payload to send for `item`, with the conversation's action state on its buttons (who acknowledged it,
    /// archive or unarchive, ...), and whether it carries buttons at all.
    static func statedPayload(_ item: QueuedDelivery, state: String?) -> (payload: [UInt8], hasButtons: Bool) {
        let payload = Self.payload(of: item)
        guard containsButtons(payload) else { return (payload, false) }
        guard let state, let value = try? JSONValue.parse(payload) else { return (payload, true) }
        let message = SlackMessage(
            text: value["text"]?.stringValue ?? "", blocks: value["blocks"]?.arrayValue,
            attachments: value["attachments"]?.arrayValue)
        return (ActionButtons.restate(message, state: ActionState(encoded: state)).payloadBytes(channel: nil), true)
    }

    static func containsButtons(_ payload: [UInt8]) -> Bool {
        let needle = Array("\"\(ActionButtons.actionsBlockID)\"".utf8)
        guard payload.count >= needle.count else { return false }
        return payload.withUnsafeBufferPointer { p in
            var i = 0
            while i + needle.count <= p.count {
                if p[i] == needle[0] && p[i..<(i + needle.count)].elementsEqual(needle) { return true }
                i += 1
            }
            return false
        }
    }

    /// Gives up a first-post claim that did not lead to a post (Slack failed): another router may take it over at once
    /// (this one takes it again on its retry).
    func releaseClaim(_ claim: ThreadRecord, threads: ThreadStore) {
        var released = claim
        released.claimedAt = 0
        _ = try? threads.replace(released, expectedVersion: claim.version)
    }

    /// Writes `record` conditionally; when another router wrote in between, keeps whichever event is newer.
    func save(_ record: ThreadRecord, expectedVersion: Int64, threads: ThreadStore) {
        var expected = expectedVersion
        for _ in 0..<4 {
            do {
                if try threads.replace(record, expectedVersion: expected) { return }
                guard let current = try threads.load(findingId: record.findingId, lane: record.lane) else {
                    if try threads.insert(record) == nil { return }
                    continue
                }
                if !current.isClaimOnly && !EventTime.isNewer(record.updatedAt, than: current.updatedAt) { return }
                expected = current.version
            } catch {
                log("finding state: cannot record finding \(record.findingId): \(error.message)")
                return
            }
        }
        log("finding state: finding \(record.findingId): gave up after concurrent writes")
    }

    // MARK: - Digests

    /// Lists the lane's waiting first events that are not CRITICAL in one message, with `head`. Returns false when
    /// there is nothing to combine with (then `head` is posted on its own).
    func processDigest(head: QueuedDelivery, destination: Destination, threads: ThreadStore) -> Bool {
        let now = clock.now()
        let others: [QueuedDelivery]
        do {
            others = try queue.claimForDigest(
                lane: head.delivery.lane, excludingId: head.id, limit: max(0, policy.maxDigestFindings - 1), now: now,
                leaseSeconds: policy.leaseSeconds, owner: owner)
        } catch {
            log("delivery queue: \(error)")
            return false
        }
        // Claim the first post of every (finding, conversation) in one go; a finding something is already stored for
        // (posted, or being posted elsewhere) is left for its own turn.
        func key(_ d: QueuedDelivery) -> String { d.delivery.conversation + "\u{1F}" + d.delivery.findingId }
        var claims: [ThreadRecord] = []
        var seen = Set<String>()
        for d in [head] + others {
            guard let e = d.delivery.lifecycle, !e.archived, seen.insert(key(d)).inserted else { continue }
            claims.append(
                ThreadRecord(
                    findingId: d.delivery.findingId, lane: d.delivery.conversation, count: e.count,
                    severityLabel: d.delivery.severityLabel, updatedAt: e.updatedAt, claimedBy: owner, claimedAt: now,
                    touchedAt: now))
        }
        var claimed: [String: Int64] = [:]  // key -> version of our claim
        do {
            for (i, existing) in try threads.insertAll(claims).enumerated() {
                let k = claims[i].lane + "\u{1F}" + claims[i].findingId
                if let existing {
                    // Ours from an earlier attempt can be digested; anything else is not a first post.
                    if existing.isClaimOnly && existing.claimedBy == owner { claimed[k] = existing.version }
                } else {
                    claimed[k] = 1
                }
            }
        } catch {
            log("finding state: \(error.message)")
        }
        guard claimed[key(head)] != nil else {
            try? queue.releaseLeases(ids: others.map(\.id))
            return false
        }
        var members: [QueuedDelivery] = [head]
        var released: [Int64] = []
        for d in others {
            if claimed[key(d)] != nil { members.append(d) } else { released.append(d.id) }
        }
        try? queue.releaseLeases(ids: released)
        guard members.count > 1 else { return false }

        var latest: [String: QueuedDelivery] = [:]
        var order: [String] = []
        for m in members {
            let id = key(m)
            if let seen = latest[id] {
                if let a = m.delivery.lifecycle, let b = seen.delivery.lifecycle, EventTime.isNewer(a.updatedAt, than: b.updatedAt) {
                    latest[id] = m
                }
            } else {
                latest[id] = m
                order.append(id)
            }
        }
        let entries = order.compactMap { latest[$0] }.map { d in
            DigestEntry(
                findingId: d.delivery.findingId, type: d.delivery.findingType, severityLabel: d.delivery.severityLabel,
                account: d.delivery.lifecycle?.account ?? "", resource: d.delivery.lifecycle?.resource)
        }
        var mentionSet: [String] = []
        for m in members {
            for token in (m.delivery.lifecycle?.mentions ?? "").split(separator: " ") where !mentionSet.contains(String(token)) {
                mentionSet.append(String(token))
            }
        }
        let payload = DigestMessage.payload(entries: entries, mentions: mentionSet.isEmpty ? "" : mentionSet.joined(separator: " ") + " ")
        var fields: [(String, String)] = []
        if destination.canEdit, let channel = head.delivery.channel { fields.append(("channel", channel)) }
        let outcome = transport.send(
            SlackRequest(
                destination: destination, method: Self.postMethod(destination),
                body: Self.body(fields: fields, payload: payload.serializedBytes())))
        guard case .delivered(let ts, let channelID) = outcome else {
            try? queue.releaseLeases(ids: members.dropFirst().map(\.id))
            for m in members {
                guard let version = claimed.removeValue(forKey: key(m)), let e = m.delivery.lifecycle else { continue }
                releaseClaim(
                    ThreadRecord(
                        findingId: m.delivery.findingId, lane: m.delivery.conversation, count: e.count,
                        severityLabel: m.delivery.severityLabel, updatedAt: e.updatedAt, claimedBy: owner, claimedAt: now,
                        version: version, touchedAt: now), threads: threads)
            }
            settleFailure(head, outcome)
            return true
        }
        let done = clock.now()
        var records: [(ThreadRecord, expectedVersion: Int64)] = []
        for k in order {
            guard let d = latest[k], let e = d.delivery.lifecycle, let version = claimed[k] else { continue }
            records.append(
                (ThreadRecord(
                    findingId: d.delivery.findingId, lane: d.delivery.conversation,
                    channelID: channelID ?? (destination.canEdit ? d.delivery.channel : nil), ts: ts, count: e.count,
                    severityLabel: d.delivery.severityLabel, updatedAt: e.updatedAt, archived: false, inDigest: true,
                    version: version, touchedAt: done), version))
        }
        do {
            for (i, ok) in try threads.replaceAll(records).enumerated() where !ok {
                save(records[i].0, expectedVersion: records[i].expectedVersion, threads: threads)
            }
        } catch {
            log("finding state: cannot record the digest's findings: \(error.message)")
        }
        let outcomeText = "listed in a digest of \(entries.count) finding\(entries.count == 1 ? "" : "s")" + (ts.map { " ts \($0)" } ?? "")
        do {
            try queue.markDelivered(ids: members.map(\.id), now: done, outcome: outcomeText)
            state.withLock { s in
                s.summary.delivered += members.count
                s.summary.digests += 1
                s.summary.digested += members.count
            }
            for _ in members { onEvent?(.delivered(destination: head.delivery.destination)) }
        } catch {
            log("delivery queue: cannot record digest: \(error)")
        }
        return true
    }
}
