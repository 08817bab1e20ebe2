import RouterJSON

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

/// A name as ``ResourceSummary/clip(_:)-(String)`` returns it, for ASCII text: a byte range of the tape (control
/// characters shown as spaces), cut to `maxPart - 1` bytes plus `…` when longer than `maxPart`.
struct Piece {
    var start: UInt32
    /// At most `maxPart` bytes.
    var count: UInt8
    var controls: Bool
    var ellipsis: Bool

    init(start: Int, count: Int, controls: Bool, ellipsis: Bool) {
        self.start = UInt32(truncatingIfNeeded: start)
        self.count = UInt8(truncatingIfNeeded: count)
        self.controls = controls
        self.ellipsis = ellipsis
    }

    var begin: Int { Int(start) }
    var length: Int { Int(count) }
}

extension Tape {
    /// ``ResourceSummary/clip(_:)-(JSONNode?)`` over the tape: nil for absent, non-string and blank values.
    /// Escaped or non-ASCII text bails (the general code handles it).
    func clip(_ i: UInt32) throws(Bail) -> Piece? {
        guard isString(i) else { return nil }
        guard !isEscaped(i) else { throw Bail() }
        let n = nodes[Int(i)]
        var lo = Int(n.start)
        var hi = lo + Int(n.len)
        var controls = false
        for j in lo..<hi {
            let b = buf[j]
            if b >= 0x80 { throw Bail() }
            if b < 0x20 || b == 0x7F { controls = true }
        }
        // ASCII: every byte is one character, so clip's trimming and cutting work on bytes. Controls become spaces,
        // hence trimmed like spaces.
        @inline(__always) func blank(_ b: UInt8) -> Bool { b <= 0x20 || b == 0x7F }
        while lo < hi && blank(buf[lo]) { lo += 1 }
        while hi > lo && blank(buf[hi - 1]) { hi -= 1 }
        guard lo < hi else { return nil }
        var count = hi - lo
        var ellipsis = false
        if count > ResourceSummary.maxPart {
            count = ResourceSummary.maxPart - 1
            ellipsis = true
        }
        return Piece(start: lo, count: count, controls: controls, ellipsis: ellipsis)
    }

    /// `clip(first) ?? clip(second)`.
    @inline(__always) func clip(_ first: UInt32, else second: UInt32) throws(Bail) -> Piece? {
        if let p = try clip(first) { return p }
        return try clip(second)
    }

    /// Whether two pieces are the same text (`==` of the clipped strings; ASCII, so byte equality).
    func same(_ a: Piece, _ b: Piece) -> Bool {
        guard a.count == b.count, a.ellipsis == b.ellipsis else { return false }
        for j in 0..<a.length {
            var x = buf[a.begin + j]
            var y = buf[b.begin + j]
            if x < 0x20 || x == 0x7F { x = 0x20 }
            if y < 0x20 || y == 0x7F { y = 0x20 }
            if x != y { return false }
        }
        return true
    }
}

/// Text output: measured first, then written into a string of exactly that size.
protocol TextSink {
    mutating func text(_ s: StaticString)
    mutating func piece(_ p: Piece)
    mutating func number(_ n: Int)
}

struct TextMeasure: TextSink {
    var count = 0
    @inline(__always) mutating func text(_ s: StaticString) { count += s.utf8CodeUnitCount }
    @inline(__always) mutating func piece(_ p: Piece) { count += p.length + (p.ellipsis ? 3 : 0) }
    @inline(__always) mutating func number(_ n: Int) { count += TextWriter.digits(n) }
}

struct TextWriter: TextSink {
    let out: UnsafeMutableBufferPointer<UInt8>
    let buf: UnsafePointer<UInt8>
    var count = 0

    @inline(__always) mutating func text(_ s: StaticString) {
        let p = s.utf8Start
        for j in 0..<s.utf8CodeUnitCount { out[count + j] = p[j] }
        count += s.utf8CodeUnitCount
    }

    @inline(__always) mutating func piece(_ p: Piece) {
        if p.controls {
            for j in 0..<p.length {
                let b = buf[p.begin + j]
                out[count + j] = b < 0x20 || b == 0x7F ? 0x20 : b
            }
        } else {
            UnsafeMutableRawPointer(out.baseAddress! + count).copyMemory(from: buf + p.begin, byteCount: p.length)
        }
        count += p.length
        if p.ellipsis { text("…") }
    }

