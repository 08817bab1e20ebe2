import RouterJSON

extension Finding {
    /// Builds the view of one GuardDuty finding.
    ///
    /// - Parameters:
    ///   - event: the EventBridge envelope (`account`, `region` fall back to it), nil for a bare finding.
    ///   - detail: the finding object (`detail` of a `GuardDuty Finding` event, or a bare finding).
    /// - Throws: `.notAFinding` when `detail` is not an object or lacks a non-empty string `id` or `type` (with a
    ///   dedicated message for SDK-shaped PascalCase findings). Everything else is tolerated: missing or odd fields get
    ///   the defaults documented on each property, unknown and malformed types are split as well as possible.
    ///
    /// Cost: one pass over each of `detail`, `service` and `resource` on the document's tape (``fast(envelope:detail:)``);
    /// no date formatter, no regular expression. The only extra parse is of `service.additionalInfo.value` (a JSON
    /// string) when it mentions `sample` and `additionalInfo.sample` is not set.
    public init(event: JSONNode?, detail: JSONNode) throws(InputError) {
        do {
            self = try Finding.fast(envelope: event.map { EnvelopeFields(event: $0) }, detail: detail)
        } catch {
            try self.init(general: event, detail: detail)
        }
    }

    /// The general reader over `JSONNode`s: the reference for ``fast(envelope:detail:)``, which hands every
    /// input it does not read itself (and every error) to this.
    init(general event: JSONNode?, detail: JSONNode) throws(InputError) {
        guard detail.kind == .object else {
            throw .notAFinding("detail is \(JSONFields.kindName(detail.kind)), not an object")
        }
        let id = try JSONFields.requiredString(detail, "id")
        let type = try JSONFields.requiredString(detail, "type")
        let parts = Finding.parseType(type)

        let severityValue = JSONFields.number(detail["severity"])
        let arn = detail["arn"]?.string
        let eventAccount = event.flatMap { JSONFields.identifier($0["account"]) }
        let account = JSONFields.identifier(detail["accountId"]) ?? eventAccount ?? ""
        let region =
            JSONFields.nonEmptyString(detail["region"]) ?? event.flatMap { JSONFields.nonEmptyString($0["region"]) }
            ?? arn.flatMap { ARN.component($0, 3) } ?? ""
        let partition =
            JSONFields.nonEmptyString(detail["partition"]) ?? arn.flatMap { ARN.component($0, 1) }
            ?? Partition.derived(fromRegion: region)

        let resource = detail["resource"]
        let service = detail["service"]
        let additionalInfo = service?["additionalInfo"]

        self.init(
            document: detail.document,
            detail: detail,
            id: id,
            type: type,
            purpose: parts.purpose,
            resourceKind: parts.resourceKind,
            family: parts.family,
            artifact: parts.artifact,
            severity: severityValue ?? 0,
            severityLabel: SeverityLabel(severity: severityValue),
            title: detail["title"]?.string ?? "",
            description: detail["description"]?.string ?? "",
            account: account,
            eventAccount: eventAccount,
            region: region,
            partition: partition,
            resourceType: JSONFields.nonEmptyString(resource?["resourceType"]),
            actionType: JSONFields.nonEmptyString(service?["action"]?["actionType"]),
            count: JSONFields.count(service?["count"]),
            firstSeen: Timestamp.string(service?["eventFirstSeen"]),
            lastSeen: Timestamp.string(service?["eventLastSeen"]),
            createdAt: Timestamp.string(detail["createdAt"]),
            updatedAt: Timestamp.string(detail["updatedAt"]),
            archived: JSONFields.isTrue(service?["archived"]),
            sample: Finding.isSample(additionalInfo),
            consoleURL: ConsoleURL.finding(id: id, region: region, partition: partition),
            resourceSummary: ResourceSummary.guardDuty(resource: resource, service: service)
        )
    }

