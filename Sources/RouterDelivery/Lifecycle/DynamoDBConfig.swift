/// Where the Lambda keeps its finding lifecycle state: a DynamoDB table reached over its JSON API (see
/// ``DynamoDBThreadStore``). Credentials are ``Secret``s: printing a config never shows them.
public struct DynamoDBConfig: Sendable, CustomStringConvertible {
    /// The table name (3 to 255 of `A-Z a-z 0-9 _ - .`). Its key schema: `pk` (S) HASH.
    public var table: String
    /// e.g. `eu-west-1`: the SigV4 signing region.
    public var region: String
    /// `https://dynamodb.<region>.amazonaws.com` unless overridden (moto_server, a VPC endpoint); no trailing `/`.
    public var endpoint: String
    public var accessKey: Secret
    public var secretKey: Secret
    /// The Lambda's temporary credentials come with one (sent as `X-Amz-Security-Token`).
    public var sessionToken: Secret?

    /// Bounds of every request: connecting, and the whole exchange (seconds).
    public var connectTimeout: Double = 2
    public var totalTimeout: Double = 5

    public init(
        table: String, region: String, endpoint: String? = nil, accessKey: Secret, secretKey: Secret,
        sessionToken: Secret? = nil
    ) {
        self.table = table
        self.region = region
        var base = endpoint.flatMap { $0.isEmpty ? nil : $0 } ?? "https://dynamodb.\(region).amazonaws.com"
        while base.hasSuffix("/") { base.removeLast() }
        self.endpoint = base
        self.accessKey = accessKey
        self.secretKey = secretKey
        self.sessionToken = sessionToken
    }

    public var description: String {
        "DynamoDB table \(table) in \(region) at \(endpoint)"
    }

    /// The configuration from the environment:
    /// - `ROUTER_STATE_TABLE` (unset or empty: nil, no DynamoDB state),
    /// - `AWS_REGION` (else `AWS_DEFAULT_REGION`),
    /// - `ROUTER_DYNAMODB_ENDPOINT` (optional override),
    /// - `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN` (optional), as the Lambda runtime sets them.
    ///
    /// A failure names what is missing or wrong, never a credential's value.
    public static func fromEnvironment(_ env: [String: String]) -> Result<DynamoDBConfig, StateStoreError>? {
        func value(_ name: String) -> String? {
            guard let v = env[name], !v.isEmpty else { return nil }
            return v
        }
        guard let table = value("ROUTER_STATE_TABLE") else { return nil }
        if let problem = tableNameProblem(table) {
            return .failure(StateStoreError("ROUTER_STATE_TABLE: \(problem)"))
        }
        guard let region = value("AWS_REGION") ?? value("AWS_DEFAULT_REGION") else {
            return .failure(
                StateStoreError(
                    "ROUTER_STATE_TABLE is set (\(table)) but no region is: set AWS_REGION (or AWS_DEFAULT_REGION)"))
        }
        guard isValidRegion(region) else {
            return .failure(StateStoreError("AWS_REGION: not a region name (expected e.g. eu-west-1)"))
        }
        let missing = ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"].filter { value($0) == nil }
        guard missing.isEmpty, let accessKey = value("AWS_ACCESS_KEY_ID"),
            let secretKey = value("AWS_SECRET_ACCESS_KEY")
        else {
            return .failure(
                StateStoreError(
                    "ROUTER_STATE_TABLE is set (\(table)) but the AWS credentials are not: missing "
                        + missing.joined(separator: " and ")))
        }
        if accessKey.contains(":") {
            return .failure(StateStoreError("AWS_ACCESS_KEY_ID: must not contain ':'"))
        }
        let endpoint = value("ROUTER_DYNAMODB_ENDPOINT")
        if let endpoint, !(endpoint.hasPrefix("https://") || endpoint.hasPrefix("http://")) {
            return .failure(StateStoreError("ROUTER_DYNAMODB_ENDPOINT: expected an http:// or https:// URL"))
        }
        return .success(
            DynamoDBConfig(
                table: table, region: region, endpoint: endpoint, accessKey: Secret(accessKey),
                secretKey: Secret(secretKey), sessionToken: value("AWS_SESSION_TOKEN").map(Secret.init)))
    }

    /// Why `name` is not a DynamoDB table name, or nil when it is one.
    static func tableNameProblem(_ name: String) -> String? {
        guard (3...255).contains(name.utf8.count) else { return "a table name has 3 to 255 characters" }
        let ok = name.utf8.allSatisfy { c in
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "_"), UInt8(ascii: "-"), UInt8(ascii: "."):
                return true
            default:
                return false
            }
        }
        return ok ? nil : "a table name has only letters, digits, '_', '-' and '.'"
    }

    /// Lower-case letters, digits and '-' (it goes into the URL and the SigV4 provider string).
    static func isValidRegion(_ region: String) -> Bool {
        guard !region.isEmpty, region.utf8.count <= 64 else { return false }
        return region.utf8.allSatisfy { c in
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "-"):
                return true
            default: return false
            }
        }
    }
}
