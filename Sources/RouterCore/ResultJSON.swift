import RouterFinding
import RouterJSON
import RouterRules
import RouterDelivery
import RouterSlack

/// The `router test --json` line for one finding or one unusable input (the shape is a documented contract).
public enum ResultJSON {
    public static func result(
        source: String, finding f: Finding, evaluation e: Evaluation, lifecycle: [LifecycleSimulator.Step] = [],
        buttonsMissing: String? = nil
    ) -> JSONValue {
        let severity: JSONValue = f.severity == f.severity.rounded() && abs(f.severity) < 1e15 ? .int(Int64(f.severity)) : .double(f.severity)
        let findingObject: JSONValue = [
            "id": .string(f.id), "type": .string(f.type), "severity": severity,
            "severity_label": .string(f.severityLabel.rawValue), "account": .string(f.account), "region": .string(f.region),
        ]
        let droppedBy: JSONValue =
            e.dropped.map { ["file": .string($0.file), "reason": $0.reason.map(JSONValue.string) ?? .null] } ?? .null
        let deliveries: [JSONValue] = e.deliveries.enumerated().map { i, d in
            var out: JSONValue = [
                "channel": d.channel.map(JSONValue.string) ?? .null,
                "mention": .array(d.mentions.map { .string($0.slackSyntax) }),
                "format": .string(d.format),
                "to": .string(d.to),
                "file": d.file.map(JSONValue.string) ?? .null,
                "fallback": .bool(d.fallback),
                "payload": d.payload,
            ]
            if !d.actions.isEmpty {
                out["actions"] = .array(d.actions.map { .string($0.rawValue) })
                out["buttons"] = buttonsMissing.map { .string("not shown: \($0)") } ?? .string("shown")
            }
            if i < lifecycle.count {
                let step = lifecycle[i]
                out["lifecycle"] = [
                    "action": .string(step.action.kind), "detail": .string(step.action.summary),
                    "on_update": .string(step.onUpdate.rawValue), "reply": step.reply.map(JSONValue.string) ?? .null,
                ]
            }
            return out
        }
        return [
            "source": .string(source),
            "finding": findingObject,
            "dropped": .bool(e.dropped != nil),
            "dropped_by": droppedBy,
            "unrouted": .bool(e.unrouted),
            "deliveries": .array(deliveries),
            "errors": .array(e.errors.map(error)),
        ]
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