    /// A non-negative count in decimal.
    @inline(__always) mutating func number(_ n: Int) {
        let width = TextWriter.digits(n)
        var v = n
        var j = count + width - 1
        repeat {
            out[j] = UInt8(ascii: "0") + UInt8(v % 10)
            v /= 10
            j -= 1
        } while v > 0
        count += width
    }

    /// Digits of a non-negative `n` in decimal (`"\(n)"`).
    @inline(__always) static func digits(_ n: Int) -> Int {
        var v = n
        var d = 1
        while v >= 10 {
            v /= 10
            d += 1
        }
        return d
    }
}

extension ResourceSummary {
    /// What ``guardDuty(resource:service:)`` describes, with every name a ``Piece`` of the tape.
    enum Shape {
        case instance(id: Piece, name: Piece?)
        case principal(Principal)
        case buckets(Buckets, who: Principal?)
        case eks(cluster: Piece?, workload: Workload?)
        case ecs(Piece)
        case container(name: Piece?, image: Piece?)
        case rds(id: Piece, user: Piece?)
        case rdsLimitless(Piece)
        case lambda(Piece)
        case attackSequence(signals: Int, resources: Int)
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

    /// ``guardDuty(resource:service:)`` over the tape (same dispatch, same texts). Bails on escaped or non-ASCII
    /// names, escaped `Name` tag keys, and on the resource types summarised from ARNs or object keys.
    static func fastGuardDuty(_ t: Tape, resource: UInt32, members r: ResourceMembers, service: UInt32) throws(Bail)
        -> String?
    {
        guard t.isObject(resource) else { return nil }
        guard let shape = try shape(t, r, service: service) else { return nil }
        var measure = TextMeasure()
        render(shape, t, into: &measure)
        return String(unsafeUninitializedCapacity: measure.count) { out in
            var writer = TextWriter(out: out, buf: t.buf)
            render(shape, t, into: &writer)
            return writer.count
        }
    }

    static func shape(_ t: Tape, _ r: ResourceMembers, service: UInt32) throws(Bail) -> Shape? {
        guard t.isString(r.resourceType) else { return try fallback(t, r) }
        let type = t.raw(r.resourceType)
        guard !t.isEscaped(r.resourceType), Tape.isASCII(type) else { throw Bail() }
        let specific: Shape?
        switch type.count {
        case 6 where Tape.equal(type, "Lambda"): specific = try lambda(t, r)
        case 8 where Tape.equal(type, "Instance"): specific = try instance(t, r)
        case 8 where Tape.equal(type, "S3Bucket"): specific = try s3Bucket(t, r)
        case 9 where Tape.equal(type, "AccessKey"): specific = try accessKey(t, r)
        case 9 where Tape.equal(type, "Container"): specific = try container(t, r)
        case 10 where Tape.equal(type, "EKSCluster"), 17 where Tape.equal(type, "KubernetesCluster"):
            specific = try eksCluster(t, r)
        case 10 where Tape.equal(type, "ECSCluster"): specific = try ecsCluster(t, r)
        case 13 where Tape.equal(type, "RDSDBInstance"): specific = try rdsInstance(t, r)
        case 14 where Tape.equal(type, "RDSLimitlessDB"): specific = try rdsLimitless(t, r)
        case 14 where Tape.equal(type, "AttackSequence"): return try attackSequence(t, service)
        case 8 where Tape.equal(type, "S3Object"), 11 where Tape.equal(type, "EBSSnapshot"),
            8 where Tape.equal(type, "EC2Image"), 13 where Tape.equal(type, "RecoveryPoint"):
            throw Bail()
        default: specific = nil
        }
        if let specific { return specific }
        return try fallback(t, r)
    }

    static func fallback(_ t: Tape, _ r: ResourceMembers) throws(Bail) -> Shape? {
        if let s = try instance(t, r) { return s }
        if let s = try eksCluster(t, r) { return s }
        if let s = try s3Bucket(t, r) { return s }
        if let s = try accessKey(t, r) { return s }
        if let s = try lambda(t, r) { return s }
        if let s = try rdsInstance(t, r) { return s }
        if let s = try ecsCluster(t, r) { return s }
        return try container(t, r)
    }

