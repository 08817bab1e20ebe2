import RouterJSON

/// One-line summaries of the affected resource, e.g. `EC2 instance i-0abc (web-1)`, `S3 bucket logs (IAMUser alice,
/// access key AKIA...)`, `attack sequence of 14 signals across 3 resources`.
///
/// The text contains names from the finding (tag values, bucket and user names): attacker-influenced, so renderers
/// must escape it like any other finding text. Each name is cut at ``maxPart`` characters (``clip(_:)-(String)``).
///
/// Read from the tape in two steps: ``shape(_:_:resource:service:)`` finds what to say (a ``Shape`` whose names are
/// ``Piece``s: byte ranges of the document for ASCII text, clipped strings otherwise), then the text is measured and
/// written into a string of exactly its size (`ResourceSummary+Text.swift`).
enum ResourceSummary {
    static let maxPart = 100
    static let maxListed = 3

    /// What ``guardDuty(_:resource:members:service:)`` describes.
    enum Shape {
        case instance(id: Piece, name: Piece?)
        case principal(Principal)
        case buckets(Buckets, who: Principal?)
        /// The first object's bucket `name` and `key` (string nodes), and how many objects follow.
        case s3Object(bucket: UInt32, key: UInt32, more: Int)
        case eks(cluster: Piece?, workload: Workload?)
        case ecs(Piece)
        case container(name: Piece?, image: Piece?)
        case rds(id: Piece, user: Piece?)
        case rdsLimitless(Piece)
        case lambda(Piece)
        case attackSequence(signals: Int, resources: Int)
        /// `EBS snapshot snap-1`, `EC2 image ami-1`: a label and the last path component of an ARN (a string node).
        case labeled(StaticString, arn: UInt32)
        /// The recovery point's ARN (a string node).
        case recoveryPoint(arn: UInt32, vault: Piece?)
    }

    /// `accessKeyDetails`; at least one part is present.
    struct Principal {
        var userType: Piece?
        var userName: Piece?
        var accessKey: Piece?
    }

    /// `s3BucketDetails`: the first `maxListed` names and how many buckets have one.
    struct Buckets {
        var names: (Piece, Piece?, Piece?)
        var shown: Int
        var total: Int
    }

    struct Workload {
        var type: Piece?
        var namespace: Piece?
        var name: Piece
    }

    /// The kinds of `resource.resourceType` with a summary of their own.
    enum Kind {
        case instance, accessKey, s3Bucket, s3Object, eksCluster, ecsCluster, container, rdsInstance, rdsLimitless
        case lambda, attackSequence, ebsSnapshot, ec2Image, recoveryPoint, other
    }

    /// The summary of a GuardDuty `resource` (and `service`, for attack sequences). Dispatches on `resourceType`; an
    /// unknown or missing type falls back to whichever `*Details` block is present. nil when nothing names a resource.
    static func guardDuty(_ t: Tape, resource: UInt32, members r: ResourceMembers, service: UInt32) -> String? {
        guard t.isObject(resource), let shape = shape(t, r, resource: resource, service: service) else { return nil }
        var measure = TextMeasure(t: t)
        render(shape, t, into: &measure)
        return String(unsafeUninitializedCapacity: measure.count) { out in
            var writer = TextWriter(out: out, t: t)
            render(shape, t, into: &writer)
            return writer.count
        }
    }

    static func shape(_ t: Tape, _ r: ResourceMembers, resource: UInt32, service: UInt32) -> Shape? {
        let specific: Shape?
        switch kind(t, r.resourceType) {
        case .instance: specific = instance(t, r)
        case .accessKey: specific = accessKey(t, r)
        case .s3Bucket: specific = s3Bucket(t, r)
        case .s3Object: specific = s3Object(t, r) ?? s3Bucket(t, r)
        case .eksCluster: specific = eksCluster(t, r)
        case .ecsCluster: specific = ecsCluster(t, r)
        case .container: specific = container(t, r)
        case .rdsInstance: specific = rdsInstance(t, r)
        case .rdsLimitless: specific = rdsLimitless(t, r)
        case .lambda: specific = lambda(t, r)
        // These have no fallback: their findings carry no other detail block worth naming.
        case .attackSequence: return attackSequence(t, service)
        case .ebsSnapshot: return labeled("EBS snapshot", t, t.get(t.get(resource, "ebsSnapshotDetails"), "snapshotArn"))
        case .ec2Image: return labeled("EC2 image", t, t.get(t.get(resource, "ec2ImageDetails"), "imageArn"))
        case .recoveryPoint: return recoveryPoint(t, t.get(resource, "recoveryPointDetails"))
        case .other: specific = nil
        }
        return specific ?? fallback(t, r)
    }

