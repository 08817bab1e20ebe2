import RouterJSON
import RouterRules
import RouterSlack

/// One click on a router button, from the body Slack POSTs to the Interactivity Request URL
/// (`application/x-www-form-urlencoded` with one `payload` field: JSON of `type: "block_actions"`). Parse it only
/// after the signature was verified.
public struct SlackInteraction: Sendable, Equatable {
    public var user: PermitUser
    /// The button's action (as shown: `archive` or `unarchive`, ...).
    public var action: FindingAction
    public var findingId: String
    /// The conversation (destination + channel) whose state the finding's message is kept in.
    public var conversation: String
    /// What `suppress` matches on (from the button; empty: the defaults).
    public var suppressBy: [SuppressCriterionName]
    /// Where to answer the clicking user alone (ephemeral).
    public var responseURL: String?

    public typealias SuppressCriterionName = String

    public enum ParseError: Error, Equatable, CustomStringConvertible {
        case notAForm
        case notJSON
        case notBlockActions(String)
        case notARouterButton
        case missing(String)

        public var description: String {
            switch self {
            case .notAForm: "the body has no payload field"
            case .notJSON: "the payload is not a JSON object"
            case .notBlockActions(let t): "a '\(t)' interaction, not a button click (block_actions)"
            case .notARouterButton: "the click is not on one of the router's buttons"
            case .missing(let what): "the payload has no \(what)"
            }
        }
    }

    public static func parse(formBody: [UInt8]) -> Result<SlackInteraction, ParseError> {
        guard let raw = FormBody.field("payload", in: formBody) else { return .failure(.notAForm) }
        guard let p = try? JSONValue.parse(raw), p.objectValue != nil else { return .failure(.notJSON) }
        return parse(payload: p)
    }

    public static func parse(payload p: JSONValue) -> Result<SlackInteraction, ParseError> {
        let type = p["type"]?.stringValue ?? ""
        guard type == "block_actions" else { return .failure(.notBlockActions(type)) }
        guard let userID = p["user"]?["id"]?.stringValue, !userID.isEmpty else { return .failure(.missing("user.id")) }
        let name = p["user"]?["username"]?.stringValue ?? p["user"]?["name"]?.stringValue
        let team = p["user"]?["team_id"]?.stringValue ?? p["team"]?["id"]?.stringValue
        guard let actions = p["actions"]?.arrayValue,
            let first = actions.first(where: { $0["action_id"]?.stringValue.flatMap(FindingAction.init(actionID:)) != nil }),
            let action = first["action_id"]?.stringValue.flatMap(FindingAction.init(actionID:))
        else { return .failure(.notARouterButton) }
        guard let valueText = first["value"]?.stringValue, let value = try? JSONValue.parse(valueText),
            let findingId = value["f"]?.stringValue, let conversation = value["c"]?.stringValue
        else { return .failure(.missing("button value")) }
        let suppressBy = value["s"]?.arrayValue?.compactMap(\.stringValue) ?? []
        return .success(
            SlackInteraction(
                user: PermitUser(id: userID, name: name, team: team), action: action, findingId: findingId,
                conversation: conversation, suppressBy: suppressBy, responseURL: p["response_url"]?.stringValue))
    }
}

/// `application/x-www-form-urlencoded`.
enum FormBody {
    /// The decoded value of the first field `name`, or nil.
    static func field(_ name: String, in body: [UInt8]) -> [UInt8]? {
        for pair in body.split(separator: UInt8(ascii: "&"), omittingEmptySubsequences: true) {
            let parts = pair.split(separator: UInt8(ascii: "="), maxSplits: 1, omittingEmptySubsequences: false)
            guard let key = decode(parts[0]), key == Array(name.utf8) else { continue }
            return parts.count > 1 ? decode(parts[1]) : []
        }
        return nil
    }

    /// Percent-decoding with `+` as a space; nil for a malformed escape.
    static func decode(_ s: ArraySlice<UInt8>) -> [UInt8]? {
        var out: [UInt8] = []
        out.reserveCapacity(s.count)
        var i = s.startIndex
        while i < s.endIndex {
            let c = s[i]
            if c == UInt8(ascii: "+") {
                out.append(0x20)
            } else if c == UInt8(ascii: "%") {
                guard i + 2 < s.endIndex, let hi = hexValue(s[i + 1]), let lo = hexValue(s[i + 2]) else { return nil }
                out.append(hi << 4 | lo)
                i += 2
            } else {
                out.append(c)
            }
            i += 1
        }
        return out
    }

    private static func hexValue(_ c: UInt8) -> UInt8? {
        switch c {
        case 0x30...0x39: c - 0x30
        case 0x61...0x66: c - 0x61 + 10
        case 0x41...0x46: c - 0x41 + 10
        default: nil
        }
    }

    /// The inverse, for tests and for signing what a test sends.
    static func encode(_ fields: [(String, String)]) -> [UInt8] {
        let unreserved = Set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~".utf8)
        var out: [UInt8] = []
        for (n, (k, v)) in fields.enumerated() {
            if n > 0 { out.append(UInt8(ascii: "&")) }
            for (j, part) in [k, v].enumerated() {
                if j == 1 { out.append(UInt8(ascii: "=")) }
                for b in part.utf8 {
                    if unreserved.contains(b) {
                        out.append(b)
                    } else {
                        let digits = Array("0123456789ABCDEF".utf8)
                        out.append(contentsOf: [UInt8(ascii: "%"), digits[Int(b >> 4)], digits[Int(b & 15)]])
                    }
                }
            }
        }
        return out
    }
}