    /// Splits a finding type `ThreatPurpose:ResourceTypeAffected/ThreatFamilyName.DetectionMechanism!Artifact`.
    ///
    /// Splits on the first `:` (purpose), then the first `/` (resource kind before, family after), then the first `!`
    /// in the family (artifact). `.` stays inside the family (`DenialOfService.Tcp`). Never fails:
    /// - no `:`: purpose is empty and the whole string is split on `/`;
    /// - no `/` (`Recon:EC2 PortProbeUnprotectedPort`): the resource kind is the rest, the family is empty;
    /// - an empty artifact (`...!`) is nil.
    public static func parseType(_ type: String) -> (
        purpose: String, resourceKind: String, family: String, artifact: String?
    ) {
        var type = type
        return type.withUTF8 { u in
            @inline(__always) func text(_ from: Int, _ to: Int) -> String {
                String(decoding: UnsafeBufferPointer(rebasing: u[from..<to]), as: UTF8.self)
            }
            @inline(__always) func find(_ byte: UInt8, from: Int) -> Int? {
                var i = from
                while i < u.count {
                    if u[i] == byte { return i }
                    i += 1
                }
                return nil
            }
            // The separators are ASCII, so every cut is on a character boundary.
            let colon = find(UInt8(ascii: ":"), from: 0)
            let purpose = colon.map { text(0, $0) } ?? ""
            let rest = colon.map { $0 + 1 } ?? 0
            guard let slash = find(UInt8(ascii: "/"), from: rest) else {
                return (purpose, text(rest, u.count), "", nil)
            }
            let kind = text(rest, slash)
            guard let bang = find(UInt8(ascii: "!"), from: slash + 1) else {
                return (purpose, kind, text(slash + 1, u.count), nil)
            }
            return (purpose, kind, text(slash + 1, bang), bang + 1 == u.count ? nil : text(bang + 1, u.count))
        }
    }

    /// `additionalInfo.sample` is true (or `"true"`), or `additionalInfo.value` is a JSON string holding an object
    /// whose `sample` is true (or `"true"`).
    static func isSample(_ additionalInfo: JSONNode?) -> Bool {
        guard let info = additionalInfo, info.kind == .object else { return false }
        if JSONFields.isTrue(info["sample"]) { return true }
        guard let value = info["value"]?.string, value.utf8.count <= 1 << 20, JSONFields.mentionsSample(value) else {
            return false
        }
        guard let inner = try? JSONDocument(bytes: Array(value.utf8), maxDepth: 64) else { return false }
        return JSONFields.isTrue(inner.root["sample"])
    }
}

/// Small typed readers over `JSONNode` with the tolerance rules of the finding view.
enum JSONFields {
    static func kindName(_ kind: JSONKind) -> String {
        switch kind {
        case .null: "null"
        case .bool: "a boolean"
        case .number: "a number"
        case .string: "a string"
        case .array: "an array"
        case .object: "an object"
        }
    }

    /// A non-empty string member, or `.notAFinding` naming the key (and the PascalCase SDK shape when that is why).
    static func requiredString(_ object: JSONNode, _ key: String) throws(InputError) -> String {
        if let node = object[key] {
            guard let s = node.string else {
                throw .notAFinding("detail has no string '\(key)' (it is \(kindName(node.kind)))")
            }
            guard !s.isEmpty else { throw .notAFinding("detail has an empty '\(key)'") }
            return s
        }
        if looksPascalCase(object) {
            throw .notAFinding("keys are PascalCase (SDK shape), EventBridge delivers camelCase")
        }
        throw .notAFinding("detail has no string '\(key)'")
    }

    /// The SDK (`GetFindings` via boto3 and friends) spells finding keys `Id`, `Type`, `AccountId`, `Severity`.
    static func looksPascalCase(_ object: JSONNode) -> Bool {
        object["Id"] != nil || object["Type"] != nil || object["AccountId"] != nil
            || (object["Severity"] != nil && object["SchemaVersion"] != nil)
    }

    static func nonEmptyString(_ node: JSONNode?) -> String? {
        guard let s = node?.string, !s.isEmpty else { return nil }
        return s
    }

