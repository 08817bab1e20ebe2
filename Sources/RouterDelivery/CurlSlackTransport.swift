import CCurlShim
import RouterJSON
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// The Slack transport over libcurl (through the `CCurlShim` C client).
///
/// Each call checks a libcurl client out of a pool and back in afterwards, so concurrent worker threads each use
/// their own easy handle while kept-alive connections (and TLS sessions) are reused from one request to the next.
/// Redirects are never followed, only http and https are allowed, and neither the webhook URL nor the bot token
/// ever appears in an outcome: error codes are libcurl's error mapped to a fixed short name, or Slack's own code
/// reduced to `[a-z0-9_]`.
public final class CurlSlackTransport: SlackTransport, @unchecked Sendable {
    /// Most idle clients kept for reuse; beyond that, returned clients are closed.
    public static let maxIdleClients = 32

    public let connectTimeout: Double
    public let totalTimeout: Double
    public let userAgent: String

    /// An `rc_client*`: used by one thread at a time (checked out of `idle`, then back in).
    private struct Client: @unchecked Sendable { let ptr: OpaquePointer }

    private let idle = Mutex<[Client]>([])
    private let stats = Mutex<(created: Int, connections: Int)>((0, 0))

    public init(connectTimeout: Double = 5, totalTimeout: Double = 15, userAgent: String = "guardduty-router") {
        self.connectTimeout = connectTimeout
        self.totalTimeout = totalTimeout
        // A header line must not be split by the user agent.
        self.userAgent = String(userAgent.unicodeScalars.filter { $0 != "\r" && $0 != "\n" })
    }

    deinit {
        let clients = idle.withLock { list -> [Client] in
            let all = list
            list.removeAll()
            return all
        }
        for c in clients { rc_client_free(c.ptr) }
    }

    /// libcurl clients created so far (one per concurrently active request, at most).
    public var clientsCreated: Int { stats.withLock { $0.created } }

    /// TCP connections opened so far across all clients: lower than the request count when keep-alive works.
    public var connectionsOpened: Int { stats.withLock { $0.connections } }

    /// The libcurl version in use.
    public static var curlVersion: String { String(cString: rc_curl_version()) }

    // MARK: - Sending

    public func send(_ request: SlackRequest) -> SlackOutcome {
        switch request.destination.kind {
        case .webhook(let url):
            let headers = ["Content-Type: application/json", "User-Agent: \(userAgent)"]
            let response = post(url: url.reveal(), headers: headers, body: request.body)
            return Self.webhookOutcome(response, secrets: request.destination.secrets)
        case .webAPI(let token, let baseURL):
            let url = baseURL + "/" + request.method.rawValue
            let headers = [
                "Content-Type: application/json; charset=utf-8",
                "Authorization: Bearer \(token.reveal())",
                "User-Agent: \(userAgent)",
            ]
            let response = post(url: url, headers: headers, body: request.body)
            return Self.webAPIOutcome(response, secrets: request.destination.secrets)
        }
    }

    /// What came back from one POST, in Swift types.
    struct Response {
        /// nil: no HTTP response (see `transportError`).
        var status: Int?
        var body: [UInt8]
        var retryAfter: Double?
        /// The short safe name of a transport failure (`timeout`, `connect_failed`, ...).
        var transportError: String?
        var curlCode: Int32
    }

