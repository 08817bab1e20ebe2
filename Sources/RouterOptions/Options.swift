import ArgumentParser
import RouterCore
import RouterDelivery
import RouterRules

// Option groups shared by the `router` and `router-server` executables.

/// Rule sandbox limits, shared by the commands that evaluate rules.
public struct LimitOptions: ParsableArguments {
    public init() {}
    @Option(help: "Lua VM instructions per finding.")
    public var maxInstructions: Int = RuleLimits.default.instructions
    @Option(help: "Wall-clock milliseconds per finding.")
    public var maxMilliseconds: Int = Int(RuleLimits.default.wallSeconds * 1000)
    @Option(help: "Lua heap cap in MiB while rules run.")
    public var maxMemoryMib: Int = RuleLimits.default.memoryBytes >> 20
    @Option(help: "Pattern-matching steps per string.find/match/gsub call.")
    public var maxPatternSteps: Int = RuleLimits.default.patternSteps
    @Option(help: "Deliveries per finding.")
    public var maxDeliveries: Int = RuleLimits.default.maxDeliveries

    public var limits: RuleLimits {
        var l = RuleLimits()
        l.instructions = maxInstructions
        l.wallSeconds = Double(maxMilliseconds) / 1000
        l.memoryBytes = maxMemoryMib << 20
        l.maxDeliveries = maxDeliveries
        l.patternSteps = maxPatternSteps
        return l
    }

    public func validate() throws {
        guard maxInstructions > 0, maxMilliseconds > 0, maxMemoryMib > 0, maxDeliveries > 0, maxPatternSteps > 0 else {
            throw ValidationError("limits must be positive")
        }
    }
}

/// Where the durable queue lives.
public struct DataOptions: ParsableArguments {
    public init() {}
    @Option(help: "Data directory of the durable delivery queue (default: $ROUTER_DATA_DIR, else $XDG_STATE_HOME/guardduty-router, else ~/.local/state/guardduty-router).")
    public var data: String?

    public var directory: String { data ?? defaultDataDirectory(processEnvironment()) }
}

/// Pacing, retries and timeouts of deliveries.
public struct DeliveryOptions: ParsableArguments {
    public init() {}
    @Option(help: "Messages per second per destination and channel.")
    public var rate: Double = DeliveryPolicy.default.ratePerSecond
    @Option(help: "Messages a channel may send at once before pacing starts.")
    public var burst: Int = DeliveryPolicy.default.burst
    @Option(help: "First retry backoff in seconds (exponential with full jitter).")
    public var retryBase: Double = DeliveryPolicy.default.retryBase
    @Option(help: "Longest retry backoff in seconds.")
    public var retryCap: Double = DeliveryPolicy.default.retryCap
    @Option(help: "Attempts before a delivery goes to the dead letter.")
    public var maxAttempts: Int = DeliveryPolicy.default.maxAttempts
    @Option(help: "Seconds after which a failing delivery goes to the dead letter.")
    public var maxAge: Double = DeliveryPolicy.default.maxAge
    @Option(help: "Longest Retry-After honoured, in seconds.")
    public var retryAfterCap: Double = DeliveryPolicy.default.retryAfterCap
    @Option(help: "Concurrent requests.")
    public var workers: Int = DeliveryPolicy.default.workers
    @Option(help: "Bursts: when a channel's backlog is longer than its pace can post in this many seconds, the waiting findings that are not CRITICAL are listed in digest messages (0: never).")
    public var digestWindow: Double = DeliveryPolicy.default.digestWindow
    @Option(help: "Most findings one digest message lists.")
    public var digestSize: Int = DeliveryPolicy.default.maxDigestFindings
    @Option(help: "Connect timeout in seconds.")
    public var connectTimeout: Double = 5
    @Option(help: "Total request timeout in seconds.")
    public var timeout: Double = 15

    public var policy: DeliveryPolicy {
        var p = DeliveryPolicy()
        p.ratePerSecond = rate
        p.burst = burst
        p.retryBase = retryBase
        p.retryCap = retryCap
        p.maxAttempts = maxAttempts
        p.maxAge = maxAge
        p.retryAfterCap = retryAfterCap
        p.workers = workers
        p.digestWindow = digestWindow
        p.maxDigestFindings = digestSize
        return p
    }

    public func validate() throws {
        guard rate > 0, burst >= 1, retryBase > 0, retryCap >= retryBase, maxAttempts >= 1, maxAge > 0, retryAfterCap >= 0,
            workers >= 1, connectTimeout > 0, timeout > 0, digestWindow >= 0, digestSize >= 2
        else { throw ValidationError("delivery options must be positive (and --retry-cap >= --retry-base)") }
    }
}


/// The pacing and digest options of `router send`, for commands that simulate deliveries (`router replay`).
public struct PacingOptions: ParsableArguments {
    public init() {}
    @Option(help: "Messages per second per destination and channel.")
    public var rate: Double = DeliveryPolicy.default.ratePerSecond
    @Option(help: "Messages a channel may send at once before pacing starts.")
    public var burst: Int = DeliveryPolicy.default.burst
    @Option(help: "Bursts: when a channel's backlog is longer than its pace can post in this many seconds, the waiting findings that are not CRITICAL are listed in digest messages (0: never).")
    public var digestWindow: Double = DeliveryPolicy.default.digestWindow
    @Option(help: "Most findings one digest message lists.")
    public var digestSize: Int = DeliveryPolicy.default.maxDigestFindings

    public var policy: DeliveryPolicy {
        var p = DeliveryPolicy()
        p.ratePerSecond = rate
        p.burst = burst
        p.digestWindow = digestWindow
        p.maxDigestFindings = digestSize
        return p
    }

    public func validate() throws {
        guard rate > 0, burst >= 1, digestWindow >= 0, digestSize >= 2 else {
            throw ValidationError("--rate must be positive, --burst at least 1, --digest-window at least 0 and --digest-size at least 2")
        }
    }
}
