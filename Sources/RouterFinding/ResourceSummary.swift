import RouterJSON

/// One-line summaries of the affected resource, e.g. `EC2 instance i-0abc (web-1)`, `S3 bucket logs (IAMUser alice,
/// access key AKIA...)`, `attack sequence of 14 signals across 3 resources`.
///
/// The text contains names from the finding (tag values, bucket and user names): attacker-influenced, so renderers
/// must escape it like any other finding text. Each name is cut at ``maxPart`` characters.
enum ResourceSummary {
    static let maxPart = 100
    static let maxListed = 3

    /// From a GuardDuty `resource` (and `service`, for attack sequences). Dispatches on `resourceType`; an unknown or
    /// missing type falls back to whichever `*Details` block is present. nil when nothing names a resource.
    static func guardDuty(resource: JSONNode?, service: JSONNode?) -> String? {
        guard let resource, resource.kind == .object else { return nil }
        switch resource["resourceType"]?.string {
        case "Instance": return instance(resource) ?? fallback(resource)
        case "AccessKey": return accessKey(resource) ?? fallback(resource)
        case "S3Bucket": return s3Bucket(resource) ?? fallback(resource)
        case "S3Object": return s3Object(resource) ?? s3Bucket(resource) ?? fallback(resource)
        case "EKSCluster", "KubernetesCluster": return eksCluster(resource) ?? fallback(resource)
        case "ECSCluster": return ecsCluster(resource) ?? fallback(resource)
        case "Container": return container(resource) ?? fallback(resource)
        case "RDSDBInstance": return rdsInstance(resource) ?? fallback(resource)
        case "RDSLimitlessDB": return rdsLimitless(resource) ?? fallback(resource)
        case "Lambda": return lambda(resource) ?? fallback(resource)
        case "AttackSequence": return attackSequence(service)
        case "EBSSnapshot": return arnNamed("EBS snapshot", resource["ebsSnapshotDetails", "snapshotArn"])
        case "EC2Image": return arnNamed("EC2 image", resource["ec2ImageDetails", "imageArn"])
        case "RecoveryPoint": return recoveryPoint(resource)
        default: return fallback(resource)
        }
    }

    /// The first of the detail blocks that names something, in a fixed order.
    static func fallback(_ r: JSONNode) -> String? {
        instance(r) ?? eksCluster(r) ?? s3Bucket(r) ?? accessKey(r) ?? lambda(r) ?? rdsInstance(r) ?? ecsCluster(r)
            ?? container(r)
    }

    static func instance(_ r: JSONNode) -> String? {
        guard let details = r["instanceDetails"], let id = clip(details["instanceId"]) else { return nil }
        if let name = nameTag(details["tags"]) { return "EC2 instance \(id) (\(name))" }
        return "EC2 instance \(id)"
    }

    /// `IAMUser alice, access key AKIA...`; `Root` alone when the user name repeats the user type.
    static func principal(_ r: JSONNode) -> String? {
        guard let details = r["accessKeyDetails"], details.kind == .object else { return nil }
        let userType = clip(details["userType"])
        let userName = clip(details["userName"])
        var who: String
        switch (userType, userName) {
        case let (t?, n?): who = t == n ? t : "\(t) \(n)"
        case let (t?, nil): who = t
        case let (nil, n?): who = "user \(n)"
        case (nil, nil): who = ""
        }
        if let key = clip(details["accessKeyId"]) {
            who = who.isEmpty ? "access key \(key)" : "\(who), access key \(key)"
        }
        return who.isEmpty ? nil : who
    }

    static func accessKey(_ r: JSONNode) -> String? {
        let who = principal(r)
        // S3 policy findings (`Policy:S3/...`) carry resourceType AccessKey with the bucket they are about.
        if let buckets = bucketList(r) {
            return who.map { "\(buckets) (\($0))" } ?? buckets
        }
        return who
    }

    static func s3Bucket(_ r: JSONNode) -> String? {
        guard let buckets = bucketList(r) else { return nil }
        return principal(r).map { "\(buckets) (\($0))" } ?? buckets
    }

    /// `S3 bucket a` or `S3 buckets a, b, c (+2 more)`.
    static func bucketList(_ r: JSONNode) -> String? {
        guard let list = r["s3BucketDetails"], list.kind == .array else { return nil }
        var names: [String] = []
        var total = 0
        for bucket in list.elements {
            guard let name = clip(bucket["name"]) ?? clip(bucket["arn"]) else { continue }
            total += 1
            if names.count < maxListed { names.append(name) }
        }
        guard !names.isEmpty else { return nil }
        let more = total > names.count ? " (+\(total - names.count) more)" : ""
        return (total == 1 ? "S3 bucket " : "S3 buckets ") + names.joined(separator: ", ") + more
    }

    /// Malware Protection for S3: `S3 object s3://bucket/key`.
    static func s3Object(_ r: JSONNode) -> String? {
        guard let list = r["s3BucketDetails"], list.kind == .array else { return nil }
        var first: String?
        var total = 0
        for bucket in list.elements {
            let bucketName = bucket["name"]?.string ?? ""
            for object in bucket["s3ObjectDetails"]?.elements ?? [] {
                guard let key = object["key"]?.string else { continue }
                total += 1
                if first == nil { first = clip("s3://\(bucketName)/\(key)") }
            }
        }
        guard let first else { return nil }
        return total > 1 ? "S3 object \(first) (+\(total - 1) more)" : "S3 object \(first)"
    }

