import RouterJSON

/// What a suppression rule created from a finding matches on (the delivery key `suppress_by`).
public enum SuppressCriterion: String, Sendable, CaseIterable, Comparable {
    case type, account, region, resource
    case actionType = "action_type"

    /// The default: the finding's type, account and the resource's identifier.
    public static let defaults: [SuppressCriterion] = [.type, .account, .resource]

    public static func < (a: SuppressCriterion, b: SuppressCriterion) -> Bool {
        allCases.firstIndex(of: a)! < allCases.firstIndex(of: b)!
    }
}

/// A GuardDuty suppression rule (a filter with `action: ARCHIVE`) made from one finding: the findings that share its
/// criteria are archived automatically and no longer published to EventBridge.
public struct SuppressionRule: Sendable, Equatable {
    public struct Criterion: Sendable, Equatable {
        /// GuardDuty's criterion key (`type`, `accountId`, `resource.instanceDetails.instanceId`, ...).
        public var key: String
        /// For people: `type`, `account`, `EC2 instance`, ...
        public var label: String
        public var value: String
    }

    public var criteria: [Criterion]
    /// `router-` and 16 hex digits of a hash of the criteria: the same click twice names the same rule, so GuardDuty
    /// refuses the second one instead of creating a copy. Valid as a filter name (3-64 of `A-Z a-z 0-9 . _ -`).
    public var name: String

    public init(criteria: [Criterion]) {
        self.criteria = criteria
        var h: UInt64 = 0xcbf2_9ce4_8422_2325  // FNV-1a
        for c in criteria {
            for b in (c.key + "=" + c.value + "\u{1F}").utf8 {
                h ^= UInt64(b)
                h = h &* 0x0000_0100_0000_01b3
            }
        }
        let hex = String(h, radix: 16)
        name = "router-" + String(repeating: "0", count: 16 - hex.count) + hex
    }

    /// The rule for `finding` on `by` (the defaults when empty). nil when the finding lacks one of them (a resource
    /// criterion for a finding whose resource names nothing GuardDuty can filter on): a rule on fewer criteria than
    /// asked would suppress more than the click said.
    public static func from(_ finding: Finding, by: [SuppressCriterion]) -> SuppressionRule? {
        let wanted = Set(by.isEmpty ? SuppressCriterion.defaults : by).sorted()
        var criteria: [Criterion] = []
        for c in wanted {
            switch c {
            case .type: criteria.append(Criterion(key: "type", label: "type", value: finding.type))
            case .account: criteria.append(Criterion(key: "accountId", label: "account", value: finding.account))
            case .region: criteria.append(Criterion(key: "region", label: "region", value: finding.region))
            case .actionType:
                guard let a = finding.actionType, !a.isEmpty else { return nil }
                criteria.append(Criterion(key: "service.action.actionType", label: "action type", value: a))
            case .resource:
                guard let r = resourceCriterion(finding.detail["resource"]) else { return nil }
                criteria.append(r)
            }
        }
        guard !criteria.contains(where: { $0.value.isEmpty }) else { return nil }
        return SuppressionRule(criteria: criteria)
    }

