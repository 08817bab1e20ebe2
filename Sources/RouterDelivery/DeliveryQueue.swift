import RouterSlack
import CSQLite
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The durable delivery queue: one SQLite file (`DIR/queue.sqlite3`, WAL, `synchronous=FULL`) that several router
/// processes may use at once. Everything a call reports as stored is committed (and fsynced) before it returns, so a
/// kill -9 or power loss at any instant loses nothing that was accepted. See `QUEUE-CONTRACT.md`.
///
/// Rows go `pending` -> `delivered` | `dead`; a claimed row stays `pending` with a lease (`lease_until`,
/// `lease_owner`) until the claimer records the outcome or the lease expires or is released.
///
/// Ordering: within a lane (destination + channel) only the oldest pending delivery (lowest id) can be claimed, and
/// only when it is due and not leased, so a lane is delivered strictly in enqueue order, one request at a time.
///
/// Thread-safe: calls are serialised on one connection by a `Mutex`; other instances (in this or other processes)
/// coordinate through SQLite's locks, every write in a `BEGIN IMMEDIATE` transaction.
public final class DeliveryQueue: @unchecked Sendable {
    /// The queue's directory and its database file.
    public let directory: String
    public let path: String

    public static let fileName = "queue.sqlite3"
    /// The schema this code writes (`PRAGMA user_version`).
    public static let schemaVersion = 3
    /// How long delivered rows are kept by default (their keys make re-enqueues duplicates): 7 days.
    public static let defaultDeliveredRetention: Double = 7 * 24 * 3600

    private let connection: Mutex<SQLiteConnection?>

    /// How commits reach the disk.
    public enum Durability: Sendable {
        /// `synchronous=FULL`: every commit is fsynced (survives power loss, not only kill -9). The default.
        case full
        /// `synchronous=NORMAL` (WAL): commits survive the process being killed, not an OS crash or power loss; no
        /// fsync per commit. For a queue whose disk does not outlive the machine anyway (a Lambda's `/tmp`).
        case processCrash
    }

    /// Opens (creating when needed) `directory/queue.sqlite3`. The directory is created with mode 0700 and the
    /// file with 0600 (SQLite gives its `-wal`/`-shm` files the same mode).
    public init(directory: String, busyTimeoutMs: Int = 5000, durability: Durability = .full) throws(QueueError) {
        self.directory = directory
        self.path = directory.hasSuffix("/") ? directory + Self.fileName : directory + "/" + Self.fileName
        try Self.makeDirectory(directory)
        try Self.createFile(path, in: directory)

        let path = self.path
        let db: SQLiteConnection
        do {
            db = try SQLiteConnection(
                path: path, flags: SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                busyTimeoutMs: busyTimeoutMs)
        } catch {
            throw Self.queueError(error, path: path, doing: "open")
        }
        do {
            try Self.configure(db, durability: durability)
            try Self.migrate(db)
        } catch {
            db.close()
            throw Self.queueError(error, path: path, doing: "open")
        }
        connection = Mutex(db)
    }

    deinit {
        connection.withLock { $0?.close() }
    }

    /// Closes the connection (a later call throws). Closing the last connection checkpoints the WAL into the main
    /// file. Optional: `deinit` closes too.
    public func close() {
        connection.withLock { db in
            db?.close()
            db = nil
        }
    }

    // MARK: - Enqueue

