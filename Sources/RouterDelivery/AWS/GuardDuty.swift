import RouterFinding
import RouterJSON
import Synchronization

/// What became of a CreateFilter.
public enum FilterOutcome: Sendable, Equatable {
    case created
    /// A filter of that name exists already (the same click twice): nothing new.
    case alreadyExists
}

/// The boundary to GuardDuty for actions on findings: plain HTTPS JSON with SigV4 (``CurlGuardDuty``), or memory
/// (``InMemoryGuardDuty``) for tests. Every call is for the detector of one region.
public protocol GuardDutyAPI: Sendable {
    /// The detector of `region` in the account the router runs in (`ListDetectors`, cached), or the configured one.
    func detectorId(region: String) -> Result<String, AWSCallError>
    func archive(region: String, detectorId: String, findingIds: [String]) -> Result<Void, AWSCallError>
    func unarchive(region: String, detectorId: String, findingIds: [String]) -> Result<Void, AWSCallError>
    func feedback(region: String, detectorId: String, findingIds: [String], useful: Bool, comments: String?)
        -> Result<Void, AWSCallError>
    /// A suppression rule: a filter with `action: ARCHIVE`, named after its criteria (the click twice: one rule).
    func createFilter(region: String, detectorId: String, rule: SuppressionRule, description: String)
        -> Result<FilterOutcome, AWSCallError>
}

/// How to reach GuardDuty.
public struct GuardDutyConfig: Sendable {
    public var credentials: AWSCredentials
    /// `ROUTER_GUARDDUTY_ENDPOINT`: one endpoint for every region (tests, a VPC endpoint); requests are still signed for
    /// the finding's region. nil: `https://guardduty.<region>.amazonaws.com` (`.com.cn` in the China regions).
    public var endpoint: String?
    /// `ROUTER_GUARDDUTY_DETECTOR_ID`: the detector to act through in every region, instead of asking ListDetectors.
    public var detectorId: String?

    public init(credentials: AWSCredentials, endpoint: String? = nil, detectorId: String? = nil) {
        self.credentials = credentials
        var e = endpoint.flatMap { $0.isEmpty ? nil : $0 }
        while e?.hasSuffix("/") == true { e?.removeLast() }
        self.endpoint = e
        self.detectorId = detectorId.flatMap { $0.isEmpty ? nil : $0 }
    }

    /// From the environment: nil without AWS credentials; an error naming what is wrong.
    public static func fromEnvironment(_ env: [String: String]) -> Result<GuardDutyConfig, AWSCallError>? {
        guard let credentials = AWSCredentials.fromEnvironment(env) else { return nil }
        switch credentials {
        case .failure(let e): return .failure(e)
        case .success(let c):
            let endpoint = env["ROUTER_GUARDDUTY_ENDPOINT"].flatMap { $0.isEmpty ? nil : $0 }
            if let endpoint, !(endpoint.hasPrefix("https://") || endpoint.hasPrefix("http://")) {
                return .failure(AWSCallError(code: "InvalidConfiguration", message: "ROUTER_GUARDDUTY_ENDPOINT: expected an http:// or https:// URL"))
            }
            return .success(GuardDutyConfig(credentials: c, endpoint: endpoint, detectorId: env["ROUTER_GUARDDUTY_DETECTOR_ID"]))
        }
    }
}

/// GuardDuty's REST API over ``AWSClient``: `GET /detector`, `POST /detector/{id}/findings/archive` (`/unarchive`,
/// `/feedback`), `POST /detector/{id}/filter`.
public final class CurlGuardDuty: GuardDutyAPI {
    public let config: GuardDutyConfig
    private let client: AWSClient
    private let detectors = Mutex<[String: String]>([:])

    public init(config: GuardDutyConfig) {
        self.config = config
        client = AWSClient(service: "guardduty", credentials: config.credentials)
    }

    func base(_ region: String) -> String {
        if let e = config.endpoint { return e }
        return "https://guardduty.\(region).amazonaws.com" + (region.hasPrefix("cn-") ? ".cn" : "")
    }

    /// A path segment: the detector id as GuardDuty writes them (hex), anything else percent-encoded.
    static func segment(_ s: String) -> String {
        var out = ""
        for b in s.utf8 {
            let c = Character(Unicode.Scalar(b))
            if (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A) || b == 0x2D || b == 0x5F {
                out.append(c)
            } else {
                out += "%" + String(b, radix: 16, uppercase: true).leftPadded(2)
            }
        }
        return out
    }

    public func detectorId(region: String) -> Result<String, AWSCallError> {
        if let id = config.detectorId { return .success(id) }
        if let id = detectors.withLock({ $0[region] }) { return .success(id) }
        switch client.call(region: region, method: .get, url: base(region) + "/detector", body: nil) {
        case .failure(let e): return .failure(e)
        case .success(let answer):
            guard let id = answer["detectorIds"]?.arrayValue?.first?.stringValue else {
                return .failure(AWSCallError(code: "NoDetector", message: "GuardDuty has no detector in \(region) for this account"))
            }
            detectors.withLock { $0[region] = id }
            return .success(id)
        }
    }

