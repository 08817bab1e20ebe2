import RouterDelivery
import RouterFinding
import RouterJSON

/// The replay's findings, as text, one JSON document or (``ReplayHTML``) a page.
struct ReplayReport {
    struct Channel {
        var destination: String
        var channel: String
        var findings: Int
        var sampleFindings: Int
        var events: Int
        var messages: Int
        var posts: Int
        var replies: Int
        var broadcasts: Int
        var edits: Int
        var digests: Int
        var digestedFindings: Int
        var sampleMessages: Int
        var mentions: [(kind: String, count: Int)]
        var perDayMedian: Double
        var perDayMax: Int
        var busiestDay: Int?
        var busiestHour: (hour: Int, messages: Int)?
        var topTypes: [(type: String, findings: Int)]
        /// Messages per day over the whole period (index 0: the first day).
        var daily: [Int]
        var key: String { destination + "\u{1F}" + channel }
    }

    struct RuleSet {
        var rules: String
        var channels: [Channel]
        var drops: [(file: String, reason: String, events: Int, findings: Int)]
        var unroutedEvents: Int
        var unroutedFindings: Int
        var unroutedTypes: [(type: String, events: Int)]
        var ruleErrors: [(message: String, events: Int)]
        var fallbacks: Int
        var assumed: [String]
        var messages: Int { channels.reduce(0) { $0 + $1.messages } }
    }

    var options: ReplayOptions
    var history: History
    var problems: ReplayReader.InputProblems
    var current: RuleSet
    var old: RuleSet?
    var changes: [(type: String, old: String, new: String, findings: Int, events: Int, example: String)]
    var warnings: [Comparison.Warning]
    var seconds: Double
    var firstDay: Int
    var days: Int

    init(
        options: ReplayOptions, history: History, problems: ReplayReader.InputProblems, current: RuleSetReplay,
        old: RuleSetReplay?, comparison: Comparison, seconds: Double
    ) {
        self.options = options
        self.history = history
        self.problems = problems
        self.seconds = seconds
        let first = history.events > 0 ? Int((history.first / 86_400).rounded(.down)) : 0
        let lastDay = history.events > 0 ? Int((history.last / 86_400).rounded(.down)) : -1
        let count = max(0, lastDay - first + 1)
        firstDay = first
        days = count
        self.current = Self.ruleSet(current, firstDay: first, days: count)
        self.old = old.map { Self.ruleSet($0, firstDay: first, days: count) }
        changes = Self.changeList(comparison)
        warnings = comparison.warnings
    }

    static func changeList(_ comparison: Comparison) -> [(type: String, old: String, new: String, findings: Int, events: Int, example: String)] {
        var list: [(type: String, old: String, new: String, findings: Int, events: Int, example: String)] = []
        for (k, v) in comparison.changes {
            list.append((k.type, k.old, k.new, v.findings.count, v.events, v.example))
        }
        list.sort { a, b in
            if a.findings != b.findings { return a.findings > b.findings }
            return (a.type, a.old, a.new) < (b.type, b.old, b.new)
        }
        return list
    }

