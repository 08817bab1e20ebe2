import Foundation
import RouterJSON
import RouterTestSupport
import XCTest

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// The Python fake Slack (Tests/FakeSlack/fake_slack.py) on an ephemeral loopback port, for one test.
/// It exits when this object closes its stdin (also if the test process dies).
final class FakeSlackServer {
    let process = Process()
    let stdinPipe = Pipe()
    let port: Int

    var base: String { "http://127.0.0.1:\(port)" }
    var webhookURL: String { base + "/services/T0FAKE/B0FAKE/secretwebhookpath123" }
    var apiURL: String { base + "/api" }
    static let token = "xoxb-fake-token"

    init() throws {
        guard let python = ["/usr/bin/python3", "/usr/local/bin/python3"].first(where: { FileManager.default.isExecutableFile(atPath: $0) })
            ?? Self.which("python3")
        else { throw XCTSkip("python3 is not installed") }
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments = [Paths.root.appendingPathComponent("Tests/FakeSlack/fake_slack.py").path, "--port", "0"]
        let out = Pipe()
        process.standardOutput = out
        process.standardInput = stdinPipe
        try process.run()
        // First line: {"port": N}
        var line = Data()
        let handle = out.fileHandleForReading
        while !line.contains(0x0A) {
            let chunk = handle.availableData
            if chunk.isEmpty { break }
            line.append(chunk)
        }
        let text = String(decoding: line, as: UTF8.self)
        guard let v = try? JSONValue.parse(text.trimmingCharacters(in: .whitespacesAndNewlines)), let p = v["port"]?.intValue
        else {
            process.terminate()
            throw XCTSkip("the fake Slack did not start: \(text)")
        }
        port = Int(p)
    }

    deinit { stop() }

    func stop() {
        try? stdinPipe.fileHandleForWriting.close()
        // It exits when its stdin closes; bounded, never waitUntilExit (see Process.stop).
        process.stop(grace: 5)
    }

    static func which(_ name: String) -> String? {
        for dir in (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":") {
            let p = "\(dir)/\(name)"
            if FileManager.default.isExecutableFile(atPath: p) { return p }
        }
        return nil
    }

    @discardableResult
    func control(_ method: String, _ path: String, _ body: JSONValue? = nil) throws -> JSONValue {
        var request = URLRequest(url: URL(string: base + path)!)
        request.httpMethod = method
        if let body {
            request.httpBody = Data(body.serialized().utf8)
            request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        }
        let done = DispatchSemaphore(value: 0)
        nonisolated(unsafe) var result: Data?
        nonisolated(unsafe) var failure: Error?
        URLSession.shared.dataTask(with: request) { data, _, error in
            result = data
            failure = error
            done.signal()
        }.resume()
        done.wait()
        if let failure { throw failure }
        return try JSONValue.parse(String(decoding: result ?? Data(), as: UTF8.self))
    }

    func script(_ responses: [JSONValue], channel: String? = nil, pathPrefix: String? = nil, repeat: Bool = false) throws {
        var match: JSONObject = [:]
        if let channel { match["channel"] = .string(channel) }
        if let pathPrefix { match["path_prefix"] = .string(pathPrefix) }
        try control("POST", "/_control/script", ["match": .object(match), "responses": .array(responses), "repeat": .bool(`repeat`)])
    }

    func requests() throws -> [JSONValue] {
        try control("GET", "/_control/requests")["requests"]?.arrayValue ?? []
    }
}
