import RouterDelivery
import RouterJSON

/// `router actions log`: the clicks on finding buttons recorded in the data directory (what the server handled).
public enum ActionsLog {
    public static func list(dataDirectory: String, json: Bool, limit: Int, out: OutputSink, err: OutputSink) -> Int32 {
        defer {
            out.flush()
            err.flush()
        }
        guard let queue = DeadLetters.open(dataDirectory, err) else { return ExitStatus.config }
        let entries: [ActionLogEntry]
        do { entries = try queue.actionLog(limit: limit) } catch {
            err.line("router actions log: \(error)")
            return ExitStatus.config
        }
        for e in entries {
            if json {
                var o = e.json.objectValue ?? JSONObject()
                o["at"] = .string(DeadLetters.iso(e.at))
                out.line(JSONValue.object(o).serialized())
            } else {
                let who = e.userName.map { "\(e.userID) (\($0))" } ?? e.userID
                let channel = e.conversation.flatMap { $0.split(separator: "\u{1F}", omittingEmptySubsequences: false).last }.map { " in \($0)" } ?? ""
                out.line("\(DeadLetters.iso(e.at)) \(e.outcome.rawValue.uppercased()) \(e.action) by \(who) on finding \(e.findingId)\(channel)")
                if let d = e.detail { out.line("    \(d)") }
            }
        }
        if !json { out.line("\(entries.count) click\(entries.count == 1 ? "" : "s")") }
        return ExitStatus.ok
    }
}