    /// The `resourceType` names with a summary of their own.
    static let kinds: [(name: StaticString, kind: Kind)] = [
        ("Instance", .instance), ("AccessKey", .accessKey), ("S3Bucket", .s3Bucket), ("S3Object", .s3Object),
        ("EKSCluster", .eksCluster), ("KubernetesCluster", .eksCluster), ("ECSCluster", .ecsCluster),
        ("Container", .container), ("RDSDBInstance", .rdsInstance), ("RDSLimitlessDB", .rdsLimitless),
        ("Lambda", .lambda), ("AttackSequence", .attackSequence), ("EBSSnapshot", .ebsSnapshot),
        ("EC2Image", .ec2Image), ("RecoveryPoint", .recoveryPoint),
    ]

    /// The kind named by `resourceType`: byte comparisons for unescaped ASCII text, `String` equality for the rest
    /// (escaped text, and the few non-ASCII characters canonically equivalent to ASCII ones: U+212A KELVIN SIGN is
    /// `K`). `.other` for anything else.
    static func kind(_ t: Tape, _ i: UInt32) -> Kind {
        guard t.isString(i) else { return .other }
        let type = t.raw(i)
        guard !t.isEscaped(i), Tape.isASCII(type) else {
            let text = t.string(i)
            return kinds.first { text == $0.name.description }?.kind ?? .other
        }
        return kinds.first { Tape.equal(type, $0.name) }?.kind ?? .other
    }

    /// The first of the detail blocks that names something, in a fixed order.
    static func fallback(_ t: Tape, _ r: ResourceMembers) -> Shape? {
        instance(t, r) ?? eksCluster(t, r) ?? s3Bucket(t, r) ?? accessKey(t, r) ?? lambda(t, r) ?? rdsInstance(t, r)
            ?? ecsCluster(t, r) ?? container(t, r)
    }

    static func instance(_ t: Tape, _ r: ResourceMembers) -> Shape? {
        let details = r.instanceDetails
        let (instanceId, tags) = t.get(details, "instanceId", "tags")
        guard details != Tape.none, let id = t.clip(instanceId) else { return nil }
        return .instance(id: id, name: nameTag(t, tags))
    }

    /// The `Name` tag of a GuardDuty `tags` array (`[{"key":..,"value":..}]`): the first tag so keyed decides.
    static func nameTag(_ t: Tape, _ tags: UInt32) -> Piece? {
        guard t.isArray(tags) else { return nil }
        let end = t.nodes[Int(tags)].next
        var i = tags + 1
        while i < end {
            let (key, value) = t.get(i, "key", "value")
            if t.stringEquals(key, "Name") { return t.clip(value) }
            i = t.nodes[Int(i)].next
        }
        return nil
    }

    /// `IAMUser alice, access key AKIA...`; `Root` alone when the user name repeats the user type.
    static func principal(_ t: Tape, _ r: ResourceMembers) -> Principal? {
        let details = r.accessKeyDetails
        guard t.isObject(details) else { return nil }
        let (userType, userName, accessKeyId) = t.get(details, "userType", "userName", "accessKeyId")
        let p = Principal(userType: t.clip(userType), userName: t.clip(userName), accessKey: t.clip(accessKeyId))
        return p.userType == nil && p.userName == nil && p.accessKey == nil ? nil : p
    }