    /// Stores `items` in ONE transaction and returns after COMMIT (durable). A key already present (pending,
    /// delivered, dead, or earlier in the same batch) gives `.duplicate(id)` of the stored row and stores nothing.
    public func enqueue(_ items: [NewDelivery], now: Double) throws(QueueError) -> [EnqueueResult] {
        if items.isEmpty { return [] }
        return try withDB("enqueue") { db throws(SQLiteError) in
            try db.immediateTransaction { () throws(SQLiteError) -> [EnqueueResult] in
                var results: [EnqueueResult] = []
                results.reserveCapacity(items.count)
                for item in items {
                    let insert = try db.cached(Self.insertSQL)
                    defer { insert.reset() }
                    try insert.bind(1, item.key)
                    try insert.bind(2, item.lane)
                    try insert.bind(3, item.destination)
                    try insert.bind(4, item.channel)
                    try insert.bind(5, item.findingId)
                    try insert.bind(6, item.findingType)
                    try insert.bind(7, item.severityLabel)
                    try insert.bind(8, blob: item.payload)
                    try insert.bind(9, blob: item.textOnlyPayload)
                    try insert.bind(10, now)
                    let e = item.lifecycle
                    try insert.bind(11, e?.onUpdate.rawValue)
                    try insert.bind(12, e?.updatedAt)
                    try insert.bind(13, e.map { SQLiteValue.int(Int64($0.count)) } ?? .null)
                    try insert.bind(14, e.map { SQLiteValue.double($0.severity) } ?? .null)
                    try insert.bind(15, e.map { SQLiteValue.int($0.archived ? 1 : 0) } ?? .null)
                    try insert.bind(16, e?.title)
                    try insert.bind(17, e?.account)
                    try insert.bind(18, e?.region)
                    try insert.bind(19, e?.resource)
                    try insert.bind(20, e?.lastSeen)
                    try insert.bind(21, e?.mentions)
                    try insert.bind(22, e?.routedChannel)
                    try insert.bind(23, blob: e?.findingJSON)
                    while try insert.step() {}
                    if db.changes > 0 {
                        results.append(.queued(id: db.lastInsertRowID))
                    } else {
                        let id = try db.first("SELECT id FROM deliveries WHERE key = ?1", [.text(item.key)]) { $0.int64(0) }
                        guard let id else {
                            throw SQLiteError(code: SQLITE_INTERNAL, message: "insert ignored but the key is not stored")
                        }
                        results.append(.duplicate(id: id))
                    }
                }
                return results
            }
        }
    }

    private static let insertSQL = """
        INSERT INTO deliveries (key, lane, destination, channel, finding_id, finding_type, severity_label,
                                payload, text_payload, state, attempts, enqueued_at, next_attempt_at, used_text_only,
                                on_update, updated_at, finding_count, severity, archived, title, account, region,
                                resource, last_seen, mentions, routed_channel, finding_json)
        VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, 'pending', 0, ?10, ?10, 0,
                ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23)
        ON CONFLICT(key) DO NOTHING
        """

    // MARK: - Claim

    /// Leases up to `limit` deliveries that can be sent now: at most one per lane, the lane's oldest pending delivery
    /// (lowest id), only when it is due (`nextAttemptAt <= now`) and has no live lease (`lease_until > now`), its
    /// lane is not in `excludingLanes` and its destination not in `excludingDestinations`. A lane whose oldest pending
    /// delivery is not due or leased is skipped entirely. Oldest first across lanes. Selection and lease happen in one
    /// `BEGIN IMMEDIATE` transaction, so two connections or processes never claim the same row.
    public func claim(
        now: Double, limit: Int, excludingLanes: Set<String> = [], excludingDestinations: Set<String> = [],
        leaseSeconds: Double, owner: String
    ) throws(QueueError) -> [QueuedDelivery] {
        guard limit > 0 else { return [] }
        guard leaseSeconds > 0, leaseSeconds.isFinite else {
            throw QueueError("delivery queue \(path): claim: leaseSeconds must be positive")
        }
        return try withDB("claim") { db throws(SQLiteError) in
            try db.immediateTransaction { () throws(SQLiteError) -> [QueuedDelivery] in
                let heads = try Self.laneHeads(db)
                let chosen = heads.filter { h in
                    h.nextAttemptAt <= now && (h.leaseUntil.map { $0 <= now } ?? true)
                        && !excludingLanes.contains(h.lane) && !excludingDestinations.contains(h.destination)
                }.prefix(limit)
                var out: [QueuedDelivery] = []
                out.reserveCapacity(chosen.count)
                for h in chosen {
                    try db.run(
                        "UPDATE deliveries SET lease_until = ?2, lease_owner = ?3 WHERE id = ?1 AND state = 'pending'",
                        [.int(h.id), .double(now + leaseSeconds), .text(owner)])
                    if let row = try Self.load(db, id: h.id) { out.append(row) }
                }
                return out
            }
        }
    }

    /// The oldest pending delivery of every lane, oldest first.
    private struct LaneHead {
        var id: Int64
        var lane: String
        var destination: String
        var nextAttemptAt: Double
        var leaseUntil: Double?
    }

