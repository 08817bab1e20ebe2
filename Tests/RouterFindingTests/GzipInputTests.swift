import CZlib
@testable import RouterFinding
import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// Gzip-compressed inputs: GuardDuty's S3 export (`AWSLogs/<account>/GuardDuty/<region>/YYYY/MM/DD/<uuid>.jsonl.gz`,
/// one bare camelCase finding per line), any `*.json.gz` / `*.jsonl.gz`, and gzip on standard input; inflated as
/// they stream, read exactly as the same bytes uncompressed.
final class GzipInputTests: XCTestCase {
    /// gzip-compresses `bytes` as one member (zlib's deflate with the gzip wrapper).
    static func gzip(_ bytes: [UInt8], level: Int32 = 6) -> [UInt8] {
        var s = z_stream()
        XCTAssertEqual(deflateInit2_(&s, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)), Z_OK)
        defer { deflateEnd(&s) }
        var input = bytes
        var out = [UInt8](repeating: 0, count: Int(deflateBound(&s, UInt(bytes.count))) + 64)
        let produced = input.withUnsafeMutableBufferPointer { i in
            out.withUnsafeMutableBufferPointer { o -> Int in
                s.next_in = i.baseAddress
                s.avail_in = UInt32(i.count)
                s.next_out = o.baseAddress
                s.avail_out = UInt32(o.count)
                XCTAssertEqual(deflate(&s, Z_FINISH), Z_STREAM_END)
                return o.count - Int(s.avail_out)
            }
        }
        return Array(out[0..<produced])
    }

    func summary(_ items: [InputItem]) -> [String] {
        items.map { "\($0.source) " + ($0.finding.map { "\($0.id) \($0.count)" } ?? $0.error!.description) }
    }

    /// Bare findings, one per line, as the export writes them.
    static func exportLines(_ ids: [String], count: Int = 1) -> String {
        ids.map { #"{"schemaVersion":"2.0","accountId":"111122223333","region":"us-east-1","id":"\#($0)","type":"Recon:EC2/PortProbeUnprotectedPort","severity":2,"service":{"count":\#(count)},"updatedAt":"2026-01-02T03:04:05.000Z"}"# }
            .joined(separator: "\n") + "\n"
    }

    func testS3ExportDirectoryReadsLikeThePlainFiles() throws {
        let dir = try TemporaryDirectory()
        let day1 = Self.exportLines(["a1", "a2"]), day2 = Self.exportLines(["b1"], count: 7)
        dir.write("AWSLogs/111122223333/GuardDuty/us-east-1/2026/01/02/5f0c1d2e-aaaa.jsonl.gz", Self.gzip(Array(day1.utf8)))
        dir.write("AWSLogs/111122223333/GuardDuty/us-east-1/2026/01/03/0b9e8f7a-bbbb.jsonl.gz", Self.gzip(Array(day2.utf8)))
        dir.write("AWSLogs/111122223333/GuardDuty/us-east-1/2026/01/03/notes.txt.gz", Self.gzip(Array("not an input".utf8)))
        let items = InputReader.items(fromPath: dir.path + "/AWSLogs")
        let root = dir.path + "/AWSLogs/111122223333/GuardDuty/us-east-1/2026/01"
        XCTAssertEqual(summary(items), ["\(root)/02/5f0c1d2e-aaaa.jsonl.gz:1 a1 1", "\(root)/02/5f0c1d2e-aaaa.jsonl.gz:2 a2 1", "\(root)/03/0b9e8f7a-bbbb.jsonl.gz:1 b1 7"])
        // The same findings as the uncompressed file give the same views.
        let plain = InputReader.items(fromPath: dir.write("plain.jsonl", day1 + day2))
        XCTAssertEqual(items.compactMap { $0.finding?.id }, plain.compactMap { $0.finding?.id })
        XCTAssertEqual(items.compactMap { $0.finding?.updatedAt }, plain.compactMap { $0.finding?.updatedAt })
        XCTAssertEqual(items.compactMap { $0.finding?.account }, ["111122223333", "111122223333", "111122223333"])
    }

    func testOneDocumentGzipAndStandardInput() throws {
        let dir = try TemporaryDirectory()
        let event = try Fixtures.bytes("findings/sample-plain.json")
        let path = dir.write("event.json.gz", Self.gzip(event))
        XCTAssertEqual(InputReader.items(fromPath: path).first?.finding?.id, InputReader.items(fromBytes: event, source: "x").first?.finding?.id)
        XCTAssertNotNil(InputReader.items(fromPath: path).first?.finding)
        // Gzip is recognised by its bytes, whatever the name (and on standard input).
        let renamed = dir.write("event.data", Self.gzip(event))
        XCTAssertNotNil(InputReader.items(fromPath: renamed).first?.finding)
        var fds: [Int32] = [0, 0]
        XCTAssertEqual(pipe(&fds), 0)
        let compressed = Self.gzip(Array(Self.exportLines(["s1", "s2"]).utf8))
        _ = compressed.withUnsafeBufferPointer { write(fds[1], $0.baseAddress, $0.count) }
        close(fds[1])
        defer { close(fds[0]) }
        var out: [InputItem] = []
        InputReader.readStream(fd: fds[0], source: "-", linesOnly: false, limits: .default) { out.append($0) }
        XCTAssertEqual(summary(out), ["-:1 s1 1", "-:2 s2 1"])
    }

    func testConcatenatedMembersTrailingZerosAndDamage() throws {
        let dir = try TemporaryDirectory()
        let a = Self.gzip(Array(Self.exportLines(["m1"]).utf8)), b = Self.gzip(Array(Self.exportLines(["m2", "m3"]).utf8))
        let two = dir.write("two.jsonl.gz", a + b + [0, 0, 0, 0])
        XCTAssertEqual(summary(InputReader.items(fromPath: two)), ["\(two):1 m1 1", "\(two):2 m2 1", "\(two):3 m3 1"])
        // Truncated: what inflated is read, then the file is reported unreadable (nothing silently lost).
        let cut = dir.write("cut.jsonl.gz", Array((a + b).dropLast(12)))
        let cutItems = InputReader.items(fromPath: cut)
        XCTAssertEqual(cutItems.first?.finding?.id, "m1")
        XCTAssertEqual(cutItems.last?.error, .unreadable("gzip: the gzip stream ends early (truncated file)"))
        // Corrupt: a flipped byte in the compressed data (or the CRC) is caught by zlib.
        var damaged = a
        damaged[damaged.count - 6] ^= 0xFF
        let bad = dir.write("bad.jsonl.gz", damaged)
        let badItems = InputReader.items(fromPath: bad)
        XCTAssertEqual(badItems.last?.error?.kind, .unreadable, "\(summary(badItems))")
        XCTAssertTrue(badItems.last?.error?.message.hasPrefix("gzip: corrupt data: ") ?? false, "\(summary(badItems))")
        // A header only.
        let header = dir.write("header.jsonl.gz", [0x1F, 0x8B])
        XCTAssertEqual(InputReader.items(fromPath: header).map(\.error), [.unreadable("gzip: the gzip stream ends early (truncated file)")])
    }

    /// A compression bomb: a 24 MiB line of spaces (24 KiB compressed) is skipped as too large while streaming, and
    /// the next line is still read.
    func testAHugeLineInsideGzipIsSkippedNotHeld() throws {
        let dir = try TemporaryDirectory()
        var bytes = [UInt8](repeating: UInt8(ascii: " "), count: 24 << 20)
        bytes.append(0x0A)
        bytes += Array(Self.exportLines(["after"]).utf8)
        let compressed = Self.gzip(bytes, level: 9)
        XCTAssertLessThan(compressed.count, 200_000)
        let path = dir.write("bomb.jsonl.gz", compressed)
        let items = InputReader.items(fromPath: path)
        XCTAssertEqual(items.count, 2, "\(summary(items))")
        XCTAssertEqual(items.first?.error?.kind, .tooLarge)
        XCTAssertEqual(items.last?.finding?.id, "after")
    }
}
