import RouterRules

/// `router check RULES_DIR`: loads every rule file and reports what it found.
public enum RuleCheck {
    public static func run(rulesDirectory: String, limits: RuleLimits, out: OutputSink, err: OutputSink) -> Int32 {
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
                let formats = engine.formats.filter { $0.value == file.path }.keys.sorted()
                if !formats.isEmpty { parts.append("formats: " + formats.joined(separator: ", ")) }
                out.line("\(file.path): ok: " + (parts.isEmpty ? "returns an empty table" : parts.joined(separator: ", ")))
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
