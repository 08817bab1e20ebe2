import Foundation
import RouterJSON
import RouterTestSupport
import XCTest

@testable import RouterActions
import RouterDelivery

/// Tests/FakeGuardDuty/fake_guardduty.py on loopback (botocore from moto's venv checks every signature).
final class FakeGuardDuty {
    let helper: HelperProcess
    var port: String { helper.port }
    var endpoint: String { "http://127.0.0.1:\(port)" }
    static let accessKey = "AKIDGUARDDUTYTEST"
    static let secretKey = "guardduty-secret-never-logged"
    static let detector = "d0123456789abcdef0123456789abcdef"

    init() throws {
        helper = try HelperProcess(
            try MotoServer.python(),
            [Paths.root.appendingPathComponent("Tests/FakeGuardDuty/fake_guardduty.py").path, Self.accessKey, Self.secretKey, Self.detector],
            waitFor: #"PORT (\d+)"#)
    }

    deinit { helper.terminate() }

    func get(_ path: String) throws -> JSONValue {
        let r = try HTTPTestClient.request(port: Int(port)!, "GET", path, headers: [:], body: nil, contentLength: true, timeout: 10)
        return try JSONValue.parse(r.body)
    }

    func post(_ path: String, _ body: JSONValue) throws {
        _ = try HTTPTestClient.request(
            port: Int(port)!, "POST", path, headers: ["Content-Type": "application/json"], body: body.serializedBytes(),
            contentLength: true, timeout: 10)
    }

    /// Every signed request it received.
    func log() throws -> [JSONValue] { try get("/_log").arrayValue ?? [] }
    func calls(_ suffix: String) throws -> [JSONValue] { try log().filter { ($0["path"]?.stringValue ?? "").hasSuffix(suffix) } }
    func fail(_ operation: String, status: Int, type: String, message: String) throws {
        try post("/_fail", ["operation": .string(operation), "status": .int(Int64(status)), "type": .string(type), "message": .string(message)])
    }
    func clearFailure(_ operation: String) throws { try post("/_fail", ["operation": .string(operation), "clear": true]) }
    func delay(_ seconds: Double) throws { try post("/_fail", ["delay": .double(seconds)]) }
}

/// Clicks as Slack sends them: the block_actions payload of one of a posted message's buttons, form-encoded and signed.
enum SlackClicks {
    static let signingSecret = "test-signing-secret-never-logged"

    /// The rules of the actions tests: buttons on every delivery to #sec; alice and bob (team T1) may do anything,
    /// `UBLOCKED` nothing, and nobody outside T1.
    static let rules = ##"""
        return {
          route = function(f)
            return { channel = "#sec", actions = { "ack", "archive", "useful", "not_useful", "suppress" } }
          end,
          permit = function(action, user, f, ctx)
            if user.id == "UBLOCKED" then return false, "blocked users may not act" end
            if user.team == "T1" then return true end
          end,
        }
        """##

    /// The button `actionID` of the message `message` (as the fake Slack keeps it), clicked by `user`.
    static func payload(message: JSONValue, actionID: String, user: String, team: String = "T1", responseURL: String)
        throws -> JSONValue
    {
        let blocks = (message["blocks"]?.arrayValue ?? []) + (message["attachments"]?.arrayValue ?? []).flatMap { $0["blocks"]?.arrayValue ?? [] }
        let actions = try XCTUnwrap(blocks.first { $0["block_id"]?.stringValue == "router.actions" }, "no buttons in \(message)")
        var button = try XCTUnwrap(
            actions["elements"]?.arrayValue?.first { $0["action_id"]?.stringValue == actionID }, "no \(actionID) button")
        button["block_id"] = "router.actions"
        button["action_ts"] = "1700000001.000100"
        let channel = message["channel"]?.stringValue ?? ""
        let ts = message["ts"]?.stringValue ?? ""
        return [
            "type": "block_actions",
            "user": ["id": .string(user), "username": .string(user.lowercased()), "name": .string(user.lowercased()), "team_id": .string(team)],
            "api_app_id": "A0ROUTER", "token": "verification-token-unused",
            "container": ["type": "message", "message_ts": .string(ts), "channel_id": .string(channel), "is_ephemeral": false],
            "trigger_id": "1.2.3", "team": ["id": .string(team), "domain": "example"],
            "channel": ["id": .string(channel), "name": "sec"],
            "message": message, "response_url": .string(responseURL), "actions": [button],
        ]
    }

    /// The form body and headers of a click, signed now (or at `timestamp`) with `secret`.
    static func request(_ payload: JSONValue, secret: String = signingSecret, timestamp: Int? = nil) -> (body: [UInt8], headers: [String: String]) {
        let body = FormBody.encode([("payload", payload.serialized())])
        let ts = String(timestamp ?? Int(Date().timeIntervalSince1970))
        let signature = SlackSignature.sign(body: body, timestamp: ts, secret: Secret(secret))
        return (body, [
            "Content-Type": "application/x-www-form-urlencoded", "X-Slack-Request-Timestamp": ts, "X-Slack-Signature": signature,
        ])
    }
}