    static func instance(_ t: Tape, _ r: ResourceMembers) throws(Bail) -> Shape? {
        let details = r.instanceDetails
        let (instanceId, tags) = t.get(details, "instanceId", "tags")
        guard details != Tape.none, let id = try t.clip(instanceId) else { return nil }
        return .instance(id: id, name: try nameTag(t, tags))
    }

    static func nameTag(_ t: Tape, _ tags: UInt32) throws(Bail) -> Piece? {
        guard t.isArray(tags) else { return nil }
        let end = t.nodes[Int(tags)].next
        var i = tags + 1
        while i < end {
            let (key, value) = t.get(i, "key", "value")
            if try t.rawEquals(key, "Name") { return try t.clip(value) }
            i = t.nodes[Int(i)].next
        }
        return nil
    }

    static func principal(_ t: Tape, _ r: ResourceMembers) throws(Bail) -> Principal? {
        let details = r.accessKeyDetails
        guard t.isObject(details) else { return nil }
        let (userType, userName, accessKeyId) = t.get(details, "userType", "userName", "accessKeyId")
        let p = Principal(
            userType: try t.clip(userType), userName: try t.clip(userName), accessKey: try t.clip(accessKeyId))
        return p.userType == nil && p.userName == nil && p.accessKey == nil ? nil : p
    }

    static func accessKey(_ t: Tape, _ r: ResourceMembers) throws(Bail) -> Shape? {
        let who = try principal(t, r)
        if let buckets = try bucketList(t, r) { return .buckets(buckets, who: who) }
        return who.map { .principal($0) }
    }

    static func s3Bucket(_ t: Tape, _ r: ResourceMembers) throws(Bail) -> Shape? {
        guard let buckets = try bucketList(t, r) else { return nil }
        return .buckets(buckets, who: try principal(t, r))
    }

