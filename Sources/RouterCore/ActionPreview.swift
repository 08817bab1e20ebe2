import RouterDelivery
import RouterFinding
import RouterRules
import RouterSlack

/// How `router test` shows the buttons a delivery offers.
enum ActionPreview {
    /// The buttons the real path would add (the Web API deliveries of a process with buttons enabled).
    static func addButtons(_ e: inout Evaluation, finding: Finding, destinations: DestinationSet) {
        for i in e.deliveries.indices where !e.deliveries[i].actions.isEmpty {
            let d = e.deliveries[i]
            guard let destination = DeliveryPlanner.destination(for: d, in: destinations), destination.canEdit else { continue }
            let suppression = d.actions.contains(.suppress) ? SuppressionRule.from(finding, by: d.suppressBy) : nil
            e.deliveries[i].message = ActionButtons.add(
                to: d.message, actions: d.actions,
                context: ActionButtons.Context(
                    findingId: finding.id, conversation: destination.name + "\u{1F}" + (d.channel ?? ""), suppression: suppression,
                    suppressBy: d.suppressBy))
        }
    }

    /// `buttons: Acknowledge, Archive (confirm), Suppress similar (rule router-...: type = ..., ...)`, and why they are
    /// not shown when they cannot be.
    static func describe(_ d: RoutedDelivery, finding: Finding, missing: String?) -> String {
        var parts: [String] = []
        for a in d.actions {
            switch a {
            case .ack: parts.append("Acknowledge")
            case .archive, .unarchive: parts.append("Archive (confirm)")
            case .useful: parts.append("Useful")
            case .notUseful: parts.append("Not useful")
            case .suppress:
                if let rule = SuppressionRule.from(finding, by: d.suppressBy) {
                    parts.append("Suppress similar (confirm; rule \(rule.name): \(rule.summary))")
                } else {
                    parts.append("(no Suppress similar: the finding names nothing to match on)")
                }
            }
        }
        var text = "buttons: " + parts.joined(separator: ", ")
        if let missing { text += " [not shown: \(missing)]" }
        return text
    }
}