    /// Account ids are strings; hand-written inputs sometimes make them numbers (leading zeros then are lost).
    static func identifier(_ node: JSONNode?) -> String? {
        guard let node else { return nil }
        if let s = node.string { return s.isEmpty ? nil : s }
        if node.kind == .number, let i = node.int { return String(i) }
        return nil
    }

    /// A finite number, or a string holding a plain decimal number (`"8.0"`, `" 5 "`); nil otherwise.
    static func number(_ node: JSONNode?) -> Double? {
        guard let node else { return nil }
        switch node.kind {
        case .number:
            guard let d = node.double, d.isFinite else { return nil }
            return d
        case .string:
            guard let s = node.string else { return nil }
            return decimal(s)
        default:
            return nil
        }
    }

    /// Parses `[+-]digits[.digits][e[+-]digits]` with optional surrounding spaces; rejects hex, `inf`, `nan`.
    static func decimal(_ text: String) -> Double? {
        var bytes = Substring(text).utf8[...]
        while let f = bytes.first, f == 0x20 || f == 0x09 { bytes = bytes.dropFirst() }
        while let l = bytes.last, l == 0x20 || l == 0x09 { bytes = bytes.dropLast() }
        guard !bytes.isEmpty, bytes.count <= 64 else { return nil }
        var digits = 0
        for b in bytes {
            switch b {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digits += 1
            case UInt8(ascii: "."), UInt8(ascii: "-"), UInt8(ascii: "+"), UInt8(ascii: "e"), UInt8(ascii: "E"): break
            default: return nil
            }
        }
        guard digits > 0, let d = Double(String(decoding: bytes, as: UTF8.self)), d.isFinite else { return nil }
        return d
    }

    /// `service.count`: a positive integer (also an integral float or a digit string); 1 otherwise.
    static func count(_ node: JSONNode?) -> Int {
        guard let node else { return 1 }
        if node.kind == .number {
            if let i = node.int { return i >= 1 ? Int(clamping: i) : 1 }
            if let d = node.double, d.isFinite, d >= 1, d < 9.0e18, d.rounded(.towardZero) == d { return Int(d) }
            return 1
        }
        if let s = node.string, let i = Int(s), i >= 1 { return i }
        return 1
    }

    /// Whether `text` contains `sample` (a byte search: cheaper than the generic `String.contains`).
    static func mentionsSample(_ text: String) -> Bool {
        let needle: [UInt8] = Array("sample".utf8)
        var text = text
        return text.withUTF8 { bytes in
            guard bytes.count >= needle.count else { return false }
            var i = 0
            let last = bytes.count - needle.count
            while i <= last {
                if bytes[i] == UInt8(ascii: "s") {
                    var j = 1
                    while j < needle.count && bytes[i + j] == needle[j] { j += 1 }
                    if j == needle.count { return true }
                }
                i += 1
            }
            return false
        }
    }

    /// `true`, or the string `"true"` (any case).
    static func isTrue(_ node: JSONNode?) -> Bool {
        guard let node else { return false }
        if let b = node.bool { return b }
        if let s = node.string { return s.count == 4 && s.lowercased() == "true" }
        return false
    }
}

/// ARN helpers (`arn:partition:service:region:account:resource`).
enum ARN {
    /// The `index`-th `:`-separated component, nil when absent or empty, or when `arn` does not start with `arn:`.
    static func component(_ arn: String, _ index: Int) -> String? {
        guard arn.hasPrefix("arn:") else { return nil }
        var i = 0
        for part in arn.utf8.split(separator: UInt8(ascii: ":"), maxSplits: 5, omittingEmptySubsequences: false) {
            if i == index { return part.isEmpty ? nil : String(decoding: part, as: UTF8.self) }
            i += 1
        }
        return nil
    }

    /// The text after the last `/` (or the whole string when there is none).
    static func lastPathComponent(_ s: String) -> String {
        guard let slash = s.utf8.lastIndex(of: UInt8(ascii: "/")) else { return s }
        return String(s[s.utf8.index(after: slash)...])
    }
}