    static func bucketList(_ t: Tape, _ r: ResourceMembers) throws(Bail) -> Buckets? {
        let list = r.s3BucketDetails
        guard t.isArray(list) else { return nil }
        var first: Piece?
        var second: Piece?
        var third: Piece?
        var total = 0
        try t.forEachElement(list) { (bucket: UInt32) throws(Bail) in
            guard let name = try t.clip(t.get(bucket, "name"), else: t.get(bucket, "arn")) else { return }
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

    static func eksCluster(_ t: Tape, _ r: ResourceMembers) throws(Bail) -> Shape? {
        let cluster = try t.clip(t.get(r.eksClusterDetails, "name"))
        var workload: Workload?
        let w = t.get(r.kubernetesDetails, "kubernetesWorkloadDetails")
        if t.isObject(w), let name = try t.clip(t.get(w, "name")) {
            workload = Workload(
                type: try t.clip(t.get(w, "type")), namespace: try t.clip(t.get(w, "namespace")), name: name)
        }
        guard cluster != nil || workload != nil else { return nil }
        return .eks(cluster: cluster, workload: workload)
    }

    static func ecsCluster(_ t: Tape, _ r: ResourceMembers) throws(Bail) -> Shape? {
        let details = r.ecsClusterDetails
        guard let name = try t.clip(t.get(details, "name"), else: t.get(details, "arn")) else { return nil }
        return .ecs(name)
    }

    static func container(_ t: Tape, _ r: ResourceMembers) throws(Bail) -> Shape? {
        let details = r.containerDetails
        guard t.isObject(details) else { return nil }
        let name = try t.clip(t.get(details, "name"), else: t.get(details, "id"))
        let image = try t.clip(t.get(details, "image"))
        guard name != nil || image != nil else { return nil }
        return .container(name: name, image: image)
    }

    static func rdsInstance(_ t: Tape, _ r: ResourceMembers) throws(Bail) -> Shape? {
        let details = r.rdsDbInstanceDetails
        guard
            let id = try t.clip(t.get(details, "dbInstanceIdentifier"), else: t.get(details, "dbClusterIdentifier"))
        else { return nil }
        return .rds(id: id, user: try t.clip(t.get(r.rdsDbUserDetails, "user")))
    }

    static func rdsLimitless(_ t: Tape, _ r: ResourceMembers) throws(Bail) -> Shape? {
        let details = r.rdsLimitlessDbDetails
        guard let id = try t.clip(t.get(details, "dbShardGroupIdentifier"), else: t.get(details, "dbClusterIdentifier"))
        else { return nil }
        return .rdsLimitless(id)
    }

    static func lambda(_ t: Tape, _ r: ResourceMembers) throws(Bail) -> Shape? {
        let details = r.lambdaDetails
        guard let name = try t.clip(t.get(details, "functionName"), else: t.get(details, "functionArn")) else {
            return nil
        }
        return .lambda(name)
    }

    static func attackSequence(_ t: Tape, _ service: UInt32) throws(Bail) -> Shape? {
        let sequence = t.get(t.get(service, "detection"), "sequence")
        guard t.isObject(sequence) else { return nil }
        let s = t.get(sequence, "signals")
        let r = t.get(sequence, "resources")
        let signals = t.isArray(s) ? t.childCount(s) : 0
        let resources = t.isArray(r) ? t.childCount(r) : 0
        guard signals > 0 || resources > 0 else { return nil }
        return .attackSequence(signals: signals, resources: resources)
    }

    // MARK: Text

    static func render<S: TextSink>(_ shape: Shape, _ t: Tape, into out: inout S) {
        switch shape {
        case .instance(let id, let name):
            out.text("EC2 instance ")
            out.piece(id)
            if let name {
                out.text(" (")
                out.piece(name)
                out.text(")")
            }
        case .principal(let who):
            render(who, t, into: &out)
        case .buckets(let buckets, let who):
            out.text(buckets.total == 1 ? "S3 bucket " : "S3 buckets ")
            out.piece(buckets.names.0)
            if buckets.shown > 1, let second = buckets.names.1 {
                out.text(", ")
                out.piece(second)
            }
            if buckets.shown > 2, let third = buckets.names.2 {
                out.text(", ")
                out.piece(third)
            }
            if buckets.total > buckets.shown {
                out.text(" (+")
                out.number(buckets.total - buckets.shown)
                out.text(" more)")
            }
            if let who {
                out.text(" (")
                render(who, t, into: &out)
                out.text(")")
            }
        case .eks(let cluster, let workload):
            if let cluster {
                out.text("EKS cluster ")
                out.piece(cluster)
                if let workload {
                    out.text(" (")
                    render(workload, into: &out)
                    out.text(")")
                }
            } else if let workload {
                out.text("Kubernetes ")
                render(workload, into: &out)
            }
        case .ecs(let name):
            out.text("ECS cluster ")
            out.piece(name)
        case .container(let name, let image):
            out.text("container")
            if let name {
                out.text(" ")
                out.piece(name)
            }
            if let image {
                out.text(" (image ")
                out.piece(image)
                out.text(")")
            }
        case .rds(let id, let user):
            out.text("RDS DB instance ")
            out.piece(id)
            if let user {
                out.text(" (user ")
                out.piece(user)
                out.text(")")
            }
        case .rdsLimitless(let id):
            out.text("RDS Limitless DB ")
            out.piece(id)
        case .lambda(let name):
            out.text("Lambda function ")
            out.piece(name)
        case .attackSequence(let signals, let resources):
            out.text("attack sequence of ")
            out.number(signals)
            out.text(signals == 1 ? " signal" : " signals")
            if resources > 0 {
                out.text(" across ")
                out.number(resources)
                out.text(resources == 1 ? " resource" : " resources")
            }
        }
    }

    /// `IAMUser alice, access key AKIA...`; the type alone when the name repeats it; `user alice` without a type.
    static func render<S: TextSink>(_ who: Principal, _ t: Tape, into out: inout S) {
        var wrote = true
        switch (who.userType, who.userName) {
        case let (type?, name?):
            out.piece(type)
            if !t.same(type, name) {
                out.text(" ")
                out.piece(name)
            }
        case let (type?, nil):
            out.piece(type)
        case let (nil, name?):
            out.text("user ")
            out.piece(name)
        case (nil, nil):
            wrote = false
        }
        if let key = who.accessKey {
            out.text(wrote ? ", access key " : "access key ")
            out.piece(key)
        }
    }

    static func render<S: TextSink>(_ w: Workload, into out: inout S) {
        if let type = w.type {
            out.piece(type)
            out.text(" ")
        }
        if let namespace = w.namespace {
            out.piece(namespace)
            out.text("/")
        }
        out.piece(w.name)
    }
}
