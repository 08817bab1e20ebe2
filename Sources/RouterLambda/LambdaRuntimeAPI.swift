import RouterJSON

/// One event handed out by the Runtime API's `GET /runtime/invocation/next`.
public struct LambdaInvocation: Sendable, Equatable {
    /// `Lambda-Runtime-Aws-Request-Id`: names the invocation in the response or error POST.
    public var requestId: String
    /// `Lambda-Runtime-Deadline-Ms`: when Lambda stops the invocation, in Unix milliseconds.
    public var deadlineMs: Int64
    /// `Lambda-Runtime-Invoked-Function-Arn`.
    public var functionArn: String
    /// `Lambda-Runtime-Trace-Id` (X-Ray), nil when absent.
    public var traceId: String?
    /// The event, as sent.
    public var body: [UInt8]
    /// The event was larger than the runtime accepts (`body` is then empty): the invocation is answered with an error.
    public var bodyTooLarge = false

    public init(requestId: String, deadlineMs: Int64, functionArn: String = "", traceId: String? = nil, body: [UInt8]) {
        self.requestId = requestId
        self.deadlineMs = deadlineMs
        self.functionArn = functionArn
        self.traceId = traceId
        self.body = body
    }
}

/// An error report for `POST /runtime/invocation/{id}/error` or `POST /runtime/init/error`: the JSON body
/// `{"errorMessage":..,"errorType":..,"stackTrace":[]}`, and `errorType` again in the header
/// `Lambda-Runtime-Function-Error-Type`.
public struct LambdaErrorReport: Sendable, Equatable, Error {
    /// `Runtime.ConfigInvalid`, `Router.SlackPermanentError`, ...
    public var errorType: String
    public var errorMessage: String

    public init(errorType: String, errorMessage: String) {
        self.errorType = errorType
        self.errorMessage = errorMessage
    }

    /// The JSON body the Runtime API expects.
    public var json: [UInt8] {
        var out: [UInt8] = Array(#"{"errorMessage":"#.utf8)
        JSONString.write(errorMessage, into: &out)
        out += Array(#","errorType":"#.utf8)
        JSONString.write(errorType, into: &out)
        out += Array(#","stackTrace":[]}"#.utf8)
        return out
    }

    /// The header value: printable ASCII only (a header line must not be split or carry odd bytes).
    public var headerValue: String {
        String(errorType.unicodeScalars.filter { $0.value >= 0x21 && $0.value < 0x7F }.map(Character.init))
    }
}

/// Why a Runtime API call failed.
public struct LambdaAPIError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        /// No HTTP answer (connection refused, reset, ...).
        case transport
        /// An HTTP status other than the expected one.
        case status(Int)
        /// `next` answered without a request id, or with a body too large.
        case malformed
        /// The in-memory API ran out of events: the loop ends normally.
        case finished
    }

    public var kind: Kind
    public var message: String

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public var description: String { message }
}

/// The Lambda Runtime API (`2018-06-01`), as the runtime loop uses it. Implementations: ``CurlLambdaRuntimeAPI``
/// (HTTP to `$AWS_LAMBDA_RUNTIME_API`) and ``InMemoryLambdaRuntimeAPI`` (tests).
public protocol LambdaRuntimeAPI: AnyObject {
    /// Blocks until Lambda hands out the next event (no timeout: the process may be frozen in between).
    func next() throws(LambdaAPIError) -> LambdaInvocation
    /// The invocation's result.
    func respond(requestId: String, body: [UInt8]) throws(LambdaAPIError)
    /// The invocation failed (Lambda reports a function error; async events are retried).
    func fail(requestId: String, error: LambdaErrorReport) throws(LambdaAPIError)
    /// Initialisation failed; the process exits afterwards.
    func initError(_ error: LambdaErrorReport) throws(LambdaAPIError)
}
