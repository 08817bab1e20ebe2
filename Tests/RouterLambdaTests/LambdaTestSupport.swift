import Foundation
import RouterDelivery
import RouterJSON
import XCTest

@testable import RouterLambda

/// Fixtures for the runtime's unit tests: rules, events, environments and a recording log.
enum LambdaFixtures {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    static let webhook = "https://hooks.slack.invalid/services/T0/B0/secretwebhookpath123"

    /// The example EventBridge GuardDuty event with its finding id replaced by `findingId`.
    static func event(findingId: String = "749163aa3b70f7a71165e0c587cd8c94") throws -> String {
        let text = try String(contentsOf: root.appendingPathComponent("examples/high-crypto-mining-ec2.json"), encoding: .utf8)
        return text.replacingOccurrences(of: "749163aa3b70f7a71165e0c587cd8c94", with: findingId)
    }

    /// An SQS event: one record per body.
    static func sqsEvent(_ bodies: [(id: String, body: String)]) -> String {
        let records: [JSONValue] = bodies.map { b in
            [
                "messageId": .string(b.id), "receiptHandle": .string("rh-\(b.id)"), "body": .string(b.body),
                "attributes": ["ApproximateReceiveCount": "1"], "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:111122223333:findings", "awsRegion": "us-east-1",
            ]
        }
        return JSONValue.object(["Records": .array(records)]).serialized()
    }

    static func rules(_ files: [String: String]) throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("lambda-rules-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        for (name, body) in files { try body.write(to: dir.appendingPathComponent(name), atomically: true, encoding: .utf8) }
        return dir
    }

    static let oneRoute = ["50.lua": ##"return { route = function(f) return { channel = "#sec" } end }"##]

    static func invocation(_ body: String, id: String, seconds: Double = 5, trace: String? = nil) -> LambdaInvocation {
        LambdaInvocation(
            requestId: id, deadlineMs: Int64((Date().timeIntervalSince1970 + seconds) * 1000),
            functionArn: "arn:aws:lambda:us-east-1:111122223333:function:router", traceId: trace, body: Array(body.utf8))
    }
}

/// Collects log lines.
final class LogLines: @unchecked Sendable {
    private let lock = NSLock()
    private var lines: [String] = []
    func append(_ bytes: [UInt8]) {
        lock.lock()
        lines.append(String(decoding: bytes, as: UTF8.self))
        lock.unlock()
    }
    var all: [String] {
        lock.lock()
        defer { lock.unlock() }
        return lines
    }
    var text: String { all.joined() }
    lazy var log = LambdaLog(sink: { [unowned self] in self.append($0) })
}

/// A Slack transport that records `_X_AMZN_TRACE_ID` at each call and answers from an in-memory script.
final class TraceRecordingTransport: SlackTransport, @unchecked Sendable {
    let inner = InMemorySlackTransport()
    private let lock = NSLock()
    private var traces: [String?] = []
    func send(_ request: SlackRequest) -> SlackOutcome {
        lock.lock()
        traces.append(getenv("_X_AMZN_TRACE_ID").map { String(cString: $0) })
        lock.unlock()
        return inner.send(request)
    }
    var seenTraces: [String?] {
        lock.lock()
        defer { lock.unlock() }
        return traces
    }
}
