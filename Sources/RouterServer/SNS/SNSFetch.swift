import RouterDelivery

extension SNSVerifier {
    /// Largest certificate or confirmation response accepted (SNS certificates are about 2 KB).
    public static let maxFetchBytes = 64 * 1024

    /// The default `fetch`: a GET over `HTTPClient`, https only, 3 s to connect, 5 s in all, at most
    /// `maxFetchBytes`; any status but 2xx is an error. Errors name the host, never the path or query.
    public static let httpsFetch: @Sendable (String) -> Result<[UInt8], SNSError> = { url in
        get(url, allowLoopbackHTTP: false)
    }

    /// Like `httpsFetch`, and also plain http to a loopback host (`127.0.0.1`, `[::1]`, `localhost`): for tests that
    /// serve a local certificate and allow it with an `http://127.0.0.1:PORT` allow-list entry.
    public static let loopbackHTTPFetch: @Sendable (String) -> Result<[UInt8], SNSError> = { url in
        get(url, allowLoopbackHTTP: true)
    }

    static func get(_ url: String, allowLoopbackHTTP: Bool) -> Result<[UInt8], SNSError> {
        guard let origin = SNSURLOrigin(url) else { return .failure(SNSError("refusing to fetch a malformed URL")) }
        guard origin.https || (allowLoopbackHTTP && origin.isLoopback) else {
            return .failure(SNSError("refusing to fetch over plain http from \(origin.host)"))
        }
        var request = HTTPRequest(method: .get, url: url)
        request.connectTimeout = 3
        request.totalTimeout = 5
        request.maxBody = maxFetchBytes
        switch HTTPClient().send(request) {
        case .failure(let error):
            return .failure(SNSError("GET from \(origin.host) failed: \(error.name)"))
        case .success(let response):
            guard (200..<300).contains(response.status) else {
                return .failure(SNSError("GET from \(origin.host) answered HTTP \(response.status)"))
            }
            guard !response.bodyTruncated else {
                return .failure(SNSError("GET from \(origin.host): response larger than \(maxFetchBytes) bytes"))
            }
            return .success(response.body)
        }
    }
}