    static func eksCluster(_ r: JSONNode) -> String? {
        let cluster = clip(r["eksClusterDetails", "name"])
        var workload: String?
        if let w = r["kubernetesDetails", "kubernetesWorkloadDetails"], w.kind == .object, let name = clip(w["name"]) {
            let ns = clip(w["namespace"]).map { "\($0)/" } ?? ""
            workload = (clip(w["type"]).map { "\($0) " } ?? "") + ns + name
        }
        switch (cluster, workload) {
        case let (c?, w?): return "EKS cluster \(c) (\(w))"
        case let (c?, nil): return "EKS cluster \(c)"
        case let (nil, w?): return "Kubernetes \(w)"
        case (nil, nil): return nil
        }
    }

    static func ecsCluster(_ r: JSONNode) -> String? {
        guard let details = r["ecsClusterDetails"], let name = clip(details["name"]) ?? clip(details["arn"]) else {
            return nil
        }
        return "ECS cluster \(name)"
    }

    static func container(_ r: JSONNode) -> String? {
        guard let details = r["containerDetails"], details.kind == .object else { return nil }
        let name = clip(details["name"]) ?? clip(details["id"])
        let image = clip(details["image"])
        switch (name, image) {
        case let (n?, i?): return "container \(n) (image \(i))"
        case let (n?, nil): return "container \(n)"
        case let (nil, i?): return "container (image \(i))"
        case (nil, nil): return nil
        }
    }

    static func rdsInstance(_ r: JSONNode) -> String? {
        guard let details = r["rdsDbInstanceDetails"],
            let id = clip(details["dbInstanceIdentifier"]) ?? clip(details["dbClusterIdentifier"])
        else { return nil }
        if let user = clip(r["rdsDbUserDetails", "user"]) { return "RDS DB instance \(id) (user \(user))" }
        return "RDS DB instance \(id)"
    }

    static func rdsLimitless(_ r: JSONNode) -> String? {
        guard let details = r["rdsLimitlessDbDetails"],
            let id = clip(details["dbShardGroupIdentifier"]) ?? clip(details["dbClusterIdentifier"])
        else { return nil }
        return "RDS Limitless DB \(id)"
    }

    static func lambda(_ r: JSONNode) -> String? {
        guard let details = r["lambdaDetails"], let name = clip(details["functionName"]) ?? clip(details["functionArn"])
        else { return nil }
        return "Lambda function \(name)"
    }

    static func recoveryPoint(_ r: JSONNode) -> String? {
        guard let details = r["recoveryPointDetails"],
            let arn = details["recoveryPointArn"]?.string
        else { return nil }
        let point = clip(ARN.lastPathComponent(arn)) ?? arn
        if let vault = clip(details["backupVaultName"]) { return "recovery point \(point) (vault \(vault))" }
        return "recovery point \(point)"
    }

    static func arnNamed(_ label: String, _ node: JSONNode?) -> String? {
        guard let arn = node?.string, !arn.isEmpty else { return nil }
        return clip(ARN.lastPathComponent(arn)).map { "\(label) \($0)" }
    }

    /// Attack sequences (`service.detection.sequence`): `attack sequence of 14 signals across 3 resources`.
    /// Never lists the signals themselves: there can be hundreds.
    static func attackSequence(_ service: JSONNode?) -> String? {
        guard let sequence = service?["detection", "sequence"], sequence.kind == .object else { return nil }
        let signals = sequence["signals"].map { $0.kind == .array ? $0.count : 0 } ?? 0
        let resources = sequence["resources"].map { $0.kind == .array ? $0.count : 0 } ?? 0
        guard signals > 0 || resources > 0 else { return nil }
        var text = "attack sequence of \(signals) signal\(signals == 1 ? "" : "s")"
        if resources > 0 { text += " across \(resources) resource\(resources == 1 ? "" : "s")" }
        return text
    }

    /// The `Name` tag of a GuardDuty `tags` array (`[{"key":..,"value":..}]`).
    static func nameTag(_ tags: JSONNode?) -> String? {
        guard let tags, tags.kind == .array else { return nil }
        for tag in tags.elements where tag["key"]?.stringEquals("Name") == true {
            return clip(tag["value"])
        }
        return nil
    }

    static func clip(_ node: JSONNode?) -> String? {
        guard let s = node?.string else { return nil }
        return clip(s)
    }

    /// Trims, drops control characters' effect by replacing them with spaces, and cuts long names.
    static func clip(_ s: String) -> String? {
        // Fast path: nothing to trim or replace, short enough.
        if s.utf8.count <= maxPart, !s.utf8.contains(where: { $0 <= 0x20 || $0 == 0x7F }) {
            return s.isEmpty ? nil : s
        }
        var s = s
        if s.utf8.contains(where: { $0 < 0x20 || $0 == 0x7F }) {
            s = String(String.UnicodeScalarView(s.unicodeScalars.map { $0.value < 0x20 || $0.value == 0x7F ? " " : $0 }))
        }
        let trimmed = s.trimmingSpaces()
        guard !trimmed.isEmpty else { return nil }
        if trimmed.utf8.count <= maxPart || trimmed.count <= maxPart { return trimmed }
        return String(trimmed.prefix(maxPart - 1)) + "…"
    }
}

extension String {
    func trimmingSpaces() -> String {
        let u = utf8
        guard let first = u.firstIndex(where: { $0 != 0x20 }) else { return "" }
        let last = u.lastIndex(where: { $0 != 0x20 })!
        if first == u.startIndex && last == u.index(before: u.endIndex) { return self }
        return String(self[first...last])
    }
}