    static func ruleSet(_ r: RuleSetReplay, firstDay: Int, days: Int) -> RuleSet {
        let channels = r.simulation.channels.values.map { s -> Channel in
            var daily = [Int](repeating: 0, count: days)
            for (day, n) in s.perDay {
                // Deliveries still waiting at the end drain after the last event: counted on the last day.
                let i = min(max(day - firstDay, 0), max(days - 1, 0))
                if days > 0 { daily[i] += n }
            }
            let sorted = daily.sorted()
            let median = sorted.isEmpty ? 0 : (sorted.count % 2 == 1 ? Double(sorted[sorted.count / 2]) : Double(sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2)
            let maxDay = daily.indices.max { daily[$0] < daily[$1] || (daily[$0] == daily[$1] && $0 > $1) }
            let busiestHour = s.perHour.max { $0.value < $1.value || ($0.value == $1.value && $0.key > $1.key) }
            let types = s.types.map { ($0.key, $0.value.count) }.sorted { $0.1 != $1.1 ? $0.1 > $1.1 : $0.0 < $1.0 }
            let kinds = ["@here", "@channel", "@everyone", "user group", "user"]
            return Channel(
                destination: s.destination, channel: s.channel, findings: s.findingIds.count, sampleFindings: s.sampleFindingIds.count,
                events: s.events, messages: s.messages, posts: s.posts, replies: s.replies, broadcasts: s.broadcasts,
                edits: s.edits, digests: s.digests, digestedFindings: s.digestedFindings, sampleMessages: s.sampleMessages,
                mentions: kinds.compactMap { k in s.mentions[k].map { (k, $0) } }, perDayMedian: median,
                perDayMax: maxDay.map { daily[$0] } ?? 0, busiestDay: maxDay.map { $0 + firstDay },
                busiestHour: busiestHour.map { ($0.key, $0.value) }, topTypes: Array(types.prefix(5)), daily: daily)
        }.sorted { $0.messages != $1.messages ? $0.messages > $1.messages : $0.key < $1.key }
        return RuleSet(
            rules: r.name, channels: channels,
            drops: r.drops.map { ($0.key.file, $0.key.reason, $0.value.events, $0.value.findings.count) }
                .sorted { $0.events != $1.events ? $0.events > $1.events : ($0.file, $0.reason) < ($1.file, $1.reason) },
            unroutedEvents: r.unroutedEvents, unroutedFindings: r.unroutedFindings.count,
            unroutedTypes: r.unroutedTypes.map { ($0.key, $0.value) }.sorted { $0.1 != $1.1 ? $0.1 > $1.1 : $0.0 < $1.0 }.prefix(10).map { $0 },
            ruleErrors: r.ruleErrors.map { ($0.key, $0.value) }.sorted { $0.1 != $1.1 ? $0.1 > $1.1 : $0.0 < $1.0 },
            fallbacks: r.fallbacks, assumed: r.assumed.sorted())
    }

    // MARK: - Formatting helpers

    static func grouped(_ n: Int) -> String {
        let digits = String(abs(n))
        var out = ""
        for (i, c) in digits.enumerated() {
            if i > 0 && (digits.count - i) % 3 == 0 { out.append(",") }
            out.append(c)
        }
        return (n < 0 ? "-" : "") + out
    }

    static func date(day: Int) -> String { String(Timestamp.iso8601(epoch: Double(day) * 86_400)?.prefix(10) ?? "?") }

    static func hour(_ h: Int) -> String {
        let s = Timestamp.iso8601(epoch: Double(h) * 3_600) ?? "?"
        return String(s.prefix(10)) + " " + String(s.dropFirst(11).prefix(5)) + " UTC"
    }

    static func number(_ d: Double) -> String {
        d == d.rounded() ? grouped(Int(d)) : String((d * 10).rounded() / 10)
    }

    static func plural(_ n: Int, _ word: String) -> String { "\(grouped(n)) \(word)\(n == 1 ? "" : "s")" }
    static func plural(_ n: Int, _ one: String, _ many: String) -> String { "\(grouped(n)) \(n == 1 ? one : many)" }

    static func displayChannel(_ c: Channel) -> String {
        c.channel + (c.destination == DestinationSet.webAPIName ? "" : " (\(c.destination))")
    }

    // MARK: - Text

    func writeText(to out: OutputSink) {
        let h = history
        if h.events == 0 {
            out.line("No finding events to replay" + (problems.count > 0 ? " (\(Self.plural(problems.count, "input problem")))" : "") + ".")
        } else {
            out.line(
                "Replayed \(Self.plural(h.events, "finding event")) of \(Self.plural(h.findings, "finding")) from \(Self.date(day: firstDay)) "
                    + "to \(Self.date(day: firstDay + days - 1)) (\(Self.plural(days, "day"))) through \(current.rules)"
                    + (old.map { " and, for comparison, \($0.rules)" } ?? "") + "; \(Self.number((seconds * 10).rounded() / 10)) s.")
            if h.sampleEvents > 0 {
                out.line("Sample findings (counted apart): \(Self.plural(h.sampleEvents, "event")) of \(Self.plural(h.sampleFindingIds.count, "finding")).")
            }
        }
        if problems.count > 0 {
            let kinds = problems.byKind.sorted { $0.key < $1.key }.map { "\($0.value) \($0.key)" }.joined(separator: ", ")
            out.line("Input problems: \(kinds)" + (problems.untimed > 0 ? "; \(problems.untimed) without a usable updatedAt (replayed last)" : ""))
            for e in problems.examples { out.line("  \(e)") }
        }
        for a in current.assumed { out.line("note: destinations not configured here are assumed to be \(a)") }
        out.line("")
        let oldChannels = Dictionary((old?.channels ?? []).map { ($0.key, $0) }, uniquingKeysWith: { a, _ in a })
        out.line("Per channel" + (old == nil ? "" : " (messages: old -> new)") + ":")
        var keys = current.channels.map(\.key)
        for c in old?.channels ?? [] where !keys.contains(c.key) { keys.append(c.key) }
        if keys.isEmpty { out.line("  nothing would have been posted") }
        let byKey = Dictionary(current.channels.map { ($0.key, $0) }, uniquingKeysWith: { a, _ in a })
        for key in keys {
            guard let c = byKey[key] else {
                let o = oldChannels[key]!
                out.line("  \(Self.displayChannel(o)): \(Self.grouped(o.messages)) -> 0 messages (the new rules post nothing here)")
                continue
            }
            var head = "  \(Self.displayChannel(c)): \(Self.plural(c.findings, "finding"))"
            if c.sampleFindings > 0 { head += " (+ \(c.sampleFindings) sample)" }
            if old != nil {
                let before = oldChannels[key]?.messages ?? 0
                head += ", messages \(Self.grouped(before)) -> \(Self.grouped(c.messages))"
            } else {
                head += ", \(Self.plural(c.messages, "message"))"
            }
            out.line(head)
            out.line(
                "      \(Self.plural(c.posts, "post")), \(Self.plural(c.replies, "thread reply", "thread replies"))"
                    + (c.broadcasts > 0 ? " (\(c.broadcasts) broadcast)" : "") + ", \(Self.plural(c.digests, "digest"))"
                    + (c.digests > 0 ? " listing \(Self.plural(c.digestedFindings, "finding"))" : "") + ", \(Self.plural(c.edits, "edit"))"
                    + (c.sampleMessages > 0 ? "; \(c.sampleMessages) of the messages from sample findings" : ""))
            out.line("      mentions: " + (c.mentions.isEmpty ? "none" : c.mentions.map { "\($0.kind) \(Self.grouped($0.count))" }.joined(separator: ", ")))
            var perDay = "      per day: median \(Self.number(c.perDayMedian)), max \(Self.grouped(c.perDayMax))"
            if let d = c.busiestDay, c.perDayMax > 0 { perDay += " on \(Self.date(day: d))" }
            if let h = c.busiestHour { perDay += "; busiest hour \(Self.hour(h.hour)) (\(Self.plural(h.messages, "message")))" }
            out.line(perDay)
            if !c.topTypes.isEmpty {
                out.line("      top types: " + c.topTypes.map { "\($0.type) \(Self.grouped($0.findings))" }.joined(separator: ", "))
            }
        }
        out.line("")
        writeOutcomes(current, label: old == nil ? "" : " (new rules)", to: out)
        if let old {
            writeOutcomes(old, label: " (old rules)", to: out)
            out.line("")
            out.line("Routing changes (\(changes.isEmpty ? "none" : Self.plural(changes.reduce(0) { $0 + $1.findings }, "finding"))):")
            for c in changes.prefix(50) {
                out.line("  \(c.type): \(c.old) -> \(c.new): \(Self.plural(c.findings, "finding")) (\(Self.plural(c.events, "event"))), e.g. \(c.example)")
            }
            if changes.count > 50 { out.line("  ... and \(changes.count - 50) more (see --json)") }
            out.line("")
            out.line(warnings.isEmpty ? "No CRITICAL or HIGH finding the old rules delivered is dropped or left unrouted by the new rules."
                : "\(Self.plural(warnings.count, "warning")): CRITICAL or HIGH findings the old rules delivered and the new rules do not (listed on standard error).")
        }
    }

    private func writeOutcomes(_ r: RuleSet, label: String, to out: OutputSink) {
        if r.drops.isEmpty {
            out.line("Dropped\(label): none")
        } else {
            out.line("Dropped\(label):")
            for d in r.drops {
                out.line("  \(d.file)" + (d.reason.isEmpty ? "" : " \"\(d.reason)\"") + ": \(Self.plural(d.events, "event")) (\(Self.plural(d.findings, "finding")))")
            }
        }
        out.line("Unrouted\(label): " + (r.unroutedEvents == 0 ? "none"
            : "\(Self.plural(r.unroutedEvents, "event")) (\(Self.plural(r.unroutedFindings, "finding"))): "
                + r.unroutedTypes.map { "\($0.type) \($0.events)" }.joined(separator: ", ")))
        out.line("Rule errors\(label): " + (r.ruleErrors.isEmpty ? "none" : "\(Self.plural(r.ruleErrors.reduce(0) { $0 + $1.events }, "event")), \(Self.plural(r.fallbacks, "fallback delivery", "fallback deliveries"))"))
        for e in r.ruleErrors.prefix(10) { out.line("  \(e.message): \(Self.plural(e.events, "event"))") }
    }

    // MARK: - JSON

    func json() -> JSONValue {
        func channel(_ c: Channel) -> JSONValue {
            [
                "destination": .string(c.destination), "channel": .string(c.channel), "findings": .int(Int64(c.findings)),
                "sample_findings": .int(Int64(c.sampleFindings)), "events": .int(Int64(c.events)),
                "messages": .int(Int64(c.messages)), "posts": .int(Int64(c.posts)), "thread_replies": .int(Int64(c.replies)),
                "broadcasts": .int(Int64(c.broadcasts)), "edits": .int(Int64(c.edits)), "digests": .int(Int64(c.digests)),
                "digested_findings": .int(Int64(c.digestedFindings)), "sample_messages": .int(Int64(c.sampleMessages)),
                "mentions": .object(JSONObject(c.mentions.map { ($0.kind, JSONValue.int(Int64($0.count))) })),
                "per_day": [
                    "median": .double(c.perDayMedian), "max": .int(Int64(c.perDayMax)),
                    "busiest_day": c.busiestDay.map { .string(Self.date(day: $0)) } ?? .null,
                ],
                "busiest_hour": c.busiestHour.map { ["hour": .string(Self.hour($0.hour)), "messages": .int(Int64($0.messages))] } ?? .null,
                "top_types": .array(c.topTypes.map { ["type": .string($0.type), "findings": .int(Int64($0.findings))] }),
                "daily": .array(c.daily.map { .int(Int64($0)) }),
            ]
        }
        func ruleSet(_ r: RuleSet) -> JSONValue {
            [
                "rules": .string(r.rules),
                "messages": .int(Int64(r.messages)),
                "channels": .array(r.channels.map(channel)),
                "dropped": .array(r.drops.map { ["file": .string($0.file), "reason": .string($0.reason), "events": .int(Int64($0.events)), "findings": .int(Int64($0.findings))] }),
                "unrouted": ["events": .int(Int64(r.unroutedEvents)), "findings": .int(Int64(r.unroutedFindings)),
                             "types": .array(r.unroutedTypes.map { ["type": .string($0.type), "events": .int(Int64($0.events))] })],
                "rule_errors": .array(r.ruleErrors.map { ["message": .string($0.message), "events": .int(Int64($0.events))] }),
                "fallback_deliveries": .int(Int64(r.fallbacks)),
                "assumed_destinations": .array(r.assumed.map(JSONValue.string)),
            ]
        }
        var out: JSONValue = [
            "period": [
                "first_day": days > 0 ? .string(Self.date(day: firstDay)) : .null,
                "last_day": days > 0 ? .string(Self.date(day: firstDay + days - 1)) : .null, "days": .int(Int64(days)),
            ],
            "events": .int(Int64(history.events)), "findings": .int(Int64(history.findings)),
            "sample": ["events": .int(Int64(history.sampleEvents)), "findings": .int(Int64(history.sampleFindingIds.count))],
            "input_problems": [
                "count": .int(Int64(problems.count)), "untimed": .int(Int64(problems.untimed)),
                "by_kind": .object(JSONObject(problems.byKind.sorted { $0.key < $1.key }.map { ($0.key, JSONValue.int(Int64($0.value))) })),
                "examples": .array(problems.examples.map(JSONValue.string)),
            ],
            "seconds": .double((seconds * 1000).rounded() / 1000),
            "new": ruleSet(current),
        ]
        if let old {
            out["old"] = ruleSet(old)
            out["changes"] = .array(changes.map {
                ["type": .string($0.type), "old": .string($0.old), "new": .string($0.new), "findings": .int(Int64($0.findings)),
                 "events": .int(Int64($0.events)), "example": .string($0.example)]
            })
            out["warnings"] = .array(warnings.map {
                ["finding": .string($0.findingId), "type": .string($0.type), "severity_label": .string($0.severityLabel),
                 "old": .string($0.old), "new": .string($0.new), "message": .string($0.text)]
            })
        }
        return out
    }
}
