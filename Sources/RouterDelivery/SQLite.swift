import CSQLite

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A minimal typed wrapper over the sqlite3 C API, just what the delivery queue needs. Not thread-safe: one
/// connection is used by one thread at a time (the queue serialises with a `Mutex`). Values are always bound, never
/// spliced into SQL, so error messages (sqlite's own) never contain payloads.

/// An error from sqlite: the extended result code and sqlite's message.
struct SQLiteError: Error, Sendable, CustomStringConvertible {
    /// Extended result code (`SQLITE_BUSY_SNAPSHOT`, `SQLITE_IOERR_FSYNC`, ...).
    var code: Int32
    var message: String

    /// Primary result code (`SQLITE_BUSY`, `SQLITE_CORRUPT`, ...).
    var primary: Int32 { code & 0xFF }
    var description: String { "\(message) (sqlite code \(code))" }
}

/// A value to bind to a statement parameter.
enum SQLiteValue {
    case int(Int64)
    case double(Double)
    case text(String)
    case blob([UInt8])
    case null

    static func text(_ s: String?) -> SQLiteValue { s.map { .text($0) } ?? .null }
    static func blob(_ b: [UInt8]?) -> SQLiteValue { b.map { .blob($0) } ?? .null }
    static func double(_ d: Double?) -> SQLiteValue { d.map { .double($0) } ?? .null }
}

/// `SQLITE_TRANSIENT`: sqlite copies the bound bytes before the bind call returns.
private let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)

/// A prepared statement. Parameters and columns are 1-based and 0-based respectively, as in the C API.
final class SQLiteStatement {
    let handle: OpaquePointer
    private let db: OpaquePointer

    init(db: OpaquePointer, sql: String) throws(SQLiteError) {
        var stmt: OpaquePointer?
        let rc = sqlite3_prepare_v3(db, sql, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &stmt, nil)
        guard rc == SQLITE_OK, let stmt else {
            sqlite3_finalize(stmt)
            throw SQLiteConnection.error(db, rc)
        }
        self.handle = stmt
        self.db = db
    }

    deinit { sqlite3_finalize(handle) }

    /// Makes the statement ready to run again and forgets its bindings. Also ends the read it was doing, so call it
    /// after the last row you need (a statement left mid-result keeps its snapshot and blocks WAL checkpoints).
    func reset() {
        sqlite3_reset(handle)
        sqlite3_clear_bindings(handle)
    }

    private func check(_ rc: Int32) throws(SQLiteError) {
        if rc != SQLITE_OK { throw SQLiteConnection.error(db, rc) }
    }

    func bind(_ index: Int32, _ value: Int64) throws(SQLiteError) {
        try check(sqlite3_bind_int64(handle, index, value))
    }

    func bind(_ index: Int32, _ value: Double) throws(SQLiteError) {
        try check(sqlite3_bind_double(handle, index, value))
    }

    func bind(_ index: Int32, _ value: String?) throws(SQLiteError) {
        guard let value else { return try bindNull(index) }
        var s = value
        let rc = s.withUTF8 { buf in
            buf.withMemoryRebound(to: CChar.self) { chars in
                // A NULL pointer would bind NULL: "" needs a real (empty) C string to stay TEXT.
                guard let base = chars.baseAddress, !chars.isEmpty else {
                    return sqlite3_bind_text(handle, index, "", 0, transient)
                }
                return sqlite3_bind_text64(handle, index, base, UInt64(chars.count), transient, UInt8(SQLITE_UTF8))
            }
        }
        try check(rc)
    }

    func bind(_ index: Int32, blob value: [UInt8]?) throws(SQLiteError) {
        guard let value else { return try bindNull(index) }
        if value.isEmpty {
            // sqlite3_bind_blob with a NULL pointer binds NULL; an empty BLOB needs zeroblob(0).
            return try check(sqlite3_bind_zeroblob(handle, index, 0))
        }
        let rc = value.withUnsafeBytes { raw in
            sqlite3_bind_blob64(handle, index, raw.baseAddress, UInt64(raw.count), transient)
        }
        try check(rc)
    }

    func bindNull(_ index: Int32) throws(SQLiteError) {
        try check(sqlite3_bind_null(handle, index))
    }

