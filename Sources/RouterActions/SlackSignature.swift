import CCryptoShim
import RouterDelivery

/// Slack's request signature (the only authentication of a click): `X-Slack-Signature` is `v0=` and the hex
/// HMAC-SHA256 of `v0:{X-Slack-Request-Timestamp}:{raw body}` keyed with the app's signing secret.
public enum SlackSignature {
    public enum Failure: Error, Equatable, CustomStringConvertible {
        case missingHeaders
        case malformedTimestamp
        /// More than the tolerance away from now (a replay, or a clock that is off): seconds of difference.
        case stale(seconds: Int)
        case malformedSignature
        case mismatch
        /// libcrypto (HMAC-SHA256) could not be loaded: nothing can be verified, so nothing is accepted.
        case unavailable

        public var description: String {
            switch self {
            case .missingHeaders: "X-Slack-Signature or X-Slack-Request-Timestamp is missing"
            case .malformedTimestamp: "X-Slack-Request-Timestamp is not a Unix time"
            case .stale(let s): "the request timestamp is \(s) s away from now (more than 5 minutes)"
            case .malformedSignature: "X-Slack-Signature is not v0= and 64 hex digits"
            case .mismatch: "the signature does not match the body"
            case .unavailable: "cannot check signatures: the system's libcrypto (libcrypto.so.3) could not be loaded"
            }
        }
    }

    /// `v0=` and the hex HMAC-SHA256 of `v0:timestamp:body`.
    public static func sign(body: [UInt8], timestamp: String, secret: Secret) -> String {
        "v0=" + hex(mac(body: body, timestamp: timestamp, secret: secret) ?? [])
    }

    /// Checks a request: both headers present, the timestamp within `tolerance` seconds of `now`, and the signature
    /// equal (compared in constant time) to the one of the raw body.
    public static func verify(
        body: [UInt8], timestamp: String?, signature: String?, secret: Secret, now: Double, tolerance: Double = 300
    ) -> Result<Void, Failure> {
        guard let timestamp, let signature else { return .failure(.missingHeaders) }
        guard timestamp.utf8.count <= 12, let t = Int64(timestamp), t > 0 else { return .failure(.malformedTimestamp) }
        let skew = (now - Double(t)).magnitude
        guard skew <= tolerance else { return .failure(.stale(seconds: Int(min(skew, 1e9)))) }
        guard signature.hasPrefix("v0="), let given = unhex(signature.dropFirst(3)), given.count == 32 else {
            return .failure(.malformedSignature)
        }
        guard let expected = mac(body: body, timestamp: timestamp, secret: secret) else { return .failure(.unavailable) }
        // Constant time: every byte is compared, whatever the first difference.
        var difference: UInt8 = 0
        for i in 0..<32 { difference |= expected[i] ^ given[i] }
        guard difference == 0 else { return .failure(.mismatch) }
        return .success(())
    }

    /// HMAC-SHA256 of `v0:timestamp:body` (nil when libcrypto cannot be loaded).
    static func mac(body: [UInt8], timestamp: String, secret: Secret) -> [UInt8]? {
        var message = Array("v0:\(timestamp):".utf8)
        message.append(contentsOf: body)
        let key = Array(secret.reveal().utf8)
        var out = [UInt8](repeating: 0, count: 32)
        let status = out.withUnsafeMutableBufferPointer { o in
            rcrypto_hmac_sha256(key, key.count, message, message.count, o.baseAddress!)
        }
        return status == 0 ? out : nil
    }

    static func hex(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out = [UInt8]()
        out.reserveCapacity(bytes.count * 2)
        for b in bytes {
            out.append(digits[Int(b >> 4)])
            out.append(digits[Int(b & 15)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    static func unhex(_ s: Substring) -> [UInt8]? {
        let u = Array(s.utf8)
        guard u.count % 2 == 0 else { return nil }
        func nibble(_ c: UInt8) -> UInt8? {
            switch c {
            case 0x30...0x39: c - 0x30
            case 0x61...0x66: c - 0x61 + 10
            case 0x41...0x46: c - 0x41 + 10
            default: nil
            }
        }
        var out = [UInt8]()
        out.reserveCapacity(u.count / 2)
        var i = 0
        while i < u.count {
            guard let hi = nibble(u[i]), let lo = nibble(u[i + 1]) else { return nil }
            out.append(hi << 4 | lo)
            i += 2
        }
        return out
    }
}
