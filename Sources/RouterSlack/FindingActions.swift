import RouterFinding
import RouterJSON

/// What a person can do to a finding from its Slack message (the delivery key `actions`; `unarchive` is the archive
/// button of an archived finding).
public enum FindingAction: String, Sendable, CaseIterable {
    case ack, archive, unarchive, useful
    case notUseful = "not_useful"
    case suppress

    /// The ones a rule may offer, in the order the buttons appear.
    public static let offerable: [FindingAction] = [.ack, .archive, .useful, .notUseful, .suppress]

    /// `router.ack`, ...: the button's `action_id`.
    public var actionID: String { "router." + rawValue }

    public init?(actionID: String) {
        guard actionID.hasPrefix("router.") else { return nil }
        self.init(rawValue: String(actionID.dropFirst("router.".count)))
    }
}

/// A Slack user as a click names them: the user ID (what mentions use) and the name Slack sent.
public struct ActionUser: Sendable, Equatable {
    public var id: String
    public var name: String?

    public init(id: String, name: String? = nil) {
        self.id = id
        self.name = name
    }

    /// Slack user IDs: `U` or `W` and 2 to 20 upper-case letters and digits. Anything else is never put in a mention.
    public static func isValidID(_ s: String) -> Bool {
        let u = Array(s.utf8)
        guard u.count >= 3, u.count <= 21, u[0] == UInt8(ascii: "U") || u[0] == UInt8(ascii: "W") else { return false }
        return u.dropFirst().allSatisfy { ($0 >= 0x41 && $0 <= 0x5A) || ($0 >= 0x30 && $0 <= 0x39) }
    }

    /// `<@U123>` when the ID is valid, else the escaped name.
    public var mention: String {
        ActionUser.isValidID(id) ? "<@\(id)>" : SlackText.findingInline(name ?? "someone")
    }
}

/// What people did to a finding's message so far: who acknowledged it, who archived it, the feedback given, the
/// suppression rules created. Kept with the finding's conversation, shown on the message, carried through every edit.
public struct ActionState: Sendable, Equatable {
    public var acknowledgedBy: [ActionUser] = []
    public var archivedBy: ActionUser?
    public var feedback: (useful: Bool, by: ActionUser)?
    /// Suppression rules created from this finding: (filter name, who).
    public var suppressions: [(name: String, by: ActionUser)] = []

    public init() {}

    public var isEmpty: Bool {
        acknowledgedBy.isEmpty && archivedBy == nil && feedback == nil && suppressions.isEmpty
    }

    public static func == (a: ActionState, b: ActionState) -> Bool {
        a.acknowledgedBy == b.acknowledgedBy && a.archivedBy == b.archivedBy && a.feedback?.useful == b.feedback?.useful
            && a.feedback?.by == b.feedback?.by && a.suppressions.map(\.name) == b.suppressions.map(\.name)
            && a.suppressions.map(\.by) == b.suppressions.map(\.by)
    }

    // MARK: JSON (how the state stores keep it)

    public var json: JSONValue {
        func user(_ u: ActionUser) -> JSONValue {
            var o: JSONObject = ["id": .string(u.id)]
            if let n = u.name { o["name"] = .string(n) }
            return .object(o)
        }
        var o = JSONObject()
        if !acknowledgedBy.isEmpty { o["ack"] = .array(acknowledgedBy.map(user)) }
        if let a = archivedBy { o["archived"] = user(a) }
        if let f = feedback { o["feedback"] = ["useful": .bool(f.useful), "by": user(f.by)] }
        if !suppressions.isEmpty {
            o["suppressed"] = .array(suppressions.map { ["name": .string($0.name), "by": user($0.by)] })
        }
        return .object(o)
    }

    public init(json: JSONValue) {
        func user(_ v: JSONValue?) -> ActionUser? {
            guard let id = v?["id"]?.stringValue else { return nil }
            return ActionUser(id: id, name: v?["name"]?.stringValue)
        }
        acknowledgedBy = (json["ack"]?.arrayValue ?? []).compactMap(user)
        archivedBy = user(json["archived"])
        if let f = json["feedback"], let useful = f["useful"]?.boolValue, let by = user(f["by"]) { feedback = (useful, by) }
        suppressions = (json["suppressed"]?.arrayValue ?? []).compactMap { v in
            guard let name = v["name"]?.stringValue, let by = user(v["by"]) else { return nil }
            return (name, by)
        }
    }