    /// The identifier GuardDuty can filter on for the finding's resource, by resource type (else the first detail
    /// block that names something).
    static func resourceCriterion(_ resource: JSONNode?) -> Criterion? {
        guard let r = resource, r.kind == .object else { return nil }
        func string(_ path: String...) -> String? {
            guard let s = r[path: path]?.string, !s.isEmpty else { return nil }
            return s
        }
        func firstBucket() -> String? {
            guard let list = r["s3BucketDetails"], list.kind == .array, let name = list[0]?["name"]?.string, !name.isEmpty
            else { return nil }
            return name
        }
        let candidates: [(String, () -> String?, String, String)] = [
            ("Instance", { string("instanceDetails", "instanceId") }, "resource.instanceDetails.instanceId", "EC2 instance"),
            ("S3Bucket", firstBucket, "resource.s3BucketDetails.name", "S3 bucket"),
            ("AccessKey", { string("accessKeyDetails", "accessKeyId") }, "resource.accessKeyDetails.accessKeyId", "access key"),
            ("EKSCluster", { string("eksClusterDetails", "name") }, "resource.eksClusterDetails.name", "EKS cluster"),
            ("ECSCluster", { string("ecsClusterDetails", "name") }, "resource.ecsClusterDetails.name", "ECS cluster"),
            ("RDSDBInstance", { string("rdsDbInstanceDetails", "dbInstanceIdentifier") },
             "resource.rdsDbInstanceDetails.dbInstanceIdentifier", "RDS instance"),
            ("Lambda", { string("lambdaDetails", "functionName") }, "resource.lambdaDetails.functionName", "Lambda function"),
        ]
        let type = r["resourceType"]?.string
        // S3 policy findings carry resourceType AccessKey with the bucket they are about: the bucket is the resource.
        if type == "AccessKey", let bucket = firstBucket() {
            return Criterion(key: "resource.s3BucketDetails.name", label: "S3 bucket", value: bucket)
        }
        if let c = candidates.first(where: { $0.0 == type }), let v = c.1() {
            return Criterion(key: c.2, label: c.3, value: v)
        }
        for c in candidates {
            if let v = c.1() { return Criterion(key: c.2, label: c.3, value: v) }
        }
        return nil
    }

    /// `type = X, account = Y, EC2 instance = i-0abc`.
    public var summary: String {
        criteria.map { "\($0.label) = \($0.value)" }.joined(separator: ", ")
    }

    /// The filter's description (GuardDuty allows 512 characters of letters, digits, whitespace and `-._:()[]{}/`).
    public func description(createdBy user: String) -> String {
        let allowed = Set("-._:()[]{}/ ".unicodeScalars)
        let text = "Created by guardduty-router from Slack by \(user): \(summary)"
        var out = String.UnicodeScalarView()
        for u in text.unicodeScalars where out.count < 512 {
            let ok = (u.properties.isAlphabetic || u.properties.numericType != nil) && u.isASCII || allowed.contains(u)
            out.append(ok ? u : "_")
        }
        return String(out)
    }

    /// The `findingCriteria` of CreateFilter: `{"criterion": {KEY: {"equals": [VALUE]}, ...}}`.
    public var findingCriteria: JSONValue {
        var criterion = JSONObject()
        for c in criteria { criterion[c.key] = ["equals": [.string(c.value)]] }
        return ["criterion": .object(criterion)]
    }
}

extension Finding {
    /// The finding as an EventBridge event of its own (its `detail` verbatim, the envelope's account and region),
    /// whatever shape it arrived in: what the router keeps to show `permit` the finding as it was routed. Reading it
    /// back gives the same view (`event_account` included).
    public var eventJSON: [UInt8] {
        var out: [UInt8] = []
        func string(_ s: String) {
            out.append(contentsOf: JSONValue.string(s).serializedBytes())
        }
        switch format {
        case .guardDuty:
            out.append(contentsOf: #"{"version":"0","detail-type":"GuardDuty Finding","source":"aws.guardduty","account":"#.utf8)
            string(eventAccount ?? account)
            out.append(contentsOf: #","region":"#.utf8)
            string(region)
            out.append(contentsOf: #","detail":"#.utf8)
            out.append(contentsOf: detail.rawBytes)
        case .securityHub:
            out.append(contentsOf: #"{"version":"0","detail-type":"Security Hub Findings - Imported","source":"aws.securityhub","account":"#.utf8)
            string(eventAccount ?? account)
            out.append(contentsOf: #","region":"#.utf8)
            string(region)
            out.append(contentsOf: #","detail":{"findings":["#.utf8)
            out.append(contentsOf: detail.rawBytes)
            out.append(contentsOf: "]}".utf8)
        }
        out.append(UInt8(ascii: "}"))
        return out
    }
}
