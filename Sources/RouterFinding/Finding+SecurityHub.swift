import RouterJSON

extension Finding {
    /// Builds the view of a GuardDuty finding imported into Security Hub (ASFF, one element of `detail.findings`).
    /// `detail` of the view is the ASFF object and `format` is `.securityHub`.
    ///
    /// Mapping: `id` = last path element of `Id`; `type` from the `Types` entry that holds a GuardDuty type
    /// (`TTPs/Initial Access/UnauthorizedAccess:EC2-SSHBruteForce` -> `UnauthorizedAccess:EC2/SSHBruteForce`);
    /// severity from `Severity.Product` (GuardDuty's own number; never `Label` or `Normalized`), else
    /// `Severity.Original` / `FindingProviderFields.Severity.Original` when numeric; account `AwsAccountId`; region
    /// `Region`, else the first resource's, else the envelope's; `ProductFields["aws/guardduty/service/..."]` for
    /// archived, count, action type and sample; `FirstObservedAt`/`LastObservedAt`/`CreatedAt`/`UpdatedAt`.
    ///
    /// - Throws: `.notAFinding` when the ASFF finding is not from GuardDuty or carries no id or GuardDuty type.
    public init(event: JSONNode?, asffFinding f: JSONNode) throws(InputError) {
        guard f.kind == .object else {
            throw .notAFinding("Security Hub finding is \(JSONFields.kindName(f.kind)), not an object")
        }
        let fields = f["ProductFields"]
        if let product = f["ProductArn"]?.string, !product.contains("/guardduty") {
            throw .notAFinding("Security Hub finding is not from GuardDuty (ProductArn '\(ResourceSummary.clip(product) ?? "")')")
        }
        guard let fullId = JSONFields.nonEmptyString(f["Id"]) else {
            throw .notAFinding("Security Hub finding has no string 'Id'")
        }
        let id = ARN.lastPathComponent(fullId)
        guard !id.isEmpty else { throw .notAFinding("Security Hub finding 'Id' ends with '/'") }
        guard let type = Finding.asffType(f) else {
            throw .notAFinding("Security Hub finding has no GuardDuty type in 'Types'")
        }
        let parts = Finding.parseType(type)

        var severity = JSONFields.number(f["Severity", "Product"])
        if severity == nil { severity = JSONFields.number(f["Severity", "Original"]) }
        if severity == nil { severity = JSONFields.number(f["FindingProviderFields", "Severity", "Original"]) }

        let firstResource = f["Resources"]?[0]
        let eventAccount = event.flatMap { JSONFields.identifier($0["account"]) }
        let account = JSONFields.identifier(f["AwsAccountId"]) ?? eventAccount ?? ""
        let region =
            JSONFields.nonEmptyString(f["Region"]) ?? JSONFields.nonEmptyString(firstResource?["Region"])
            ?? event.flatMap { JSONFields.nonEmptyString($0["region"]) } ?? ARN.component(fullId, 3) ?? ""
        let partition =
            JSONFields.nonEmptyString(firstResource?["Partition"]) ?? ARN.component(fullId, 1)
            ?? Partition.derived(fromRegion: region)

        func field(_ name: String) -> JSONNode? { fields?["aws/guardduty/service/" + name] }

        self.init(
            document: f.document,
            detail: f,
            id: id,
            type: type,
            purpose: parts.purpose,
            resourceKind: parts.resourceKind,
            family: parts.family,
            artifact: parts.artifact,
            severity: severity ?? 0,
            severityLabel: SeverityLabel(severity: severity),
            title: f["Title"]?.string ?? "",
            description: f["Description"]?.string ?? "",
            account: account,
            eventAccount: eventAccount,
            region: region,
            partition: partition,
            resourceType: Finding.asffResourceType(firstResource?["Type"]?.string),
            actionType: JSONFields.nonEmptyString(field("action/actionType")),
            count: JSONFields.count(field("count")),
            firstSeen: Timestamp.string(f["FirstObservedAt"]) ?? Timestamp.string(field("eventFirstSeen")),
            lastSeen: Timestamp.string(f["LastObservedAt"]) ?? Timestamp.string(field("eventLastSeen")),
            createdAt: Timestamp.string(f["CreatedAt"]),
            updatedAt: Timestamp.string(f["UpdatedAt"]),
            archived: JSONFields.isTrue(field("archived")),
            sample: JSONFields.isTrue(field("additionalInfo/sample")) || Finding.asffSampleInfo(field("additionalInfo")),
            consoleURL: ConsoleURL.finding(id: id, region: region, partition: partition),
            resourceSummary: Finding.asffResourceSummary(firstResource)
        )
        self.format = .securityHub
    }