    /// Walks the distinct lanes of pending rows through the (state, lane, id) index (a skip scan: one index seek per
    /// lane, however many rows a lane holds or how many delivered rows are kept), then takes each lane's lowest id.
    private static let laneHeadsSQL = """
        WITH RECURSIVE lanes(lane) AS (
            SELECT (SELECT lane FROM deliveries WHERE state = 'pending' ORDER BY lane LIMIT 1)
            UNION ALL
            SELECT (SELECT d.lane FROM deliveries AS d WHERE d.state = 'pending' AND d.lane > lanes.lane
                    ORDER BY d.lane LIMIT 1)
            FROM lanes WHERE lanes.lane IS NOT NULL
        )
        SELECT h.id, h.lane, h.destination, h.next_attempt_at, h.lease_until
        FROM lanes JOIN deliveries AS h
            ON h.id = (SELECT d.id FROM deliveries AS d WHERE d.state = 'pending' AND d.lane = lanes.lane
                       ORDER BY d.id LIMIT 1)
        WHERE lanes.lane IS NOT NULL
        ORDER BY h.id
        """

    private static func laneHeads(_ db: SQLiteConnection) throws(SQLiteError) -> [LaneHead] {
        try db.query(laneHeadsSQL) { s in
            LaneHead(
                id: s.int64(0), lane: s.string(1) ?? "", destination: s.string(2) ?? "", nextAttemptAt: s.double(3),
                leaseUntil: s.optionalDouble(4))
        }
    }

    /// The earliest time a lane's oldest pending delivery becomes claimable (its `nextAttemptAt`, or the end of its
    /// lease if that is later), for sleeping; nil when nothing is pending (in the lanes and destinations not excluded).
    /// May be in the past (something is claimable now).
    public func nextDueTime(
        excludingLanes: Set<String> = [], excludingDestinations: Set<String> = []
    ) throws(QueueError) -> Double? {
        try withDB("next due time") { db throws(SQLiteError) in
            var earliest: Double?
            for h in try Self.laneHeads(db)
            where !excludingLanes.contains(h.lane) && !excludingDestinations.contains(h.destination) {
                let t = max(h.nextAttemptAt, h.leaseUntil ?? -Double.infinity)
                earliest = min(earliest ?? t, t)
            }
            return earliest
        }
    }

    // MARK: - Outcomes

    /// Records a successful delivery (attempts + 1, lease cleared). Applies to a pending or dead row (a send that
    /// succeeded is the truth); a row already delivered is left alone.
    public func markDelivered(id: Int64, now: Double, outcome: String? = nil) throws(QueueError) {
        try markDelivered(ids: [id], now: now, outcome: outcome)
    }

    /// ``markDelivered(id:now:outcome:)`` for several rows in one transaction (a digest: every finding it lists).
    public func markDelivered(ids: [Int64], now: Double, outcome: String?) throws(QueueError) {
        try write("mark delivered") { db throws(SQLiteError) in
            for id in ids {
                try db.run(
                    """
                    UPDATE deliveries SET state = 'delivered', delivered_at = ?2, last_attempt_at = ?2,
                        attempts = attempts + 1, lease_until = NULL, lease_owner = NULL, outcome = ?3
                    WHERE id = ?1 AND state != 'delivered'
                    """, [.int(id), .double(now), outcome.map { .text($0) } ?? .null])
            }
        }
    }

    /// Releases the leases of these rows (claimed for a digest but then posted on their own): claimable again now,
    /// attempts unchanged.
    public func releaseLeases(ids: [Int64]) throws(QueueError) {
        if ids.isEmpty { return }
        try write("release leases") { db throws(SQLiteError) in
            for id in ids {
                try db.run(
                    "UPDATE deliveries SET lease_until = NULL, lease_owner = NULL WHERE id = ?1 AND state = 'pending'",
                    [.int(id)])
            }
        }
    }

    /// The number of pending deliveries of one lane (through the claim index: cost in proportion to the lane's
    /// pending rows).
    public func pendingCount(lane: String) throws(QueueError) -> Int {
        try withDB("counts") { db throws(SQLiteError) in
            Int(try db.first("SELECT COUNT(*) FROM deliveries WHERE state = 'pending' AND lane = ?1", [.text(lane)]) { $0.int64(0) } ?? 0)
        }
    }

