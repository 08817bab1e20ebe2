import RouterFinding
import RouterJSON
import RouterRules

/// `router test RULES_DIR --coverage`: routes one representative GuardDuty finding per known finding type (see
/// ``FindingTypes``) through the rules and reports, per type, whether it is dropped, routed (and where) or unrouted.
///
/// Each finding is a structurally faithful EventBridge event (the resource kind's `*Details` block, an appropriate
/// `service.action`) at the type's default severity (CRITICAL 9.0, HIGH 8.0, MEDIUM 5.0, LOW 2.0; "Variable" types are
/// run twice, at MEDIUM 5.0 and HIGH 8.0), in a fixed account and region, with `ctx.now` pinned.
///
/// Warnings (lines starting `warning:`): a CRITICAL finding that would be dropped or unrouted; a type whose HIGH variant
/// is dropped; a rule file whose `route` never produced a delivery. Exit status: 1 on rule errors, 1 with `--strict`
/// when there was any warning, else 0.
public enum RuleCoverage {
    public struct Options: Sendable {
        public var rulesDirectory: String
        public var json = false
        public var strict = false
        public var limits: RuleLimits = .default
        public init(rulesDirectory: String) { self.rulesDirectory = rulesDirectory }
    }

    public static let account = "123456789012"
    public static let region = "us-east-1"
    public static let now = "2026-01-02T03:04:05Z"
    static let detectorId = "12abc34d567e8fa901bc2d34e56789f0"

    /// One finding to route: a type at one severity.
    public struct Variant: Sendable {
        public var type: String
        public var defaultSeverity: FindingTypes.DefaultSeverity
        public var severity: Double
        /// `MEDIUM` or `HIGH` for the two runs of a Variable type; nil otherwise.
        public var variant: String?
    }

    public static func variants() -> [Variant] {
        var out: [Variant] = []
        for e in FindingTypes.all {
            switch e.defaultSeverity {
            case .critical: out.append(Variant(type: e.type, defaultSeverity: e.defaultSeverity, severity: 9.0))
            case .high: out.append(Variant(type: e.type, defaultSeverity: e.defaultSeverity, severity: 8.0))
            case .medium: out.append(Variant(type: e.type, defaultSeverity: e.defaultSeverity, severity: 5.0))
            case .low: out.append(Variant(type: e.type, defaultSeverity: e.defaultSeverity, severity: 2.0))
            case .variable:
                out.append(Variant(type: e.type, defaultSeverity: e.defaultSeverity, severity: 5.0, variant: "MEDIUM"))
                out.append(Variant(type: e.type, defaultSeverity: e.defaultSeverity, severity: 8.0, variant: "HIGH"))
            }
        }
        return out
    }

    // MARK: - Running

