import CZlib

/// A gzip stream inflated as its bytes arrive (zlib, gzip wrapper only), for the input reader: the caller feeds raw
/// chunks when ``needsInput`` and collects output with ``inflate(into:)``. Several gzip members one after another are
/// one stream (as `gzip -d` reads them); bytes after the last member that do not start another one are ignored, as
/// `gzip -d` ignores trailing zeros.
final class GzipInflater {
    enum Step: Equatable {
        /// Output was appended.
        case produced
        /// Feed more input.
        case needsInput
        /// The last member ended and nothing follows.
        case finished
        case failed(String)
    }

    private let stream = UnsafeMutablePointer<z_stream>.allocate(capacity: 1)
    private let capacity = 64 * 1024
    private let input: UnsafeMutablePointer<UInt8>
    private var output = [UInt8](repeating: 0, count: 64 * 1024)
    let ready: Bool
    /// A member ended and the next has not started: the end of the input here is a clean end.
    private(set) var betweenMembers = false
    /// The last call filled the whole output buffer: zlib may hold more output without new input.
    private var outputFull = false

    init() {
        input = UnsafeMutablePointer<UInt8>.allocate(capacity: capacity)
        stream.initialize(to: z_stream())
        // 15 + 16: a 32 KiB window, gzip header and trailer (CRC-32 and length checked by zlib).
        ready = inflateInit2_(stream, 15 + 16, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK
    }

    deinit {
        if ready { inflateEnd(stream) }
        stream.deinitialize(count: 1)
        stream.deallocate()
        input.deallocate()
    }

    var needsInput: Bool { stream.pointee.avail_in == 0 && !outputFull }

    /// Hands zlib the next raw bytes (only when ``needsInput``; at most 64 KiB).
    func feed(_ bytes: ArraySlice<UInt8>) {
        let n = min(bytes.count, capacity)
        bytes.withUnsafeBufferPointer { input.update(from: $0.baseAddress!, count: n) }
        stream.pointee.next_in = input
        stream.pointee.avail_in = UInt32(n)
    }

    func inflate(into buffer: inout [UInt8]) -> Step {
        while true {
            if betweenMembers {
                guard stream.pointee.avail_in > 0 else { return .needsInput }
                // Another member starts with gzip's magic byte; anything else is trailing padding.
                guard stream.pointee.next_in.pointee == 0x1F else { return .finished }
                guard inflateReset(stream) == Z_OK else { return .failed("cannot restart zlib") }
                betweenMembers = false
            }
            if stream.pointee.avail_in == 0 && !outputFull { return .needsInput }
            var produced = 0
            let r = output.withUnsafeMutableBufferPointer { o -> Int32 in
                stream.pointee.next_out = o.baseAddress
                stream.pointee.avail_out = UInt32(o.count)
                let r = CZlib.inflate(stream, Z_NO_FLUSH)
                produced = o.count - Int(stream.pointee.avail_out)
                return r
            }
            outputFull = produced == output.count
            if produced > 0 { buffer.append(contentsOf: output[0..<produced]) }
            switch r {
            case Z_STREAM_END:
                betweenMembers = true
                outputFull = false
                if produced > 0 { return .produced }
                continue
            case Z_OK, Z_BUF_ERROR:
                if produced > 0 { return .produced }
                if stream.pointee.avail_in == 0 {
                    outputFull = false
                    return .needsInput
                }
                if r == Z_BUF_ERROR { return .failed("zlib made no progress") }
                continue
            default:
                let message = stream.pointee.msg.map { String(cString: $0) } ?? "zlib error \(r)"
                return .failed("corrupt data: \(message)")
            }
        }
    }
}
