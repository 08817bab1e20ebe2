import Foundation
import Synchronization
import RouterTestSupport
import XCTest

@testable import RouterDelivery

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// CurlSlackTransport against the fake Slack (`Tests/FakeSlack/fake_slack.py`, started per test) and, for answers
/// the fake cannot give (an HTTP-date `Retry-After`, a redirect, an oversized body), a canned socket server.
final class CurlSlackTransportTests: XCTestCase {
    static let token = "xoxb-SECRET7e1d9c-router-test-token"
    static let hookPath = "/services/T0TEST/B0HOOK/hooksecret8f3a2b"

    /// One fake for the whole class (Python starts in ~0.3 s), reset before each test that uses it.
    private static let shared = Mutex<FakeSlack?>(nil)

    override class func tearDown() {
        shared.withLock { f in
            f?.stop()
            f = nil
        }
        super.tearDown()
    }

    private var fake: FakeSlack!

    override func setUpWithError() throws {
        // Pure tests (no HTTP) do not need the fake.
        if name.contains("Sanitized") || name.contains("Classifies") || name.contains("InMemory") { return }
        fake = try Self.shared.withLock { f -> FakeSlack in
            if let f, f.process.isRunning { return f }
            let started = try FakeSlack.start(token: Self.token)
            f = started
            return started
        }
        try fake.reset()
    }

    // MARK: - Helpers

    private var webhook: Destination {
        Destination(name: "default", kind: .webhook(url: Secret("http://127.0.0.1:\(fake.port)\(Self.hookPath)")))
    }

    private var api: Destination {
        Destination(name: "slack-api", kind: .webAPI(token: Secret(Self.token), baseURL: "http://127.0.0.1:\(fake.port)/api"))
    }

