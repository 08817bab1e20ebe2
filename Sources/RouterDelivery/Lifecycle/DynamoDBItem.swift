import RouterJSON

/// How a ``ThreadRecord`` is laid out as a DynamoDB item (attribute values in DynamoDB's JSON form).
///
/// | attribute | type | field |
/// |---|---|---|
/// | `pk` | S | the key: ``partitionKey(findingId:lane:)`` |
/// | `finding_id`, `lane` | S | `findingId`, `lane` (verbatim) |
/// | `channel_id`, `ts`, `claimed_by` | S | omitted when nil |
/// | `finding_count` | N | `count` |
/// | `severity_label`, `updated_at` | S | |
/// | `archived`, `in_digest` | BOOL | |
/// | `claimed_at` | N | omitted when nil |
/// | `version` | N | bumped by every write; writes are conditional on it |
/// | `touched_at` | N | Unix seconds |
/// | `expires_at` | N | whole Unix seconds, `touched_at` + 90 days: the table's TTL attribute |
/// | `action_state`, `message`, `finding` | S | `actionState`, `message`, `findingJSON` (JSON text); omitted when nil |
enum DynamoDBItem {
    /// GuardDuty keeps a finding 90 days; state older than that is left to DynamoDB's TTL.
    static let timeToLive: Double = 90 * 86_400

    /// The partition key: the finding id with `\` and `|` escaped (`\\`, `\|`), then `|`, then the lane verbatim.
    /// The first unescaped `|` ends the finding id, so two (finding id, lane) pairs never share a key.
    /// Ordinary GuardDuty ids (hex) are unchanged: `<id>|<lane>`.
    static func partitionKey(findingId: String, lane: String) -> String {
        var key = ""
        key.reserveCapacity(findingId.utf8.count + lane.utf8.count + 1)
        for c in findingId.unicodeScalars {
            if c == "\\" || c == "|" { key.unicodeScalars.append("\\") }
            key.unicodeScalars.append(c)
        }
        return key + "|" + lane
    }

    /// DynamoDB's bound on a partition key value.
    static let maxKeyBytes = 2048

    static func key(findingId: String, lane: String) -> JSONValue {
        .object(["pk": ["S": .string(partitionKey(findingId: findingId, lane: lane))]])
    }

    /// The item for `record` stored at `version`; nil when a number cannot be written (not finite).
    static func item(_ r: ThreadRecord, version: Int64) -> JSONObject? {
        guard r.touchedAt.isFinite, r.claimedAt?.isFinite ?? true,
            abs(r.touchedAt) < 1e15, abs(r.claimedAt ?? 0) < 1e15
        else { return nil }
        var item = JSONObject()
        item["pk"] = s(partitionKey(findingId: r.findingId, lane: r.lane))
        item["finding_id"] = s(r.findingId)
        item["lane"] = s(r.lane)
        if let v = r.channelID { item["channel_id"] = s(v) }
        if let v = r.ts { item["ts"] = s(v) }
        item["finding_count"] = n(String(r.count))
        item["severity_label"] = s(r.severityLabel)
        item["updated_at"] = s(r.updatedAt)
        item["archived"] = ["BOOL": .bool(r.archived)]
        item["in_digest"] = ["BOOL": .bool(r.inDigest)]
        if let v = r.claimedBy { item["claimed_by"] = s(v) }
        if let v = r.claimedAt { item["claimed_at"] = n(number(v)) }
        item["version"] = n(String(version))
        item["touched_at"] = n(number(r.touchedAt))
        item["expires_at"] = n(String(Int64((r.touchedAt + timeToLive).rounded(.down))))
        if let v = r.actionState { item["action_state"] = s(v) }
        if let v = r.message { item["message"] = s(String(decoding: v, as: UTF8.self)) }
        if let v = r.findingJSON { item["finding"] = s(String(decoding: v, as: UTF8.self)) }
        return item
    }

    /// The record in `item` (an `Item` of GetItem, or of a failed conditional write); the name of the first
    /// attribute that is missing or of the wrong type otherwise.
    static func record(_ item: JSONValue) -> Result<ThreadRecord, Malformed> {
        func string(_ name: String) -> Result<String?, Malformed> {
            guard let a = item[name] else { return .success(nil) }
            guard let v = a["S"]?.stringValue else { return .failure(Malformed(attribute: name)) }
            return .success(v)
        }
        func bool(_ name: String) -> Result<Bool, Malformed> {
            guard let v = item[name]?["BOOL"]?.boolValue else { return .failure(Malformed(attribute: name)) }
            return .success(v)
        }
        func double(_ name: String) -> Result<Double?, Malformed> {
            guard let a = item[name] else { return .success(nil) }
            guard let text = a["N"]?.stringValue, let v = Double(text), v.isFinite else {
                return .failure(Malformed(attribute: name))
            }
            return .success(v)
        }
        func integer(_ name: String) -> Result<Int64, Malformed> {
            guard let text = item[name]?["N"]?.stringValue else { return .failure(Malformed(attribute: name)) }
            if let v = Int64(text) { return .success(v) }
            // DynamoDB may answer a normalised form (e.g. `1E+3`): accept any integral number within Int64.
            guard let d = Double(text), d.rounded() == d, abs(d) < 9e18 else {
                return .failure(Malformed(attribute: name))
            }
            return .success(Int64(d))
        }
        func required<T>(_ name: String, _ r: Result<T?, Malformed>) -> Result<T, Malformed> {
            r.flatMap { $0.map { .success($0) } ?? .failure(Malformed(attribute: name)) }
        }
        do throws(Malformed) {
            let count = try integer("finding_count").get()
            guard let count = Int(exactly: count) else { return .failure(Malformed(attribute: "finding_count")) }
            return .success(
                ThreadRecord(
                    findingId: try required("finding_id", string("finding_id")).get(),
                    lane: try required("lane", string("lane")).get(),
                    channelID: try string("channel_id").get(), ts: try string("ts").get(), count: count,
                    severityLabel: try required("severity_label", string("severity_label")).get(),
                    updatedAt: try required("updated_at", string("updated_at")).get(),
                    archived: try bool("archived").get(), inDigest: try bool("in_digest").get(),
                    claimedBy: try string("claimed_by").get(), claimedAt: try double("claimed_at").get(),
                    version: try integer("version").get(),
                    touchedAt: try required("touched_at", double("touched_at")).get(),
                    actionState: try string("action_state").get(), message: try string("message").get().map { Array($0.utf8) },
                    findingJSON: try string("finding").get().map { Array($0.utf8) }))
        } catch {
            return .failure(error)
        }
    }

    struct Malformed: Error {
        var attribute: String
    }

    private static func s(_ v: String) -> JSONValue { .object(["S": .string(v)]) }
    private static func n(_ v: String) -> JSONValue { .object(["N": .string(v)]) }

    /// Swift's shortest round-trip form (`1795752000.25`); an integral value without `.0`.
    private static func number(_ v: Double) -> String {
        if v.rounded() == v, abs(v) < 9e15 { return String(Int64(v)) }
        return String(v)
    }
}
