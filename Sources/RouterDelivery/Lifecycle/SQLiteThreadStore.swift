/// The lifecycle state in the queue's own SQLite file (table `finding_threads`), for `router send` and the server:
/// one database, so a delivery and the state it leaves are on the same disk with the same durability.
extension DeliveryQueue {
    /// A ``ThreadStore`` over this queue's connection.
    public var threads: ThreadStore { SQLiteThreadStore(queue: self) }

    func loadThread(findingId: String, lane: String) throws(QueueError) -> ThreadRecord? {
        try read("read finding state") { db throws(SQLiteError) in
            try db.first(
                "SELECT \(Self.threadColumns) FROM finding_threads WHERE finding_id = ?1 AND conversation = ?2",
                [.text(findingId), .text(lane)], Self.threadRow)
        }
    }

    func insertThread(_ r: ThreadRecord) throws(QueueError) -> ThreadRecord? {
        try insertThreads([r])[0]
    }

    /// Inserts each record absent from the table, in one transaction (one fsync for a digest's claims).
    func insertThreads(_ records: [ThreadRecord]) throws(QueueError) -> [ThreadRecord?] {
        try transaction("write finding state") { db throws(SQLiteError) -> [ThreadRecord?] in
            var out: [ThreadRecord?] = []
            for r in records { out.append(try Self.insertThread(r, db)) }
            return out
        }
    }

    private static func insertThread(_ r: ThreadRecord, _ db: SQLiteConnection) throws(SQLiteError) -> ThreadRecord? {
        if let existing = try db.first(
            "SELECT \(Self.threadColumns) FROM finding_threads WHERE finding_id = ?1 AND conversation = ?2",
            [.text(r.findingId), .text(r.lane)], Self.threadRow)
        {
            return existing
        }
        try db.run(
            """
            INSERT INTO finding_threads (finding_id, conversation, channel_id, ts, finding_count, severity_label, updated_at,
                archived, in_digest, claimed_by, claimed_at, version, touched_at, action_state, message, finding_json)
            VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, 1, ?12, ?13, ?14, ?15)
            """, Self.threadValues(r))
        return nil
    }

    func replaceThread(_ r: ThreadRecord, expectedVersion: Int64) throws(QueueError) -> Bool {
        try replaceThreads([(r, expectedVersion)])[0]
    }

    /// Conditional replaces in one transaction.
    func replaceThreads(_ records: [(ThreadRecord, Int64)]) throws(QueueError) -> [Bool] {
        try transaction("write finding state") { db throws(SQLiteError) -> [Bool] in
            var out: [Bool] = []
            for (r, v) in records { out.append(try Self.replaceThread(r, expectedVersion: v, db)) }
            return out
        }
    }

    private static func replaceThread(
        _ r: ThreadRecord, expectedVersion: Int64, _ db: SQLiteConnection
    ) throws(SQLiteError) -> Bool {
        var values = Self.threadValues(r)
        values.append(.int(expectedVersion))
        let n = try db.run(
            """
            UPDATE finding_threads SET channel_id = ?3, ts = ?4, finding_count = ?5, severity_label = ?6,
                updated_at = ?7, archived = ?8, in_digest = ?9, claimed_by = ?10, claimed_at = ?11,
                version = version + 1, touched_at = ?12, action_state = ?13, message = ?14, finding_json = ?15
            WHERE finding_id = ?1 AND conversation = ?2 AND version = ?16
            """, values)
        return n > 0
    }

    /// Forgets the state of findings not touched since `olderThan` (Unix seconds). GuardDuty keeps a finding 90 days.
    public func pruneThreads(olderThan: Double) throws(QueueError) {
        _ = try transaction("prune finding state") { db throws(SQLiteError) -> Int in
            try db.run("DELETE FROM finding_threads WHERE touched_at < ?1", [.double(olderThan)])
        }
    }

    /// Every stored finding state (for inspection and tests).
    public func allThreads() throws(QueueError) -> [ThreadRecord] {
        try read("read finding state") { db throws(SQLiteError) in
            try db.query("SELECT \(Self.threadColumns) FROM finding_threads ORDER BY finding_id, conversation", [], Self.threadRow)
        }
    }

    private static let threadColumns = """
        finding_id, conversation, channel_id, ts, finding_count, severity_label, updated_at, archived, in_digest, claimed_by, \
        claimed_at, version, touched_at, action_state, message, finding_json
        """

    private static func threadRow(_ s: SQLiteStatement) -> ThreadRecord {
        ThreadRecord(
            findingId: s.string(0) ?? "", lane: s.string(1) ?? "", channelID: s.string(2), ts: s.string(3),
            count: Int(s.int64(4)), severityLabel: s.string(5) ?? "", updatedAt: s.string(6) ?? "",
            archived: s.int64(7) != 0, inDigest: s.int64(8) != 0, claimedBy: s.string(9), claimedAt: s.optionalDouble(10),
            version: s.int64(11), touchedAt: s.double(12), actionState: s.string(13), message: s.blob(14),
            findingJSON: s.blob(15))
    }

    private static func threadValues(_ r: ThreadRecord) -> [SQLiteValue] {
        [
            .text(r.findingId), .text(r.lane), .text(r.channelID), .text(r.ts), .int(Int64(r.count)),
            .text(r.severityLabel), .text(r.updatedAt), .int(r.archived ? 1 : 0), .int(r.inDigest ? 1 : 0),
            .text(r.claimedBy), r.claimedAt.map { .double($0) } ?? .null, .double(r.touchedAt), .text(r.actionState),
            r.message.map { .blob($0) } ?? .null, r.findingJSON.map { .blob($0) } ?? .null,
        ]
    }
}

struct SQLiteThreadStore: ThreadStore {
    let queue: DeliveryQueue

    func load(findingId: String, lane: String) throws(StateStoreError) -> ThreadRecord? {
        do { return try queue.loadThread(findingId: findingId, lane: lane) } catch { throw StateStoreError(error.message) }
    }

    func insert(_ record: ThreadRecord) throws(StateStoreError) -> ThreadRecord? {
        do { return try queue.insertThread(record) } catch { throw StateStoreError(error.message) }
    }

    func insertAll(_ records: [ThreadRecord]) throws(StateStoreError) -> [ThreadRecord?] {
        do { return try queue.insertThreads(records) } catch { throw StateStoreError(error.message) }
    }

    func replaceAll(_ records: [(ThreadRecord, expectedVersion: Int64)]) throws(StateStoreError) -> [Bool] {
        do { return try queue.replaceThreads(records.map { ($0.0, $0.expectedVersion) }) } catch {
            throw StateStoreError(error.message)
        }
    }

    func replace(_ record: ThreadRecord, expectedVersion: Int64) throws(StateStoreError) -> Bool {
        do { return try queue.replaceThread(record, expectedVersion: expectedVersion) } catch {
            throw StateStoreError(error.message)
        }
    }
}
