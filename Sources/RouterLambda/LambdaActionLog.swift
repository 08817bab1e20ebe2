import RouterDelivery

/// Where the Lambda records clicks: one JSON log line each (CloudWatch Logs), and an item in the state table when
/// there is one (kept 90 days like the findings' state).
final class LambdaActionLog: ActionLog, @unchecked Sendable {
    let log: LambdaLog
    let table: DynamoDBThreadStore?

    init(log: LambdaLog, table: DynamoDBThreadStore?) {
        self.log = log
        self.table = table
    }

    func record(_ entry: ActionLogEntry) {
        var fields: [(String, String)] = [
            ("user", entry.userID), ("action", entry.action), ("findingId", entry.findingId), ("outcome", entry.outcome.rawValue),
        ]
        if let n = entry.userName { fields.append(("userName", n)) }
        if let t = entry.team { fields.append(("team", t)) }
        if let d = entry.detail { fields.append(("detail", d)) }
        log.info("click", fields)
        if let table {
            do { try table.recordClick(entry) } catch { log.warn("cannot record the click in the state table", [("error", error.message)]) }
        }
    }
}