    private func post(url: String, headers: [String], body: [UInt8]) -> Response {
        // A CR, LF or NUL in a header value (a secret) or the URL would split or cut the request: refuse it.
        if headers.contains(where: { $0.utf8.contains(where: { $0 == 13 || $0 == 10 || $0 == 0 }) }) {
            return Response(status: nil, body: [], retryAfter: nil, transportError: "bad_header", curlCode: -1)
        }
        if url.utf8.contains(where: { $0 < 0x21 || $0 == 0x7f }) {
            return Response(status: nil, body: [], retryAfter: nil, transportError: "bad_url", curlCode: -1)
        }
        // strdup'd header lines, wiped before they are freed (one carries the bearer token).
        let cHeaders: [UnsafeMutablePointer<CChar>?] = headers.map { strdup($0) }
        defer {
            for p in cHeaders {
                guard let p else { continue }
                memset(p, 0, strlen(p))
                free(p)
            }
        }
        if cHeaders.contains(where: { $0 == nil }) {
            return Response(status: nil, body: [], retryAfter: nil, transportError: "out_of_memory", curlCode: -1)
        }
        let headerLines: [UnsafePointer<CChar>?] = cHeaders.map { $0.map { UnsafePointer($0) } }
        guard let client = checkOut() else {
            return Response(status: nil, body: [], retryAfter: nil, transportError: "setup_failed", curlCode: -1)
        }
        var out = rc_response()
        let connectMs = Self.milliseconds(connectTimeout)
        let totalMs = Self.milliseconds(totalTimeout)
        let code: Int32 = url.withCString { urlPtr in
            body.withUnsafeBytes { bodyPtr in
                rc_post(
                    client, urlPtr, headerLines, headerLines.count, bodyPtr.baseAddress, bodyPtr.count,
                    connectMs, totalMs, &out)
            }
        }
        let newConnections = Int(out.new_connections)
        checkIn(client, newConnections: newConnections)

        defer { rc_response_free(&out) }
        if code != 0 {
            let name = out.error_name.map { String(cString: $0) } ?? "transport_error"
            return Response(status: nil, body: [], retryAfter: nil, transportError: name, curlCode: code)
        }
        var bytes: [UInt8] = []
        if let p = out.body, out.body_len > 0 {
            bytes = Array(UnsafeBufferPointer(start: p, count: Int(out.body_len)))
        }
        let retryAfter: Double? = out.retry_after >= 0 ? out.retry_after : nil
        return Response(status: Int(out.status), body: bytes, retryAfter: retryAfter, transportError: nil, curlCode: 0)
    }

    private static func milliseconds(_ seconds: Double) -> Int {
        guard seconds.isFinite, seconds > 0 else { return 1 }
        return Int(min(seconds * 1000, 86_400_000).rounded(.up))
    }

    // MARK: - Client pool

    private func checkOut() -> OpaquePointer? {
        if let c = idle.withLock({ $0.popLast() }) { return c.ptr }
        guard let c = rc_client_new() else { return nil }
        stats.withLock { $0.created += 1 }
        return c
    }

    private func checkIn(_ client: OpaquePointer, newConnections: Int) {
        if newConnections > 0 { stats.withLock { $0.connections += newConnections } }
        let handle = Client(ptr: client)
        let kept = idle.withLock { list -> Bool in
            guard list.count < Self.maxIdleClients else { return false }
            list.append(handle)
            return true
        }
        if !kept { rc_client_free(client) }
    }

    // MARK: - Classification (pure: unit-testable without a server)

    /// Slack's codes that mean "try again later" rather than "this will never work".
    static let retryableAPICodes: Set<String> = ["internal_error", "fatal_error", "service_unavailable", "request_timeout"]
    static let rateLimitCodes: Set<String> = ["ratelimited", "rate_limited"]

    static func webhookOutcome(_ r: Response, secrets: [Secret]) -> SlackOutcome {
        guard let status = r.status else { return transportOutcome(r) }
        switch status {
        case 200..<300:
            return .delivered(ts: nil, channel: nil)
        case 429:
            return .rateLimited(retryAfter: r.retryAfter)
        case 500...599:
            return .retryable(code: "http_\(status)")
        case 400, 403, 404, 410:
            let code = sanitizedCode(r.body, secrets: secrets) ?? "http_\(status)"
            return .permanent(code: code, httpStatus: status)
        default:
            // Other 4xx; 1xx/3xx (a redirect is not followed: a misconfigured URL).
            return .permanent(code: "http_\(status)", httpStatus: status)
        }
    }

    static func webAPIOutcome(_ r: Response, secrets: [Secret]) -> SlackOutcome {
        guard let status = r.status else { return transportOutcome(r) }
        if status == 429 { return .rateLimited(retryAfter: r.retryAfter) }
        if (500...599).contains(status) { return .retryable(code: "http_\(status)") }
        let answer = parseAPIAnswer(r.body)
        if (200..<300).contains(status) {
            guard let answer else { return .retryable(code: "bad_response") }
            switch answer {
            case .ok(let ts, let channel):
                return .delivered(ts: ts, channel: channel)
            case .error(let raw):
                guard let code = sanitizedCode(Array(raw.utf8), secrets: secrets) else {
                    return .retryable(code: "bad_response")
                }
                return classifyAPIError(code, retryAfter: r.retryAfter, httpStatus: status)
            }
        }
        // 4xx other than 429 (or 1xx/3xx): Slack's code when the body carries one, else the status.
        if case .error(let raw)? = answer, let code = sanitizedCode(Array(raw.utf8), secrets: secrets) {
            return classifyAPIError(code, retryAfter: r.retryAfter, httpStatus: status)
        }
        return .permanent(code: "http_\(status)", httpStatus: status)
    }

