import RouterDelivery
import RouterJSON

/// A Lambda function URL request (payload format 2.0): the method, lower-cased headers and the raw body bytes.
public struct FunctionURLRequest: Sendable {
    public var method: String
    public var path: String
    public var headers: [String: String]
    public var body: [UInt8]

    /// nil unless `event` is a function URL (or API Gateway HTTP API) request: `version` 2.0 with
    /// `requestContext.http`.
    public static func from(_ event: JSONNode) -> FunctionURLRequest? {
        guard event.kind == .object, event["version"]?.string == "2.0", let http = event["requestContext", "http"],
            http.kind == .object
        else { return nil }
        var headers: [String: String] = [:]
        if let h = event["headers"], h.kind == .object {
            for (k, v) in h.members { if let s = v.string { headers[k.lowercased()] = s } }
        }
        var body: [UInt8] = []
        if let text = event["body"]?.string {
            if event["isBase64Encoded"]?.bool == true {
                guard let decoded = Base64.decode(text) else { return nil }
                body = decoded
            } else {
                body = Array(text.utf8)
            }
        }
        return FunctionURLRequest(
            method: http["method"]?.string ?? "", path: event["rawPath"]?.string ?? http["path"]?.string ?? "/",
            headers: headers, body: body)
    }

    /// The function URL answer: `{"statusCode": ..., "headers": {...}, "body": "..."}`.
    public static func response(status: Int, body: JSONValue? = nil) -> [UInt8] {
        var o: JSONObject = ["statusCode": .int(Int64(status))]
        if let body {
            o["headers"] = ["content-type": "application/json"]
            o["body"] = .string(body.serialized())
        }
        return JSONValue.object(o).serializedBytes()
    }
}

/// The click endpoint of both runtimes, before any work: verify, then parse. `accept` returns the click to carry out
/// after answering (nil: answer only), and the answer.
public enum ClickEndpoint {
    public struct Answer: Sendable, Equatable {
        public var status: Int
        /// `{"error": ...}` for refusals; nil: an empty 200.
        public var error: String?
    }

    public static func accept(
        body: [UInt8], timestamp: String?, signature: String?, secret: Secret, now: Double
    ) -> (Answer, SlackInteraction?) {
        if case .failure(let f) = SlackSignature.verify(body: body, timestamp: timestamp, signature: signature, secret: secret, now: now) {
            return (Answer(status: 401, error: "the Slack request signature does not verify: \(f)"), nil)
        }
        switch SlackInteraction.parse(formBody: body) {
        case .success(let click): return (Answer(status: 200, error: nil), click)
        case .failure(.notBlockActions), .failure(.notARouterButton):
            // Something else the app received (a shortcut, another app's button): nothing to do, and no error for Slack.
            return (Answer(status: 200, error: nil), nil)
        case .failure(let e):
            return (Answer(status: 400, error: "not a Slack interaction the router understands: \(e)"), nil)
        }
    }
}
