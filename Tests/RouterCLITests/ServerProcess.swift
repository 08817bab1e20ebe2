import Foundation
import RouterJSON
import RouterTestSupport
import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// One `router serve` child process on a free loopback port (`--listen 127.0.0.1:0`: it prints the bound address),
/// for one test. Killed (SIGKILL) when the test ends if it is still running.
final class ServerProcess: @unchecked Sendable {
    let process = Process()
    let port: Int
    let stderrURL: URL
    let stdoutURL: URL
    private let tmp: URL

    static let token = "test-api-token-0123456789"

    /// Starts the server; throws when it does not print its address within `timeout` (then `stderr` says why).
    init(_ args: [String], environment: [String: String], timeout: Double = 20) throws {
        tmp = FileManager.default.temporaryDirectory.appendingPathComponent("router-serve-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: tmp, withIntermediateDirectories: true)
        stderrURL = tmp.appendingPathComponent("err")
        stdoutURL = tmp.appendingPathComponent("out")
        FileManager.default.createFile(atPath: stderrURL.path, contents: nil)
        FileManager.default.createFile(atPath: stdoutURL.path, contents: nil)
        process.executableURL = Paths.routerBinary
        process.arguments = ["serve", "--listen", "127.0.0.1:0"] + args
        var env = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("SLACK_") && !$0.key.hasPrefix("ROUTER_") }
        env.merge(environment) { $1 }
        process.environment = env
        process.standardOutput = try FileHandle(forWritingTo: stdoutURL)
        process.standardError = try FileHandle(forWritingTo: stderrURL)
        process.standardInput = FileHandle.nullDevice
        try process.run()
        var found: Int?
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline && process.isRunning {
            let text = (try? String(contentsOf: stdoutURL, encoding: .utf8)) ?? ""
            if let line = text.split(separator: "\n").first(where: { $0.hasPrefix("listening on ") }),
                let p = line.split(separator: ":").last.flatMap({ Int($0) })
            {
                found = p
                break
            }
            usleep(20_000)
        }
        guard let found else {
            if process.isRunning { process.interrupt() }
            let err = (try? String(contentsOf: stderrURL, encoding: .utf8)) ?? ""
            throw ServerStartError(message: "router serve did not start: \(err)")
        }
        port = found
    }

    struct ServerStartError: Error { var message: String }

    deinit {
        if process.isRunning { process.stop(grace: 0) }
        try? FileManager.default.removeItem(at: tmp)
    }

    var stderr: String { (try? String(contentsOf: stderrURL, encoding: .utf8)) ?? "" }

    func signal(_ sig: Int32) { kill(process.processIdentifier, sig) }

    /// Waits (bounded) for the process to exit; its status, or nil if it is still running.
    func waitForExit(timeout: Double) -> Int32? {
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < deadline { usleep(20_000) }
        if process.isRunning { return nil }
        return process.terminationStatus
    }

    // MARK: - HTTP

    struct Reply {
        var status: Int
        var headers: [String: String]
        var body: [UInt8]
        var text: String { String(decoding: body, as: UTF8.self) }
        var json: JSONValue? { try? JSONValue.parse(body) }
    }

    /// One request on a fresh connection (`Connection: close`). With `contentLength: false` the body is sent chunked.
    func request(
        _ method: String, _ path: String, headers: [String: String] = [:], body: [UInt8]? = nil,
        contentLength: Bool = true, timeout: Double = 15
    ) throws -> Reply {
        try HTTPTestClient.request(
            port: port, method, path, headers: headers, body: body, contentLength: contentLength, timeout: timeout)
    }

    func post(_ body: [UInt8], headers: [String: String] = ["Authorization": "Bearer \(ServerProcess.token)"]) throws
        -> Reply
    {
        try request("POST", "/events", headers: headers.merging(["Content-Type": "application/json"]) { a, _ in a }, body: body)
    }

    /// The value of one Prometheus sample (`name{labels}` exactly as rendered, labels in the order given), or 0.
    func metric(_ name: String, _ labels: [(String, String)] = []) throws -> Double {
        let text = try request("GET", "/metrics").text
        return Self.sample(text, name, labels)
    }