    /// The GuardDuty type of an ASFF finding: `ProductFields["aws/guardduty/type"]` when present, else the last path
    /// element of the first `Types` (or `FindingProviderFields.Types`) entry that has a `:`, with the first `-` after
    /// the `:` turned back into the `/` that ASFF type paths cannot hold.
    static func asffType(_ f: JSONNode) -> String? {
        if let t = JSONFields.nonEmptyString(f["ProductFields", "aws/guardduty/type"]) { return t }
        for list in [f["Types"], f["FindingProviderFields", "Types"]] {
            for entry in list?.elements ?? [] {
                guard let path = entry.string else { continue }
                let last = ARN.lastPathComponent(path)
                guard let colon = last.utf8.firstIndex(of: UInt8(ascii: ":")) else { continue }
                let rest = last[last.utf8.index(after: colon)...]
                guard let dash = rest.utf8.firstIndex(of: UInt8(ascii: "-")) else { return last }
                return String(last[..<dash]) + "/" + String(rest[rest.utf8.index(after: dash)...])
            }
        }
        return nil
    }

    /// ASFF resource types mapped to GuardDuty's `resource.resourceType`; others are kept as they are.
    static func asffResourceType(_ type: String?) -> String? {
        guard let type, !type.isEmpty else { return nil }
        switch type {
        case "AwsEc2Instance": return "Instance"
        case "AwsIamAccessKey": return "AccessKey"
        case "AwsS3Bucket": return "S3Bucket"
        case "AwsS3Object": return "S3Object"
        case "AwsEksCluster": return "EKSCluster"
        case "AwsEcsCluster": return "ECSCluster"
        case "Container": return "Container"
        case "AwsRdsDbInstance": return "RDSDBInstance"
        case "AwsLambdaFunction": return "Lambda"
        default: return type
        }
    }

    static func asffSampleInfo(_ node: JSONNode?) -> Bool {
        guard let text = node?.string, JSONFields.mentionsSample(text),
            let doc = try? JSONDocument(bytes: Array(text.utf8), maxDepth: 64)
        else { return false }
        return JSONFields.isTrue(doc.root["sample"])
    }

    /// `EC2 instance i-0abc (kubectl)`, `S3 bucket logs`, `IAM access key AKIA... (alice)`, else `<Type> <last Id part>`.
    static func asffResourceSummary(_ r: JSONNode?) -> String? {
        guard let r, r.kind == .object, let rid = r["Id"]?.string, !rid.isEmpty else { return nil }
        let type = r["Type"]?.string ?? ""
        let name = ResourceSummary.clip(r["Tags", "Name"])
        func withName(_ s: String) -> String { name.map { "\(s) (\($0))" } ?? s }
        let tail: String
        if let colons = rid.firstRange(of: ":::") {
            tail = String(rid[colons.upperBound...])
        } else {
            tail = ARN.lastPathComponent(rid)
        }
        guard let shortId = ResourceSummary.clip(tail) else { return nil }
        switch type {
        case "AwsEc2Instance": return withName("EC2 instance \(shortId)")
        case "AwsS3Bucket": return "S3 bucket \(shortId)"
        case "AwsIamAccessKey":
            let details = r["Details", "AwsIamAccessKey"]
            let who = ResourceSummary.clip(details?["PrincipalName"]) ?? ResourceSummary.clip(details?["UserName"])
            return who.map { "IAM access key \(shortId) (\($0))" } ?? "IAM access key \(shortId)"
        case "AwsEksCluster": return "EKS cluster \(ResourceSummary.clip(r["Details", "AwsEksCluster", "Name"]) ?? shortId)"
        case "AwsEcsCluster": return "ECS cluster \(shortId)"
        case "AwsRdsDbInstance": return "RDS DB instance \(shortId)"
        case "AwsLambdaFunction": return "Lambda function \(shortId)"
        default: return withName(type.isEmpty ? shortId : "\(type) \(shortId)")
        }
    }
}
