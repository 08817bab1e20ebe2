import RouterDelivery

/// Checks the API credential of a request: `Authorization: Bearer <token>`, `Authorization: Basic` whose password is
/// the token (what an SNS HTTPS subscription sends from `https://user:token@host/events`), or the token alone in a
/// configurable header. Comparisons take the same time whatever the bytes.
struct APIAuth: Sendable {
    let token: [UInt8]?
    /// Lower-cased header name, if any.
    let headerName: String?

    init(token: Secret?, headerName: String?) {
        self.token = token.map { Array($0.reveal().utf8) }
        self.headerName = headerName?.lowercased()
    }

    /// Whether a request with these header values is authorised (always true without a token: `--no-auth`).
    func allows(authorization: String?, apiKeyHeaderValue: String?) -> Bool {
        guard let token else { return true }
        var ok = false
        if let a = authorization {
            if a.count > 7, a.prefix(7).lowercased() == "bearer " {
                ok = Self.equal(Array(a.dropFirst(7).utf8), token) || ok
            } else if a.count > 6, a.prefix(6).lowercased() == "basic ", let decoded = Base64.decode(String(a.dropFirst(6))),
                let colon = decoded.firstIndex(of: UInt8(ascii: ":"))
            {
                ok = Self.equal(Array(decoded[(colon + 1)...]), token) || ok
            }
        }
        if headerName != nil, let v = apiKeyHeaderValue {
            ok = Self.equal(Array(v.utf8), token) || ok
        }
        return ok
    }

    /// Constant-time for equal lengths; the length of the token is not secret-bearing beyond its size.
    static func equal(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        var diff = UInt8(a.count == b.count ? 0 : 1)
        let n = max(a.count, b.count)
        for i in 0..<n {
            let x = i < a.count ? a[i] : 0
            let y = i < b.count ? b[i] : 0
            diff |= x ^ y
        }
        return diff == 0
    }
}

/// Standard base64 decoding (for Basic credentials).
enum Base64 {
    static func decode(_ text: String) -> [UInt8]? {
        var out: [UInt8] = []
        var acc: UInt32 = 0
        var bits = 0
        for c in text.utf8 {
            let v: UInt8
            switch c {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"): v = c - 65
            case UInt8(ascii: "a")...UInt8(ascii: "z"): v = c - 71
            case UInt8(ascii: "0")...UInt8(ascii: "9"): v = c + 4
            case UInt8(ascii: "+"): v = 62
            case UInt8(ascii: "/"): v = 63
            case UInt8(ascii: "="): continue
            case 0x20, 0x09: continue
            default: return nil
            }
            acc = (acc << 6) | UInt32(v)
            bits += 6
            if bits >= 8 {
                bits -= 8
                out.append(UInt8((acc >> UInt32(bits)) & 0xFF))
            }
        }
        return out
    }
}