    static func accessKey(_ t: Tape, _ r: ResourceMembers) -> Shape? {
        let who = principal(t, r)
        // S3 policy findings (`Policy:S3/...`) carry resourceType AccessKey with the bucket they are about.
        if let buckets = bucketList(t, r) { return .buckets(buckets, who: who) }
        return who.map { .principal($0) }
    }

    static func s3Bucket(_ t: Tape, _ r: ResourceMembers) -> Shape? {
        guard let buckets = bucketList(t, r) else { return nil }
        return .buckets(buckets, who: principal(t, r))
    }

    /// `S3 bucket a` or `S3 buckets a, b, c (+2 more)`.
    static func bucketList(_ t: Tape, _ r: ResourceMembers) -> Buckets? {
        let list = r.s3BucketDetails
        guard t.isArray(list) else { return nil }
        var first: Piece?
        var second: Piece?
        var third: Piece?
        var total = 0
        t.forEachElement(list) { bucket in
            guard let name = t.clip(t.get(bucket, "name"), else: t.get(bucket, "arn")) else { return }
            switch total {
            case 0: first = name
            case 1: second = name
            case 2: third = name
            default: break
            }
            total += 1
        }
        guard let first else { return nil }
        return Buckets(names: (first, second, third), shown: min(total, maxListed), total: total)
    }

    /// Malware Protection for S3: `S3 object s3://bucket/key`, `(+N more)` for further objects.
    static func s3Object(_ t: Tape, _ r: ResourceMembers) -> Shape? {
        let list = r.s3BucketDetails
        guard t.isArray(list) else { return nil }
        var first: (bucket: UInt32, key: UInt32)?
        var total = 0
        t.forEachElement(list) { bucket in
            let (name, objects) = t.get(bucket, "name", "s3ObjectDetails")
            t.forEachElement(objects) { object in
                let key = t.get(object, "key")
                guard t.isString(key) else { return }
                total += 1
                if first == nil { first = (name, key) }
            }
        }
        guard let first else { return nil }
        return .s3Object(bucket: first.bucket, key: first.key, more: total - 1)
    }

    /// `s3://bucket/key`, clipped (a bucket without a string name is empty).
    static func s3ObjectName(_ t: Tape, bucket: UInt32, key: UInt32) -> String? {
        clip("s3://\(t.stringOrNil(bucket) ?? "")/\(t.string(key))")
    }

    static func eksCluster(_ t: Tape, _ r: ResourceMembers) -> Shape? {
        let cluster = t.clip(t.get(r.eksClusterDetails, "name"))
        var workload: Workload?
        let w = t.get(r.kubernetesDetails, "kubernetesWorkloadDetails")
        if t.isObject(w), let name = t.clip(t.get(w, "name")) {
            workload = Workload(type: t.clip(t.get(w, "type")), namespace: t.clip(t.get(w, "namespace")), name: name)
        }
        guard cluster != nil || workload != nil else { return nil }
        return .eks(cluster: cluster, workload: workload)
    }

    static func ecsCluster(_ t: Tape, _ r: ResourceMembers) -> Shape? {
        let details = r.ecsClusterDetails
        guard let name = t.clip(t.get(details, "name"), else: t.get(details, "arn")) else { return nil }
        return .ecs(name)
    }

    static func container(_ t: Tape, _ r: ResourceMembers) -> Shape? {
        let details = r.containerDetails
        guard t.isObject(details) else { return nil }
        let name = t.clip(t.get(details, "name"), else: t.get(details, "id"))
        let image = t.clip(t.get(details, "image"))
        guard name != nil || image != nil else { return nil }
        return .container(name: name, image: image)
    }

    static func rdsInstance(_ t: Tape, _ r: ResourceMembers) -> Shape? {
        let details = r.rdsDbInstanceDetails
        guard let id = t.clip(t.get(details, "dbInstanceIdentifier"), else: t.get(details, "dbClusterIdentifier"))
        else { return nil }
        return .rds(id: id, user: t.clip(t.get(r.rdsDbUserDetails, "user")))
    }

