import Synchronization
import RouterCore
import RouterDelivery
import RouterFinding
import RouterRules
import RouterSlack

/// The rule set in use: one `Intake` (one Lua state) behind a lock, so routing is serialised; a reload builds and
/// checks a complete new set outside the lock and swaps it in only when it loaded cleanly.
final class ActiveRules: @unchecked Sendable {
    private let lock = Mutex(())
    private var intake: Intake
    let rulesDirectory: String
    let destinations: DestinationSet
    let fallbackChannel: String?
    let limits: RuleLimits
    let actionsEnabled: Bool

    init(intake: Intake, rulesDirectory: String, limits: RuleLimits) {
        self.actionsEnabled = intake.actionsEnabled
        self.intake = intake
        self.rulesDirectory = rulesDirectory
        self.destinations = intake.destinations
        self.fallbackChannel = intake.fallbackChannel
        self.limits = limits
    }

    /// Routes `items` in order under the lock (about 30 us per finding).
    func route(_ items: [InputItem], now: Double) -> [IntakeResult] {
        lock.withLock { _ in items.map { intake.route($0, now: now) } }
    }

    /// The current rules' verdict on a click.
    func permit(_ action: FindingAction, user: PermitUser, finding: Finding, now: Double) -> PermitDecision {
        lock.withLock { _ in intake.engine.permit(action, user: user, finding: finding, context: EvaluationContext(now: now)) }
    }

    /// Loads the rules directory again. On success the new set routes every later request; on failure the old one
    /// stays and the `file:line: error:` lines are returned.
    func reload() -> Result<Void, IntakeLoadError> {
        switch Intake.load(
            rulesDirectory: rulesDirectory, destinations: destinations, fallbackChannel: fallbackChannel, limits: limits)
        {
        case .success(let fresh):
            fresh.actionsEnabled = actionsEnabled
            lock.withLock { _ in intake = fresh }
            return .success(())
        case .failure(let e):
            return .failure(e)
        }
    }
}
