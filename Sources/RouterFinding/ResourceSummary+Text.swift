/// Writing a resource summary: its ``ResourceSummary/Shape`` is measured, then written into a string of exactly that
/// size, copying tape bytes straight into it.

/// A name as ``ResourceSummary/clip(_:)-(String)`` returns it, without allocating (a trivial 8-byte value: shapes
/// are built for every finding). For unescaped ASCII text (nearly every name), a byte range of the tape (control
/// characters shown as spaces), cut to `maxPart - 1` bytes plus `…` when longer than `maxPart`. For other text, the
/// string node itself (`start` is its index), clipped as a string when written.
struct Piece {
    var start: UInt32
    /// At most `maxPart` bytes.
    var count: UInt8
    var controls: Bool
    var ellipsis: Bool
    /// `start` is a string node whose text is escaped or not ASCII.
    var node: Bool

    init(start: Int, count: Int, controls: Bool, ellipsis: Bool) {
        self.start = UInt32(truncatingIfNeeded: start)
        self.count = UInt8(truncatingIfNeeded: count)
        self.controls = controls
        self.ellipsis = ellipsis
        node = false
    }

    init(node: UInt32) {
        start = node
        count = 0
        controls = false
        ellipsis = false
        self.node = true
    }

    var begin: Int { Int(start) }
    var length: Int { Int(count) }
}

extension Tape {
    /// ``ResourceSummary/clip(_:)-(JSONNode?)`` over the tape: nil for absent, non-string and blank values.
    func clip(_ i: UInt32) -> Piece? {
        guard isString(i) else { return nil }
        guard !isEscaped(i) else { return clipText(i) }
        let n = nodes[Int(i)]
        var lo = Int(n.start)
        var hi = lo + Int(n.len)
        var controls = false
        for j in lo..<hi {
            let b = buf[j]
            if b >= 0x80 { return clipText(i) }
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

    /// Escaped or non-ASCII text: clipped as a string (trimming and cutting count characters, not bytes).
    @inline(never) func clipText(_ i: UInt32) -> Piece? {
        ResourceSummary.clip(string(i)) == nil ? nil : Piece(node: i)
    }

    /// `clip(first) ?? clip(second)`.
    @inline(__always) func clip(_ first: UInt32, else second: UInt32) -> Piece? {
        if let p = clip(first) { return p }
        return clip(second)
    }

    /// The text of a piece, as written.
    func text(_ p: Piece) -> String {
        if p.node { return ResourceSummary.clip(string(p.start)) ?? "" }
        var measure = TextMeasure(t: self)
        measure.piece(p)
        return String(unsafeUninitializedCapacity: measure.count) { out in
            var writer = TextWriter(out: out, t: self)
            writer.piece(p)
            return writer.count
        }
    }

    /// Whether two pieces are the same text (`==` of the clipped strings: for two tape ranges, ASCII, byte equality).
    func same(_ a: Piece, _ b: Piece) -> Bool {
        if a.node || b.node { return text(a) == text(b) }
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
    var t: Tape { get }
    mutating func text(_ s: StaticString)
    /// Text that is not on the tape (made from decoded values; rare).
    mutating func string(_ s: String)
    mutating func piece(_ p: Piece)
    mutating func number(_ n: Int)
}

struct TextMeasure: TextSink {
    let t: Tape
    var count = 0
    @inline(__always) mutating func text(_ s: StaticString) { count += s.utf8CodeUnitCount }
    mutating func string(_ s: String) { count += s.utf8.count }
    @inline(__always) mutating func piece(_ p: Piece) {
        if p.node {
            string(t.text(p))
        } else {
            count += p.length + (p.ellipsis ? 3 : 0)
        }
    }
    @inline(__always) mutating func number(_ n: Int) { count += TextWriter.digits(n) }
}

struct TextWriter: TextSink {
    let out: UnsafeMutableBufferPointer<UInt8>
    let t: Tape
    var buf: UnsafePointer<UInt8> { t.buf }
    var count = 0

    init(out: UnsafeMutableBufferPointer<UInt8>, t: Tape) {
        self.out = out
        self.t = t
    }

    mutating func string(_ s: String) {
        var s = s
        s.withUTF8 { u in
            if let base = u.baseAddress {
                UnsafeMutableRawPointer(out.baseAddress! + count).copyMemory(from: base, byteCount: u.count)
            }
            count += u.count
        }
    }

    @inline(__always) mutating func text(_ s: StaticString) {
        let p = s.utf8Start
        for j in 0..<s.utf8CodeUnitCount { out[count + j] = p[j] }
        count += s.utf8CodeUnitCount
    }

    @inline(__always) mutating func piece(_ p: Piece) {
        if p.node {
            string(t.text(p))
            return
        }
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
        case .s3Object(let bucket, let key, let more):
            out.text("S3 object ")
            out.string(s3ObjectName(t, bucket: bucket, key: key) ?? "")
            if more > 0 {
                out.text(" (+")
                out.number(more)
                out.text(" more)")
            }
        case .labeled(let label, let arn):
            out.text(label)
            out.text(" ")
            out.string(arnName(t, arn) ?? "")
        case .recoveryPoint(let arn, let vault):
            out.text("recovery point ")
            let text = t.string(arn)
            out.string(clip(ARN.lastPathComponent(text)) ?? text)
            if let vault {
                out.text(" (vault ")
                out.piece(vault)
                out.text(")")
            }
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
