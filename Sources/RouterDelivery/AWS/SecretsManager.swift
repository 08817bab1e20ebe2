import RouterJSON
import Synchronization

/// A Secrets Manager secret named by its ARN, optionally with a JSON key (ECS style):
/// `arn:aws:secretsmanager:eu-west-1:123456789012:secret:slack-AbCdEf` (the secret string is the value) or
/// `arn:aws:secretsmanager:eu-west-1:123456789012:secret:slack-AbCdEf:webhook` (the secret string is a JSON object;
/// the value is its `webhook` member).
public struct SecretReference: Sendable, Equatable, CustomStringConvertible {
    /// The secret's ARN, without the key.
    public var arn: String
    public var key: String?
    /// The region in the ARN: where the secret is read.
    public var region: String

    public init?(parsing text: String) {
        let parts = text.split(separator: ":", maxSplits: 7, omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 7 || parts.count == 8, parts[0] == "arn", parts[1].hasPrefix("aws"), parts[2] == "secretsmanager",
            !parts[3].isEmpty, parts[4].count == 12, parts[4].allSatisfy(\.isNumber), parts[5] == "secret", !parts[6].isEmpty
        else { return nil }
        arn = parts[0..<7].joined(separator: ":")
        key = parts.count == 8 && !parts[7].isEmpty ? parts[7] : nil
        region = parts[3]
    }

    public var description: String { arn + (key.map { ":" + $0 } ?? "") }
}

/// Reads secret values: Secrets Manager's `GetSecretValue` over ``AWSClient``, or memory for tests.
public protocol SecretsReader: Sendable {
    func read(_ secret: SecretReference) -> Result<String, AWSCallError>
}

/// `GetSecretValue` (JSON 1.1 API), signed for the secret's region; `ROUTER_SECRETSMANAGER_ENDPOINT` overrides the
/// endpoint (tests). A JSON key takes that member of the secret string.
public final class CurlSecretsManager: SecretsReader {
    private let client: AWSClient
    private let endpoint: String?

    public init(credentials: AWSCredentials, endpoint: String? = nil) {
        client = AWSClient(service: "secretsmanager", credentials: credentials)
        var e = endpoint.flatMap { $0.isEmpty ? nil : $0 }
        while e?.hasSuffix("/") == true { e?.removeLast() }
        self.endpoint = e
    }

    public func read(_ secret: SecretReference) -> Result<String, AWSCallError> {
        let url = (endpoint ?? "https://secretsmanager.\(secret.region).amazonaws.com" + (secret.region.hasPrefix("cn-") ? ".cn" : "")) + "/"
        let answer = client.call(
            region: secret.region, method: .post, url: url,
            headers: ["Content-Type: application/x-amz-json-1.1", "X-Amz-Target: secretsmanager.GetSecretValue"],
            body: ["SecretId": .string(secret.arn)])
        return answer.flatMap { value in
            guard let string = value["SecretString"]?.stringValue else {
                return .failure(AWSCallError(code: "NoSecretString", message: "the secret holds no string (binary secrets are not supported)"))
            }
            return Self.pick(string, key: secret.key)
        }
    }

    /// The secret string, or its member `key` when it is a JSON object.
    static func pick(_ string: String, key: String?) -> Result<String, AWSCallError> {
        guard let key else { return .success(string) }
        guard let object = try? JSONValue.parse(string), object.objectValue != nil else {
            return .failure(AWSCallError(code: "NotJSON", message: "the secret is not a JSON object, so it has no key '\(key)'"))
        }
        guard let value = object[key]?.stringValue else {
            return .failure(AWSCallError(code: "NoSuchKey", message: "the secret's JSON object has no string member '\(key)'"))
        }
        return .success(value)
    }
}

/// Secrets in memory, for tests: by ARN (the secret string); counts the reads.
public final class InMemorySecrets: SecretsReader, @unchecked Sendable {
    private let values: Mutex<[String: String]>
    private let reads = Mutex(0)

    public init(_ values: [String: String]) { self.values = Mutex(values) }

    public var readCount: Int { reads.withLock { $0 } }

    public func read(_ secret: SecretReference) -> Result<String, AWSCallError> {
        reads.withLock { $0 += 1 }
        guard let s = values.withLock({ $0[secret.arn] }) else {
            return .failure(AWSCallError(code: "ResourceNotFoundException", message: "Secrets Manager can't find the specified secret.", httpStatus: 400))
        }
        return CurlSecretsManager.pick(s, key: secret.key)
    }
}

/// The Slack secrets a process reads at start from Secrets Manager: `SLACK_WEBHOOK_URL_SECRET_ARN`,
/// `SLACK_BOT_TOKEN_SECRET_ARN`, `SLACK_SIGNING_SECRET_ARN` and `SLACK_WEBHOOK_URL_<NAME>_SECRET_ARN` give the values
/// of `SLACK_WEBHOOK_URL`, `SLACK_BOT_TOKEN`, `SLACK_SIGNING_SECRET` and `SLACK_WEBHOOK_URL_<NAME>`. The values are kept
/// in the process's memory only (never set in its environment).
public enum SlackSecrets {
    public static let suffix = "_SECRET_ARN"