    public static func run(_ options: Options, out: OutputSink, err: OutputSink) -> Int32 {
        defer {
            out.flush()
            err.flush()
        }
        let dir = options.rulesDirectory.hasSuffix("/") ? String(options.rulesDirectory.dropLast()) : options.rulesDirectory
        let engine: RuleEngine
        do { engine = try RuleEngine(directory: dir, limits: options.limits) } catch {
            for e in error.errors { err.line(e.description) }
            err.line("\(error.errors.count) rule error\(error.errors.count == 1 ? "" : "s"): nothing was evaluated")
            return ExitStatus.ruleError
        }
        let context = EvaluationContext(now: Timestamps.parse(now) ?? 0, mode: "test")
        var counts = (routed: 0, dropped: 0, unrouted: 0, ruleErrors: 0, inputErrors: 0)
        var warnings: [String] = []
        var filesThatDelivered = Set<String>()
        let all = variants()

        for (index, v) in all.enumerated() {
            let label = severityLabel(v.severity)
            let name = v.variant == nil ? v.type : "\(v.type) (Variable)"
            let bytes = event(for: v, index: index).serializedBytes()
            let items = InputReader.items(fromBytes: bytes, source: "coverage:\(v.type)")
            guard items.count == 1, let finding = items[0].finding else {
                // A generated event the reader refuses is a bug in the generator, not in the rules: report and fail.
                counts.inputErrors += 1
                let why = items.first?.error.map { "\($0.kind.rawValue): \($0.message)" } ?? "\(items.count) items"
                err.line("coverage:\(v.type): generated event is not a finding: \(why)")
                continue
            }
            let e = engine.evaluate(finding, context: context)
            for error in e.errors {
                counts.ruleErrors += 1
                err.line("\(error) (coverage finding \(v.type) at \(label) \(formatSeverity(v.severity)))")
            }
            for d in e.deliveries { if let f = d.file { filesThatDelivered.insert(f) } }
            let outcome: String
            let detail: String
            if let drop = e.dropped {
                counts.dropped += 1
                outcome = "dropped"
                detail = "dropped by \(drop.file)" + (drop.reason.map { ": \($0)" } ?? "")
            } else if e.unrouted {
                counts.unrouted += 1
                outcome = "unrouted"
                detail = "unrouted"
            } else {
                counts.routed += 1
                outcome = "routed"
                detail = "routed: " + e.deliveries.map { $0.channel ?? "(default channel)" }.joined(separator: ", ")
            }
            if label == .critical && outcome != "routed" {
                warnings.append("warning: CRITICAL \(v.type) (severity \(formatSeverity(v.severity))) would be \(detail)")
            }
            if label == .high, let drop = e.dropped {
                warnings.append(
                    "warning: HIGH \(name) (severity \(formatSeverity(v.severity))) is dropped by \(drop.file)"
                        + (drop.reason.map { ": \($0)" } ?? ""))
            }
            if options.json {
                let line: JSONValue = [
                    "type": .string(v.type),
                    "default_severity": .string(v.defaultSeverity.rawValue),
                    "variant": v.variant.map(JSONValue.string) ?? .null,
                    "severity": .double(v.severity),
                    "severity_label": .string(finding.severityLabel.rawValue),
                    "resource_kind": .string(finding.resourceKind),
                    "resource_type": finding.resourceType.map(JSONValue.string) ?? .null,
                    "action_type": finding.actionType.map(JSONValue.string) ?? .null,
                    "account": .string(finding.account),
                    "region": .string(finding.region),
                    "outcome": .string(outcome),
                    "dropped_by": e.dropped.map { ["file": .string($0.file), "reason": $0.reason.map(JSONValue.string) ?? .null] }
                        ?? .null,
                    "deliveries": .array(
                        e.deliveries.map { d in
                            [
                                "channel": d.channel.map(JSONValue.string) ?? .null,
                                "mention": .array(d.mentions.map { .string($0.slackSyntax) }),
                                "format": .string(d.format), "to": .string(d.to),
                                "file": d.file.map(JSONValue.string) ?? .null, "fallback": .bool(d.fallback),
                            ]
                        }),
                    "errors": .array(e.errors.map(ResultJSON.error)),
                ]
                out.line(line.serialized())
            } else {
                out.line("\(name) \(label.rawValue) \(formatSeverity(v.severity)): \(detail)")
            }
        }
        for file in engine.files where file.hasRoute && !filesThatDelivered.contains(file.path) {
            let at = file.routeLine.map { "\(file.path):\($0)" } ?? file.path
            warnings.append("warning: \(at): route never matched: no delivery for any of the \(all.count) coverage findings")
        }
        let failed = counts.ruleErrors > 0 || counts.inputErrors > 0
        if options.json {
            let summary: JSONValue = [
                "summary": [
                    "types": .int(Int64(FindingTypes.all.count)), "findings": .int(Int64(all.count)),
                    "routed": .int(Int64(counts.routed)), "dropped": .int(Int64(counts.dropped)),
                    "unrouted": .int(Int64(counts.unrouted)), "rule_errors": .int(Int64(counts.ruleErrors)),
                    "generator_errors": .int(Int64(counts.inputErrors)),
                    "warnings": .array(warnings.map(JSONValue.string)),
                ]
            ]
            out.line(summary.serialized())
            for w in warnings { err.line(w) }
        } else {
            out.line(
                "\(FindingTypes.all.count) types, \(all.count) findings: \(counts.routed) routed, \(counts.dropped) dropped, "
                    + "\(counts.unrouted) unrouted; \(counts.ruleErrors) rule error\(counts.ruleErrors == 1 ? "" : "s"), "
                    + "\(warnings.count) warning\(warnings.count == 1 ? "" : "s")")
            for w in warnings { out.line(w) }
        }
        if failed { return ExitStatus.ruleError }
        if options.strict && !warnings.isEmpty { return ExitStatus.ruleError }
        return ExitStatus.ok
    }