    func bind(_ index: Int32, _ value: SQLiteValue) throws(SQLiteError) {
        switch value {
        case .int(let v): try bind(index, v)
        case .double(let v): try bind(index, v)
        case .text(let v): try bind(index, v)
        case .blob(let v): try bind(index, blob: v)
        case .null: try bindNull(index)
        }
    }

    func bind(_ values: [SQLiteValue]) throws(SQLiteError) {
        for (i, v) in values.enumerated() { try bind(Int32(i + 1), v) }
    }

    /// One step: true when a row is available, false when done.
    func step() throws(SQLiteError) -> Bool {
        let rc = sqlite3_step(handle)
        switch rc {
        case SQLITE_ROW: return true
        case SQLITE_DONE: return false
        default:
            // sqlite3_step's code can be generic; the connection holds the specific one and its message.
            let code = sqlite3_extended_errcode(db)
            throw SQLiteConnection.error(db, code != SQLITE_OK ? code : rc)
        }
    }

    func isNull(_ column: Int32) -> Bool { sqlite3_column_type(handle, column) == SQLITE_NULL }

    func int64(_ column: Int32) -> Int64 { sqlite3_column_int64(handle, column) }

    func double(_ column: Int32) -> Double { sqlite3_column_double(handle, column) }

    func optionalDouble(_ column: Int32) -> Double? { isNull(column) ? nil : double(column) }

    func string(_ column: Int32) -> String? {
        guard let p = sqlite3_column_text(handle, column) else { return nil }
        let n = Int(sqlite3_column_bytes(handle, column))
        return String(decoding: UnsafeBufferPointer(start: p, count: n), as: UTF8.self)
    }

    func blob(_ column: Int32) -> [UInt8]? {
        if isNull(column) { return nil }
        guard let p = sqlite3_column_blob(handle, column) else { return [] }
        let n = Int(sqlite3_column_bytes(handle, column))
        return Array(UnsafeRawBufferPointer(start: p, count: n))
    }
}

/// A busy timeout that polls often. `sqlite3_busy_timeout` backs off to one try per 100 ms, and a writer that commits
/// and starts its next transaction within microseconds (another process draining a backlog) leaves only tiny gaps: at
/// 10 tries a second a waiter can miss them all for the whole timeout and fail with SQLITE_BUSY. Trying every
/// 0.2-1 ms (random, so waiters do not move in step) finds a gap within milliseconds. Used by one connection, on one
/// thread at a time.
private final class BusyWait {
    let timeoutNs: UInt64
    var startNs: UInt64 = 0

    init(timeoutMs: Int) { timeoutNs = UInt64(max(0, timeoutMs)) * 1_000_000 }

    static func monotonicNs() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
    }
}

/// sqlite's busy handler: 1 = try again, 0 = give up (the call fails with SQLITE_BUSY).
private let busyHandler: @convention(c) (UnsafeMutableRawPointer?, Int32) -> Int32 = { context, count in
    guard let context else { return 0 }
    let wait = Unmanaged<BusyWait>.fromOpaque(context).takeUnretainedValue()
    let now = BusyWait.monotonicNs()
    if count == 0 { wait.startNs = now }
    if now &- wait.startNs >= wait.timeoutNs { return 0 }
    usleep(UInt32.random(in: 200...1000))
    return 1
}

/// A database connection with a cache of prepared statements.
final class SQLiteConnection {
    private(set) var handle: OpaquePointer?
    let path: String
    private var cache: [String: SQLiteStatement] = [:]

    /// Opens (with `flags`, e.g. `SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE`) and sets the busy timeout: a call that
    /// finds the database locked by another connection keeps trying for up to `busyTimeoutMs`.
    init(path: String, flags: Int32, busyTimeoutMs: Int) throws(SQLiteError) {
        self.path = path
        var db: OpaquePointer?
        let rc = sqlite3_open_v2(path, &db, flags, nil)
        guard rc == SQLITE_OK, let db else {
            let err = db.map { Self.error($0, rc) } ?? SQLiteError(code: rc, message: String(cString: sqlite3_errstr(rc)))
            sqlite3_close_v2(db)
            throw err
        }
        handle = db
        sqlite3_extended_result_codes(db, 1)
        busyWait = BusyWait(timeoutMs: busyTimeoutMs)
        sqlite3_busy_handler(db, busyHandler, Unmanaged.passUnretained(busyWait).toOpaque())
    }