    private func post(_ region: String, _ path: String, _ body: JSONValue) -> Result<JSONValue, AWSCallError> {
        client.call(region: region, method: .post, url: base(region) + path, body: body)
    }

    public func archive(region: String, detectorId: String, findingIds: [String]) -> Result<Void, AWSCallError> {
        post(region, "/detector/\(Self.segment(detectorId))/findings/archive", ["findingIds": .array(findingIds.map { .string($0) })])
            .map { _ in () }
    }

    public func unarchive(region: String, detectorId: String, findingIds: [String]) -> Result<Void, AWSCallError> {
        post(region, "/detector/\(Self.segment(detectorId))/findings/unarchive", ["findingIds": .array(findingIds.map { .string($0) })])
            .map { _ in () }
    }

    public func feedback(region: String, detectorId: String, findingIds: [String], useful: Bool, comments: String?)
        -> Result<Void, AWSCallError>
    {
        var body: JSONObject = [
            "findingIds": .array(findingIds.map { .string($0) }), "feedback": .string(useful ? "USEFUL" : "NOT_USEFUL"),
        ]
        if let comments { body["comments"] = .string(comments) }
        return post(region, "/detector/\(Self.segment(detectorId))/findings/feedback", .object(body)).map { _ in () }
    }

    public func createFilter(region: String, detectorId: String, rule: SuppressionRule, description: String)
        -> Result<FilterOutcome, AWSCallError>
    {
        let body: JSONValue = [
            "name": .string(rule.name), "description": .string(description), "action": "ARCHIVE", "rank": 1,
            "findingCriteria": rule.findingCriteria, "clientToken": .string(rule.name),
        ]
        switch post(region, "/detector/\(Self.segment(detectorId))/filter", body) {
        case .success: return .success(.created)
        case .failure(let e) where e.code == "BadRequestException" && (e.message ?? "").lowercased().contains("already exist"):
            return .success(.alreadyExists)
        case .failure(let e): return .failure(e)
        }
    }
}

extension String {
    fileprivate func leftPadded(_ n: Int) -> String { count >= n ? self : String(repeating: "0", count: n - count) + self }
}

/// GuardDuty in memory, for tests: records every call and can be told to fail one kind of call.
public final class InMemoryGuardDuty: GuardDutyAPI, @unchecked Sendable {
    public struct Call: Sendable, Equatable {
        public var operation: String
        public var region: String
        public var detectorId: String
        public var findingIds: [String]
        public var detail: String?
    }

    private struct State {
        var calls: [Call] = []
        var archived: Set<String> = []
        var filters: [String: SuppressionRule] = [:]
        var failures: [String: AWSCallError] = [:]
    }
    private let state = Mutex(State())
    public let detector: String

    public init(detector: String = "d0123456789abcdef0123456789abcdef") { self.detector = detector }

    public var calls: [Call] { state.withLock { $0.calls } }
    public var archived: Set<String> { state.withLock { $0.archived } }
    public var filters: [String: SuppressionRule] { state.withLock { $0.filters } }

    /// Makes every later call of `operation` (`archive`, `unarchive`, `feedback`, `createFilter`, `listDetectors`)
    /// fail with `error` (nil: succeed again).
    public func fail(_ operation: String, with error: AWSCallError?) { state.withLock { $0.failures[operation] = error } }

    private func record(_ c: Call) -> AWSCallError? {
        state.withLock { s in
            s.calls.append(c)
            return s.failures[c.operation]
        }
    }

    public func detectorId(region: String) -> Result<String, AWSCallError> {
        if let e = record(Call(operation: "listDetectors", region: region, detectorId: "", findingIds: [])) { return .failure(e) }
        return .success(detector)
    }

    public func archive(region: String, detectorId: String, findingIds: [String]) -> Result<Void, AWSCallError> {
        if let e = record(Call(operation: "archive", region: region, detectorId: detectorId, findingIds: findingIds)) { return .failure(e) }
        state.withLock { $0.archived.formUnion(findingIds) }
        return .success(())
    }

    public func unarchive(region: String, detectorId: String, findingIds: [String]) -> Result<Void, AWSCallError> {
        if let e = record(Call(operation: "unarchive", region: region, detectorId: detectorId, findingIds: findingIds)) { return .failure(e) }
        state.withLock { $0.archived.subtract(findingIds) }
        return .success(())
    }

    public func feedback(region: String, detectorId: String, findingIds: [String], useful: Bool, comments: String?)
        -> Result<Void, AWSCallError>
    {
        if let e = record(Call(operation: "feedback", region: region, detectorId: detectorId, findingIds: findingIds, detail: useful ? "USEFUL" : "NOT_USEFUL")) {
            return .failure(e)
        }
        return .success(())
    }

    public func createFilter(region: String, detectorId: String, rule: SuppressionRule, description: String)
        -> Result<FilterOutcome, AWSCallError>
    {
        if let e = record(Call(operation: "createFilter", region: region, detectorId: detectorId, findingIds: [], detail: rule.name)) {
            return .failure(e)
        }
        return state.withLock { s in
            if s.filters[rule.name] != nil { return .success(.alreadyExists) }
            s.filters[rule.name] = rule
            return .success(.created)
        }
    }
}