    private let message = Array(#"{"text":"GuardDuty: Recon:EC2/PortProbeUnprotectedPort (5.0)"}"#.utf8)
    private let apiMessage = Array(#"{"channel":"C0ALERTS","text":"GuardDuty: Backdoor:EC2/C&CActivity.B (8.0)"}"#.utf8)

    private func sendWebhook(_ t: CurlSlackTransport, body: [UInt8]? = nil) -> SlackOutcome {
        checked(t.send(SlackRequest(destination: webhook, method: .webhook, body: body ?? message)))
    }

    private func sendAPI(_ t: CurlSlackTransport, _ method: SlackRequest.Method = .postMessage, body: [UInt8]? = nil,
                         destination: Destination? = nil) -> SlackOutcome {
        checked(t.send(SlackRequest(destination: destination ?? api, method: method, body: body ?? apiMessage)))
    }

    /// Every outcome is checked for leaks of the token or the webhook's secret path.
    private func checked(_ o: SlackOutcome, file: StaticString = #filePath, line: UInt = #line) -> SlackOutcome {
        let text = "\(o) \(String(reflecting: o))"
        for secret in [Self.token, Self.hookPath, "hooksecret8f3a2b", "secret7e1d9c", "SECRET7e1d9c"] {
            XCTAssertFalse(text.contains(secret), "outcome leaks a secret: \(text)", file: file, line: line)
        }
        return o
    }

    // MARK: - Webhook

    func testCurlWebhookDelivered() throws {
        let t = CurlSlackTransport()
        XCTAssertEqual(sendWebhook(t), .delivered(ts: nil, channel: nil))
        let reqs = try fake.requests()
        XCTAssertEqual(reqs.count, 1)
        let r = try XCTUnwrap(reqs.first)
        XCTAssertEqual(r["path"] as? String, Self.hookPath)
        XCTAssertEqual(r["method"] as? String, "POST")
        let headers = try XCTUnwrap(r["headers"] as? [String: String])
        XCTAssertEqual(headers["Content-Type"], "application/json")
        XCTAssertEqual(headers["User-Agent"], "guardduty-router")
        XCTAssertNil(headers["Authorization"])
        XCTAssertNil(headers["Expect"])
        let body = try XCTUnwrap(r["body"] as? [String: Any])
        XCTAssertEqual(body["text"] as? String, "GuardDuty: Recon:EC2/PortProbeUnprotectedPort (5.0)")
    }

    func testCurlWebhookPermanentErrorsCarrySlackCode() throws {
        try fake.script(path: Self.hookPath, [
            ["status": 404, "error": "channel_not_found"],
            ["status": 410],
            ["status": 403, "error": "invalid_token"],
            ["status": 400, "error": "invalid_blocks"],
            ["status": 404, "body": ""],
            ["status": 404, "body": "<html><body>Not Found</body></html>"],
            ["status": 400, "body": "Invalid Payload - missing text\n"],
            ["status": 422, "error": "whatever"],
        ])
        let t = CurlSlackTransport()
        XCTAssertEqual(sendWebhook(t), .permanent(code: "channel_not_found", httpStatus: 404))
        XCTAssertEqual(sendWebhook(t), .permanent(code: "channel_is_archived", httpStatus: 410))
        XCTAssertEqual(sendWebhook(t), .permanent(code: "invalid_token", httpStatus: 403))
        XCTAssertEqual(sendWebhook(t), .permanent(code: "invalid_blocks", httpStatus: 400))
        XCTAssertEqual(sendWebhook(t), .permanent(code: "http_404", httpStatus: 404))
        XCTAssertEqual(sendWebhook(t), .permanent(code: "http_404", httpStatus: 404))
        XCTAssertEqual(sendWebhook(t), .permanent(code: "invalid_payload_missing_text", httpStatus: 400))
        XCTAssertEqual(sendWebhook(t), .permanent(code: "http_422", httpStatus: 422))
    }

    func testCurlWebhookRateLimitedAndServerErrors() throws {
        try fake.script(path: Self.hookPath, [
            ["status": 429, "retry_after": 3],
            ["status": 500],  // the HTML rollup_error page
            ["status": 503],
            ["status": 502, "body": "Bad Gateway"],
        ])
        let t = CurlSlackTransport()
        XCTAssertEqual(sendWebhook(t), .rateLimited(retryAfter: 3))
        XCTAssertEqual(sendWebhook(t), .retryable(code: "http_500"))
        XCTAssertEqual(sendWebhook(t), .retryable(code: "http_503"))
        XCTAssertEqual(sendWebhook(t), .retryable(code: "http_502"))
        XCTAssertEqual(sendWebhook(t), .delivered(ts: nil, channel: nil))
        XCTAssertEqual(t.connectionsOpened, 1, "error answers keep the connection alive")
    }

    // MARK: - Web API

    func testCurlAPIDeliveredWithTsAndChannel() throws {
        let t = CurlSlackTransport()
        let first = sendAPI(t)
        guard case .delivered(let ts?, let channel?) = first else { return XCTFail("got \(first)") }
        XCTAssertEqual(channel, "C0ALERTS")
        XCTAssertFalse(ts.isEmpty)
        // chat.update of that message goes to /api/chat.update and answers with the same ts.
        let update = Array(#"{"channel":"C0ALERTS","ts":"\#(ts)","text":"updated"}"#.utf8)
        XCTAssertEqual(sendAPI(t, .update, body: update), .delivered(ts: ts, channel: "C0ALERTS"))
        let reqs = try fake.requests()
        XCTAssertEqual(reqs.map { $0["path"] as? String }, ["/api/chat.postMessage", "/api/chat.update"])
        let headers = try XCTUnwrap(reqs.first?["headers"] as? [String: String])
        XCTAssertEqual(headers["Content-Type"], "application/json; charset=utf-8")
        XCTAssertEqual(headers["Authorization"], "Bearer ***")  // present (the fake redacts what it records)
        XCTAssertNil(headers["Expect"])
    }

    func testCurlAPIErrors() throws {
        try fake.script(path: "/api/", [
            ["error": "channel_not_found"],
            ["error": "ratelimited", "retry_after": 5],
            ["status": 200, "error": "rate_limited", "retry_after": 2],
            ["error": "internal_error"],
            ["error": "fatal_error"],
            ["error": "service_unavailable"],
            ["error": "request_timeout"],
            ["error": "msg_blocks_too_long"],
            ["status": 429, "retry_after": 7],
            ["status": 500],
            ["status": 503],
            ["status": 200, "error": "x", "body": "<html>not json</html>"],
            ["status": 200, "error": "x", "body": "{\"ok\": \"maybe\"}"],
            ["status": 404, "error": "unknown_method"],
        ])
        let t = CurlSlackTransport()
        XCTAssertEqual(sendAPI(t), .permanent(code: "channel_not_found", httpStatus: 200))
        XCTAssertEqual(sendAPI(t), .rateLimited(retryAfter: 5))
        XCTAssertEqual(sendAPI(t), .rateLimited(retryAfter: 2))
        XCTAssertEqual(sendAPI(t), .retryable(code: "internal_error"))
        XCTAssertEqual(sendAPI(t), .retryable(code: "fatal_error"))
        XCTAssertEqual(sendAPI(t), .retryable(code: "service_unavailable"))
        XCTAssertEqual(sendAPI(t), .retryable(code: "request_timeout"))
        XCTAssertEqual(sendAPI(t), .permanent(code: "msg_blocks_too_long", httpStatus: 200))
        XCTAssertEqual(sendAPI(t), .rateLimited(retryAfter: 7))
        XCTAssertEqual(sendAPI(t), .retryable(code: "http_500"))
        XCTAssertEqual(sendAPI(t), .retryable(code: "http_503"))
        XCTAssertEqual(sendAPI(t), .retryable(code: "bad_response"))
        XCTAssertEqual(sendAPI(t), .retryable(code: "bad_response"))
        XCTAssertEqual(sendAPI(t), .permanent(code: "unknown_method", httpStatus: 404))
    }

    func testCurlAPIWrongTokenIsPermanentAndNeverEchoed() throws {
        let t = CurlSlackTransport()
        let wrong = Destination(
            name: "slack-api",
            kind: .webAPI(token: Secret("xoxb-wrong-0123456789"), baseURL: "http://127.0.0.1:\(fake.port)/api"))
        let o = sendAPI(t, destination: wrong)
        XCTAssertEqual(o, .permanent(code: "invalid_auth", httpStatus: 200))
        XCTAssertFalse("\(o)".contains("0123456789"))
    }

    // MARK: - Transport failures

    func testCurlSlowResponseTimesOut() throws {
        try fake.script(path: Self.hookPath, [["delay": 5]])
        let t = CurlSlackTransport(connectTimeout: 1, totalTimeout: 0.4)
        let start = ContinuousClock.now
        XCTAssertEqual(sendWebhook(t), .retryable(code: "timeout"))
        XCTAssertLessThan(ContinuousClock.now - start, .seconds(3))
        // The client is usable again afterwards (a new connection replaces the abandoned one).
        XCTAssertEqual(sendWebhook(t), .delivered(ts: nil, channel: nil))
    }

    func testCurlRefusedConnection() throws {
        let port = try closedPort()
        let t = CurlSlackTransport(connectTimeout: 2, totalTimeout: 3)
        let dest = Destination(name: "default", kind: .webhook(url: Secret("http://127.0.0.1:\(port)\(Self.hookPath)")))
        XCTAssertEqual(checked(t.send(SlackRequest(destination: dest, method: .webhook, body: message))),
                       .retryable(code: "connect_failed"))
        let apiDest = Destination(
            name: "slack-api", kind: .webAPI(token: Secret(Self.token), baseURL: "http://127.0.0.1:\(port)/api"))
        XCTAssertEqual(sendAPI(t, destination: apiDest), .retryable(code: "connect_failed"))
    }

    func testCurlDroppedConnection() throws {
        try fake.script(path: Self.hookPath, [["drop": true]])
        let t = CurlSlackTransport()
        XCTAssertEqual(sendWebhook(t), .retryable(code: "empty_reply"))
        XCTAssertEqual(sendWebhook(t), .delivered(ts: nil, channel: nil))
    }

    func testCurlDroppedConnectionAfterReuse() throws {
        let t = CurlSlackTransport()
        XCTAssertEqual(sendWebhook(t), .delivered(ts: nil, channel: nil))
        // On a kept-alive connection libcurl retries once on a fresh one when nothing came back: two drops in a row.
        try fake.script(path: Self.hookPath, [["drop": true], ["drop": true]])
        XCTAssertEqual(sendWebhook(t), .retryable(code: "empty_reply"))
    }

    func testCurlOnlyHTTPAndHTTPS() {
        let t = CurlSlackTransport(connectTimeout: 1, totalTimeout: 2)
        for url in ["file:///etc/passwd", "ftp://127.0.0.1:\(fake.port)/x", "gopher://127.0.0.1/x", "dict://127.0.0.1/x"] {
            let dest = Destination(name: "default", kind: .webhook(url: Secret(url)))
            XCTAssertEqual(checked(t.send(SlackRequest(destination: dest, method: .webhook, body: message))),
                           .permanent(code: "unsupported_protocol", httpStatus: nil), url)
        }
        let broken = Destination(name: "default", kind: .webhook(url: Secret("http://127.0.0.1:1/a b\r\nX-Evil: 1")))
        XCTAssertEqual(t.send(SlackRequest(destination: broken, method: .webhook, body: message)),
                       .permanent(code: "bad_url", httpStatus: nil))
        let badToken = Destination(
            name: "slack-api", kind: .webAPI(token: Secret("xoxb-1\r\nX-Evil: 1"), baseURL: "http://127.0.0.1:\(fake.port)/api"))
        XCTAssertEqual(t.send(SlackRequest(destination: badToken, method: .postMessage, body: apiMessage)),
                       .permanent(code: "bad_header", httpStatus: nil))
    }

    // MARK: - Connections

    func testCurlReusesOneConnectionForSequentialRequests() throws {
        let t = CurlSlackTransport()
        XCTAssertEqual(sendWebhook(t), .delivered(ts: nil, channel: nil))
        XCTAssertEqual(sendWebhook(t), .delivered(ts: nil, channel: nil))
        guard case .delivered = sendAPI(t) else { return XCTFail("api post failed") }
        XCTAssertEqual(t.clientsCreated, 1)
        XCTAssertEqual(t.connectionsOpened, 1, "3 requests, 1 connection")
        XCTAssertEqual(try fake.requests().count, 3)
    }

    func testCurlConcurrentWorkersEachUseTheirOwnHandle() throws {
        let t = CurlSlackTransport()
        let threads = 4, perThread = 6
        let results = Mutex<[SlackOutcome]>([])
        let webhook = self.webhook
        let message = self.message
        DispatchQueue.concurrentPerform(iterations: threads) { _ in
            for _ in 0..<perThread {
                let o = t.send(SlackRequest(destination: webhook, method: .webhook, body: message))
                results.withLock { $0.append(o) }
            }
        }
        let all = results.withLock { $0 }
        XCTAssertEqual(all.count, threads * perThread)
        XCTAssertTrue(all.allSatisfy { $0 == .delivered(ts: nil, channel: nil) }, "\(all)")
        XCTAssertLessThanOrEqual(t.clientsCreated, threads)
        XCTAssertLessThanOrEqual(t.connectionsOpened, t.clientsCreated, "each handle keeps its connection alive")
        XCTAssertEqual(try fake.requests().count, threads * perThread)
    }

    // MARK: - Answers the fake cannot give

    func testCurlCannedAnswers() throws {
        let big = String(repeating: "x", count: 100_000)
        let server = try CannedServer(responses: [
            "HTTP/1.1 429 Too Many Requests\r\nRetry-After: Wed, 21 Oct 2015 07:28:00 GMT\r\nContent-Length: 0\r\n\r\n",
            "HTTP/1.1 429 Too Many Requests\r\nretry-after:   12  \r\nContent-Length: 0\r\n\r\n",
            "HTTP/1.1 302 Found\r\nLocation: /elsewhere\r\nContent-Length: 0\r\n\r\n",
            "HTTP/1.1 200 OK\r\nContent-Length: \(big.utf8.count)\r\n\r\n\(big)",
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: \(big.utf8.count + 12)\r\n\r\n{\"ok\":true,\"\(big)",
            // A proxy or a misrouted answer echoing the path: the code must not carry it.
            "HTTP/1.1 404 Not Found\r\nContent-Length: 38\r\n\r\nno such hook hooksecret8f3a2b anywhere",
            // Retry-After counts from the final response only, not from an interim 1xx.
            "HTTP/1.1 100 Continue\r\nRetry-After: 9\r\n\r\nHTTP/1.1 429 Too Many Requests\r\nContent-Length: 0\r\n\r\n",
        ])
        defer { server.stop() }
        let t = CurlSlackTransport(connectTimeout: 2, totalTimeout: 5)
        let hook = Destination(name: "default", kind: .webhook(url: Secret("http://127.0.0.1:\(server.port)\(Self.hookPath)")))
        let apiDest = Destination(
            name: "slack-api", kind: .webAPI(token: Secret(Self.token), baseURL: "http://127.0.0.1:\(server.port)/api"))
        // Over 1 MiB: libcurl would add `Expect: 100-continue` (and wait for a 100 the server never sends).
        let bigBody = Array(("{\"text\":\"" + String(repeating: "y", count: 1_200_000) + "\"}").utf8)
        func send(_ d: Destination, _ m: SlackRequest.Method, _ b: [UInt8]? = nil) -> SlackOutcome {
            checked(t.send(SlackRequest(destination: d, method: m, body: b ?? message)))
        }
        XCTAssertEqual(send(hook, .webhook), .rateLimited(retryAfter: nil))
        XCTAssertEqual(send(hook, .webhook), .rateLimited(retryAfter: 12))
        XCTAssertEqual(send(hook, .webhook, bigBody), .permanent(code: "http_302", httpStatus: 302))
        XCTAssertEqual(send(hook, .webhook), .delivered(ts: nil, channel: nil))
        XCTAssertEqual(send(apiDest, .postMessage), .retryable(code: "bad_response"))
        XCTAssertEqual(send(hook, .webhook), .permanent(code: "http_404", httpStatus: 404))
        XCTAssertEqual(send(hook, .webhook), .rateLimited(retryAfter: nil))

        let requests = server.requests
        XCTAssertEqual(requests.count, 7, "the redirect was not followed")
        guard requests.count >= 5 else { return }
        XCTAssertTrue(requests.allSatisfy { $0.lowercased().contains("\r\nexpect:") == false })
        XCTAssertTrue(requests[2].hasSuffix(String(repeating: "y", count: 1000) + "\"}"), "the large body was sent")
        let raw = Array(requests[2].utf8)
        let headerEnd = raw.firstRange(of: Array("\r\n\r\n".utf8))?.upperBound ?? 0
        XCTAssertEqual(raw.count - headerEnd, bigBody.count)
        XCTAssertTrue(requests[4].hasPrefix("POST /api/chat.postMessage HTTP/1.1\r\n"))
        XCTAssertTrue(requests[4].contains("\r\nAuthorization: Bearer \(Self.token)\r\n"))
        XCTAssertTrue(requests[0].hasPrefix("POST \(Self.hookPath) HTTP/1.1\r\n"))
    }

    // MARK: - Pure classification

    func testCurlSanitizedCode() {
        let s = [Secret("https://hooks.slack.com/services/T000/B000/abcdefghij"), Secret("xoxb-1234-987654321-zzz")]
        func code(_ text: String) -> String? { CurlSlackTransport.sanitizedCode(Array(text.utf8), secrets: s) }
        XCTAssertEqual(code("channel_not_found"), "channel_not_found")
        XCTAssertEqual(code("  Channel_Not_Found\r\nmore"), "channel_not_found")
        XCTAssertEqual(code("Invalid Token!"), "invalid_token")
        XCTAssertNil(code(""))
        XCTAssertNil(code("   \n"))
        XCTAssertNil(code("<!DOCTYPE html><p>rollup_error</p>"))
        XCTAssertEqual(code(String(repeating: "a", count: 200))?.count, 64)
        XCTAssertNil(code("bad hook ABCDEFGHIJ"))
        XCTAssertNil(code("token 987654321 revoked"))
        XCTAssertEqual(code("xoxb"), "xoxb")
    }

    func testCurlClassifiesParsedResponses() {
        let r = CurlSlackTransport.Response(status: 200, body: Array(#"{"ok":true,"ts":"1.2","channel":"C1"}"#.utf8),
                                            retryAfter: 9, transportError: nil, curlCode: 0)
        XCTAssertEqual(CurlSlackTransport.webAPIOutcome(r, secrets: []), .delivered(ts: "1.2", channel: "C1"))
        XCTAssertEqual(CurlSlackTransport.webhookOutcome(r, secrets: []), .delivered(ts: nil, channel: nil))
        let e = CurlSlackTransport.Response(status: nil, body: [], retryAfter: nil, transportError: "dns_failed", curlCode: 6)
        XCTAssertEqual(CurlSlackTransport.webAPIOutcome(e, secrets: []), .retryable(code: "dns_failed"))
    }

    // MARK: - InMemorySlackTransport

    func testCurlInMemoryTransportRecordsAndScripts() {
        let t = InMemorySlackTransport()
        let hook = Destination(name: "default", kind: .webhook(url: Secret("https://hooks.example/x")))
        let apiDest = Destination(name: "slack-api", kind: .webAPI(token: Secret("t"), baseURL: "https://slack.example/api"))
        XCTAssertEqual(t.send(SlackRequest(destination: apiDest, method: .postMessage, body: apiMessage)),
                       .delivered(ts: "1700000000.000001", channel: "C0ALERTS"))
        XCTAssertEqual(t.send(SlackRequest(destination: hook, method: .webhook, body: message)),
                       .delivered(ts: "1700000000.000002", channel: nil))
        t.enqueue(.rateLimited(retryAfter: 1), .retryable(code: "timeout"))
        t.enqueue([.permanent(code: "channel_not_found", httpStatus: 404)], for: "default")
        XCTAssertEqual(t.send(SlackRequest(destination: hook, method: .webhook, body: message)),
                       .permanent(code: "channel_not_found", httpStatus: 404))
        XCTAssertEqual(t.send(SlackRequest(destination: hook, method: .webhook, body: message)), .rateLimited(retryAfter: 1))
        t.enqueue(steps: [.init(.retryable(code: "http_503"), delay: .milliseconds(50))], for: "slack-api")
        let before = ContinuousClock.now
        XCTAssertEqual(t.send(SlackRequest(destination: apiDest, method: .update, body: apiMessage)), .retryable(code: "http_503"))
        XCTAssertGreaterThanOrEqual(ContinuousClock.now - before, .milliseconds(50))
        XCTAssertEqual(t.pendingSteps, 1)
        let calls = t.calls
        XCTAssertEqual(calls.map(\.destination), ["slack-api", "default", "default", "default", "slack-api"])
        XCTAssertEqual(calls.map(\.method), [.postMessage, .webhook, .webhook, .webhook, .update])
        XCTAssertEqual(calls.map(\.channel), ["C0ALERTS", nil, nil, nil, "C0ALERTS"])
        XCTAssertEqual(calls.map(\.index), [0, 1, 2, 3, 4])
        XCTAssertTrue(zip(calls, calls.dropFirst()).allSatisfy { $0.at <= $1.at })
        XCTAssertEqual(calls[1].body, message)
    }

    func testCurlInMemoryTransportDelayAndConcurrency() {
        let t = InMemorySlackTransport(delay: .milliseconds(30))
        let apiDest = Destination(name: "slack-api", kind: .webAPI(token: Secret("t"), baseURL: "https://slack.example/api"))
        let body = apiMessage
        DispatchQueue.concurrentPerform(iterations: 4) { _ in
            _ = t.send(SlackRequest(destination: apiDest, method: .postMessage, body: body))
        }
        XCTAssertEqual(t.callCount, 4)
        XCTAssertGreaterThan(t.maxConcurrentCalls, 1)
        let ts = t.calls.compactMap { c -> String? in
            if case .delivered(let ts, _) = c.outcome { return ts }
            return nil
        }
        XCTAssertEqual(Set(ts).count, 4)
    }

    // MARK: -

    private func closedPort() throws -> UInt16 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw POSIXFailure("socket") }
        defer { close(fd) }
        var addr = sockaddr_in.loopback(port: 0)
        guard withUnsafePointer(to: &addr, { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }) == 0 else { throw POSIXFailure("bind") }
        return try boundPort(fd)
    }
}

// MARK: - Test plumbing

struct POSIXFailure: Error, CustomStringConvertible {
    var description: String
    init(_ what: String) { description = "\(what): errno \(errno)" }
}

extension sockaddr_in {
    static func loopback(port: UInt16) -> sockaddr_in {
        var a = sockaddr_in()
        a.sin_family = sa_family_t(AF_INET)
        a.sin_port = port.bigEndian
        a.sin_addr.s_addr = UInt32(0x7f00_0001).bigEndian
        return a
    }
}

func boundPort(_ fd: Int32) throws -> UInt16 {
    var addr = sockaddr_in()
    var len = socklen_t(MemoryLayout<sockaddr_in>.size)
    let rc = withUnsafeMutablePointer(to: &addr) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) }
    }
    guard rc == 0 else { throw POSIXFailure("getsockname") }
    return UInt16(bigEndian: addr.sin_port)
}

