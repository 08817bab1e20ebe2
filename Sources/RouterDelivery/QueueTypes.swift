/// A delivery to put in the durable queue.
public struct NewDelivery: Sendable, Equatable {
    /// Idempotency key: finding id, `updatedAt`, destination name and channel. The same key is accepted once.
    public var key: String
    public var findingId: String
    public var findingType: String
    public var severityLabel: String
    /// Destination name (`default`, a named webhook, `slack-api`); never a secret.
    public var destination: String
    /// Channel the rule chose (`#name` or an ID); nil when the destination's webhook decides.
    public var channel: String?
    /// The `chat.postMessage` JSON body (with `channel` when known).
    public var payload: [UInt8]
    /// A text-only version of the payload, tried once if Slack rejects the blocks (`invalid_blocks`,
    /// `msg_blocks_too_long`).
    public var textOnlyPayload: [UInt8]?
    /// The finding's lifecycle facts: with a thread store, the engine decides at delivery time whether this is a
    /// first post, an edit with a thread reply, or nothing (see ``Lifecycle``). nil: always a plain post.
    public var lifecycle: FindingEvent?

    public init(
        key: String, findingId: String, findingType: String, severityLabel: String, destination: String,
        channel: String?, payload: [UInt8], textOnlyPayload: [UInt8]? = nil, lifecycle: FindingEvent? = nil
    ) {
        self.lifecycle = lifecycle
        self.key = key
        self.findingId = findingId
        self.findingType = findingType
        self.severityLabel = severityLabel
        self.destination = destination
        self.channel = channel
        self.payload = payload
        self.textOnlyPayload = textOnlyPayload
    }

    /// The lane deliveries are paced and ordered in: destination + channel.
    public var lane: String { destination + "\u{1F}" + (channel ?? "") }

    /// The conversation a finding's lifecycle state is kept for: destination + the channel the rule chose (for a
    /// webhook, several conversations share one lane).
    public var conversation: String { destination + "\u{1F}" + (lifecycle?.routedChannel ?? channel ?? "") }
}

public enum DeliveryState: String, Sendable, Equatable {
    case pending, delivered, dead
}

/// A delivery as stored.
public struct QueuedDelivery: Sendable, Equatable {
    public var id: Int64
    public var delivery: NewDelivery
    public var state: DeliveryState
    public var attempts: Int
    /// Unix seconds.
    public var enqueuedAt: Double
    public var nextAttemptAt: Double
    public var firstError: String?
    public var lastError: String?
    public var lastAttemptAt: Double?
    /// Set once the text-only fallback was used.
    public var usedTextOnly: Bool
    /// What delivering it did, once delivered: `posted`, `edited + thread reply`, `in digest 1700000000.000100`,
    /// `nothing posted (already handled: ...)`.
    public var outcome: String?

    public init(
        id: Int64, delivery: NewDelivery, state: DeliveryState, attempts: Int, enqueuedAt: Double,
        nextAttemptAt: Double, firstError: String?, lastError: String?, lastAttemptAt: Double?, usedTextOnly: Bool,
        outcome: String? = nil
    ) {
        self.outcome = outcome
        self.id = id
        self.delivery = delivery
        self.state = state
        self.attempts = attempts
        self.enqueuedAt = enqueuedAt
        self.nextAttemptAt = nextAttemptAt
        self.firstError = firstError
        self.lastError = lastError
        self.lastAttemptAt = lastAttemptAt
        self.usedTextOnly = usedTextOnly
    }
}

public enum EnqueueResult: Sendable, Equatable {
    case queued(id: Int64)
    /// The key was already accepted (pending, delivered or dead): nothing new was stored.
    case duplicate(id: Int64)
}

/// An error of the queue's storage (cannot open, disk full, corrupt): message is safe to show.
public struct QueueError: Error, Sendable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// Where one delivery stands (``DeliveryQueue/statuses(keys:)``), without its payload.
public struct DeliveryStatus: Sendable, Equatable {
    public var id: Int64
    public var state: DeliveryState
    public var attempts: Int
    /// The last failure (`channel_not_found (HTTP 404)`, `gave up after 3 attempts: http_503`, ...), nil if none.
    public var lastError: String?

    public init(id: Int64, state: DeliveryState, attempts: Int, lastError: String?) {
        self.id = id
        self.state = state
        self.attempts = attempts
        self.lastError = lastError
    }
}
