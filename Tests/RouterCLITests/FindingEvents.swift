import Foundation
import RouterJSON

/// The example MEDIUM IAM finding as finding `id`, published again: `count`, `updatedAt` at minute `minute` of
/// 2026-11-27T10:00Z, `severity`, `archived`. For the lifecycle tests (a sequence of events of one finding).
func lifecycleEvent(
    _ id: String, count: Int, minute: Int, severity: Double = 5, archived: Bool = false
) throws -> JSONValue {
    var e = try JSONValue.parse(
        Array(try Data(contentsOf: Paths.root.appendingPathComponent("examples/medium-iam-anomalous-behavior.json"))))
    e["detail"]?["id"] = .string(id)
    e["detail"]?["severity"] = .double(severity)
    e["detail"]?["updatedAt"] = .string(String(format: "2026-11-27T10:%02d:00.000Z", minute))
    e["detail"]?["service"]?["count"] = .int(Int64(count))
    e["detail"]?["service"]?["archived"] = .bool(archived)
    return e
}
