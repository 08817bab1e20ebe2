#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Where command output goes: a file descriptor (buffered, flushed at 64 KiB and on `flush()`), or memory for tests.
public final class OutputSink {
    private enum Target {
        case fd(Int32)
        case memory
    }
    private let target: Target
    private var buffer: [UInt8] = []
    /// Everything written, for the in-memory sink.
    public private(set) var captured: [UInt8] = []

    public static func standardOutput() -> OutputSink { OutputSink(.fd(1)) }
    public static func standardError() -> OutputSink { OutputSink(.fd(2)) }
    public static func memory() -> OutputSink { OutputSink(.memory) }

    private init(_ target: Target) {
        self.target = target
        buffer.reserveCapacity(1 << 16)
    }

    deinit { flush() }

    public var text: String { String(decoding: captured, as: UTF8.self) }

    public func write(_ s: String) {
        buffer.append(contentsOf: s.utf8)
        if buffer.count >= 1 << 16 { flush() }
    }

    public func write(bytes: [UInt8]) {
        buffer.append(contentsOf: bytes)
        if buffer.count >= 1 << 16 { flush() }
    }

    /// Appends a line (adds the newline).
    public func line(_ s: String) {
        buffer.append(contentsOf: s.utf8)
        buffer.append(0x0A)
        if buffer.count >= 1 << 16 { flush() }
    }

    public func flush() {
        guard !buffer.isEmpty else { return }
        switch target {
        case .memory:
            captured.append(contentsOf: buffer)
        case .fd(let fd):
            buffer.withUnsafeBytes { raw in
                var offset = 0
                while offset < raw.count {
                    let n = Glibc.write(fd, raw.baseAddress! + offset, raw.count - offset)
                    if n < 0 {
                        if errno == EINTR { continue }
                        break  // EPIPE and friends: the reader went away; drop output
                    }
                    offset += n
                }
            }
        }
        buffer.removeAll(keepingCapacity: true)
    }
}
