import RouterDelivery
import RouterRules

/// `router check RULES_DIR`: loads every rule file and reports what it found.
public enum RuleCheck {
    /// Also checks every literal `to = "name"` against the destinations in `environment`, when any is configured.
    public static func run(
        rulesDirectory: String, limits: RuleLimits, environment: [String: String] = [:], out: OutputSink, err: OutputSink
    ) -> Int32 {
        defer {
            out.flush()
            err.flush()
        }
        do {
            let engine = try RuleEngine(directory: rulesDirectory, limits: limits)
            for file in engine.files {
                var parts: [String] = []
                if let l = file.filterLine { parts.append("filter (line \(l))") }
                if let l = file.routeLine { parts.append("route (line \(l))") }
                if let l = file.permitLine { parts.append("permit (line \(l))") }
                let formats = engine.formats.filter { $0.value == file.path }.keys.sorted()
                if !formats.isEmpty { parts.append("formats: " + formats.joined(separator: ", ")) }
                out.line("\(file.path): ok: " + (parts.isEmpty ? "returns an empty table" : parts.joined(separator: ", ")))
            }
            let formats =
                LiteralCheck.unknownFormats(sources: engine.sources, defined: Set(engine.formats.keys))
                + LiteralCheck.unknownOnUpdate(sources: engine.sources)
                + LiteralCheck.unknownActions(sources: engine.sources)
                + LiteralCheck.unknownFields(sources: engine.sources)
            if !formats.isEmpty {
                for m in formats { err.line(m) }
                err.line("\(formats.count) rule error\(formats.count == 1 ? "" : "s")")
                return ExitStatus.ruleError
            }
            let destinations = DestinationSet.fromEnvironment(environment)
            if destinations.isEmpty {
                out.line("note: no Slack destination configured (SLACK_WEBHOOK_URL, SLACK_BOT_TOKEN): destinations not checked")
            } else {
                let missing = LiteralCheck.missingDestinations(sources: engine.sources, destinations: destinations)
                if !missing.isEmpty {
                    for m in missing { err.line(m) }
                    err.line("\(missing.count) destination error\(missing.count == 1 ? "" : "s")")
                    return ExitStatus.ruleError
                }
            }
            out.line("\(engine.files.count) rule file\(engine.files.count == 1 ? "" : "s") ok")
            return ExitStatus.ok
        } catch {
            for e in error.errors { err.line(e.description) }
            err.line("\(error.errors.count) rule error\(error.errors.count == 1 ? "" : "s")")
            return ExitStatus.ruleError
        }
    }
}