    static func sample(_ text: String, _ name: String, _ labels: [(String, String)]) -> Double {
        for line in text.split(separator: "\n") where line.hasPrefix(name) && !line.hasPrefix("#") {
            let parts = line.split(separator: " ")
            guard parts.count >= 2 else { continue }
            let series = parts[0]
            if labels.isEmpty {
                if series == name { return Double(parts[1]) ?? 0 }
                continue
            }
            guard series.hasPrefix(name + "{") else { continue }
            if labels.allSatisfy({ series.contains("\($0.0)=\"\($0.1)\"") }) { return Double(parts[1]) ?? 0 }
        }
        return 0
    }
}

/// A minimal HTTP/1.1 client over a socket: exact control of the bytes sent (lengths, chunking, invalid UTF-8).
enum HTTPTestClient {
    struct Failure: Error, CustomStringConvertible { var description: String }

    static func request(
        port: Int, _ method: String, _ path: String, headers: [String: String], body: [UInt8]?, contentLength: Bool,
        timeout: Double
    ) throws -> ServerProcess.Reply {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw Failure(description: "socket: \(errno)") }
        defer { close(fd) }
        var tv = timeval(tv_sec: Int(timeout), tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let c = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard c == 0 else { throw Failure(description: "connect: \(errno)") }
        var head = "\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nConnection: close\r\n"
        for (k, v) in headers { head += "\(k): \(v)\r\n" }
        var out: [UInt8] = []
        if let body {
            if contentLength {
                head += "Content-Length: \(body.count)\r\n\r\n"
                out = Array(head.utf8) + body
            } else {
                head += "Transfer-Encoding: chunked\r\n\r\n"
                out = Array(head.utf8)
                var i = 0
                while i < body.count {
                    let n = min(1000, body.count - i)
                    out += Array((String(n, radix: 16) + "\r\n").utf8) + body[i..<(i + n)] + Array("\r\n".utf8)
                    i += n
                }
                out += Array("0\r\n\r\n".utf8)
            }
        } else {
            head += "\r\n"
            out = Array(head.utf8)
        }
        var sent = 0
        while sent < out.count {
            let n = out[sent...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n <= 0 { break }  // the server may answer (413) and close before reading everything
            sent += n
        }
        var received: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = recv(fd, &buf, buf.count, 0)
            if n <= 0 { break }
            received += buf[0..<n]
        }
        return try parse(received)
    }

    static func parse(_ bytes: [UInt8]) throws -> ServerProcess.Reply {
        let sep: [UInt8] = Array("\r\n\r\n".utf8)
        guard let end = bytes.indices.first(where: { bytes[$0...].starts(with: sep) }) else {
            throw Failure(description: "no HTTP response (\(bytes.count) bytes)")
        }
        let head = String(decoding: bytes[..<end], as: UTF8.self).split(separator: "\r\n")
        guard let statusLine = head.first, statusLine.split(separator: " ").count >= 2,
            let status = Int(statusLine.split(separator: " ")[1])
        else { throw Failure(description: "bad status line") }
        var headers: [String: String] = [:]
        for line in head.dropFirst() {
            if let colon = line.firstIndex(of: ":") {
                headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            }
        }
        var body = Array(bytes[(end + 4)...])
        if headers["transfer-encoding"]?.lowercased() == "chunked" {
            var out: [UInt8] = []
            var i = 0
            while i < body.count {
                guard let lineEnd = body[i...].indices.first(where: { body[$0...].starts(with: [13, 10]) }),
                    let n = Int(String(decoding: body[i..<lineEnd], as: UTF8.self), radix: 16)
                else { break }
                if n == 0 { break }
                out += body[(lineEnd + 2)..<min(body.count, lineEnd + 2 + n)]
                i = lineEnd + 2 + n + 2
            }
            body = out
        }
        return ServerProcess.Reply(status: status, headers: headers, body: body)
    }
}

/// Polls `condition` every 50 ms until it holds or `timeout` passes; returns whether it held.
func eventually(timeout: Double, _ condition: () throws -> Bool) rethrows -> Bool {
    let deadline = Date().addingTimeInterval(timeout)
    repeat {
        if try condition() { return true }
        usleep(50_000)
    } while Date() < deadline
    return try condition()
}
