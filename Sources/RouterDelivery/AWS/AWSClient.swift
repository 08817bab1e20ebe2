import RouterJSON
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// The credentials AWS calls are signed with: the Lambda's (or the environment's) `AWS_ACCESS_KEY_ID`,
/// `AWS_SECRET_ACCESS_KEY` and optional `AWS_SESSION_TOKEN`. Printing them never shows them.
public struct AWSCredentials: Sendable {
    public var accessKey: Secret
    public var secretKey: Secret
    public var sessionToken: Secret?

    public init(accessKey: Secret, secretKey: Secret, sessionToken: Secret? = nil) {
        self.accessKey = accessKey
        self.secretKey = secretKey
        self.sessionToken = sessionToken
    }

    public var secrets: [Secret] { [accessKey, secretKey] + (sessionToken.map { [$0] } ?? []) }

    /// From the environment; nil when no access key is set, a message naming what is wrong otherwise.
    public static func fromEnvironment(_ env: [String: String]) -> Result<AWSCredentials, AWSCallError>? {
        func value(_ name: String) -> String? { env[name].flatMap { $0.isEmpty ? nil : $0 } }
        guard let key = value("AWS_ACCESS_KEY_ID") else { return nil }
        guard let secret = value("AWS_SECRET_ACCESS_KEY") else {
            return .failure(AWSCallError(code: "MissingCredentials", message: "AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not"))
        }
        if key.contains(":") {
            return .failure(AWSCallError(code: "MissingCredentials", message: "AWS_ACCESS_KEY_ID must not contain ':'"))
        }
        return .success(
            AWSCredentials(accessKey: Secret(key), secretKey: Secret(secret), sessionToken: value("AWS_SESSION_TOKEN").map(Secret.init)))
    }
}

/// A failed AWS call: AWS's error code (`AccessDeniedException`, ...) and message, or the transport's short error
/// name (`timeout`, `connect_failed`) as the code. Never holds a credential or a request header: messages of signature
/// errors (which can quote the signed request) are dropped, and every message has the credentials redacted.
public struct AWSCallError: Error, Sendable, Equatable, CustomStringConvertible {
    public var code: String
    public var message: String?
    public var httpStatus: Int?

    public init(code: String, message: String? = nil, httpStatus: Int? = nil) {
        self.code = code
        self.message = message
        self.httpStatus = httpStatus
    }

    /// `AccessDeniedException: User ... is not authorized ... (HTTP 403)`.
    public var description: String {
        code + (message.map { ": " + $0 } ?? "") + (httpStatus.map { " (HTTP \($0))" } ?? "")
    }

    /// The call certainly changed nothing and may be sent again: throttled, or never sent.
    var retryable: Bool {
        ["ThrottlingException", "TooManyRequestsException", "RequestLimitExceeded", "connect_failed", "dns_failed"].contains(code)
    }
}

/// Signed JSON calls to an AWS service over libcurl (`CURLOPT_AWS_SIGV4`), no SDK: the client of the GuardDuty,
/// Secrets Manager and DynamoDB boundaries. Thread-safe: each call borrows one of a few libcurl clients (kept for keep-alive).
public final class AWSClient: Sendable {
    public let service: String
    public let credentials: AWSCredentials
    public let connectTimeout: Double
    public let totalTimeout: Double
    private let clients = Mutex<[HTTPClient]>([])
    private let maxIdleClients: Int

    public init(service: String, credentials: AWSCredentials, connectTimeout: Double = 2, totalTimeout: Double = 5, maxIdleClients: Int = 4) {
        self.service = service
        self.credentials = credentials
        self.connectTimeout = connectTimeout
        self.totalTimeout = totalTimeout
        self.maxIdleClients = maxIdleClients
    }

    /// One call: `method` on `url` with a JSON `body` (nil: none), signed for `region`; the answer's JSON object.
    /// Sent again (twice at most, after a short pause) when it certainly changed nothing.
    public func call(
        region: String, method: HTTPRequest.Method, url: String, headers: [String] = [], body: JSONValue?
    ) -> Result<JSONValue, AWSCallError> {
        var attempt = 0
        while true {
            attempt += 1
            let result = once(region: region, method: method, url: url, headers: headers, body: body)
            if case .failure(let e) = result, e.retryable, attempt < 3 {
                var ts = timespec(tv_sec: 0, tv_nsec: Int((attempt == 1 ? 0.05 : 0.2) * Double.random(in: 0.5...1.5) * 1e9))
                _ = nanosleep(&ts, nil)
                continue
            }
            return result
        }
    }

