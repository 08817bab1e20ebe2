import RouterJSON

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// A ``ThreadStore`` in a DynamoDB table, for the Lambda (whose instances share no memory): DynamoDB's JSON API over
/// libcurl, signed with libcurl's own SigV4 (`CURLOPT_AWS_SIGV4`), no AWS SDK. The item layout is ``DynamoDBItem``'s.
///
/// - `load`: `GetItem` with `ConsistentRead`.
/// - `insert`: `PutItem` if `attribute_not_exists(pk)`; when that condition fails, the stored item comes back with the
///   error (`ReturnValuesOnConditionCheckFailure: ALL_OLD`), or from a consistent read when it does not.
/// - `replace`: `PutItem` if `version = expectedVersion`.
///
/// Thread-safe: each call borrows one of a few libcurl clients (kept for keep-alive). Every failure is a
/// ``StateStoreError`` naming the table, the operation and DynamoDB's error type (or the HTTP status, or the
/// transport's short error name); it never holds a credential, a header or DynamoDB's free-text message (a signature
/// error's message can quote the signed headers, session token included).
///
/// Requests that certainly changed nothing (throttling, refused connections) are retried twice after a short pause,
/// reads also after a 5xx or a broken connection; a write whose answer was lost is not (its condition would then
/// fail against its own write), nor anything that timed out (a call takes at most `totalTimeout` plus ~0.4 s).
public final class DynamoDBThreadStore: ThreadStore {
    public let config: DynamoDBConfig
    private let url: String
    private let aws: AWSClient
    /// Pause before retry `n` (1, 2): seconds.
    private let pause: @Sendable (Int) -> Void

    /// `maxIdleClients`: connections kept open between calls (one per concurrent caller is ideal).
    public convenience init(config: DynamoDBConfig, maxIdleClients: Int = 4) {
        self.init(config: config, maxIdleClients: maxIdleClients) { attempt in
            let base = attempt == 1 ? 0.05 : 0.2
            let seconds = base * Double.random(in: 0.5...1.5)
            var ts = timespec(tv_sec: 0, tv_nsec: Int(seconds * 1e9))
            _ = nanosleep(&ts, nil)
        }
    }

    init(config: DynamoDBConfig, maxIdleClients: Int, pause: @escaping @Sendable (Int) -> Void) {
        self.config = config
        self.url = config.endpoint + "/"
        self.aws = AWSClient(
            service: "dynamodb",
            credentials: AWSCredentials(
                accessKey: config.accessKey, secretKey: config.secretKey, sessionToken: config.sessionToken),
            connectTimeout: config.connectTimeout, totalTimeout: config.totalTimeout, maxIdleClients: max(0, maxIdleClients))
        self.pause = pause
    }

    public func load(findingId: String, lane: String) throws(StateStoreError) -> ThreadRecord? {
        try checkKey(findingId: findingId, lane: lane, operation: "GetItem")
        return try get(findingId: findingId, lane: lane)
    }

    public func insert(_ record: ThreadRecord) throws(StateStoreError) -> ThreadRecord? {
        try checkKey(findingId: record.findingId, lane: record.lane, operation: "PutItem")
        guard let item = DynamoDBItem.item(record, version: 1) else { throw badNumber("PutItem") }
        let request: JSONValue = [
            "TableName": .string(config.table),
            "Item": .object(item),
            "ConditionExpression": "attribute_not_exists(#pk)",
            "ExpressionAttributeNames": ["#pk": "pk"],
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        ]
        // An item that expires between the failed put and the read: try the put again (twice at most).
        for _ in 0..<3 {
            switch try call("PutItem", request, idempotent: false) {
            case .done:
                return nil
            case .conditionFailed(let body):
                if let old = body["Item"], old.objectValue?.isEmpty == false {
                    return try decode(old, "PutItem", findingId: record.findingId, lane: record.lane)
                }
                if let stored = try get(findingId: record.findingId, lane: record.lane) { return stored }
            }
        }
        throw error("PutItem", "the item kept appearing and disappearing")
    }

    public func replace(_ record: ThreadRecord, expectedVersion: Int64) throws(StateStoreError) -> Bool {
        try checkKey(findingId: record.findingId, lane: record.lane, operation: "PutItem")
        guard expectedVersion < Int64.max, let item = DynamoDBItem.item(record, version: expectedVersion + 1) else {
            throw badNumber("PutItem")
        }
        let request: JSONValue = [
            "TableName": .string(config.table),
            "Item": .object(item),
            "ConditionExpression": "#v = :v",
            "ExpressionAttributeNames": ["#v": "version"],
            "ExpressionAttributeValues": [":v": ["N": .string(String(expectedVersion))]],
        ]
        switch try call("PutItem", request, idempotent: false) {
        case .done: return true
        case .conditionFailed: return false
        }
    }

    /// Records a click as an item of its own (`pk` `click|<time>|<finding>|<user>`, `kind` `click`), expiring with the
    /// findings' state.
    public func recordClick(_ entry: ActionLogEntry) throws(StateStoreError) {
        var item = JSONObject()
        func s(_ v: String) -> JSONValue { ["S": .string(v)] }
        item["pk"] = s("click|\(entry.at)|\(entry.findingId)|\(entry.userID)")
        item["kind"] = s("click")
        for (name, value) in entry.json.objectValue ?? JSONObject() {
            switch value {
            case .string(let v): item[name] = s(v)
            case .double(let v) where v.isFinite: item[name] = ["N": .string(String(v))]
            default: break
            }
        }
        item["expires_at"] = ["N": .string(String(Int64((entry.at + DynamoDBItem.timeToLive).rounded(.down))))]
        let request: JSONValue = ["TableName": .string(config.table), "Item": .object(item)]
        _ = try call("PutItem", request, idempotent: false)
    }

