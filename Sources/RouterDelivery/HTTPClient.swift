import CCurlShim

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// A plain HTTP request over libcurl (the `CCurlShim` C client), for everything that is not a Slack post: the Lambda
/// Runtime API, SNS signing certificates, AWS APIs signed with SigV4.
public struct HTTPRequest: Sendable {
    public enum Method: String, Sendable { case get = "GET", post = "POST" }
    public var method: Method
    public var url: String
    /// `Name: value` lines.
    public var headers: [String]
    public var body: [UInt8]
    /// 0: libcurl's default.
    public var connectTimeout: Double = 0
    /// 0: no bound (the Lambda Runtime API's long poll).
    public var totalTimeout: Double = 0
    /// Response bodies beyond this are cut (`bodyTruncated`).
    public var maxBody: Int = 65536
    /// libcurl's `CURLOPT_AWS_SIGV4` provider, e.g. `aws:amz:eu-west-1:dynamodb`, with `credentials` (key, secret).
    public var awsSigV4: String?
    public var credentials: (accessKey: String, secretKey: String)?

    public init(method: Method, url: String, headers: [String] = [], body: [UInt8] = []) {
        self.method = method
        self.url = url
        self.headers = headers
        self.body = body
    }
}

public struct HTTPResponse: Sendable {
    public var status: Int
    public var body: [UInt8]
    public var bodyTruncated: Bool
    /// Response headers, names lower-cased, in order (a name may repeat).
    public var headers: [(name: String, value: String)]

    public func header(_ name: String) -> String? {
        let n = name.lowercased()
        return headers.first { $0.name == n }?.value
    }
}

/// A failed request: no HTTP response. `name` is a short safe name (`timeout`, `connect_failed`, ...): it never holds
/// the URL or a header value.
public struct HTTPError: Error, Sendable, CustomStringConvertible {
    public var name: String
    public var curlCode: Int32
    public var description: String { name }
}

/// One libcurl easy handle (one connection cache): keep it for keep-alive. Not thread-safe: one request at a time.
public final class HTTPClient: @unchecked Sendable {
    private let client: OpaquePointer?

    public init() { client = rc_client_new() }
    deinit { rc_client_free(client) }

    public func send(_ request: HTTPRequest) -> Result<HTTPResponse, HTTPError> {
        guard let client else { return .failure(HTTPError(name: "setup_failed", curlCode: -1)) }
        if request.headers.contains(where: { $0.utf8.contains(where: { $0 == 13 || $0 == 10 || $0 == 0 }) }) {
            return .failure(HTTPError(name: "bad_header", curlCode: -1))
        }
        if request.url.utf8.contains(where: { $0 < 0x21 || $0 == 0x7f }) {
            return .failure(HTTPError(name: "bad_url", curlCode: -1))
        }
        let cHeaders: [UnsafeMutablePointer<CChar>?] = request.headers.map { strdup($0) }
        defer {
            for p in cHeaders {
                guard let p else { continue }
                memset(p, 0, strlen(p))
                free(p)
            }
        }
        let headerLines: [UnsafePointer<CChar>?] = cHeaders.map { $0.map { UnsafePointer($0) } }
        var out = rc_response()
        defer { rc_response_free(&out) }
        let credentials = request.credentials.map { $0.accessKey + ":" + $0.secretKey }
        let code: Int32 = request.method.rawValue.withCString { method in
            withOptionalCString(request.awsSigV4) { sigv4 in
                withOptionalCString(credentials) { userpwd in
                    var o = rc_request_options()
                    o.method = method
                    o.connect_timeout_ms = Self.milliseconds(request.connectTimeout)
                    o.total_timeout_ms = Self.milliseconds(request.totalTimeout)
                    o.max_body = max(1, request.maxBody)
                    o.capture_headers = 1
                    o.aws_sigv4 = sigv4
                    o.userpwd = userpwd
                    return request.url.withCString { url in
                        request.body.withUnsafeBytes { b in
                            rc_request(client, url, headerLines, headerLines.count, b.baseAddress, b.count, &o, &out)
                        }
                    }
                }
            }
        }
        if code != 0 {
            return .failure(HTTPError(name: out.error_name.map { String(cString: $0) } ?? "transport_error", curlCode: code))
        }
        var body: [UInt8] = []
        if let p = out.body, out.body_len > 0 { body = Array(UnsafeBufferPointer(start: p, count: out.body_len)) }
        var headers: [(String, String)] = []
        if let h = out.headers, out.headers_len > 0 {
            let text = String(decoding: UnsafeRawBufferPointer(start: h, count: out.headers_len), as: UTF8.self)
            for line in text.split(separator: "\r\n") {
                guard let colon = line.firstIndex(of: ":") else { continue }
                let name = line[..<colon].lowercased()
                let value = line[line.index(after: colon)...].trimmingPrefix(while: { $0 == " " || $0 == "\t" })
                headers.append((name, String(value.reversed().drop(while: { $0 == " " || $0 == "\t" }).reversed())))
            }
        }
        return .success(
            HTTPResponse(status: Int(out.status), body: body, bodyTruncated: out.body_truncated != 0, headers: headers))
    }

    private static func milliseconds(_ seconds: Double) -> Int {
        seconds <= 0 ? 0 : max(1, Int((seconds * 1000).rounded(.up)))
    }
}

private func withOptionalCString<R>(_ s: String?, _ body: (UnsafePointer<CChar>?) -> R) -> R {
    guard let s else { return body(nil) }
    return s.withCString { body($0) }
}