    /// Leases up to `limit` more pending deliveries of `lane` for a digest: the oldest first, not leased, carrying
    /// lifecycle facts, and not CRITICAL (those are always posted on their own), excluding `excludingId` (the lane's
    /// head, already claimed). Their attempts and due times are left alone.
    public func claimForDigest(
        lane: String, excludingId: Int64, limit: Int, now: Double, leaseSeconds: Double, owner: String
    ) throws(QueueError) -> [QueuedDelivery] {
        guard limit > 0 else { return [] }
        return try withDB("claim for digest") { db throws(SQLiteError) in
            try db.immediateTransaction { () throws(SQLiteError) -> [QueuedDelivery] in
                let ids = try db.query(
                    """
                    SELECT id FROM deliveries
                    WHERE state = 'pending' AND lane = ?1 AND id != ?2 AND severity_label != 'CRITICAL'
                        AND on_update IS NOT NULL AND (lease_until IS NULL OR lease_until <= ?3)
                    ORDER BY id LIMIT ?4
                    """, [.text(lane), .int(excludingId), .double(now), .int(Int64(limit))]
                ) { $0.int64(0) }
                var out: [QueuedDelivery] = []
                for id in ids {
                    try db.run(
                        "UPDATE deliveries SET lease_until = ?2, lease_owner = ?3 WHERE id = ?1",
                        [.int(id), .double(now + leaseSeconds), .text(owner)])
                    if let row = try Self.load(db, id: id) { out.append(row) }
                }
                return out
            }
        }
    }

    /// Records a failed attempt of a pending delivery: `attempts`, due again at `nextAttemptAt`, `error` as last error
    /// (and as first error if none yet), lease cleared.
    public func scheduleRetry(
        id: Int64, attempts: Int, nextAttemptAt: Double, error: String, now: Double
    ) throws(QueueError) {
        try write("schedule retry") { db throws(SQLiteError) in
            try db.run(
                """
                UPDATE deliveries SET attempts = ?2, next_attempt_at = ?3, first_error = COALESCE(first_error, ?4),
                    last_error = ?4, last_attempt_at = ?5, lease_until = NULL, lease_owner = NULL
                WHERE id = ?1 AND state = 'pending'
                """, [.int(id), .int(Int64(attempts)), .double(nextAttemptAt), .text(error), .double(now)])
        }
    }

    /// Moves a pending delivery to the dead letter (the next delivery of its lane becomes claimable).
    public func deadLetter(id: Int64, attempts: Int, error: String, now: Double) throws(QueueError) {
        try write("dead letter") { db throws(SQLiteError) in
            try db.run(
                """
                UPDATE deliveries SET state = 'dead', attempts = ?2, first_error = COALESCE(first_error, ?3),
                    last_error = ?3, last_attempt_at = ?4, lease_until = NULL, lease_owner = NULL
                WHERE id = ?1 AND state = 'pending'
                """, [.int(id), .int(Int64(attempts)), .text(error), .double(now)])
        }
    }

    /// Records that the text-only fallback is to be used (`usedTextOnly`) from now on.
    public func markTextOnly(id: Int64) throws(QueueError) {
        try write("mark text only") { db throws(SQLiteError) in
            try db.run("UPDATE deliveries SET used_text_only = 1 WHERE id = ?1", [.int(id)])
        }
    }

    // MARK: - Leases

    /// Releases every lease held by `owner` (a process shutting down): its deliveries are claimable again at once.
    public func releaseLeases(owner: String) throws(QueueError) {
        try write("release leases") { db throws(SQLiteError) in
            try db.run(
                "UPDATE deliveries SET lease_until = NULL, lease_owner = NULL WHERE lease_owner = ?1",
                [.text(owner)])
        }
    }

    /// Releases the leases of owners for which `isAlive` is false (a killed process, owner `pid:<n>:<start>`): their
    /// deliveries are claimable again at once instead of after the lease expires. `isAlive` is called outside the
    /// queue's lock and outside any transaction.
    public func releaseStaleLeases(now: Double, isAlive: (String) -> Bool) throws(QueueError) {
        let owners = try withDB("release stale leases") { db throws(SQLiteError) in
            try db.query(
                "SELECT DISTINCT lease_owner FROM deliveries WHERE lease_owner IS NOT NULL AND lease_until > ?1",
                [.double(now)]
            ) { $0.string(0) ?? "" }
        }
        let dead = owners.filter { !isAlive($0) }
        if dead.isEmpty { return }
        try write("release stale leases") { db throws(SQLiteError) in
            for owner in dead {
                try db.run(
                    "UPDATE deliveries SET lease_until = NULL, lease_owner = NULL WHERE lease_owner = ?1",
                    [.text(owner)])
            }
        }
    }

