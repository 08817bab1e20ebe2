/// Limits every evaluation of one finding runs under. The defaults stop an infinite loop, a runaway allocation
/// or a catastrophic pattern well within one second, and leave ordinary rules thousands of times the room they need.
public struct RuleLimits: Sendable, Equatable {
    /// Lua VM instructions per finding (all filter, route and format calls of that finding together).
    public var instructions: Int = 10_000_000
    /// Wall-clock time per finding, in seconds.
    public var wallSeconds: Double = 0.25
    /// Cap on the whole Lua heap (compiled rules included) while rule code runs, in bytes. One string may hold at
    /// most a quarter of it.
    public var memoryBytes: Int = 64 << 20
    /// Matching steps per call of `string.find/match/gsub` (or per `gmatch` step).
    public var patternSteps: Int = 1_000_000
    /// Deliveries per finding.
    public var maxDeliveries: Int = 50

    public init() {}

    public static let `default` = RuleLimits()
}
