import RouterJSON

/// Small typed readers over `JSONNode` with the tolerance rules of the finding view (``Tape`` has the same readers
/// for the GuardDuty reader; these serve Security Hub findings and the lazily read details).
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