    // MARK: - Inspection

    /// Numbers of rows by state. Counting walks the index entries of each state, so this costs in proportion to the
    /// rows kept (about 10 ms per 100,000 delivered rows); use `pendingCount()` in loops.
    public func counts() throws(QueueError) -> (pending: Int, delivered: Int, dead: Int) {
        try withDB("counts") { db throws(SQLiteError) in
            func count(_ state: DeliveryState) throws(SQLiteError) -> Int {
                Int(try db.first(Self.countSQL, [.text(state.rawValue)]) { $0.int64(0) } ?? 0)
            }
            return (pending: try count(.pending), delivered: try count(.delivered), dead: try count(.dead))
        }
    }

    /// The number of pending deliveries (cheap: proportional to the pending rows only).
    public func pendingCount() throws(QueueError) -> Int {
        try withDB("counts") { db throws(SQLiteError) in
            Int(try db.first(Self.countSQL, [.text(DeliveryState.pending.rawValue)]) { $0.int64(0) } ?? 0)
        }
    }

    private static let countSQL = "SELECT COUNT(*) FROM deliveries WHERE state = ?1"

    /// One delivery by id (any state), or nil.
    public func delivery(id: Int64) throws(QueueError) -> QueuedDelivery? {
        try withDB("read delivery") { db throws(SQLiteError) in try Self.load(db, id: id) }
    }

    /// Where deliveries stand, by idempotency key (keys not stored are absent): what a runtime checks after a drain
    /// to answer for the deliveries of one event. Reads no payloads.
    public func statuses(keys: [String]) throws(QueueError) -> [String: DeliveryStatus] {
        if keys.isEmpty { return [:] }
        return try withDB("read statuses") { db throws(SQLiteError) in
            var out: [String: DeliveryStatus] = [:]
            for key in Set(keys) {
                let status = try db.first(
                    "SELECT id, state, attempts, last_error FROM deliveries WHERE key = ?1", [.text(key)]
                ) { s in
                    DeliveryStatus(
                        id: s.int64(0), state: DeliveryState(rawValue: s.string(1) ?? "") ?? .pending,
                        attempts: Int(s.int64(2)), lastError: s.string(3))
                }
                if let status { out[key] = status }
            }
            return out
        }
    }

    // MARK: - Dead letter

    /// The dead-lettered deliveries, oldest first.
    public func deadLetters() throws(QueueError) -> [QueuedDelivery] {
        try withDB("dead letters") { db throws(SQLiteError) in
            // Through the index on state whatever the planner's statistics say (never a scan of the delivered rows).
            try db.query(
                "SELECT \(Self.columns) FROM deliveries WHERE id IN (SELECT id FROM deliveries WHERE state = 'dead') ORDER BY id",
                [], Self.row)
        }
    }

    /// Puts dead-lettered deliveries back to pending (all when `ids` is nil), attempts reset and due at `now`; ids that
    /// are not dead are ignored. Errors are kept; `enqueuedAt` restarts now (a replay gets a fresh `maxAge`). Returns the number replayed.
    @discardableResult
    public func replay(ids: [Int64]?, now: Double) throws(QueueError) -> Int {
        let sql = """
            UPDATE deliveries SET state = 'pending', attempts = 0, next_attempt_at = ?1, enqueued_at = ?1,
                lease_until = NULL, lease_owner = NULL
            WHERE state = 'dead'
            """
        return try write("replay") { db throws(SQLiteError) in
            guard let ids else { return try db.run(sql, [.double(now)]) }
            var n = 0
            for id in Set(ids) { n += try db.run(sql + " AND id = ?2", [.double(now), .int(id)]) }
            return n
        }
    }

    /// Deletes dead-lettered deliveries (all when `ids` is nil); ids that are not dead are ignored. Their keys can be
    /// enqueued again afterwards. Returns the number deleted.
    @discardableResult
    public func purge(ids: [Int64]?) throws(QueueError) -> Int {
        let sql = "DELETE FROM deliveries WHERE state = 'dead'"
        return try write("purge") { db throws(SQLiteError) in
            guard let ids else { return try db.run(sql) }
            var n = 0
            for id in Set(ids) { n += try db.run(sql + " AND id = ?1", [.int(id)]) }
            return n
        }
    }

