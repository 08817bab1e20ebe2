import Synchronization

/// A Runtime API held in memory, for tests: hands out the queued events in order, then ends the loop
/// (`next` throws `.finished`), and records every answer.
public final class InMemoryLambdaRuntimeAPI: LambdaRuntimeAPI, @unchecked Sendable {
    /// What the runtime answered.
    public enum Answer: Sendable, Equatable {
        case response(requestId: String, body: [UInt8])
        case error(requestId: String, LambdaErrorReport)
        case initError(LambdaErrorReport)
    }

    private struct State {
        var pending: [LambdaInvocation]
        var answers: [Answer] = []
        var nextCalls = 0
    }

    private let state: Mutex<State>

    public init(_ invocations: [LambdaInvocation] = []) {
        state = Mutex(State(pending: invocations))
    }

    /// Queues another event.
    public func enqueue(_ invocation: LambdaInvocation) {
        state.withLock { $0.pending.append(invocation) }
    }

    public var answers: [Answer] { state.withLock { $0.answers } }
    /// How many times `next` was called (the last call of a run finds nothing).
    public var nextCalls: Int { state.withLock { $0.nextCalls } }

    public func next() throws(LambdaAPIError) -> LambdaInvocation {
        let item = state.withLock { s -> LambdaInvocation? in
            s.nextCalls += 1
            return s.pending.isEmpty ? nil : s.pending.removeFirst()
        }
        guard let item else { throw LambdaAPIError(.finished, "no more events") }
        return item
    }

    public func respond(requestId: String, body: [UInt8]) throws(LambdaAPIError) {
        try record(.response(requestId: requestId, body: body), requestId: requestId)
    }

    public func fail(requestId: String, error: LambdaErrorReport) throws(LambdaAPIError) {
        try record(.error(requestId: requestId, error), requestId: requestId)
    }

    public func initError(_ error: LambdaErrorReport) throws(LambdaAPIError) {
        state.withLock { $0.answers.append(.initError(error)) }
    }

    /// A second answer for one request id is refused, as Lambda does (403).
    private func record(_ answer: Answer, requestId: String) throws(LambdaAPIError) {
        let duplicate = state.withLock { s -> Bool in
            let seen = s.answers.contains { a in
                switch a {
                case .response(let id, _), .error(let id, _): return id == requestId
                case .initError: return false
                }
            }
            if !seen { s.answers.append(answer) }
            return seen
        }
        if duplicate { throw LambdaAPIError(.status(403), "request \(requestId) was already answered") }
    }
}