    static func rdsLimitless(_ t: Tape, _ r: ResourceMembers) -> Shape? {
        let details = r.rdsLimitlessDbDetails
        guard let id = t.clip(t.get(details, "dbShardGroupIdentifier"), else: t.get(details, "dbClusterIdentifier"))
        else { return nil }
        return .rdsLimitless(id)
    }

    static func lambda(_ t: Tape, _ r: ResourceMembers) -> Shape? {
        let details = r.lambdaDetails
        guard let name = t.clip(t.get(details, "functionName"), else: t.get(details, "functionArn")) else {
            return nil
        }
        return .lambda(name)
    }

    /// `label` and the last path component of the ARN at `i` (a non-empty string).
    static func labeled(_ label: StaticString, _ t: Tape, _ i: UInt32) -> Shape? {
        arnName(t, i) == nil ? nil : .labeled(label, arn: i)
    }

    /// The last path component of a non-empty string ARN, clipped.
    static func arnName(_ t: Tape, _ i: UInt32) -> String? {
        t.nonEmptyString(i).flatMap { clip(ARN.lastPathComponent($0)) }
    }

    /// AWS Backup: `recovery point ID (vault V)`; the whole ARN when its last component is blank.
    static func recoveryPoint(_ t: Tape, _ details: UInt32) -> Shape? {
        let (arn, vault) = t.get(details, "recoveryPointArn", "backupVaultName")
        guard t.isString(arn) else { return nil }
        return .recoveryPoint(arn: arn, vault: t.clip(vault))
    }

    /// Attack sequences (`service.detection.sequence`): `attack sequence of 14 signals across 3 resources`.
    /// Never lists the signals themselves: there can be hundreds.
    static func attackSequence(_ t: Tape, _ service: UInt32) -> Shape? {
        let sequence = t.get(t.get(service, "detection"), "sequence")
        guard t.isObject(sequence) else { return nil }
        let (s, r) = t.get(sequence, "signals", "resources")
        let signals = t.isArray(s) ? t.childCount(s) : 0
        let resources = t.isArray(r) ? t.childCount(r) : 0
        guard signals > 0 || resources > 0 else { return nil }
        return .attackSequence(signals: signals, resources: resources)
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

/// Members of a GuardDuty `resource` the summary and the view read.
struct ResourceMembers {
    var resourceType = Tape.none, instanceDetails = Tape.none, accessKeyDetails = Tape.none
    var s3BucketDetails = Tape.none, eksClusterDetails = Tape.none, kubernetesDetails = Tape.none
    var ecsClusterDetails = Tape.none, containerDetails = Tape.none, rdsDbInstanceDetails = Tape.none
    var rdsDbUserDetails = Tape.none, rdsLimitlessDbDetails = Tape.none, lambdaDetails = Tape.none

    @inline(__always) mutating func take(_ k: UnsafeBufferPointer<UInt8>, _ v: UInt32) {
        switch k.count {
        case 12: _ = Tape.claim(&resourceType, k, "resourceType", v)
        case 13: _ = Tape.claim(&lambdaDetails, k, "lambdaDetails", v)
        case 15: _ = Tape.claim(&instanceDetails, k, "instanceDetails", v) || Tape.claim(&s3BucketDetails, k, "s3BucketDetails", v)
        case 16:
            _ = Tape.claim(&accessKeyDetails, k, "accessKeyDetails", v) || Tape.claim(&containerDetails, k, "containerDetails", v)
                || Tape.claim(&rdsDbUserDetails, k, "rdsDbUserDetails", v)
        case 17:
            _ = Tape.claim(&eksClusterDetails, k, "eksClusterDetails", v) || Tape.claim(&kubernetesDetails, k, "kubernetesDetails", v)
                || Tape.claim(&ecsClusterDetails, k, "ecsClusterDetails", v)
        case 20: _ = Tape.claim(&rdsDbInstanceDetails, k, "rdsDbInstanceDetails", v)
        case 21: _ = Tape.claim(&rdsLimitlessDbDetails, k, "rdsLimitlessDbDetails", v)
        default: break
        }
    }
}

