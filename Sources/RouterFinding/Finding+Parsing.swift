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
    /// Cost: a fixed number of object lookups; no date formatter, no regular expression. The only extra parse is of
    /// `service.additionalInfo.value` (a JSON string) when it mentions `sample` and `additionalInfo.sample` is not set.
    public init(event: JSONNode?, detail: JSONNode) throws(InputError) {
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
        let purpose: Substring
        let rest: Substring
        if let colon = type.utf8.firstIndex(of: UInt8(ascii: ":")) {
            purpose = type[..<colon]
            rest = type[type.utf8.index(after: colon)...]
        } else {
            purpose = ""
            rest = type[...]
        }
        guard let slash = rest.utf8.firstIndex(of: UInt8(ascii: "/")) else {
            return (String(purpose), String(rest), "", nil)
        }
        let kind = rest[..<slash]
        let tail = rest[rest.utf8.index(after: slash)...]
        guard let bang = tail.utf8.firstIndex(of: UInt8(ascii: "!")) else {
            return (String(purpose), String(kind), String(tail), nil)
        }
        let artifact = tail[tail.utf8.index(after: bang)...]
        return (String(purpose), String(kind), String(tail[..<bang]), artifact.isEmpty ? nil : String(artifact))
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
        let host: String
        switch partition {
        case "aws-cn": host = "console.amazonaws.cn"
        case "aws-us-gov": host = "console.amazonaws-us-gov.com"
        default: host = "console.aws.amazon.com"
        }
        let encodedRegion = percentEncode(region)
        let encodedId = percentEncode(id)
        var url = "https://"
        url.reserveCapacity(80 + host.utf8.count + encodedRegion.utf8.count + encodedId.utf8.count)
        url += host
        url += "/guardduty/home?region="
        url += encodedRegion
        url += "#/findings?macros=current&fId="
        url += encodedId
        return url
    }

    static func percentEncode(_ s: String) -> String {
        func unreserved(_ b: UInt8) -> Bool {
            switch b {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"),
                UInt8(ascii: "~"):
                return true
            default:
                return false
            }
        }
        if s.utf8.allSatisfy(unreserved) { return s }
        let hex = Array("0123456789ABCDEF".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(s.utf8.count * 3)
        for b in s.utf8 {
            if unreserved(b) {
                out.append(b)
            } else {
                out.append(UInt8(ascii: "%"))
                out.append(hex[Int(b >> 4)])
                out.append(hex[Int(b & 0xF)])
            }
        }
        return String(decoding: out, as: UTF8.self)
    }
}
