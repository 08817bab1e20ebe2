import Crypto
import Foundation
import RouterCore
import RouterFinding
import X509
import _CryptoExtras

/// Verifies SNS HTTP(S) messages (SignatureVersion 1 and 2) and confirms subscriptions.
///
/// Thread-safe: `verify` and `confirm` may run concurrently (the certificate cache is locked; fetches run outside
/// the lock). Signing certificates are cached by URL (at most `cacheCapacity`, oldest dropped first).
///
/// Replay: a message whose `Timestamp` is more than `maxMessageAge` seconds old (default 3,900 s: SNS's longest
/// HTTP retry window of one hour plus five minutes of clock skew) or more than `maxClockSkew` (300 s) in the future
/// is refused. SNS retries keep the original Timestamp and signature, so a smaller window would refuse real retries;
/// within the window a replayed message carries the same MessageId, which the router uses as its idempotency key.
public final class SNSVerifier: @unchecked Sendable {
    /// AWS's SNS hosts: `sns.<region>.amazonaws.com` and the China partition's `sns.<region>.amazonaws.com.cn`.
    public static let defaultAllowedHosts: [String] = ["sns.*.amazonaws.com", "sns.*.amazonaws.com.cn"]

    /// Certificates kept (one per SigningCertURL).
    public static let cacheCapacity = 32
    /// Seconds; see the type's documentation.
    public let maxMessageAge: Double
    public let maxClockSkew: Double = 300

    private let patterns: [SNSHostPattern]
    private let fetch: @Sendable (String) -> Result<[UInt8], SNSError>
    private let clock: @Sendable () -> Double
    private let lock = NSLock()
    private var cache: [String: CachedKey] = [:]
    private var cacheOrder: [String] = []

    private struct CachedKey {
        var key: _RSA.Signing.PublicKey
        var notBefore: Double
        var notAfter: Double
    }

    /// - Parameters:
    ///   - allowedHosts: allow-list for SigningCertURL and SubscribeURL hosts (`defaultAllowedHosts` in production).
    ///     Entries: `sns.*.amazonaws.com` (`*` = one DNS label, https on port 443), `host:port` (https, exact), and
    ///     for tests `http://127.0.0.1:PORT` (plain http, loopback hosts only; pair it with `loopbackHTTPFetch`).
    ///     Entries that are none of these never match: check them first with `invalidAllowListEntries`.
    ///   - fetch: every outbound GET (certificates and SubscribeURL): success means a 2xx response and its body.
    ///   - maxMessageAge: seconds (see the type's documentation).
    ///   - clock: Unix seconds now (tests pass a fixed time).
    public init(
        allowedHosts: [String],
        fetch: @escaping @Sendable (String) -> Result<[UInt8], SNSError> = SNSVerifier.httpsFetch,
        maxMessageAge: Double = 3900,
        clock: @escaping @Sendable () -> Double = Timestamps.now
    ) {
        self.patterns = allowedHosts.compactMap(SNSHostPattern.init)
        self.fetch = fetch
        self.maxMessageAge = maxMessageAge
        self.clock = clock
    }

    /// The entries of an allow-list that `init` would ignore (malformed, a bare `*`, or plain http off loopback).
    public static func invalidAllowListEntries(_ allowedHosts: [String]) -> [String] {
        allowedHosts.filter { SNSHostPattern($0) == nil }
    }

