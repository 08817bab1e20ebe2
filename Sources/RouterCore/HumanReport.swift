import RouterDelivery
import RouterFinding
import RouterRules
import RouterSlack

/// The human-readable `router test` output for one finding.
enum HumanReport {
    static func write(
        source: String, finding f: Finding, evaluation e: Evaluation, explain: Bool,
        lifecycle: [LifecycleSimulator.Step] = [], buttonsMissing: String? = nil, to out: OutputSink
    ) {
        let severity = f.severity == f.severity.rounded() ? String(format1: f.severity) : String(f.severity)
        out.line("\(source): \(f.type) \(f.severityLabel.rawValue) \(severity) account \(f.account) \(f.region) id \(f.id)")
        if explain {
            for t in e.trace {
                let loc = t.file + (t.line.map { ":\($0)" } ?? "")
                let what: String
                switch t.outcome {
                case .kept: what = "true (keep)"
                case .dropped(let reason): what = "false (drop)" + (reason.map { ": \($0)" } ?? "")
                case .routed(let n, let c): what = "\(n) deliver\(n == 1 ? "y" : "ies")" + (c ? ", continue" : "")
                case .noRoute: what = "nil (no route)"
                case .error(let err): what = "error: \(err.message)"
                }
                out.line("  \(t.phase.rawValue) \(loc) -> \(what)")
            }
        }
        if !e.output.isEmpty {
            for l in e.output.split(separator: "\n", omittingEmptySubsequences: false).dropLast() {
                out.line("  print: \(l)")
            }
        }
        if let drop = e.dropped {
            out.line("  dropped by \(drop.file)" + (drop.reason.map { ": \($0)" } ?? ""))
        } else if e.unrouted {
            out.line("  unrouted: no route claimed it")
        }
        for err in e.errors {
            out.line("  \(err)")
        }
        for (i, d) in e.deliveries.enumerated() {
            var line = "  -> \(d.channel ?? "(default destination's channel)")"
            if d.to != "default" { line += " via \(d.to)" }
            if !d.mentions.isEmpty { line += " mention " + d.mentions.map(\.slackSyntax).joined(separator: " ") }
            line += " format \(d.format)"
            if let file = d.file { line += " (\(file))" }
            if d.fallback { line += " [fallback]" }
            out.line(line)
            if i < lifecycle.count {
                let step = lifecycle[i]
                var what = "     lifecycle: \(step.action.summary), on_update = \(step.onUpdate.rawValue)"
                if let assumed = step.assumedDestination { what += " (assuming \(assumed))" }
                out.line(what)
                if let reply = step.reply { out.line("     reply: \(reply)") }
            }
            if !d.actions.isEmpty {
                out.line("     " + ActionPreview.describe(d, finding: f, missing: buttonsMissing))
            }
            for l in d.message.preview().split(separator: "\n", omittingEmptySubsequences: false) {
                out.line("     | \(l)")
            }
        }
    }
}

extension String {
    /// `8.0` style: one decimal for integral severities.
    init(format1 value: Double) {
        self = String(Int64(value)) + ".0"
    }
}
