import RouterDelivery

/// The Runtime API over HTTP (libcurl through ``HTTPClient``), at `http://$AWS_LAMBDA_RUNTIME_API/2018-06-01`.
/// `next` has no timeout; one client (one kept-alive connection) serves every call. Not thread-safe: the runtime
/// loop calls it from one thread.
public final class CurlLambdaRuntimeAPI: LambdaRuntimeAPI {
    /// Events larger than this are refused (Lambda's synchronous payload limit is 6 MB; a little headroom).
    public static let maxEventBytes = 6_815_744  // 6.5 MiB

    public let baseURL: String
    private let client = HTTPClient()

    /// `hostPort` is `$AWS_LAMBDA_RUNTIME_API`, e.g. `127.0.0.1:9001`.
    public init(hostPort: String) {
        baseURL = "http://\(hostPort)/2018-06-01"
    }

    public func next() throws(LambdaAPIError) -> LambdaInvocation {
        var request = HTTPRequest(method: .get, url: baseURL + "/runtime/invocation/next")
        request.totalTimeout = 0
        request.maxBody = Self.maxEventBytes + 1
        let response: HTTPResponse
        switch client.send(request) {
        case .success(let r): response = r
        case .failure(let e): throw LambdaAPIError(.transport, "GET /runtime/invocation/next failed: \(e.name)")
        }
        guard response.status == 200 else {
            throw LambdaAPIError(.status(response.status), "GET /runtime/invocation/next answered HTTP \(response.status)")
        }
        guard let id = response.header("lambda-runtime-aws-request-id"), !id.isEmpty,
            id.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F && $0 != UInt8(ascii: "/") })
        else {
            throw LambdaAPIError(.malformed, "GET /runtime/invocation/next answered without a usable Lambda-Runtime-Aws-Request-Id")
        }
        let deadline = response.header("lambda-runtime-deadline-ms").flatMap { Int64($0) } ?? 0
        var invocation = LambdaInvocation(
            requestId: id, deadlineMs: deadline, functionArn: response.header("lambda-runtime-invoked-function-arn") ?? "",
            traceId: response.header("lambda-runtime-trace-id").flatMap { $0.isEmpty ? nil : $0 }, body: response.body)
        if response.bodyTruncated || response.body.count > Self.maxEventBytes {
            // Answered with an error by the loop: the request id is what matters.
            invocation.body = []
            invocation.bodyTooLarge = true
        }
        return invocation
    }

    public func respond(requestId: String, body: [UInt8]) throws(LambdaAPIError) {
        try post("/runtime/invocation/\(requestId)/response", headers: ["Content-Type: application/json"], body: body)
    }

    public func fail(requestId: String, error: LambdaErrorReport) throws(LambdaAPIError) {
        try post(
            "/runtime/invocation/\(requestId)/error",
            headers: ["Content-Type: application/json", "Lambda-Runtime-Function-Error-Type: \(error.headerValue)"],
            body: error.json)
    }

    public func initError(_ error: LambdaErrorReport) throws(LambdaAPIError) {
        try post(
            "/runtime/init/error",
            headers: ["Content-Type: application/json", "Lambda-Runtime-Function-Error-Type: \(error.headerValue)"],
            body: error.json)
    }

    private func post(_ path: String, headers: [String], body: [UInt8]) throws(LambdaAPIError) {
        var request = HTTPRequest(method: .post, url: baseURL + path, headers: headers, body: body)
        request.connectTimeout = 5
        request.totalTimeout = 30
        request.maxBody = 4096
        switch client.send(request) {
        case .success(let r):
            guard (200..<300).contains(r.status) else {
                throw LambdaAPIError(.status(r.status), "POST \(path) answered HTTP \(r.status)")
            }
        case .failure(let e):
            throw LambdaAPIError(.transport, "POST \(path) failed: \(e.name)")
        }
    }
}
