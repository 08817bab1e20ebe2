import RouterFinding
import RouterJSON
import RouterRules
import RouterDelivery
import RouterSlack

/// The `router test --json` line for one finding or one unusable input (the shape is a documented contract).
public enum ResultJSON {
    /// Appends the line's JSON (no newline) to `out`: written member by member with the one JSON writer, each
    /// delivery's payload spliced in as the renderer wrote it (never parsed into a tree and written again).
    public static func write(
        source: String, finding f: Finding, evaluation e: Evaluation, lifecycle: [LifecycleSimulator.Step] = [],
        buttonsMissing: String? = nil, into out: inout [UInt8]
    ) {
        func key(_ k: StaticString) { k.withUTF8Buffer { out.append(contentsOf: $0) } }
        func string(_ s: String) { JSONString.write(s, into: &out) }
        func optional(_ s: String?) { if let s { string(s) } else { key("null") } }
        let severity: JSONValue = f.severity == f.severity.rounded() && abs(f.severity) < 1e15 ? .int(Int64(f.severity)) : .double(f.severity)
        key(#"{"source":"#)
        string(source)
        key(#","finding":{"id":"#)
        string(f.id)
        key(#","type":"#)
        string(f.type)
        key(#","severity":"#)
        severity.write(into: &out)
        key(#","severity_label":"#)
        string(f.severityLabel.rawValue)
        key(#","account":"#)
        string(f.account)
        key(#","region":"#)
        string(f.region)
        key(#"},"dropped":"#)
        key(e.dropped != nil ? "true" : "false")
        key(#","dropped_by":"#)
        if let d = e.dropped {
            key(#"{"file":"#)
            string(d.file)
            key(#","reason":"#)
            optional(d.reason)
            key("}")
        } else {
            key("null")
        }
        key(#","unrouted":"#)
        key(e.unrouted ? "true" : "false")
        key(#","deliveries":["#)
        for (i, d) in e.deliveries.enumerated() {
            if i > 0 { key(",") }
            key(#"{"channel":"#)
            optional(d.channel)
            key(#","mention":["#)
            for (k, m) in d.mentions.enumerated() {
                if k > 0 { key(",") }
                string(m.slackSyntax)
            }
            key(#"],"format":"#)
            string(d.format)
            key(#","to":"#)
            string(d.to)
            key(#","file":"#)
            optional(d.file)
            key(#","fallback":"#)
            key(d.fallback ? "true" : "false")
            key(#","payload":"#)
            d.message.write(channel: d.channel, into: &out)
            if !d.actions.isEmpty {
                key(#","actions":["#)
                for (k, a) in d.actions.enumerated() {
                    if k > 0 { key(",") }
                    string(a.rawValue)
                }
                key(#"],"buttons":"#)
                string(buttonsMissing.map { "not shown: \($0)" } ?? "shown")
            }
            if i < lifecycle.count {
                let step = lifecycle[i]
                key(#","lifecycle":{"action":"#)
                string(step.action.kind)
                key(#","detail":"#)
                string(step.action.summary)
                key(#","on_update":"#)
                string(step.onUpdate.rawValue)
                key(#","reply":"#)
                optional(step.reply)
                key("}")
            }
            key("}")
        }
        key(#"],"errors":["#)
        for (i, err) in e.errors.enumerated() {
            if i > 0 { key(",") }
            error(err).write(into: &out)
        }
        key("]}")
    }

    public static func error(_ e: RuleError) -> JSONValue {
        [
            "file": e.file.map(JSONValue.string) ?? .null,
            "line": e.line.map { .int(Int64($0)) } ?? .null,
            "phase": .string(e.phase.rawValue),
            "message": .string(e.message),
        ]
    }

    public static func inputError(source: String, error: InputError) -> JSONValue {
        ["source": .string(source), "error": ["kind": .string(error.kind.rawValue), "message": .string(error.message)]]
    }
}
