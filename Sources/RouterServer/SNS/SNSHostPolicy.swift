/// The scheme, host and port of an absolute http(s) URL, parsed strictly enough that libcurl cannot read a different
/// host from the same text: no user info, no backslash, no percent-encoding or other odd bytes in the host.
struct SNSURLOrigin: Equatable {
    var https: Bool
    /// Lower-cased; IPv6 literals keep their brackets (`[::1]`).
    var host: String
    /// The explicit port, or the scheme's default.
    var port: Int

    /// Nil when `url` is not a plain `http://` or `https://` URL with a usable host.
    init?(_ url: String) {
        let bytes = Array(url.utf8)
        guard !bytes.contains(where: { $0 <= 0x20 || $0 >= 0x7f || $0 == UInt8(ascii: "\\") }) else { return nil }
        let lower = url.lowercased()
        let rest: Substring
        if lower.hasPrefix("https://") {
            https = true
            rest = lower.dropFirst(8)
        } else if lower.hasPrefix("http://") {
            https = false
            rest = lower.dropFirst(7)
        } else {
            return nil
        }
        let authority = rest.prefix { $0 != "/" && $0 != "?" && $0 != "#" }
        guard let (host, port) = Self.splitAuthority(authority, defaultPort: https ? 443 : 80) else { return nil }
        self.host = host
        self.port = port
    }

    /// `host[:port]` (no user info) -> lower-cased host and port; nil when malformed.
    static func splitAuthority(_ authority: Substring, defaultPort: Int) -> (String, Int)? {
        guard !authority.isEmpty, !authority.contains("@") else { return nil }
        var host = authority
        var portText: Substring?
        if authority.hasPrefix("[") {
            guard let close = authority.firstIndex(of: "]") else { return nil }
            host = authority[...close]
            let after = authority[authority.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":") else { return nil }
                portText = after.dropFirst()
            }
            let inner = host.dropFirst().dropLast()
            guard !inner.isEmpty, inner.allSatisfy({ $0.isHexDigit || $0 == ":" || $0 == "." }) else { return nil }
        } else {
            if let colon = authority.firstIndex(of: ":") {
                host = authority[..<colon]
                portText = authority[authority.index(after: colon)...]
            }
            guard isDNSName(host) else { return nil }
        }
        var port = defaultPort
        if let portText {
            guard !portText.isEmpty, portText.count <= 5, portText.allSatisfy({ $0.isASCII && $0.isNumber }),
                let p = Int(portText), (1...65535).contains(p)
            else { return nil }
            port = p
        }
        return (host.lowercased(), port)
    }

    /// Labels of `[a-z0-9-]`, 1-63 characters each, no empty label (so no trailing dot).
    static func isDNSName(_ host: Substring) -> Bool {
        guard !host.isEmpty, host.count <= 253 else { return false }
        return host.split(separator: ".", omittingEmptySubsequences: false).allSatisfy { label in
            !label.isEmpty && label.count <= 63
                && label.utf8.allSatisfy { c in
                    (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || (c >= 0x30 && c <= 0x39) || c == 0x2d
                }
        }
    }

    var isLoopback: Bool { host == "127.0.0.1" || host == "[::1]" || host == "localhost" }
}

/// One allow-list entry. Forms:
/// - `sns.*.amazonaws.com`: https, the default port (443); `*` stands for exactly one DNS label.
/// - `host:port` (or `https://host:port`): https on exactly that host and port.
/// - `http://127.0.0.1:PORT` (also `localhost`, `[::1]`): plain http, loopback only, for tests with a local certificate.
struct SNSHostPattern: Equatable {
    var https: Bool
    var labels: [Substring]
    var port: Int

    init?(_ entry: String) {
        var text = Substring(entry.lowercased())
        if text.hasPrefix("https://") {
            text = text.dropFirst(8)
            https = true
        } else if text.hasPrefix("http://") {
            text = text.dropFirst(7)
            https = false
        } else {
            https = true
        }
        if text.hasSuffix("/") { text = text.dropLast() }
        // Validate with `*` replaced by a plain label, then keep the original labels.
        let probe = text.split(separator: ".", omittingEmptySubsequences: false)
            .map { $0 == "*" ? "x" : String($0) }.joined(separator: ".")
        guard let (host, port) = SNSURLOrigin.splitAuthority(Substring(probe), defaultPort: https ? 443 : 80) else {
            return nil
        }
        let hostPart: Substring = text.hasPrefix("[") ? Substring(host) : text.prefix { $0 != ":" }
        labels = hostPart.split(separator: ".", omittingEmptySubsequences: false)
        self.port = port
        // A wildcard may not be the whole host, and plain http is for loopback hosts only.
        if labels.allSatisfy({ $0 == "*" }) { return nil }
        if !https && !(host == "127.0.0.1" || host == "[::1]" || host == "localhost") { return nil }
    }

    func matches(_ origin: SNSURLOrigin) -> Bool {
        guard origin.https == https, origin.port == port else { return false }
        let hostLabels = origin.host.split(separator: ".", omittingEmptySubsequences: false)
        guard hostLabels.count == labels.count else { return false }
        return zip(labels, hostLabels).allSatisfy { pattern, label in pattern == "*" || pattern == label }
    }
}