    /// The variable whose value the reference variable `name` gives (`SLACK_SIGNING_SECRET_ARN` ->
    /// `SLACK_SIGNING_SECRET`, `SLACK_WEBHOOK_URL_TEAM_A_SECRET_ARN` -> `SLACK_WEBHOOK_URL_TEAM_A`), nil for any other.
    public static func target(of name: String) -> String? {
        if name == "SLACK_SIGNING_SECRET_ARN" { return "SLACK_SIGNING_SECRET" }
        guard name.hasSuffix(suffix) else { return nil }
        let base = String(name.dropLast(suffix.count))
        return base == "SLACK_BOT_TOKEN" || base == "SLACK_WEBHOOK_URL" || base.hasPrefix("SLACK_WEBHOOK_URL_") ? base : nil
    }

    /// The reference variable of `target` (the inverse of ``target(of:)``).
    public static func reference(of target: String) -> String {
        target == "SLACK_SIGNING_SECRET" ? "SLACK_SIGNING_SECRET_ARN" : target + suffix
    }

    /// Whether `name` is one of the variables above (`SLACK_WEBHOOK_URL_TEAM_A_SECRET_ARN`, ...).
    public static func isReferenceVariable(_ name: String) -> Bool { target(of: name) != nil }

    public struct Failure: Error, Sendable, CustomStringConvertible {
        public var variable: String
        public var reference: String
        public var error: AWSCallError
        public var description: String { "cannot read the secret \(reference) (\(variable)): \(error)" }
    }

    /// The variables the references name, with their values read (`SLACK_BOT_TOKEN` -> the token, ...); the first
    /// failure (a malformed ARN, or AWS's error code and message) otherwise.
    public static func resolve(_ env: [String: String], reader: SecretsReader?) -> Result<[String: String], Failure> {
        var out: [String: String] = [:]
        for (name, value) in env.sorted(by: { $0.key < $1.key }) where isReferenceVariable(name) && !value.isEmpty {
            guard let reference = SecretReference(parsing: value) else {
                return .failure(
                    Failure(
                        variable: name, reference: String(value.prefix(200)),
                        error: AWSCallError(code: "InvalidARN", message: "expected arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME[:json-key]")))
            }
            guard let reader else {
                return .failure(
                    Failure(variable: name, reference: reference.description,
                            error: AWSCallError(code: "MissingCredentials", message: "no AWS credentials (AWS_ACCESS_KEY_ID) to read it with")))
            }
            switch reader.read(reference) {
            case .success(let v): out[target(of: name)!] = v
            case .failure(let e): return .failure(Failure(variable: name, reference: reference.description, error: e))
            }
        }
        return .success(out)
    }

    /// The reader for this environment: Secrets Manager with the process's AWS credentials (nil without them).
    public static func reader(_ env: [String: String]) -> SecretsReader? {
        guard case .success(let credentials)? = AWSCredentials.fromEnvironment(env) else { return nil }
        return CurlSecretsManager(credentials: credentials, endpoint: env["ROUTER_SECRETSMANAGER_ENDPOINT"])
    }

    /// `env` with the secrets' values in place of their references (a copy, for building the configuration).
    public static func environment(_ env: [String: String]) -> Result<[String: String], Failure> {
        guard env.keys.contains(where: isReferenceVariable) else { return .success(env) }
        return resolve(env, reader: reader(env)).map { values in env.merging(values) { _, new in new } }
    }
}

/// Reads a destination's secret again when Slack says it is no longer valid (`invalid_auth`, `token_revoked`,
/// `no_service`): a rotated secret then takes effect without a restart. Only destinations whose secret came from
/// Secrets Manager can be refreshed.
public final class SecretRefresher: Sendable {
    private let env: [String: String]
    private let reader: SecretsReader

    public init(environment: [String: String], reader: SecretsReader) {
        self.env = environment
        self.reader = reader
    }

    /// The destination stored under `name` with its secret read again; nil when it has no reference or the value
    /// did not change (or cannot be read).
    public func refreshed(_ destination: Destination) -> Destination? {
        let variable: String
        switch destination.kind {
        case .webAPI: variable = "SLACK_BOT_TOKEN"
        case .webhook:
            variable = destination.name == "default" ? "SLACK_WEBHOOK_URL" : "SLACK_WEBHOOK_URL_" + DestinationSet.normalise(destination.name)
        }
        guard let text = env[SlackSecrets.reference(of: variable)], let reference = SecretReference(parsing: text),
            case .success(let value) = reader.read(reference)
        else { return nil }
        switch destination.kind {
        case .webAPI(let token, let base):
            return value == token.reveal() ? nil : Destination(name: destination.name, kind: .webAPI(token: Secret(value), baseURL: base))
        case .webhook(let url):
            return value == url.reveal() ? nil : Destination(name: destination.name, kind: .webhook(url: Secret(value)))
        }
    }
}
