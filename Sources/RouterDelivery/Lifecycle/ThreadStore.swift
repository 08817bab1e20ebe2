import Synchronization

/// Where a finding stands in one lane (destination + channel): the conversation the router keeps for it.
public struct ThreadRecord: Sendable, Equatable {
    public var findingId: String
    /// `NewDelivery.conversation`: destination + the channel the rule chose.
    public var lane: String
    /// The channel ID Slack answered with (the Web API); chat.update and thread replies need it. nil for webhooks.
    public var channelID: String?
    /// The root message's `ts` (the Web API); nil for webhooks, or while the first post is claimed.
    public var ts: String?
    /// What the last handled event said.
    public var count: Int
    public var severityLabel: String
    public var updatedAt: String
    public var archived: Bool
    /// The finding was listed in a digest (whose `ts` this is): there is no message of its own to edit.
    public var inDigest: Bool
    /// Set while a first post is in progress (`claimedBy` is the engine's owner id), so two routers that see the
    /// first event of a finding at once post one root message.
    public var claimedBy: String?
    public var claimedAt: Double?
    /// Bumped by every write: writes are conditional on it.
    public var version: Int64
    /// Unix seconds of the last write (for expiry).
    public var touchedAt: Double
    /// What people did from the message's buttons (``ActionState``, encoded); nil: nothing yet.
    public var actionState: String?
    /// The message as last posted or edited (the payload without `channel`), kept when it carries buttons: a click
    /// edits it with the new status.
    public var message: [UInt8]?
    /// The finding as it was last routed here (an EventBridge event), kept when its message carries buttons: the
    /// `f` that `permit` sees for a click.
    public var findingJSON: [UInt8]?

    public init(
        findingId: String, lane: String, channelID: String? = nil, ts: String? = nil, count: Int,
        severityLabel: String, updatedAt: String, archived: Bool = false, inDigest: Bool = false,
        claimedBy: String? = nil, claimedAt: Double? = nil, version: Int64 = 0, touchedAt: Double,
        actionState: String? = nil, message: [UInt8]? = nil, findingJSON: [UInt8]? = nil
    ) {
        self.actionState = actionState
        self.message = message
        self.findingJSON = findingJSON
        self.findingId = findingId
        self.lane = lane
        self.channelID = channelID
        self.ts = ts
        self.count = count
        self.severityLabel = severityLabel
        self.updatedAt = updatedAt
        self.archived = archived
        self.inDigest = inDigest
        self.claimedBy = claimedBy
        self.claimedAt = claimedAt
        self.version = version
        self.touchedAt = touchedAt
    }

    /// A claim without a posted message yet.
    public var isClaimOnly: Bool { claimedBy != nil }
}

/// A failure of the state store (cannot open, network, throttled): safe to show, never holds a secret.
public struct StateStoreError: Error, Sendable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// The lifecycle state (finding id, lane) -> ``ThreadRecord``: SQLite beside the queue for `router send` and the
/// server, DynamoDB for the Lambda, memory for tests and dry runs. Writes are conditional so concurrent routers
/// cannot both post a finding's first message.
public protocol ThreadStore: Sendable {
    func load(findingId: String, lane: String) throws(StateStoreError) -> ThreadRecord?
    /// Stores `record` (with version 1) only if nothing is stored for its key; returns the stored record instead when
    /// something is (and stores nothing).
    func insert(_ record: ThreadRecord) throws(StateStoreError) -> ThreadRecord?
    /// Stores `record` (with version `expectedVersion + 1`) only if the stored version is still `expectedVersion`;
    /// false when another writer got there first.
    func replace(_ record: ThreadRecord, expectedVersion: Int64) throws(StateStoreError) -> Bool
    /// ``insert(_:)`` for many records (a digest's claims); a store may do it in one transaction.
    func insertAll(_ records: [ThreadRecord]) throws(StateStoreError) -> [ThreadRecord?]
    /// ``replace(_:expectedVersion:)`` for many records (a digest's findings); a store may do it in one transaction.
    func replaceAll(_ records: [(ThreadRecord, expectedVersion: Int64)]) throws(StateStoreError) -> [Bool]
}

extension ThreadStore {
    public func insertAll(_ records: [ThreadRecord]) throws(StateStoreError) -> [ThreadRecord?] {
        var out: [ThreadRecord?] = []
        for r in records { out.append(try insert(r)) }
        return out
    }

    public func replaceAll(_ records: [(ThreadRecord, expectedVersion: Int64)]) throws(StateStoreError) -> [Bool] {
        var out: [Bool] = []
        for (r, v) in records { out.append(try replace(r, expectedVersion: v)) }
        return out
    }
}

/// A ``ThreadStore`` in memory: for tests and for `router test`'s simulation. Thread-safe.
public final class InMemoryThreadStore: ThreadStore, @unchecked Sendable {
    private struct Key: Hashable {
        var findingId: String
        var lane: String
    }
    private let records = Mutex<[Key: ThreadRecord]>([:])
    /// Reads fall through to this store when a key was never written here (a dry run over a saved state).
    private let base: ThreadStore?

    public init(base: ThreadStore? = nil) { self.base = base }

    public var all: [ThreadRecord] {
        records.withLock { Array($0.values) }.sorted { ($0.findingId, $0.lane) < ($1.findingId, $1.lane) }
    }

    public func load(findingId: String, lane: String) throws(StateStoreError) -> ThreadRecord? {
        if let r = records.withLock({ $0[Key(findingId: findingId, lane: lane)] }) { return r }
        return try base?.load(findingId: findingId, lane: lane)
    }

    public func insert(_ record: ThreadRecord) throws(StateStoreError) -> ThreadRecord? {
        let key = Key(findingId: record.findingId, lane: record.lane)
        let inBase = try records.withLock({ $0[key] }) == nil ? base?.load(findingId: record.findingId, lane: record.lane) : nil
        return records.withLock { r in
            if let existing = r[key] ?? inBase { return existing }
            var stored = record
            stored.version = 1
            r[key] = stored
            return nil
        }
    }

    public func replace(_ record: ThreadRecord, expectedVersion: Int64) throws(StateStoreError) -> Bool {
        let key = Key(findingId: record.findingId, lane: record.lane)
        let inBase = try records.withLock({ $0[key] }) == nil ? base?.load(findingId: record.findingId, lane: record.lane) : nil
        return records.withLock { r in
            guard let current = r[key] ?? inBase, current.version == expectedVersion else { return false }
            var stored = record
            stored.version = expectedVersion + 1
            r[key] = stored
            return true
        }
    }
}