    private static func classifyAPIError(_ code: String, retryAfter: Double?, httpStatus: Int) -> SlackOutcome {
        if rateLimitCodes.contains(code) { return .rateLimited(retryAfter: retryAfter) }
        if retryableAPICodes.contains(code) { return .retryable(code: code) }
        return .permanent(code: code, httpStatus: httpStatus)
    }

    private static func transportOutcome(_ r: Response) -> SlackOutcome {
        let name = r.transportError ?? "transport_error"
        // A URL libcurl cannot use will not start working by itself: configuration error.
        if name == "bad_url" || name == "unsupported_protocol" || name == "bad_header" {
            return .permanent(code: name, httpStatus: nil)
        }
        return .retryable(code: name)
    }

    enum APIAnswer: Equatable {
        case ok(ts: String?, channel: String?)
        /// `ok: false`: the raw `error` value (not yet sanitised).
        case error(String)
    }

    /// `{"ok": true, "ts": ..., "channel": ...}` or `{"ok": false, "error": ...}`; nil for anything else.
    static func parseAPIAnswer(_ body: [UInt8]) -> APIAnswer? {
        guard !body.isEmpty, let doc = try? JSONDocument(bytes: body, maxDepth: 64) else { return nil }
        let root = doc.root
        guard root.kind == .object, let ok = root["ok"]?.bool else { return nil }
        if ok {
            return .ok(ts: root["ts"]?.string, channel: root["channel"]?.string)
        }
        guard let error = root["error"]?.string else { return nil }
        return .error(error)
    }

    /// Slack's plain-text (webhook) or JSON (`error`) code reduced to `[a-z0-9_]`, at most 64 characters: the first
    /// line, trimmed, lower-cased, spaces, `-` and `.` turned into `_` (`Invalid Token` -> `invalid_token`), other
    /// characters dropped. nil when nothing is left, when the body is markup (an HTML error page), or when the
    /// result would contain a piece of one of `secrets`.
    static func sanitizedCode(_ body: [UInt8], secrets: [Secret]) -> String? {
        let line = body.prefix { $0 != 10 && $0 != 13 }.drop { $0 == 32 || $0 == 9 }
        if line.first == UInt8(ascii: "<") { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(64)
        for var b in line {
            if b >= 65 && b <= 90 { b += 32 }
            if b == 32 || b == 9 || b == 45 || b == 46 { b = 95 }
            let allowed = (b >= 97 && b <= 122) || (b >= 48 && b <= 57) || b == 95
            guard allowed else { continue }
            if b == 95 && (out.isEmpty || out.last == 95) { continue }  // no leading or doubled `_`
            out.append(b)
            if out.count == 64 { break }
        }
        while out.last == 95 { out.removeLast() }
        guard !out.isEmpty else { return nil }
        let code = String(decoding: out, as: UTF8.self)
        if containsSecretPiece(code, secrets) { return nil }
        return code
    }

    /// Whether `code` contains a distinctive piece (6+ characters between separators, lower-cased) of a secret:
    /// a webhook path segment or a token part. Slack never echoes them; a proxy or a misrouted URL might.
    static func containsSecretPiece(_ code: String, _ secrets: [Secret]) -> Bool {
        for s in secrets {
            var piece: [UInt8] = []
            func check() -> Bool {
                defer { piece.removeAll(keepingCapacity: true) }
                guard piece.count >= 6 else { return false }
                return Array(code.utf8).firstRange(of: piece) != nil
            }
            for var b in s.reveal().utf8 {
                if b >= 65 && b <= 90 { b += 32 }
                let word = (b >= 97 && b <= 122) || (b >= 48 && b <= 57) || b == 95
                if word {
                    piece.append(b)
                } else if check() {
                    return true
                }
            }
            if check() { return true }
        }
        return false
    }
}