    static func severityLabel(_ s: Double) -> SeverityLabel {
        if s >= 9 { return .critical }
        if s >= 7 { return .high }
        if s >= 4 { return .medium }
        return .low
    }

    static func formatSeverity(_ s: Double) -> String {
        let tenths = Int((s * 10).rounded())
        return "\(tenths / 10).\(tenths % 10)"
    }

    // MARK: - The generated events

    /// 32 lowercase hex characters derived from `seed` (FNV-1a, twice): stable across runs.
    static func hexID(_ seed: String) -> String {
        func fnv(_ s: String, _ basis: UInt64) -> UInt64 {
            var h = basis
            for b in s.utf8 {
                h ^= UInt64(b)
                h = h &* 0x100_0000_01b3
            }
            return h
        }
        func hex(_ v: UInt64) -> String {
            let s = String(v, radix: 16)
            return String(repeating: "0", count: 16 - s.count) + s
        }
        return hex(fnv(seed, 0xcbf2_9ce4_8422_2325)) + hex(fnv(seed + "#", 0x8422_2325_cbf2_9ce4))
    }

    /// The parts of a type name: `Purpose:Kind/Family!Artifact`.
    static func parts(_ type: String) -> (purpose: String, kind: String, family: String, artifact: String?) {
        let colon = type.firstIndex(of: ":") ?? type.startIndex
        let purpose = String(type[..<colon])
        let rest = colon < type.endIndex ? type[type.index(after: colon)...] : type[...]
        let slash = rest.firstIndex(of: "/") ?? rest.endIndex
        let kind = String(rest[..<slash])
        let tail = slash < rest.endIndex ? rest[rest.index(after: slash)...] : ""[...]
        if let bang = tail.firstIndex(of: "!") {
            return (purpose, kind, String(tail[..<bang]), String(tail[tail.index(after: bang)...]))
        }
        return (purpose, kind, String(tail), nil)
    }

    /// The `resource.resourceType` the generated event for `type` carries.
    public static func resourceType(for type: String, index: Int = 0) -> String {
        let p = parts(type)
        if p.purpose == "AttackSequence" { return "AttackSequence" }
        switch p.artifact {
        case "Snapshot": return "EBSSnapshot"
        case "AMI": return "EC2Image"
        case "RecoveryPoint": return "RecoveryPoint"
        default: break
        }
        switch p.kind {
        case "EC2": return "Instance"
        case "IAMUser", "IAM": return "AccessKey"
        // S3 policy findings name the principal (resourceType AccessKey) and carry the bucket in s3BucketDetails.
        case "S3": return p.family == "MaliciousFile" ? "S3Object" : p.purpose == "Policy" ? "AccessKey" : "S3Bucket"
        case "Kubernetes", "EKS": return "EKSCluster"
        case "ECS": return "ECSCluster"
        case "Container": return "Container"
        case "Runtime": return index % 2 == 0 ? "Instance" : "EKSCluster"
        case "RDS": return "RDSDBInstance"
        case "Lambda": return "Lambda"
        default: return "Instance"
        }
    }