    /// The state stored as compact JSON (nil when empty), and back.
    public var encoded: String? { isEmpty ? nil : json.serialized() }
    public init(encoded: String?) {
        guard let encoded, let v = try? JSONValue.parse(encoded) else {
            self.init()
            return
        }
        self.init(json: v)
    }

    /// The lines the message shows (mrkdwn; user names are mentions or escaped).
    public var statusLines: [String] {
        var lines: [String] = []
        if !acknowledgedBy.isEmpty {
            lines.append(":eyes: Acknowledged by " + acknowledgedBy.map(\.mention).joined(separator: ", "))
        }
        if let a = archivedBy { lines.append(":file_cabinet: Archived by \(a.mention)") }
        if let f = feedback {
            lines.append((f.useful ? ":+1: Marked useful" : ":-1: Marked not useful") + " by \(f.by.mention)")
        }
        for s in suppressions {
            lines.append(":no_bell: Suppression rule `\(SlackText.findingInline(s.name))` created by \(s.by.mention)")
        }
        return lines
    }
}

/// The buttons of a finding's message and the status line above them: two blocks the router owns
/// (`block_id` `router.actions` and `router.status`), added when the message is rendered and replaced when someone
/// clicks or the finding is updated. The detailed format carries them at the end of its coloured attachment; a text
/// message (compact, or a custom format without blocks) gets its text as a section followed by them; a custom format
/// that returns its own blocks gets none (its author owns the layout).
public enum ActionButtons {
    public static let actionsBlockID = "router.actions"
    public static let statusBlockID = "router.status"

    /// What each button needs to name its finding and, for `suppress`, the rule it creates.
    public struct Context: Sendable {
        public var findingId: String
        /// The conversation the finding's state is kept for (destination + channel).
        public var conversation: String
        /// The rule `suppress` creates; nil leaves the suppress button out (the finding names nothing to match on).
        public var suppression: SuppressionRule?
        /// What it was made on (`suppress_by`): the click makes it again from the finding.
        public var suppressBy: [SuppressCriterion]

        public init(findingId: String, conversation: String, suppression: SuppressionRule?, suppressBy: [SuppressCriterion] = []) {
            self.findingId = findingId
            self.conversation = conversation
            self.suppression = suppression
            self.suppressBy = suppressBy
        }
    }

    /// The button value: `{"f": finding id, "c": conversation, "s": [suppress_by]}` (JSON; Slack allows 2,000
    /// characters).
    public static func value(findingId: String, conversation: String, suppressBy: [SuppressCriterion] = []) -> String {
        var o: JSONObject = ["f": .string(findingId), "c": .string(conversation)]
        if !suppressBy.isEmpty { o["s"] = .array(suppressBy.map { .string($0.rawValue) }) }
        return JSONValue.object(o).serialized()
    }

    /// `message` with the buttons for `actions` (and the status of `state`). Unchanged when there are no actions, or
    /// the message has top-level blocks of its own, or the buttons would not fit Slack's 50 blocks.
    public static func add(
        to message: SlackMessage, actions: [FindingAction], context: Context, state: ActionState = ActionState()
    ) -> SlackMessage {
        let offered = FindingAction.offerable.filter { a in
            actions.contains(a) && (a != .suppress || context.suppression != nil)
        }
        guard !offered.isEmpty else { return message }
        let value = Self.value(
            findingId: context.findingId, conversation: context.conversation,
            suppressBy: context.suppression == nil ? [] : context.suppressBy)
        let elements = offered.map { button($0, archived: state.archivedBy != nil, value: value, suppression: context.suppression) }
        let actionsBlock: JSONValue = ["type": "actions", "block_id": .string(actionsBlockID), "elements": .array(elements)]
        return place(message, actions: actionsBlock, status: statusBlock(state))
    }

    /// `message` (as rendered, or as Slack sent it back with a click) with its status and the archive button set to
    /// `state`. Unchanged when it carries no router buttons.
    public static func restate(_ message: SlackMessage, state: ActionState) -> SlackMessage {
        guard let actions = findBlock(message, actionsBlockID) else { return message }
        var block = actions
        if var elements = block["elements"]?.arrayValue {
            for i in elements.indices {
                guard let id = elements[i]["action_id"]?.stringValue, let a = FindingAction(actionID: id),
                    a == .archive || a == .unarchive, let value = elements[i]["value"]?.stringValue
                else { continue }
                elements[i] = button(a, archived: state.archivedBy != nil, value: value, suppression: nil)
            }
            block["elements"] = .array(elements)
        }
        return place(message, actions: block, status: statusBlock(state))
    }