    // MARK: - Calls

    private func get(findingId: String, lane: String) throws(StateStoreError) -> ThreadRecord? {
        let request: JSONValue = [
            "TableName": .string(config.table),
            "Key": DynamoDBItem.key(findingId: findingId, lane: lane),
            "ConsistentRead": true,
        ]
        guard case .done(let body) = try call("GetItem", request, idempotent: true) else {
            throw error("GetItem", "unexpected ConditionalCheckFailedException")
        }
        guard let item = body["Item"] else { return nil }
        return try decode(item, "GetItem", findingId: findingId, lane: lane)
    }

    enum Outcome {
        case done(JSONValue)
        /// `ConditionalCheckFailedException`, with the error body (which may hold the stored `Item`).
        case conditionFailed(JSONValue)
    }

    /// One DynamoDB API call (`operation`: `GetItem`, `PutItem`, `CreateTable`, ...), retried when it certainly
    /// changed nothing (throttled, connection refused) or, when `idempotent`, after any transport or server error.
    func call(_ operation: String, _ request: JSONValue, idempotent: Bool) throws(StateStoreError) -> Outcome {
        var attempt = 0
        while true {
            attempt += 1
            switch once(operation, request.serializedBytes()) {
            case .success(let outcome):
                return outcome
            case .failure(let failure):
                guard attempt < 3, failure.retryable || (idempotent && failure.retryableIfIdempotent) else {
                    throw error(operation, failure.text)
                }
                pause(attempt)
            }
        }
    }

    private struct Failure: Error {
        var text: String
        /// Certainly not applied: throttled, or no connection made.
        var retryable = false
        /// Outcome unknown (timeout, 5xx): only a read may be repeated.
        var retryableIfIdempotent = false
    }

    private func once(_ operation: String, _ body: [UInt8]) -> Result<Outcome, Failure> {
        let request = HTTPRequest(
            method: .post, url: url,
            headers: ["Content-Type: application/x-amz-json-1.0", "X-Amz-Target: DynamoDB_20120810.\(operation)"],
            body: body)
        switch aws.send(request, region: config.region) {
        case .failure(let e):
            // A timeout is not retried at all: three of them would hold a Lambda invocation for 15 s.
            let neverSent = e.name == "connect_failed" || e.name == "dns_failed" || e.name == "proxy_dns_failed"
            return .failure(Failure(text: e.name, retryable: neverSent, retryableIfIdempotent: e.name != "timeout"))
        case .success(let response) where (200..<300).contains(response.status):
            if response.bodyTruncated { return .failure(Failure(text: "answer too large")) }
            guard let json = try? JSONValue.parse(response.body), json.objectValue != nil else {
                return .failure(Failure(text: "answered HTTP \(response.status) without a JSON object"))
            }
            return .success(.done(json))
        case .success(let response):
            let json = try? JSONValue.parse(response.body)
            let type = AWSClient.errorType(json?["__type"]?.stringValue ?? response.header("x-amzn-errortype"))
            if type == "ConditionalCheckFailedException" {
                return .success(.conditionFailed(json ?? .null))
            }
            let throttled = [
                "ThrottlingException", "ProvisionedThroughputExceededException", "RequestLimitExceeded",
            ].contains(type)
            let text = type.map { "\($0) (HTTP \(response.status))" } ?? "HTTP \(response.status)"
            return .failure(Failure(text: text, retryable: throttled, retryableIfIdempotent: response.status >= 500))
        }
    }

    // MARK: - Errors

    private func error(_ operation: String, _ text: String) -> StateStoreError {
        var secrets = [config.accessKey, config.secretKey]
        if let token = config.sessionToken { secrets.append(token) }
        return StateStoreError(Secret.redact("DynamoDB table \(config.table): \(operation) failed: \(text)", secrets))
    }

    private func badNumber(_ operation: String) -> StateStoreError {
        error(operation, "a time or version of the record cannot be stored (not finite or out of range)")
    }

    /// The record in a stored `item`, which must be the one of (`findingId`, `lane`).
    private func decode(_ item: JSONValue, _ operation: String, findingId: String, lane: String)
        throws(StateStoreError) -> ThreadRecord
    {
        switch DynamoDBItem.record(item) {
        case .success(let r) where r.findingId == findingId && r.lane == lane:
            return r
        case .success:
            throw error(operation, "the stored item belongs to another finding or lane")
        case .failure(let m):
            throw error(operation, "the stored item has no valid '\(m.attribute)'")
        }
    }

    private func checkKey(findingId: String, lane: String, operation: String) throws(StateStoreError) {
        if DynamoDBItem.partitionKey(findingId: findingId, lane: lane).utf8.count > DynamoDBItem.maxKeyBytes {
            throw error(operation, "finding id and lane are longer than a key can be (2048 bytes)")
        }
    }
}