    /// The busy timeout's state, owned by the connection (the handler only borrows it).
    private var busyWait: BusyWait

    deinit { close() }

    /// Finalizes the cached statements and closes. Safe to call twice.
    func close() {
        cache.removeAll()
        if let handle { sqlite3_close_v2(handle) }
        handle = nil
    }

    static func error(_ db: OpaquePointer, _ rc: Int32) -> SQLiteError {
        let code = sqlite3_extended_errcode(db)
        let message = String(cString: sqlite3_errmsg(db))
        // The connection's code is the precise one when it belongs to this failure.
        return SQLiteError(code: (code & 0xFF) == (rc & 0xFF) ? code : rc, message: message)
    }

    private func db() throws(SQLiteError) -> OpaquePointer {
        guard let handle else { throw SQLiteError(code: SQLITE_MISUSE, message: "connection is closed") }
        return handle
    }

    /// Runs one or more statements without results.
    func exec(_ sql: String) throws(SQLiteError) {
        let db = try db()
        var err: UnsafeMutablePointer<CChar>?
        let rc = sqlite3_exec(db, sql, nil, nil, &err)
        if rc != SQLITE_OK {
            let message = err.map { String(cString: $0) } ?? String(cString: sqlite3_errstr(rc))
            sqlite3_free(err)
            throw SQLiteError(code: sqlite3_extended_errcode(db), message: message)
        }
    }

    /// A new (uncached) prepared statement.
    func prepare(_ sql: String) throws(SQLiteError) -> SQLiteStatement {
        try SQLiteStatement(db: db(), sql: sql)
    }

    /// The cached prepared statement for `sql`, reset and with no bindings.
    func cached(_ sql: String) throws(SQLiteError) -> SQLiteStatement {
        if let s = cache[sql] {
            s.reset()
            return s
        }
        let s = try prepare(sql)
        cache[sql] = s
        return s
    }

    /// Runs a statement (cached) with `values`; returns the number of rows changed.
    @discardableResult
    func run(_ sql: String, _ values: [SQLiteValue] = []) throws(SQLiteError) -> Int {
        let s = try cached(sql)
        defer { s.reset() }
        try s.bind(values)
        while try s.step() {}
        return changes
    }

    /// Runs a query (cached) with `values`, mapping each row.
    func query<T>(_ sql: String, _ values: [SQLiteValue] = [], _ row: (SQLiteStatement) -> T) throws(SQLiteError) -> [T] {
        let s = try cached(sql)
        defer { s.reset() }
        try s.bind(values)
        var out: [T] = []
        while try s.step() { out.append(row(s)) }
        return out
    }

    /// The first row of a query, mapped, or nil.
    func first<T>(_ sql: String, _ values: [SQLiteValue] = [], _ row: (SQLiteStatement) -> T) throws(SQLiteError) -> T? {
        let s = try cached(sql)
        defer { s.reset() }
        try s.bind(values)
        return try s.step() ? row(s) : nil
    }

    var changes: Int { handle.map { Int(sqlite3_changes($0)) } ?? 0 }

    var lastInsertRowID: Int64 { handle.map { sqlite3_last_insert_rowid($0) } ?? 0 }

    var inTransaction: Bool { handle.map { sqlite3_get_autocommit($0) == 0 } ?? false }

    /// Runs `body` in a `BEGIN IMMEDIATE` transaction: the write lock is taken up front (waiting up to the busy
    /// timeout), so writers in other connections and processes are serialised and no transaction has to be retried
    /// half-way. Commits when `body` returns (durable once this returns), rolls back when it throws.
    func immediateTransaction<T>(_ body: () throws(SQLiteError) -> T) throws(SQLiteError) -> T {
        try run("BEGIN IMMEDIATE")
        do {
            let result = try body()
            try run("COMMIT")
            return result
        } catch {
            // Some errors (SQLITE_FULL, SQLITE_IOERR, ...) already rolled back; do not mask the real error.
            if inTransaction { _ = try? run("ROLLBACK") }
            throw error
        }
    }
}