enum Partition {
    /// `aws-cn` for `cn-*` regions, `aws-us-gov` for `us-gov-*`, `aws` otherwise.
    static func derived(fromRegion region: String) -> String {
        if region.hasPrefix("cn-") { return "aws-cn" }
        if region.hasPrefix("us-gov-") { return "aws-us-gov" }
        return "aws"
    }
}

/// The GuardDuty console link of a finding.
public enum ConsoleURL {
    /// `https://<console host>/guardduty/home?region=R#/findings?macros=current&fId=ID`; the host follows the partition
    /// (`aws-cn`: console.amazonaws.cn, `aws-us-gov`: console.amazonaws-us-gov.com, anything else:
    /// console.aws.amazon.com). Region and id are percent-encoded (all but RFC 3986 unreserved characters).
    public static func finding(id: String, region: String, partition: String) -> String {
        let host: StaticString
        switch partition {
        case "aws-cn": host = "console.amazonaws.cn"
        case "aws-us-gov": host = "console.amazonaws-us-gov.com"
        default: host = "console.aws.amazon.com"
        }
        var id = id
        var region = region
        return id.withUTF8 { id in
            region.withUTF8 { region in
                let scheme: StaticString = "https://"
                let path: StaticString = "/guardduty/home?region="
                let fragment: StaticString = "#/findings?macros=current&fId="
                let encodedRegion = encodedCount(region)
                let encodedId = encodedCount(id)
                let total =
                    scheme.utf8CodeUnitCount + host.utf8CodeUnitCount + path.utf8CodeUnitCount
                    + fragment.utf8CodeUnitCount + encodedRegion + encodedId
                return String(unsafeUninitializedCapacity: total) { out in
                    var n = 0
                    func put(_ s: StaticString) {
                        UnsafeMutableRawPointer(out.baseAddress! + n).copyMemory(
                            from: s.utf8Start, byteCount: s.utf8CodeUnitCount)
                        n += s.utf8CodeUnitCount
                    }
                    func put(encoding bytes: UnsafeBufferPointer<UInt8>, _ encoded: Int) {
                        if encoded == bytes.count {
                            if let base = bytes.baseAddress {
                                UnsafeMutableRawPointer(out.baseAddress! + n).copyMemory(from: base, byteCount: encoded)
                            }
                            n += encoded
                            return
                        }
                        let hex: StaticString = "0123456789ABCDEF"
                        for b in bytes {
                            if unreserved(b) {
                                out[n] = b
                                n += 1
                            } else {
                                out[n] = UInt8(ascii: "%")
                                out[n + 1] = hex.utf8Start[Int(b >> 4)]
                                out[n + 2] = hex.utf8Start[Int(b & 0xF)]
                                n += 3
                            }
                        }
                    }
                    put(scheme)
                    put(host)
                    put(path)
                    put(encoding: region, encodedRegion)
                    put(fragment)
                    put(encoding: id, encodedId)
                    return n
                }
            }
        }
    }

    /// RFC 3986 unreserved: `A-Z a-z 0-9 - . _ ~` (a bitmap lookup: ids are random hex, branches mispredict).
    @inline(__always) static func unreserved(_ b: UInt8) -> Bool {
        // Bits 0x2D, 0x2E, 0x30-0x39 of the first 64 code points; 0x41-0x5A, 0x5F, 0x61-0x7A, 0x7E of the next 64.
        let low: UInt64 = 0x03FF_6000_0000_0000
        let high: UInt64 = 0x47FF_FFFE_87FF_FFFE
        let word = b < 64 ? low : (b < 128 ? high : 0)
        return (word >> UInt64(b & 63)) & 1 != 0
    }

    /// Length of the percent-encoded form of `bytes`.
    @inline(__always) static func encodedCount(_ bytes: UnsafeBufferPointer<UInt8>) -> Int {
        var n = bytes.count
        for b in bytes where !unreserved(b) { n += 2 }
        return n
    }
}
