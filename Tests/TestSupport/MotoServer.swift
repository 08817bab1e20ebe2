import Foundation
import Synchronization
import XCTest

/// Shared by the test targets (RouterTestSupport).
///
/// PyPI moto[server] (`ROUTER_TEST_MOTO_SERVER`, exported by scripts/test.sh) on a loopback port, started once for
/// the test class on first use (bounded in time) and stopped by ``stop()`` (call it from a class `tearDown`).
/// Tests that need it fail when `CI=true` and it is missing, and skip otherwise.
public enum MotoServer {
    private static let running = Mutex<HelperProcess?>(nil)

    /// The shared server's port.
    public static func port(file: StaticString = #filePath, line: UInt = #line) throws -> String {
        let path = try executable(file: file, line: line)
        return try running.withLock { (running: inout HelperProcess?) throws -> String in
            if let server = running, server.isRunning { return server.port }
            let server = try HelperProcess(
                path, ["-H", "127.0.0.1", "-p", "0"], waitFor: #"Running on http://127\.0\.0\.1:(\d+)"#)
            running = server
            return server.port
        }
    }

    public static func stop() {
        running.withLock { running in
            running?.terminate()
            running = nil
        }
    }

    /// The moto_server executable (fails the test under CI when missing, skips it otherwise).
    public static func executable(file: StaticString = #filePath, line: UInt = #line) throws -> String {
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

    /// The Python of moto's virtual environment (it has botocore).
    public static func python(file: StaticString = #filePath, line: UInt = #line) throws -> String {
        URL(fileURLWithPath: try executable(file: file, line: line)).deletingLastPathComponent()
            .appendingPathComponent("python").path
    }

    /// Tests/Moto/sigv4_check.py: a loopback endpoint that checks SigV4 signatures with botocore (see its header).
    public static let sigV4Checker = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Moto/sigv4_check.py").path

    /// Tests/Moto/scripted_dynamodb.py: a loopback endpoint answering from a script (see its header).
    public static let scriptedDynamoDB = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Moto/scripted_dynamodb.py").path
}

/// A helper process on loopback: started with its output in a log file, ready once the log matches a pattern whose
/// first group is the port (waited for at most `timeout` seconds), terminated by ``terminate()``.
public final class HelperProcess: @unchecked Sendable {
    public let port: String
    private let process: Process
    private let directory: URL

    public var isRunning: Bool { process.isRunning }

    public init(_ executable: String, _ arguments: [String], waitFor pattern: String, timeout: Double = 30) throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("helper-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let log = directory.appendingPathComponent("output.log")
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let handle = try FileHandle(forWritingTo: log)
        process.standardOutput = handle
        process.standardError = handle
        process.standardInput = Pipe()  // helpers that read stdin exit when it closes
        try process.run()
        let regex = try NSRegularExpression(pattern: pattern)
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
            process.stop(grace: 0)
            try? FileManager.default.removeItem(at: directory)
            throw NSError(
                domain: "HelperProcess", code: 1,
                userInfo: [
                    NSLocalizedDescriptionKey: "\(executable) did not print \(pattern) in \(timeout) s:\n\(text)"
                ])
        }
        port = found
    }

    public func terminate() {
        process.stop(grace: 0)
        try? FileManager.default.removeItem(at: directory)
    }
}