    /// Deletes delivered rows delivered before `olderThan` (Unix seconds: pass `now - defaultDeliveredRetention` for
    /// the default 7 days).
    public func pruneDelivered(olderThan: Double) throws(QueueError) {
        try write("prune") { db throws(SQLiteError) in
            try db.run("DELETE FROM deliveries WHERE state = 'delivered' AND delivered_at < ?1", [.double(olderThan)])
        }
    }

    // MARK: - Rows

    private static let columns = """
        id, key, finding_id, finding_type, severity_label, destination, channel, payload, text_payload, state, \
        attempts, enqueued_at, next_attempt_at, first_error, last_error, last_attempt_at, used_text_only, \
        on_update, updated_at, finding_count, severity, archived, title, account, region, resource, last_seen, \
        mentions, outcome, routed_channel, finding_json
        """

    private static func row(_ s: SQLiteStatement) -> QueuedDelivery {
        var lifecycle: FindingEvent?
        if let mode = s.string(17).flatMap(OnUpdate.init(rawValue:)) {
            lifecycle = FindingEvent(
                updatedAt: s.string(18) ?? "", count: Int(s.int64(19)), severity: s.double(20), archived: s.int64(21) != 0,
                onUpdate: mode, title: s.string(22) ?? "", account: s.string(23) ?? "", region: s.string(24) ?? "",
                resource: s.string(25), lastSeen: s.string(26), mentions: s.string(27) ?? "", routedChannel: s.string(29),
                findingJSON: s.blob(30))
        }
        return QueuedDelivery(
            id: s.int64(0),
            delivery: NewDelivery(
                key: s.string(1) ?? "", findingId: s.string(2) ?? "", findingType: s.string(3) ?? "",
                severityLabel: s.string(4) ?? "", destination: s.string(5) ?? "", channel: s.string(6),
                payload: s.blob(7) ?? [], textOnlyPayload: s.blob(8), lifecycle: lifecycle),
            state: DeliveryState(rawValue: s.string(9) ?? "") ?? .pending,
            attempts: Int(s.int64(10)),
            enqueuedAt: s.double(11),
            nextAttemptAt: s.double(12),
            firstError: s.string(13),
            lastError: s.string(14),
            lastAttemptAt: s.optionalDouble(15),
            usedTextOnly: s.int64(16) != 0,
            outcome: s.string(28))
    }

    private static func load(_ db: SQLiteConnection, id: Int64) throws(SQLiteError) -> QueuedDelivery? {
        try db.first("SELECT \(columns) FROM deliveries WHERE id = ?1", [.int(id)], row)
    }

    // MARK: - Plumbing

    /// Runs `body` on the connection under the lock; sqlite errors become `QueueError`s naming the file.
    @discardableResult
    private func withDB<T: Sendable>(
        _ doing: String, _ body: (SQLiteConnection) throws(SQLiteError) -> T
    ) throws(QueueError) -> T {
        let path = self.path
        let result: Result<T, QueueError> = connection.withLock { db in
            guard let db else { return .failure(QueueError("delivery queue \(path) is closed")) }
            do throws(SQLiteError) {
                return .success(try body(db))
            } catch {
                return .failure(Self.queueError(error, path: path, doing: doing))
            }
        }
        return try result.get()
    }

    /// `withDB` for the queue's extensions (the finding state).
    func read<T: Sendable>(_ doing: String, _ body: (SQLiteConnection) throws(SQLiteError) -> T) throws(QueueError) -> T {
        try withDB(doing, body)
    }

    /// `write` for the queue's extensions.
    func transaction<T: Sendable>(
        _ doing: String, _ body: (SQLiteConnection) throws(SQLiteError) -> T
    ) throws(QueueError) -> T {
        try write(doing, body)
    }

    /// `withDB` in a `BEGIN IMMEDIATE` transaction.
    @discardableResult
    private func write<T: Sendable>(
        _ doing: String, _ body: (SQLiteConnection) throws(SQLiteError) -> T
    ) throws(QueueError) -> T {
        try withDB(doing) { db throws(SQLiteError) in
            try db.immediateTransaction { () throws(SQLiteError) -> T in try body(db) }
        }
    }

