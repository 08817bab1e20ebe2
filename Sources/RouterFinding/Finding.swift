import RouterJSON

/// GuardDuty's severity bands. CRITICAL is its own band (9.0 and above) and is never folded into HIGH.
public enum SeverityLabel: String, Sendable, CaseIterable, Comparable {
    case unknown = "UNKNOWN", low = "LOW", medium = "MEDIUM", high = "HIGH", critical = "CRITICAL"

    /// LOW 1.0-3.9 (and anything below 4.0 that is a number), MEDIUM 4.0-6.9, HIGH 7.0-8.9, CRITICAL 9.0 and above;
    /// UNKNOWN when the severity is absent or not a finite number.
    public init(severity: Double?) {
        guard let s = severity, s.isFinite else { self = .unknown; return }
        switch s {
        case 9.0...: self = .critical
        case 7.0..<9.0: self = .high
        case 4.0..<7.0: self = .medium
        default: self = .low
        }
    }

    private var rank: Int {
        switch self {
        case .unknown: 0
        case .low: 1
        case .medium: 2
        case .high: 3
        case .critical: 4
        }
    }
    public static func < (a: SeverityLabel, b: SeverityLabel) -> Bool { a.rank < b.rank }
}

/// Which schema the `detail` node of a ``Finding`` follows.
public enum FindingFormat: String, Sendable, CaseIterable {
    /// A GuardDuty finding as EventBridge delivers it (`detail` of a `GuardDuty Finding` event, or a bare finding).
    case guardDuty = "guardduty"
    /// A GuardDuty finding imported into Security Hub (AWS Security Finding Format, `detail.findings[i]`).
    case securityHub = "asff"
}

/// The read-only view of one GuardDuty finding that rules (`f` in Lua) and renderers see.
/// The same whatever shape the input came in (EventBridge event, bare finding, SNS/SQS records, ...).
public struct Finding: Sendable {
    /// The parsed document the finding lives in, and the node of the finding object (`detail`).
    public let document: JSONDocument
    public let detail: JSONNode

    public var id: String
    public var type: String
    /// Text before the first `:` of the type (`CryptoCurrency`).
    public var purpose: String
    /// Between `:` and `/` (`EC2`, `IAMUser`, `Kubernetes`).
    public var resourceKind: String
    /// After `/`, without the `!artifact` (`BitcoinTool.B`).
    public var family: String
    /// After `!`, or nil (`DNS`).
    public var artifact: String?
    /// 0 when absent.
    public var severity: Double
    public var severityLabel: SeverityLabel
    public var title: String
    public var description: String
    /// `detail.accountId`, else the envelope's `account`.
    public var account: String
    /// The envelope's `account` (the receiving, possibly delegated-admin, account); nil for bare findings.
    public var eventAccount: String?
    public var region: String
    /// `aws`, `aws-cn`, `aws-us-gov`; `aws` when absent.
    public var partition: String
    /// `resource.resourceType` (Instance, AccessKey, S3Bucket, EKSCluster, ...).
    public var resourceType: String?
    /// `service.action.actionType`.
    public var actionType: String?
    /// `service.count`, 1 when absent.
    public var count: Int
    /// Timestamps as ISO-8601 strings (epoch numbers converted), nil when absent.
    public var firstSeen: String?
    public var lastSeen: String?
    public var createdAt: String?
    public var updatedAt: String?
    public var archived: Bool
    public var sample: Bool
    /// Partition-aware link to this finding in the GuardDuty console.
    public var consoleURL: String
    /// A short human summary of the affected resource, e.g. `i-0abc (EC2 instance)`, `bucket my-bucket`, `user alice`;
    /// nil when the finding names none.
    public var resourceSummary: String?
    /// The shape `detail` has: a GuardDuty finding (camelCase, EventBridge/API shape) or a Security Hub ASFF finding
    /// (PascalCase, `ProductFields`), so renderers know how to read further details from `detail`.
    public var format: FindingFormat = .guardDuty
}

extension Finding {
    // Declared in an extension so that the struct keeps its synthesized memberwise initializer (the same list plus
    // `format`), which this delegates to. Swift 6.3 builds an explicit field-by-field initializer of a struct this size
    // in a stack slot and then copies it out: about 20 retains and releases more per finding.
    public init(
        document: JSONDocument, detail: JSONNode, id: String, type: String, purpose: String, resourceKind: String,
        family: String, artifact: String?, severity: Double, severityLabel: SeverityLabel, title: String,
        description: String, account: String, eventAccount: String?, region: String, partition: String,
        resourceType: String?, actionType: String?, count: Int, firstSeen: String?, lastSeen: String?,
        createdAt: String?, updatedAt: String?, archived: Bool, sample: Bool, consoleURL: String,
        resourceSummary: String?
    ) {
        self.init(
            document: document, detail: detail, id: id, type: type, purpose: purpose, resourceKind: resourceKind,
            family: family, artifact: artifact, severity: severity, severityLabel: severityLabel, title: title,
            description: description, account: account, eventAccount: eventAccount, region: region,
            partition: partition, resourceType: resourceType, actionType: actionType, count: count,
            firstSeen: firstSeen, lastSeen: lastSeen, createdAt: createdAt, updatedAt: updatedAt, archived: archived,
            sample: sample, consoleURL: consoleURL, resourceSummary: resourceSummary, format: .guardDuty)
    }
}