    static let tags: JSONValue = [["key": "Name", "value": "coverage-host"], ["key": "team", "value": "platform"]]
    static let remoteIP: JSONValue = [
        "ipAddressV4": "198.51.100.7", "organization": ["asn": "64496", "asnOrg": "EXAMPLE-NET", "isp": "Example ISP", "org": "Example"],
        "country": ["countryName": "Example"], "city": ["cityName": "Example City"],
        "geoLocation": ["lat": 0.0, "lon": 0.0],
    ]
    static let instanceDetails: JSONValue = [
        "instanceId": "i-0123456789abcdef0", "instanceType": "m5.large", "instanceState": "running",
        "availabilityZone": "us-east-1a", "imageId": "ami-0123456789abcdef0", "launchTime": "2026-01-01T00:00:00.000Z",
        "platform": .null, "tags": tags,
        "iamInstanceProfile": ["arn": "arn:aws:iam::123456789012:instance-profile/coverage", "id": "AIPAEXAMPLECOVERAGE"],
        "networkInterfaces": [[
            "networkInterfaceId": "eni-0123456789abcdef0", "privateIpAddress": "10.0.0.10", "publicIp": "203.0.113.10",
            "subnetId": "subnet-0123456789abcdef0", "vpcId": "vpc-0123456789abcdef0",
            "securityGroups": [["groupId": "sg-0123456789abcdef0", "groupName": "coverage"]],
        ]],
    ]
    static let accessKeyDetails: JSONValue = [
        "accessKeyId": "AKIAIOSFODNN7EXAMPLE", "principalId": "AIDAEXAMPLECOVERAGE", "userName": "coverage-user",
        "userType": "IAMUser",
    ]
    static let eksClusterDetails: JSONValue = [
        "name": "coverage-cluster", "arn": "arn:aws:eks:us-east-1:123456789012:cluster/coverage-cluster",
        "vpcId": "vpc-0123456789abcdef0", "status": "ACTIVE", "createdAt": "2026-01-01T00:00:00.000Z", "tags": [],
    ]
    static let kubernetesDetails: JSONValue = [
        "kubernetesUserDetails": ["username": "system:serviceaccount:default:coverage", "uid": "0a1b2c3d", "groups": ["system:authenticated"]],
        "kubernetesWorkloadDetails": [
            "name": "coverage-app", "type": "pods", "uid": "4e5f6a7b", "namespace": "default", "hostNetwork": false,
            "containers": [["name": "app", "image": "example/app:1.0", "imagePrefix": "", "securityContext": ["privileged": false]]],
        ],
    ]
    static let containerDetails: JSONValue = [
        "containerRuntime": "containerd", "id": "0123456789abcdef", "name": "coverage-app", "image": "example/app:1.0",
        "imagePrefix": "", "securityContext": ["privileged": false],
    ]

