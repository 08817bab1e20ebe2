import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import RouterJSON

/// The HTTP surface: `POST /events`, `POST /slack/actions`, `GET /healthz`, `GET /readyz`, `GET /metrics`.
struct HTTPRoutes: Sendable {
    let events: EventsHandler
    /// nil when buttons are not configured (no bot token or no signing secret).
    let actions: SlackActionsHandler?
    let auth: APIAuth
    let maxBody: Int
    let metrics: ServerMetrics
    /// Renders `/metrics`.
    let renderMetrics: @Sendable () -> [UInt8]
    /// Rules loaded and queue writable.
    let isReady: @Sendable () -> (Bool, String)

    static let snsTypeHeader = HTTPField.Name("x-amz-sns-message-type")!
    static let slackTimestamp = HTTPField.Name("x-slack-request-timestamp")!
    static let slackSignature = HTTPField.Name("x-slack-signature")!

    func build() -> Router<BasicRequestContext> {
        let router = Router()
        router.add(middleware: StatusCounter(metrics: metrics))
        router.get("/healthz") { _, _ in Self.json(200, ["status": "alive"]) }
        router.get("/readyz") { _, _ in
            let (ready, why) = isReady()
            return Self.json(ready ? 200 : 503, ["status": .string(ready ? "ready" : "not ready"), "detail": .string(why)])
        }
        router.get("/metrics") { _, _ in
            var headers = HTTPFields()
            headers[.contentType] = "text/plain; version=0.0.4; charset=utf-8"
            return Response(
                status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: renderMetrics())))
        }
        router.post("/events") { request, _ in await postEvents(request) }
        router.post("/slack/actions") { request, _ in await postActions(request) }
        return router
    }

    func postActions(_ request: Request) async -> Response {
        guard let actions else {
            return Self.json(404, ["error": "Slack actions are not enabled here: set SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET"])
        }
        if let length = request.headers[.contentLength], let n = Int(length), n > maxBody {
            return Self.tooLarge(maxBody)
        }
        let buffer: ByteBuffer
        do {
            buffer = try await request.body.collect(upTo: maxBody)
        } catch {
            return Self.tooLarge(maxBody)
        }
        let answer = actions.handle(
            body: Array(buffer.readableBytesView), timestamp: request.headers[Self.slackTimestamp],
            signature: request.headers[Self.slackSignature])
        if let error = answer.error { return Self.json(answer.status, ["error": .string(error)]) }
        return Response(status: HTTPResponse.Status(code: answer.status))
    }

    func postEvents(_ request: Request) async -> Response {
        let apiKey = auth.headerName.flatMap { HTTPField.Name($0) }.flatMap { request.headers[$0] }
        guard auth.allows(authorization: request.headers[.authorization], apiKeyHeaderValue: apiKey) else {
            var headers = HTTPFields()
            headers[.wwwAuthenticate] = "Bearer realm=\"router\", Basic realm=\"router\""
            return Self.json(401, ["error": "missing or wrong API credential"], headers: headers)
        }
        if let length = request.headers[.contentLength], let n = Int(length), n > maxBody {
            return Self.tooLarge(maxBody)
        }
        let buffer: ByteBuffer
        do {
            buffer = try await request.body.collect(upTo: maxBody)
        } catch let e as HTTPResponseError where e.status == .contentTooLarge {
            return Self.tooLarge(maxBody)
        } catch {
            return Self.json(400, ["error": .string("cannot read the request body: \(error)")])
        }
        let bytes = Array(buffer.readableBytesView)
        let reply = await events.handle(body: bytes, snsMessageType: request.headers[Self.snsTypeHeader])
        return Self.json(reply.status, reply.body)
    }

    static func tooLarge(_ maxBody: Int) -> Response {
        json(413, ["error": .string("request body is larger than the limit of \(maxBody) bytes")])
    }

    static func json(_ status: Int, _ body: JSONValue, headers: HTTPFields = HTTPFields()) -> Response {
        var headers = headers
        headers[.contentType] = "application/json"
        var bytes = body.serializedBytes()
        bytes.append(0x0A)
        return Response(
            status: HTTPResponse.Status(code: status), headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
    }
}

/// Counts every answer by status (`router_http_requests_total{status}`), errors thrown by the router included.
struct StatusCounter<Context: RequestContext>: RouterMiddleware {
    let metrics: ServerMetrics

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws
        -> Response
    {
        do {
            let response = try await next(request, context)
            metrics.httpRequest(status: response.status.code)
            return response
        } catch let e as HTTPResponseError {
            metrics.httpRequest(status: e.status.code)
            throw e
        } catch {
            metrics.httpRequest(status: 500)
            throw error
        }
    }
}