    /// `request` signed for `region` (SigV4 by libcurl, the session token as `X-Amz-Security-Token`), bounded by the
    /// client's timeouts and a 1 MiB answer, sent on a borrowed libcurl client: the transport's result. What every
    /// AWS boundary sends through (DynamoDB, which reads the answer its own way, included).
    func send(_ request: HTTPRequest, region: String) -> Result<HTTPResponse, HTTPError> {
        var request = request
        if let token = credentials.sessionToken { request.headers.append("X-Amz-Security-Token: \(token.reveal())") }
        request.awsSigV4 = "aws:amz:\(region):\(service)"
        request.credentials = (credentials.accessKey.reveal(), credentials.secretKey.reveal())
        request.connectTimeout = connectTimeout
        request.totalTimeout = totalTimeout
        request.maxBody = 1 << 20
        let client = clients.withLock { $0.popLast() } ?? HTTPClient()
        let result = client.send(request)
        clients.withLock { idle in
            if idle.count < maxIdleClients { idle.append(client) }
        }
        return result
    }

    private func once(
        region: String, method: HTTPRequest.Method, url: String, headers: [String], body: JSONValue?
    ) -> Result<JSONValue, AWSCallError> {
        var request = HTTPRequest(method: method, url: url, headers: headers, body: body?.serializedBytes() ?? [])
        if body != nil, !headers.contains(where: { $0.lowercased().hasPrefix("content-type:") }) {
            request.headers.append("Content-Type: application/json")
        }
        switch send(request, region: region) {
        case .failure(let e):
            return .failure(AWSCallError(code: e.name))
        case .success(let response) where (200..<300).contains(response.status):
            if response.body.allSatisfy({ $0 == 0x20 || $0 == 0x0A || $0 == 0x0D || $0 == 0x09 }) { return .success(.object([:])) }
            guard let json = try? JSONValue.parse(response.body), json.objectValue != nil else {
                return .failure(AWSCallError(code: "InvalidResponse", message: "the answer is not a JSON object", httpStatus: response.status))
            }
            return .success(json)
        case .success(let response):
            let json = try? JSONValue.parse(response.body)
            let code = Self.errorType(response.header("x-amzn-errortype") ?? json?["__type"]?.stringValue ?? json?["type"]?.stringValue)
                ?? "HTTP\(response.status)"
            var message = json?["message"]?.stringValue ?? json?["Message"]?.stringValue
            if Self.signatureErrors.contains(code) { message = nil }
            message = message.map { Self.clean(Secret.redact($0, credentials.secrets)) }
            return .failure(AWSCallError(code: code, message: message, httpStatus: response.status))
        }
    }

    /// Errors whose message can quote the signed request (and so the session token).
    static let signatureErrors: Set<String> = [
        "InvalidSignatureException", "SignatureDoesNotMatch", "IncompleteSignature", "IncompleteSignatureException",
        "UnrecognizedClientException", "InvalidClientTokenId", "MissingAuthenticationToken", "MissingAuthenticationTokenException",
    ]

    /// `com.amazonaws...#AccessDeniedException` or the header's `Name:http://...` form -> `AccessDeniedException`; nil
    /// unless the result is a plain identifier (nothing else is ever shown). Every AWS boundary reads error types so.
    static func errorType(_ raw: String?) -> String? {
        guard let raw else { return nil }
        var name = Substring(raw)
        if let hash = name.lastIndex(of: "#") { name = name[name.index(after: hash)...] }
        if let colon = name.firstIndex(of: ":") { name = name[..<colon] }
        guard !name.isEmpty, name.utf8.count <= 80,
            name.utf8.allSatisfy({ c in (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) || c == 0x5F || c == 0x2E })
        else { return nil }
        return String(name)
    }

    /// AWS's free text, one line, at most 500 characters, no control characters.
    static func clean(_ s: String) -> String {
        var out = ""
        for u in s.unicodeScalars {
            if out.unicodeScalars.count >= 500 {
                out += "..."
                break
            }
            out.unicodeScalars.append(u.value < 0x20 || u.value == 0x7F ? " " : u)
        }
        return out
    }
}
