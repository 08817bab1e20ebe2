/// What a delivery does when a later event of the same finding reaches the same channel (rule key `on_update`).
public enum OnUpdate: String, Sendable, Equatable, CaseIterable {
    /// Edit the first message in place and reply in its thread (broadcast, with mentions, when the severity label
    /// went up). The default for the Web API.
    case thread
    /// Only edit the first message in place.
    case update
    /// A new top-level message each time.
    case repost
    /// Nothing, unless the severity label went up (then a new post). The default for incoming webhooks, which can
    /// neither edit nor thread.
    case ignore

    /// `thread, update, repost, ignore`: for messages.
    public static let allowedList = allCases.map(\.rawValue).joined(separator: ", ")

    /// What this choice means for a destination that cannot edit or thread (an incoming webhook): `thread` and
    /// `update` act as `ignore`.
    public func effective(canEdit: Bool) -> OnUpdate {
        if canEdit { return self }
        switch self {
        case .thread, .update: return .ignore
        case .repost, .ignore: return self
        }
    }

    /// The default for a destination: `thread` for the Web API, `ignore` for incoming webhooks.
    public static func defaultFor(canEdit: Bool) -> OnUpdate { canEdit ? .thread : .ignore }
}
