import RouterJSON

/// One click on a finding's button, honoured or not: who, which action, which finding, and what came of it.
public struct ActionLogEntry: Sendable, Equatable {
    public enum Outcome: String, Sendable {
        /// Done: GuardDuty (when the action calls it) and the message were updated.
        case done
        /// The rules' `permit` said no (or no rule said yes, or a rule error).
        case denied
        /// Permitted, but GuardDuty refused or could not be reached; nothing changed.
        case failed
        /// The click names a message or finding the router does not know.
        case unknown
    }

    /// Unix seconds.
    public var at: Double
    public var userID: String
    public var userName: String?
    public var team: String?
    /// `ack`, `archive`, `unarchive`, `useful`, `not_useful`, `suppress`.
    public var action: String
    public var findingId: String
    public var conversation: String?
    public var outcome: Outcome
    /// Why (the rule's reason, AWS's error code and message) or what (the suppression rule's name).
    public var detail: String?

    public init(
        at: Double, userID: String, userName: String?, team: String?, action: String, findingId: String,
        conversation: String?, outcome: Outcome, detail: String?
    ) {
        self.at = at
        self.userID = userID
        self.userName = userName
        self.team = team
        self.action = action
        self.findingId = findingId
        self.conversation = conversation
        self.outcome = outcome
        self.detail = detail
    }

    public var json: JSONValue {
        var o: JSONObject = ["at": .double(at), "user": .string(userID)]
        if let n = userName { o["user_name"] = .string(n) }
        if let t = team { o["team"] = .string(t) }
        o["action"] = .string(action)
        o["finding"] = .string(findingId)
        if let c = conversation { o["conversation"] = .string(c.replacing("\u{1F}", with: " ")) }
        o["outcome"] = .string(outcome.rawValue)
        if let d = detail { o["detail"] = .string(d) }
        return .object(o)
    }
}

/// Where clicks are recorded: SQLite beside the queue (the server and `router actions log`), the Lambda's JSON log
/// (and its state table), memory for tests.
public protocol ActionLog: Sendable {
    func record(_ entry: ActionLogEntry)
}

extension DeliveryQueue: ActionLog {
    /// Records a click in the `action_log` table (errors are the caller's to ignore: a click is never refused for it).
    public func record(_ entry: ActionLogEntry) {
        _ = try? transaction("record a click") { db throws(SQLiteError) -> Int in
            try db.run(
                """
                INSERT INTO action_log (at, user_id, user_name, team, action, finding_id, conversation, outcome, detail)
                VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
                """,
                [
                    .double(entry.at), .text(entry.userID), .text(entry.userName), .text(entry.team), .text(entry.action),
                    .text(entry.findingId), .text(entry.conversation), .text(entry.outcome.rawValue), .text(entry.detail),
                ])
        }
    }

    /// The recorded clicks, oldest first (the last `limit`).
    public func actionLog(limit: Int = 1000) throws(QueueError) -> [ActionLogEntry] {
        try read("read the action log") { db throws(SQLiteError) in
            try db.query(
                """
                SELECT at, user_id, user_name, team, action, finding_id, conversation, outcome, detail FROM
                    (SELECT * FROM action_log ORDER BY id DESC LIMIT ?1) ORDER BY id
                """, [.int(Int64(limit))]
            ) { s in
                ActionLogEntry(
                    at: s.double(0), userID: s.string(1) ?? "", userName: s.string(2), team: s.string(3),
                    action: s.string(4) ?? "", findingId: s.string(5) ?? "", conversation: s.string(6),
                    outcome: ActionLogEntry.Outcome(rawValue: s.string(7) ?? "") ?? .failed, detail: s.string(8))
            }
        }
    }
}
