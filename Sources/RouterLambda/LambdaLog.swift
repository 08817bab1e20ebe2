import RouterDelivery
import RouterJSON
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// JSON log lines (one object per line, CloudWatch's JSON shape): `timestamp`, `level`, `requestId` (the invocation
/// being handled, absent during init), `message`, and extra string fields. Every text is redacted against the
/// configured secrets before it is written. Thread-safe (delivery workers log too).
public final class LambdaLog: @unchecked Sendable {
    public enum Level: String, Sendable { case info = "INFO", warn = "WARN", error = "ERROR" }

    private struct State {
        var requestId: String?
        var secrets: [Secret] = []
    }

    private let state = Mutex(State())
    private let sink: @Sendable ([UInt8]) -> Void

    /// `sink` receives each complete line (with its newline); the default writes it to standard error in one `write`.
    public init(sink: (@Sendable ([UInt8]) -> Void)? = nil) {
        self.sink = sink ?? { line in
            line.withUnsafeBytes { b in
                var off = 0
                while off < b.count {
                    let n = write(2, b.baseAddress! + off, b.count - off)
                    if n <= 0 { break }
                    off += n
                }
            }
        }
    }

    /// The invocation the following lines belong to (nil: none).
    public var requestId: String? {
        get { state.withLock { $0.requestId } }
        set { state.withLock { $0.requestId = newValue } }
    }

    /// Values that must never appear in a line (webhook URLs, tokens).
    public func setSecrets(_ secrets: [Secret]) {
        state.withLock { $0.secrets = secrets }
    }

    public func info(_ message: String, _ fields: [(String, String)] = []) { log(.info, message, fields) }
    public func warn(_ message: String, _ fields: [(String, String)] = []) { log(.warn, message, fields) }
    public func error(_ message: String, _ fields: [(String, String)] = []) { log(.error, message, fields) }

    public func log(_ level: Level, _ message: String, _ fields: [(String, String)] = []) {
        let (requestId, secrets) = state.withLock { ($0.requestId, $0.secrets) }
        var out: [UInt8] = []
        out.reserveCapacity(128 + message.utf8.count)
        out += Array(#"{"timestamp":"#.utf8)
        JSONString.write(Self.timestamp(), into: &out)
        out += Array(#","level":""#.utf8) + Array(level.rawValue.utf8) + [UInt8(ascii: "\"")]
        if let requestId {
            out += Array(#","requestId":"#.utf8)
            JSONString.write(requestId, into: &out)
        }
        out += Array(#","message":"#.utf8)
        JSONString.write(Secret.redact(message, secrets), into: &out)
        for (name, value) in fields {
            out.append(UInt8(ascii: ","))
            JSONString.write(name, into: &out)
            out.append(UInt8(ascii: ":"))
            JSONString.write(Secret.redact(value, secrets), into: &out)
        }
        out += Array("}\n".utf8)
        sink(out)
    }

    /// `2026-01-02T03:04:05.678Z`.
    static func timestamp() -> String {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        var t = time_t(ts.tv_sec)
        var parts = tm()
        gmtime_r(&t, &parts)
        func pad(_ v: Int32, _ n: Int) -> String {
            let s = String(v)
            return String(repeating: "0", count: max(0, n - s.count)) + s
        }
        return "\(pad(parts.tm_year + 1900, 4))-\(pad(parts.tm_mon + 1, 2))-\(pad(parts.tm_mday, 2))T"
            + "\(pad(parts.tm_hour, 2)):\(pad(parts.tm_min, 2)):\(pad(parts.tm_sec, 2)).\(pad(Int32(ts.tv_nsec / 1_000_000), 3))Z"
    }
}