    static func event(for v: Variant, index: Int) -> JSONValue {
        let p = parts(v.type)
        let id = hexID(v.type + "|" + (v.variant ?? ""))
        let rType = resourceType(for: v.type, index: index)
        var resource: JSONObject = ["resourceType": .string(rType)]
        var service: JSONObject = [
            "serviceName": "guardduty", "detectorId": .string(detectorId), "archived": false, "count": 1,
            "eventFirstSeen": "2026-01-02T02:00:00.000Z", "eventLastSeen": "2026-01-02T02:30:00.000Z",
            "resourceRole": "TARGET",
            "additionalInfo": ["value": "{\"coverage\":true}", "type": "default"],
        ]
        switch rType {
        case "Instance":
            resource["instanceDetails"] = instanceDetails
        case "AccessKey":
            resource["accessKeyDetails"] = accessKeyDetails
            if p.kind == "S3" {
                resource["s3BucketDetails"] = [[
                    "name": "coverage-bucket", "arn": "arn:aws:s3:::coverage-bucket", "type": "Destination",
                    "createdAt": "2026-01-01T00:00:00.000Z", "owner": ["id": "0123456789abcdef"],
                    "publicAccess": ["effectivePermission": "PUBLIC"], "tags": [],
                ]]
            }
        case "S3Bucket":
            resource["accessKeyDetails"] = accessKeyDetails
            resource["s3BucketDetails"] = [[
                "name": "coverage-bucket", "arn": "arn:aws:s3:::coverage-bucket", "type": "Destination",
                "createdAt": "2026-01-01T00:00:00.000Z", "owner": ["id": "0123456789abcdef"],
                "defaultServerSideEncryption": ["encryptionType": "AES256"],
                "publicAccess": ["effectivePermission": "NOT_PUBLIC"], "tags": [],
            ]]
        case "S3Object":
            resource["s3BucketDetails"] = [[
                "name": "coverage-bucket", "arn": "arn:aws:s3:::coverage-bucket",
                "s3ObjectDetails": [["key": "uploads/coverage.bin", "eTag": "0123456789abcdef", "versionId": "1",
                                     "hash": "0123456789abcdef0123456789abcdef", "objectArn": "arn:aws:s3:::coverage-bucket/uploads/coverage.bin"]],
            ]]
        case "EKSCluster":
            resource["eksClusterDetails"] = eksClusterDetails
            resource["kubernetesDetails"] = kubernetesDetails
        case "ECSCluster":
            resource["ecsClusterDetails"] = [
                "name": "coverage-ecs", "arn": "arn:aws:ecs:us-east-1:123456789012:cluster/coverage-ecs", "status": "ACTIVE",
                "taskDetails": [
                    "arn": "arn:aws:ecs:us-east-1:123456789012:task/coverage-ecs/0123456789abcdef",
                    "definitionArn": "arn:aws:ecs:us-east-1:123456789012:task-definition/coverage:1",
                    "containers": [containerDetails],
                ],
            ]
        case "Container":
            resource["containerDetails"] = containerDetails
        case "RDSDBInstance":
            resource["rdsDbInstanceDetails"] = [
                "dbInstanceIdentifier": "coverage-db", "engine": "aurora-postgresql", "engineVersion": "15.4",
                "dbClusterIdentifier": "coverage-cluster",
                "dbInstanceArn": "arn:aws:rds:us-east-1:123456789012:db:coverage-db",
            ]
            resource["rdsDbUserDetails"] = ["user": "app", "application": "psql", "database": "app", "ssl": "true", "authMethod": "PASSWORD"]
        case "Lambda":
            resource["lambdaDetails"] = [
                "functionName": "coverage-fn", "functionArn": "arn:aws:lambda:us-east-1:123456789012:function:coverage-fn",
                "functionVersion": "$LATEST", "role": "arn:aws:iam::123456789012:role/coverage-fn",
                "lastModifiedAt": "2026-01-01T00:00:00.000Z",
            ]
        case "EBSSnapshot":
            resource["ebsSnapshotDetails"] = ["snapshotArn": "arn:aws:ec2:us-east-1:123456789012:snapshot/snap-0123456789abcdef0"]
        case "EC2Image":
            resource["ec2ImageDetails"] = ["imageArn": "arn:aws:ec2:us-east-1::image/ami-0123456789abcdef0"]
        case "RecoveryPoint":
            resource["recoveryPointDetails"] = [
                "recoveryPointArn": "arn:aws:backup:us-east-1:123456789012:recovery-point:0123456789abcdef",
                "backupVaultName": "coverage-vault",
            ]
        default:
            break
        }
        // service.action and the feature that produces the finding.
        var action: JSONObject = [:]
        let family = p.family
        let isMalwareScan = p.kind != "Runtime" && (family.hasPrefix("MaliciousFile") || family.hasPrefix("SuspiciousFile"))
        if p.purpose == "AttackSequence" {
            service["featureName"] = "ExtendedThreatDetection"
            service["detection"] = [
                "sequence": [
                    "uid": .string(hexID(v.type + "|sequence")), "description": "A sequence of related signals",
                    "signals": [
                        ["uid": "signal-1", "type": "FINDING", "name": "Discovery:IAMUser/AnomalousBehavior"],
                        ["uid": "signal-2", "type": "FINDING", "name": "Exfiltration:S3/AnomalousBehavior"],
                    ],
                    "resources": [["uid": "coverage-resource-1", "type": "AWS::S3::Bucket", "name": "coverage-bucket"]],
                    "actors": [["id": "actor-1", "type": "AWS_IAM_USER"]],
                ]
            ]
        } else if isMalwareScan {
            service["featureName"] = "EbsMalwareProtection"
            service["ebsVolumeScanDetails"] = [
                "scanId": .string(hexID(v.type + "|scan")), "scanType": "GUARDDUTY_INITIATED",
                "scanDetections": ["threatDetectedByName": ["itemCount": 1, "uniqueThreatNameCount": 1, "threatNames": [["name": "EICAR-Test-File", "severity": .string(v.severity >= 7 ? "HIGH" : "MEDIUM")]]]],
            ]
        } else if p.artifact == "DNS" || family.contains("DomainRequest") || family.contains("DNSRebind") {
            action = [
                "actionType": "DNS_REQUEST",
                "dnsRequestAction": ["domain": "coverage.example.com", "protocol": "UDP", "blocked": false],
            ]
        } else if family.hasPrefix("PortProbe") {
            action = [
                "actionType": "PORT_PROBE",
                "portProbeAction": ["blocked": false, "portProbeDetails": [["localPortDetails": ["port": 22, "portName": "SSH"], "remoteIpDetails": remoteIP]]],
            ]
        } else if p.kind == "Kubernetes" || p.kind == "EKS" {
            action = [
                "actionType": "KUBERNETES_API_CALL",
                "kubernetesApiCallAction": ["requestUri": "/api/v1/namespaces/default/pods", "verb": "list", "sourceIps": ["198.51.100.7"],
                                            "userAgent": "kubectl/v1.29", "remoteIpDetails": remoteIP, "statusCode": 200],
            ]
        } else if p.kind == "RDS" {
            action = [
                "actionType": "RDS_LOGIN_ATTEMPT",
                "rdsLoginAttemptAction": ["remoteIpDetails": remoteIP,
                                          "loginAttributes": [["user": "app", "application": "psql", "failedLoginAttempts": 1, "successfulLoginAttempts": 1]]],
            ]
        } else if p.kind == "IAMUser" || p.kind == "IAM" || p.kind == "S3" {
            action = [
                "actionType": "AWS_API_CALL",
                "awsApiCallAction": ["api": "ListBuckets", "serviceName": "s3.amazonaws.com", "callerType": "Remote IP",
                                     "remoteIpDetails": remoteIP, "affectedResources": [:]],
            ]
        } else if p.kind == "EC2" || p.kind == "Lambda"
            || (p.kind == "Runtime" && ["Tor", "C&C", "Blackhole", "DropPoint", "BitcoinTool", "DriveBy"].contains(where: { family.contains($0) }))
        {
            action = [
                "actionType": "NETWORK_CONNECTION",
                "networkConnectionAction": ["connectionDirection": "OUTBOUND", "protocol": "TCP", "blocked": false,
                                            "localPortDetails": ["port": 49152, "portName": "Unknown"],
                                            "remotePortDetails": ["port": 443, "portName": "HTTPS"], "remoteIpDetails": remoteIP],
            ]
        }
        if !action.isEmpty || service["featureName"] == nil { service["action"] = .object(action) }
        if p.kind == "Runtime" {
            service["featureName"] = "RuntimeMonitoring"
            service["runtimeDetails"] = [
                "process": ["name": "coverage-proc", "executablePath": "/usr/bin/coverage-proc", "pid": 4242, "uid": 0,
                            "user": "root", "executableSha256": "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
                            "lineage": [["name": "bash", "pid": 4200, "executablePath": "/bin/bash"]]],
                "context": ["commandLineExample": "coverage-proc --run"],
            ]
        } else if service["featureName"] == nil {
            let feature: String
            switch p.kind {
            case "IAMUser", "IAM": feature = "CloudTrail"
            case "S3": feature = "S3DataEvents"
            case "Kubernetes", "EKS": feature = "KubernetesAuditLogs"
            case "RDS": feature = "RdsLoginEvents"
            case "Lambda": feature = "LambdaNetworkLogs"
            default: feature = p.artifact == "DNS" ? "DnsLogs" : "FlowLogs"
            }
            service["featureName"] = .string(feature)
        }
        let detail: JSONValue = [
            "schemaVersion": "2.0",
            "accountId": .string(account), "region": .string(region), "partition": "aws",
            "id": .string(id),
            "arn": .string("arn:aws:guardduty:\(region):\(account):detector/\(detectorId)/finding/\(id)"),
            "type": .string(v.type),
            "resource": .object(resource),
            "service": .object(service),
            "severity": .double(v.severity),
            "createdAt": "2026-01-02T02:05:00.000Z", "updatedAt": "2026-01-02T02:35:00.000Z",
            "title": .string("Coverage finding for \(v.type)"),
            "description": .string("A representative \(v.type) finding generated by router test --coverage."),
        ]
        return [
            "version": "0", "id": .string(hexID(v.type + "|event" + (v.variant ?? ""))),
            "detail-type": "GuardDuty Finding", "source": "aws.guardduty",
            "account": .string(account), "time": "2026-01-02T02:35:00Z", "region": .string(region),
            "resources": [], "detail": detail,
        ]
    }
}