    /// Checks the signature of `m` with the certificate at its SigningCertURL, the certificate's validity period, and
    /// the message's age. Throws a precise reason on any failure (the message must then be refused).
    public func verify(_ m: SNSMessage) throws(SNSError) {
        let digestIsSHA1: Bool
        switch m.signatureVersion {
        case "1": digestIsSHA1 = true
        case "2": digestIsSHA1 = false
        default: throw SNSError("SNS signature: unsupported SignatureVersion \"\(clip(m.signatureVersion))\"")
        }
        let now = clock()
        if m.timestampSeconds < now - maxMessageAge {
            throw SNSError(
                "SNS message too old: Timestamp \(clip(m.timestamp)) is more than \(Int(maxMessageAge)) s in the past")
        }
        if m.timestampSeconds > now + maxClockSkew {
            throw SNSError("SNS message from the future: Timestamp \(clip(m.timestamp))")
        }
        try checkAllowed(m.signingCertURL, field: "SigningCertURL")
        guard let signatureBytes = SNSBase64.decode(m.signature) else {
            throw SNSError("SNS signature: Signature is not valid base64")
        }
        let cached = try certificateKey(m.signingCertURL)
        if now < cached.notBefore || now > cached.notAfter {
            throw SNSError("SNS signature: the signing certificate is not valid now (expired or not yet valid)")
        }
        let signature = _RSA.Signing.RSASignature(rawRepresentation: signatureBytes)
        let signed = Array(m.canonicalString.utf8)
        let valid =
            digestIsSHA1
            ? cached.key.isValidSignature(signature, for: Insecure.SHA1.hash(data: signed), padding: .insecurePKCS1v1_5)
            : cached.key.isValidSignature(signature, for: SHA256.hash(data: signed), padding: .insecurePKCS1v1_5)
        guard valid else {
            throw SNSError("SNS signature: does not match (SignatureVersion \(m.signatureVersion))")
        }
    }

    /// Confirms a `SubscriptionConfirmation` by fetching its SubscribeURL (https on an allowed host); a 2xx answer is
    /// a confirmed subscription. Call `verify` first. Other message types are refused (an `UnsubscribeConfirmation`'s
    /// SubscribeURL would subscribe again).
    public func confirm(_ m: SNSMessage) throws(SNSError) {
        guard m.type == "SubscriptionConfirmation" else {
            throw SNSError("SNS confirm: a \(m.type) is not a subscription confirmation")
        }
        guard let url = m.subscribeURL else { throw SNSError("SNS confirm: no SubscribeURL") }
        try checkAllowed(url, field: "SubscribeURL")
        if case .failure(let error) = fetch(url) {
            throw SNSError("SNS confirm: \(error.description)")
        }
    }

    private func checkAllowed(_ url: String, field: String) throws(SNSError) {
        guard let origin = SNSURLOrigin(url) else {
            throw SNSError("SNS message: \(field) is not an http(s) URL")
        }
        guard patterns.contains(where: { $0.matches(origin) }) else {
            let what = origin.https ? "host \(origin.host):\(origin.port)" : "plain http URL on \(origin.host)"
            throw SNSError("SNS message: \(field) \(what) is not allowed")
        }
    }

    private func certificateKey(_ url: String) throws(SNSError) -> CachedKey {
        if let hit = lock.withLock({ cache[url] }) { return hit }
        let pem: [UInt8]
        switch fetch(url) {
        case .success(let body): pem = body
        case .failure(let error): throw SNSError("SNS signing certificate: \(error.description)")
        }
        let certificate: Certificate
        do {
            certificate = try Certificate(pemEncoded: String(decoding: pem, as: UTF8.self))
        } catch {
            throw SNSError("SNS signing certificate: not a PEM certificate")
        }
        guard let key = _RSA.Signing.PublicKey(certificate.publicKey) else {
            throw SNSError("SNS signing certificate: the key is not an RSA key")
        }
        let entry = CachedKey(
            key: key, notBefore: certificate.notValidBefore.timeIntervalSince1970,
            notAfter: certificate.notValidAfter.timeIntervalSince1970)
        lock.withLock {
            if cache[url] == nil {
                cacheOrder.append(url)
                if cacheOrder.count > Self.cacheCapacity { cache[cacheOrder.removeFirst()] = nil }
            }
            cache[url] = entry
        }
        return entry
    }

    /// Certificates cached now (for tests).
    var cachedCertificateCount: Int { lock.withLock { cache.count } }
}