    /// A message that names the file and what failed, with sqlite's message (never data).
    static func queueError(_ e: SQLiteError, path: String, doing: String) -> QueueError {
        let detail = "\(doing): \(e.message)"
        switch e.primary {
        case SQLITE_CORRUPT, SQLITE_NOTADB:
            return QueueError(
                "delivery queue \(path) is corrupt or not a SQLite database (\(detail)); stop the router, move the file "
                    + "(and its -wal/-shm files) aside, keep it for recovery (sqlite3 .recover) and start again")
        case SQLITE_FULL:
            return QueueError("delivery queue \(path): disk full (\(detail)); nothing was stored by this call")
        case SQLITE_BUSY, SQLITE_LOCKED:
            return QueueError(
                "delivery queue \(path): locked by another connection for longer than the busy timeout (\(detail))")
        case SQLITE_READONLY, SQLITE_CANTOPEN, SQLITE_PERM, SQLITE_AUTH:
            return QueueError("delivery queue \(path): cannot open or write (\(detail)); check the file's permissions")
        case SQLITE_IOERR:
            return QueueError("delivery queue \(path): I/O error (\(detail), code \(e.code))")
        default:
            return QueueError("delivery queue \(path): \(detail) (sqlite code \(e.code))")
        }
    }

    // MARK: - Open

    /// `mkdir -p` with mode 0700 for the directories it creates.
    private static func makeDirectory(_ dir: String) throws(QueueError) {
        var prefix = ""
        let absolute = dir.hasPrefix("/")
        for part in dir.split(separator: "/", omittingEmptySubsequences: true) {
            prefix += (prefix.isEmpty && !absolute ? "" : "/") + part
            if mkdir(prefix, 0o700) != 0 {
                let e = errno
                guard e == EEXIST else {
                    throw QueueError("delivery queue: cannot create directory \(prefix): \(String(cString: strerror(e)))")
                }
            }
        }
        var st = stat()
        guard stat(dir, &st) == 0, (st.st_mode & S_IFMT) == S_IFDIR else {
            throw QueueError("delivery queue: \(dir) is not a directory")
        }
    }

    /// Creates the database file (mode 0600) if missing, and then syncs the directory so the file's name survives a
    /// power loss (SQLite syncs the directory for the `-wal` file it creates, not for the database it is given).
    private static func createFile(_ path: String, in directory: String) throws(QueueError) {
        let fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        if fd < 0 {
            let e = errno
            if e == EEXIST { return }
            throw QueueError("delivery queue \(path): cannot create the file: \(String(cString: strerror(e)))")
        }
        _ = fsync(fd)
        closeDescriptor(fd)
        let dfd = open(directory, O_RDONLY | O_CLOEXEC)
        if dfd >= 0 {
            _ = fsync(dfd)
            closeDescriptor(dfd)
        }
    }

    private static func configure(_ db: SQLiteConnection, durability: Durability) throws(SQLiteError) {
        // For a new file only (a no-op once it has pages): 8 KiB pages hold three ~2.3 KB deliveries where 4 KiB pages
        // hold one, so the file is about a third smaller and enqueue about a quarter faster.
        try db.exec("PRAGMA page_size = 8192")
        // WAL is a property of the file: set once, then every connection uses it. Reading first avoids asking for
        // the exclusive lock the switch needs when another process already has the file open in WAL.
        var mode = try db.first("PRAGMA journal_mode") { $0.string(0) ?? "" } ?? ""
        if mode.lowercased() != "wal" {
            mode = try db.first("PRAGMA journal_mode = WAL") { $0.string(0) ?? "" } ?? ""
            if mode.lowercased() != "wal" {
                throw SQLiteError(code: SQLITE_CANTOPEN, message: "cannot use WAL journal mode (got \(mode))")
            }
        }
        // Per connection: by default fsync the WAL at every commit (survives power loss, not only kill -9).
        let synchronous = durability == .full ? "FULL" : "NORMAL"
        try db.exec("PRAGMA synchronous = \(synchronous); PRAGMA foreign_keys = ON; PRAGMA journal_size_limit = 67108864;")
    }

