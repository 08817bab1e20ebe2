import RouterJSON

/// GuardDuty findings as the AWS SDKs and the CLI print them (`aws guardduty get-findings`: `{"Findings": [...]}`,
/// boto3's `get_findings()["Findings"]`): PascalCase member names (`Id`, `Service.Count`, `Resource.InstanceDetails`)
/// and timestamps as the CLI prints them (`2024-06-11T08:20:00.123000+00:00`). They are translated where they are read
/// into the finding as GuardDuty puts it on the wire and EventBridge delivers it (member names from botocore's service
/// model, `GuardDutySDKModel`, shape by shape: mostly the first letter lowered, but `Latitude` is `lat`, `SourceIps`
/// `sourceIPs`, `Account.Name` `account`, ...; map keys are data and stay; timestamps become Unix seconds), so one
/// extraction (``Finding/init(event:detail:)``) serves every shape.
enum GuardDutySDK {
    struct Shape {
        enum Kind { case structure, list, map, timestamp }
        var kind: Kind
        /// Structures: SDK member name -> (wire name, shape).
        var members: [String: (wire: String, shape: String)] = [:]
        /// Lists and maps: the element's shape.
        var target: String?
    }

    static let shapes: [String: Shape] = {
        var out: [String: Shape] = [:]
        for line in GuardDutySDKModel.shapes.split(separator: "\n") {
            let parts = line.split(separator: " ")
            guard parts.count >= 2 else { continue }
            let name = String(parts[0])
            switch parts[1] {
            case "S":
                var shape = Shape(kind: .structure)
                for m in parts.dropFirst(2) {
                    let f = m.split(separator: ":", maxSplits: 2)
                    if f.count == 3 { shape.members[String(f[0])] = (String(f[1]), String(f[2])) }
                }
                out[name] = shape
            case "L": out[name] = Shape(kind: .list, target: parts.count > 2 ? String(parts[2]) : nil)
            case "M": out[name] = Shape(kind: .map, target: parts.count > 2 ? String(parts[2]) : nil)
            case "T": out[name] = Shape(kind: .timestamp)
            default: break
            }
        }
        return out
    }()

    /// An object in the SDK's shape of a GuardDuty finding: string `Id` and `Type`, and `SchemaVersion`, `Severity`,
    /// `Service` or `Resource` (a Security Hub ASFF finding, also PascalCase, has `ProductArn` and is not one).
    static func isFinding(_ node: JSONNode) -> Bool {
        guard node.kind == .object, node["Id"]?.string != nil, node["Type"]?.string != nil, node["ProductArn"] == nil else {
            return false
        }
        return node["SchemaVersion"] != nil || node["Severity"] != nil || node["Service"] != nil || node["Resource"] != nil
    }

    /// An ASFF finding (`aws securityhub get-findings` prints them as Security Hub stores them).
    static func isASFF(_ node: JSONNode) -> Bool {
        node.kind == .object && node["ProductArn"] != nil && node["AwsAccountId"] != nil
    }

    /// The finding as GuardDuty's API and EventBridge spell it, in a document of its own.
    static func wireFinding(_ node: JSONNode, limits: InputLimits) throws(InputError) -> JSONNode {
        let bytes = translate(node, shape: GuardDutySDKModel.root).serializedBytes()
        do {
            return try JSONDocument(bytes: bytes, maxDepth: limits.maxDepth).root
        } catch {
            throw .notAFinding("the SDK-shaped finding could not be translated: \(error.description)")
        }
    }

    /// `node` in wire names. `shape` nil: a member the model does not know (a field newer than the model): names get
    /// their first letter lowered, which is what the model does for all but a handful.
    static func translate(_ node: JSONNode, shape name: String?) -> JSONValue {
        let shape = name.flatMap { shapes[$0] }
        switch node.kind {
        case .object:
            var out = JSONObject()
            if let shape, shape.kind == .map {
                for (k, v) in node.members { out[k] = translate(v, shape: shape.target) }
                return .object(out)
            }
            for (k, v) in node.members {
                if let shape, shape.kind == .structure, let m = shape.members[k] {
                    out[m.wire] = translate(v, shape: m.shape)
                } else {
                    out[lowerFirst(k)] = translate(v, shape: nil)
                }
            }
            return .object(out)
        case .array:
            let element = shape?.kind == .list ? shape?.target : nil
            return .array(node.elements.map { translate($0, shape: element) })
        case .string:
            if shape?.kind == .timestamp, let text = node.string, let seconds = Timestamps.parse(text) {
                return .double(seconds)
            }
            return node.value
        default:
            return node.value
        }
    }

    static func lowerFirst(_ s: String) -> String {
        guard let first = s.unicodeScalars.first, first.properties.isUppercase else { return s }
        return String(first).lowercased() + String(s.unicodeScalars.dropFirst())
    }
}