/// A blocking HTTP/1.1 exchange over a plain socket (`Connection: close`): the fake's control API, independent of
/// the libcurl code under test.
func rawHTTP(port: UInt16, method: String, path: String, body: [UInt8] = []) throws -> (status: Int, body: [UInt8]) {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw POSIXFailure("socket") }
    defer { close(fd) }
    var tv = timeval(tv_sec: 10, tv_usec: 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    var addr = sockaddr_in.loopback(port: port)
    guard withUnsafePointer(to: &addr, { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
        connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }) == 0 else { throw POSIXFailure("connect") }
    let head = "\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        + "Content-Length: \(body.count)\r\nConnection: close\r\n\r\n"
    let request = Array(head.utf8) + body
    var sent = 0
    while sent < request.count {
        let n = request[sent...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        guard n > 0 else { throw POSIXFailure("send") }
        sent += n
    }
    var response: [UInt8] = []
    var buf = [UInt8](repeating: 0, count: 65536)
    while true {
        let n = buf.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        if n < 0 { throw POSIXFailure("recv") }
        if n == 0 { break }
        response += buf[0..<n]
    }
    let sep = Array("\r\n\r\n".utf8)
    guard let split = response.firstRange(of: sep) else { throw POSIXFailure("no header end") }
    let statusLine = String(decoding: response[..<split.lowerBound], as: UTF8.self).split(separator: " ")
    guard statusLine.count >= 2, let status = Int(statusLine[1]) else { throw POSIXFailure("bad status line") }
    return (status, Array(response[split.upperBound...]))
}

/// `Tests/FakeSlack/fake_slack.py` as a subprocess; it exits when its stdin is closed.
final class FakeSlack: @unchecked Sendable {
    let process: Process
    let stdin: Pipe
    let port: UInt16

    static func start(token: String) throws -> FakeSlack {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        let script = root.appendingPathComponent("FakeSlack/fake_slack.py").path
        guard FileManager.default.fileExists(atPath: script) else { throw XCTSkip("no fake Slack at \(script)") }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["python3", script, "--port", "0", "--token", token]
        let stdin = Pipe(), stdout = Pipe()
        p.standardInput = stdin
        p.standardOutput = stdout
        try p.run()
        // First line: {"port": N}
        var line: [UInt8] = []
        let reader = stdout.fileHandleForReading
        while !line.contains(10) {
            let chunk = reader.availableData
            if chunk.isEmpty { break }
            line += chunk
        }
        guard let obj = try? JSONSerialization.jsonObject(with: Data(line)) as? [String: Any],
              let port = obj["port"] as? Int
        else {
            try? stdin.fileHandleForWriting.close()
            p.terminate()
            throw POSIXFailure("fake Slack did not start: \(String(decoding: line, as: UTF8.self))")
        }
        return FakeSlack(process: p, stdin: stdin, port: UInt16(port))
    }

    private init(process: Process, stdin: Pipe, port: UInt16) {
        self.process = process
        self.stdin = stdin
        self.port = port
    }

    /// Adds a script rule: `responses` answer the next requests whose path starts with `path`.
    func script(path: String, _ responses: [[String: Any]]) throws {
        let spec: [String: Any] = ["match": ["path_prefix": path], "responses": responses]
        let body = try JSONSerialization.data(withJSONObject: spec)
        let r = try rawHTTP(port: port, method: "POST", path: "/_control/script", body: Array(body))
        guard r.status == 200 else { throw POSIXFailure("script rejected: \(String(decoding: r.body, as: UTF8.self))") }
    }

    /// Forgets scripts, configuration and recorded requests.
    func reset() throws {
        let r = try rawHTTP(port: port, method: "POST", path: "/_control/reset")
        guard r.status == 200 else { throw POSIXFailure("reset failed") }
    }

    /// The Slack requests the fake received (control calls are not recorded).
    func requests() throws -> [[String: Any]] {
        let r = try rawHTTP(port: port, method: "GET", path: "/_control/requests")
        let obj = try JSONSerialization.jsonObject(with: Data(r.body)) as? [String: Any]
        return obj?["requests"] as? [[String: Any]] ?? []
    }

    func stop() {
        try? stdin.fileHandleForWriting.close()
        process.stop(grace: 5)
    }
}

/// A one-request-per-connection HTTP server on 127.0.0.1 answering with canned raw responses in order, recording
/// each raw request. For answers the fake Slack cannot script.
final class CannedServer: @unchecked Sendable {
    let port: UInt16
    private let fd: Int32
    private let state: Mutex<(next: Int, requests: [String])> = Mutex((0, []))
    private let responses: [String]
    private let done = DispatchSemaphore(value: 0)

    init(responses: [String]) throws {
        self.responses = responses
        let sock = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard sock >= 0 else { throw POSIXFailure("socket") }
        var one: Int32 = 1
        setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var addr = sockaddr_in.loopback(port: 0)
        guard withUnsafePointer(to: &addr, { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            bind(sock, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }) == 0, listen(sock, 16) == 0
        else {
            close(sock)
            throw POSIXFailure("bind/listen")
        }
        do {
            port = try boundPort(sock)
        } catch {
            close(sock)
            throw error
        }
        fd = sock
        start()
    }

    private func start() {
        let thread = Thread { [self] in
            acceptLoop()
            done.signal()
        }
        thread.start()
    }

    var requests: [String] { state.withLock { $0.requests } }

    func stop() {
        shutdown(fd, Int32(SHUT_RDWR))
        close(fd)
        _ = done.wait(timeout: .now() + 5)
    }

    private func acceptLoop() {
        while true {
            let c = accept(fd, nil, nil)
            if c < 0 {
                if errno == EINTR { continue }
                return
            }
            serve(c)
            close(c)
        }
    }

    private func serve(_ c: Int32) {
        var tv = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        var data: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 65536)
        let sep = Array("\r\n\r\n".utf8)
        var need: Int?
        while need == nil || data.count < need! {
            let n = buf.withUnsafeMutableBytes { recv(c, $0.baseAddress, $0.count, 0) }
            if n <= 0 { return }
            data += buf[0..<n]
            if need == nil, let r = data.firstRange(of: sep) {
                let head = String(decoding: data[..<r.lowerBound], as: UTF8.self).lowercased()
                let length = head.split(separator: "\r\n").first { $0.hasPrefix("content-length:") }
                    .flatMap { Int($0.dropFirst("content-length:".count).trimmingCharacters(in: .whitespaces)) } ?? 0
                need = r.upperBound + length
            }
        }
        let text = String(decoding: data, as: UTF8.self)
        let index = state.withLock { s -> Int in
            s.requests.append(text)
            s.next += 1
            return s.next - 1
        }
        let answer = index < responses.count ? responses[index] : "HTTP/1.1 500 Oops\r\nContent-Length: 0\r\n\r\n"
        var out = Array(answer.replacingOccurrences(of: "\r\n\r\n", with: "\r\nConnection: close\r\n\r\n",
                                                     options: [], range: answer.range(of: "\r\n\r\n")).utf8)
        var sent = 0
        while sent < out.count {
            let n = out[sent...].withUnsafeBytes { send(c, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n <= 0 { return }
            sent += n
        }
        out.removeAll()
    }
}