    private static let migrations: [String] = [
        // 0 -> 1
        """
        CREATE TABLE IF NOT EXISTS deliveries (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            key TEXT NOT NULL UNIQUE,
            lane TEXT NOT NULL,
            destination TEXT NOT NULL,
            channel TEXT,
            finding_id TEXT NOT NULL,
            finding_type TEXT NOT NULL,
            severity_label TEXT NOT NULL,
            payload BLOB NOT NULL,
            text_payload BLOB,
            state TEXT NOT NULL CHECK (state IN ('pending', 'delivered', 'dead')),
            attempts INTEGER NOT NULL DEFAULT 0,
            enqueued_at REAL NOT NULL,
            next_attempt_at REAL NOT NULL,
            lease_until REAL,
            lease_owner TEXT,
            first_error TEXT,
            last_error TEXT,
            last_attempt_at REAL,
            used_text_only INTEGER NOT NULL DEFAULT 0,
            delivered_at REAL
        );
        CREATE INDEX IF NOT EXISTS deliveries_claim ON deliveries (state, lane, id);
        CREATE INDEX IF NOT EXISTS deliveries_due ON deliveries (state, next_attempt_at);
        CREATE INDEX IF NOT EXISTS deliveries_lease ON deliveries (lease_owner) WHERE lease_owner IS NOT NULL;
        """,
        // 1 -> 2: the finding lifecycle (facts carried by each delivery, what delivering it did, and the state of
        // each finding's conversation per lane).
        """
        ALTER TABLE deliveries ADD COLUMN on_update TEXT;
        ALTER TABLE deliveries ADD COLUMN updated_at TEXT;
        ALTER TABLE deliveries ADD COLUMN finding_count INTEGER;
        ALTER TABLE deliveries ADD COLUMN severity REAL;
        ALTER TABLE deliveries ADD COLUMN archived INTEGER;
        ALTER TABLE deliveries ADD COLUMN title TEXT;
        ALTER TABLE deliveries ADD COLUMN account TEXT;
        ALTER TABLE deliveries ADD COLUMN region TEXT;
        ALTER TABLE deliveries ADD COLUMN resource TEXT;
        ALTER TABLE deliveries ADD COLUMN last_seen TEXT;
        ALTER TABLE deliveries ADD COLUMN mentions TEXT;
        ALTER TABLE deliveries ADD COLUMN outcome TEXT;
        ALTER TABLE deliveries ADD COLUMN routed_channel TEXT;
        CREATE TABLE IF NOT EXISTS finding_threads (
            finding_id TEXT NOT NULL,
            conversation TEXT NOT NULL,
            channel_id TEXT,
            ts TEXT,
            finding_count INTEGER NOT NULL,
            severity_label TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            archived INTEGER NOT NULL DEFAULT 0,
            in_digest INTEGER NOT NULL DEFAULT 0,
            claimed_by TEXT,
            claimed_at REAL,
            version INTEGER NOT NULL,
            touched_at REAL NOT NULL,
            PRIMARY KEY (finding_id, conversation)
        ) WITHOUT ROWID;
        CREATE INDEX IF NOT EXISTS finding_threads_touched ON finding_threads (touched_at);
        """,
        // 2 -> 3: actions from Slack (the finding a message with buttons was made from, what people did, the message
        // to edit, and every click).
        """
        ALTER TABLE deliveries ADD COLUMN finding_json BLOB;
        ALTER TABLE finding_threads ADD COLUMN action_state TEXT;
        ALTER TABLE finding_threads ADD COLUMN message BLOB;
        ALTER TABLE finding_threads ADD COLUMN finding_json BLOB;
        CREATE TABLE IF NOT EXISTS action_log (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            at REAL NOT NULL,
            user_id TEXT NOT NULL,
            user_name TEXT,
            team TEXT,
            action TEXT NOT NULL,
            finding_id TEXT NOT NULL,
            conversation TEXT,
            outcome TEXT NOT NULL,
            detail TEXT
        );
        CREATE INDEX IF NOT EXISTS action_log_at ON action_log (at);
        """,
    ]

    /// Creates or upgrades the schema under `BEGIN IMMEDIATE`, so processes opening a new file at once do it once.
    private static func migrate(_ db: SQLiteConnection) throws(SQLiteError) {
        func version() throws(SQLiteError) -> Int { Int(try db.first("PRAGMA user_version") { $0.int64(0) } ?? 0) }
        if try version() == migrations.count { return }
        try db.immediateTransaction { () throws(SQLiteError) in
            let current = try version()
            if current > migrations.count {
                throw SQLiteError(
                    code: SQLITE_ERROR,
                    message: "schema version \(current) is newer than this router supports (\(migrations.count))")
            }
            for v in current..<migrations.count {
                try db.exec(migrations[v])
                try db.exec("PRAGMA user_version = \(v + 1)")
            }
        }
    }
}

private func closeDescriptor(_ fd: Int32) {
    _ = close(fd)
}
