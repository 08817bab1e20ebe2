import Foundation
import Synchronization
import XCTest

/// PyPI moto[server] (`ROUTER_TEST_MOTO_SERVER`, exported by scripts/test.sh) on a loopback port, started once for
/// the test run on first use (bounded in time) and stopped by ``stop()`` (call it from a class `tearDown`).
/// Tests that need it fail when `CI=true` and it is missing, and skip otherwise.
final class MotoServer: @unchecked Sendable {
    private static let running = Mutex<MotoServer?>(nil)

    let port: String
    private let process: Process
    private let directory: URL

    /// The shared server's port.
    static func port(file: StaticString = #filePath, line: UInt = #line) throws -> String {
        let path = try executable(file: file, line: line)
        return try running.withLock { (running: inout MotoServer?) throws -> String in
            if let server = running, server.process.isRunning { return server.port }
            let server = try MotoServer(path)
            running = server
            return server.port
        }
    }

    static func stop() {
        running.withLock { running in
            running?.terminate()
            running = nil
        }
    }

    private static func executable(file: StaticString, line: UInt) throws -> String {
        let env = ProcessInfo.processInfo.environment
        if let path = env["ROUTER_TEST_MOTO_SERVER"], FileManager.default.isExecutableFile(atPath: path) {
            return path
        }
        if env["CI"] == "true" {
            XCTFail("ROUTER_TEST_MOTO_SERVER is not set to moto_server (run scripts/test.sh)", file: file, line: line)
            throw XCTSkip("moto_server missing")
        }
        throw XCTSkip("ROUTER_TEST_MOTO_SERVER not set (scripts/test.sh installs moto[server])")
    }

    private init(_ executable: String, timeout: Double = 30) throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("moto-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let log = directory.appendingPathComponent("moto.log")
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = ["-H", "127.0.0.1", "-p", "0"]
        let handle = try FileHandle(forWritingTo: log)
        process.standardOutput = handle
        process.standardError = handle
        process.standardInput = Pipe()
        try process.run()
        let regex = try NSRegularExpression(pattern: #"Running on http://127\.0\.0\.1:(\d+)"#)
        let deadline = Date().addingTimeInterval(timeout)
        var found: String?
        while Date() < deadline, found == nil {
            let text = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
            if let match = regex.firstMatch(in: text, range: NSRange(text.startIndex..., in: text)),
                let range = Range(match.range(at: 1), in: text)
            {
                found = String(text[range])
            } else if !process.isRunning {
                break
            } else {
                Thread.sleep(forTimeInterval: 0.05)
            }
        }
        guard let found else {
            let text = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
            if process.isRunning {
                process.terminate()
                process.waitUntilExit()
            }
            try? FileManager.default.removeItem(at: directory)
            throw NSError(
                domain: "MotoServer", code: 1,
                userInfo: [NSLocalizedDescriptionKey: "moto_server did not start in \(timeout) s:\n\(text)"])
        }
        port = found
    }

    private func terminate() {
        if process.isRunning {
            process.terminate()
            process.waitUntilExit()
        }
        try? FileManager.default.removeItem(at: directory)
    }
}