    // MARK: - Blocks

    static func button(_ action: FindingAction, archived: Bool, value: String, suppression: SuppressionRule?) -> JSONValue {
        var b: JSONObject = ["type": "button"]
        let shown: FindingAction = (action == .archive || action == .unarchive) ? (archived ? .unarchive : .archive) : action
        let label: String
        switch shown {
        case .ack: label = "Acknowledge"
        case .archive: label = "Archive"
        case .unarchive: label = "Unarchive"
        case .useful: label = "Useful"
        case .notUseful: label = "Not useful"
        case .suppress: label = "Suppress similar"
        }
        b["text"] = ["type": "plain_text", "text": .string(label)]
        b["action_id"] = .string(shown.actionID)
        b["value"] = .string(value)
        switch shown {
        case .archive:
            b["style"] = "danger"
            b["confirm"] = confirm(
                title: "Archive this finding?",
                text: "GuardDuty archives the finding in this account and region. Unarchive brings it back.",
                confirm: "Archive", danger: true)
        case .suppress:
            if let rule = suppression {
                b["confirm"] = confirm(
                    title: "Create a suppression rule?",
                    text: "Creates GuardDuty suppression rule `\(rule.name)` (archive automatically) for findings with "
                        + SlackText.finding(rule.summary)
                        + ". They will no longer reach EventBridge or this channel.",
                    confirm: "Create rule", danger: true)
            }
        default:
            break
        }
        return .object(b)
    }

    static func confirm(title: String, text: String, confirm: String, danger: Bool) -> JSONValue {
        var o: JSONObject = [
            "title": ["type": "plain_text", "text": .string(title)],
            "text": ["type": "mrkdwn", "text": .string(SlackLimits.truncate(text, to: 300))],
            "confirm": ["type": "plain_text", "text": .string(confirm)],
            "deny": ["type": "plain_text", "text": "Cancel"],
        ]
        if danger { o["style"] = "danger" }
        return .object(o)
    }

    static func statusBlock(_ state: ActionState) -> JSONValue? {
        let lines = state.statusLines
        guard !lines.isEmpty else { return nil }
        return [
            "type": "context", "block_id": .string(statusBlockID),
            "elements": .array(lines.prefix(10).map { ["type": "mrkdwn", "text": .string(SlackLimits.truncate($0, to: 3000))] }),
        ]
    }

    private static func blockID(_ b: JSONValue) -> String? { b["block_id"]?.stringValue }

    private static func findBlock(_ m: SlackMessage, _ id: String) -> JSONValue? {
        if let b = m.blocks?.first(where: { blockID($0) == id }) { return b }
        for a in m.attachments ?? [] {
            if let b = a["blocks"]?.arrayValue?.first(where: { blockID($0) == id }) { return b }
        }
        return nil
    }

    /// Puts the two blocks where they belong (replacing the router's earlier ones), status before the buttons.
    private static func place(_ message: SlackMessage, actions: JSONValue, status: JSONValue?) -> SlackMessage {
        var m = message
        let ours: Set<String> = [actionsBlockID, statusBlockID]
        let mine = [status, actions].compactMap { $0 }
        func strip(_ blocks: [JSONValue]) -> [JSONValue] { blocks.filter { blockID($0).map { !ours.contains($0) } ?? true } }
        let top = m.blocks ?? []
        // Where the buttons are now, or go first: the attachment that has blocks, else top-level blocks.
        if top.contains(where: { blockID($0).map(ours.contains) ?? false }) {
            let kept = strip(top)
            guard kept.count + mine.count <= SlackLimits.maxBlocks else { return message }
            m.blocks = kept + mine
            return m
        }
        if var attachments = m.attachments, let i = attachments.firstIndex(where: { $0["blocks"]?.arrayValue != nil }) {
            let kept = strip(attachments[i]["blocks"]!.arrayValue!)
            guard kept.count + mine.count + top.count <= SlackLimits.maxBlocks else { return message }
            attachments[i]["blocks"] = .array(kept + mine)
            m.attachments = attachments
            return m
        }
        guard top.isEmpty else { return message }  // a custom format's own blocks: not ours to change
        m.blocks = [SlackRenderer.section(SlackLimits.truncate(m.text, to: SlackLimits.sectionText))] + mine
        return m
    }
}
