/// `router replay --html FILE`: the report as one self-contained page (inline CSS and SVG charts; no script, no
/// external asset, nothing fetched), for people who would rather look at charts than read numbers.
enum ReplayHTML {
    static let palette = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf"]

    static func escape(_ s: String) -> String {
        var out = ""
        out.reserveCapacity(s.utf8.count)
        for c in s.unicodeScalars {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.unicodeScalars.append(c)
            }
        }
        return out
    }

    static func page(_ r: ReplayReport) -> String {
        var html = """
            <!DOCTYPE html>
            <html lang="en"><head><meta charset="utf-8">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <title>router replay: \(escape(r.current.rules))</title>
            <style>
            body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 24px auto; max-width: 1100px; color: #1d1d1f; padding: 0 16px; }
            h1 { font-size: 22px; margin-bottom: 4px; } h2 { font-size: 17px; margin-top: 28px; border-bottom: 1px solid #ddd; padding-bottom: 4px; }
            .sub { color: #555; } table { border-collapse: collapse; width: 100%; margin: 8px 0; font-size: 13px; }
            th, td { text-align: left; padding: 4px 8px; border-bottom: 1px solid #eee; vertical-align: top; overflow-wrap: anywhere; } th { background: #f6f6f8; }
            td.n, th.n { text-align: right; font-variant-numeric: tabular-nums; } .warn { color: #b00020; }
            .chart { border: 1px solid #e3e3e8; border-radius: 6px; padding: 8px; margin: 10px 0; background: #fff; }
            .legend span { display: inline-block; margin-right: 14px; font-size: 12px; } .legend i { display: inline-block; width: 12px; height: 3px; margin-right: 4px; vertical-align: middle; }
            .grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(340px, 1fr)); gap: 10px; }
            code { font-size: 12px; background: #f3f3f6; padding: 1px 4px; border-radius: 3px; }
            </style></head><body>
            <h1>What <code>\(escape(r.current.rules))</code> would have posted</h1>

            """
        let h = r.history
        html += "<p class=\"sub\">\(ReplayReport.plural(h.events, "finding event")) of \(ReplayReport.plural(h.findings, "finding"))"
        if r.days > 0 {
            html += " from \(ReplayReport.date(day: r.firstDay)) to \(ReplayReport.date(day: r.firstDay + r.days - 1)) (\(ReplayReport.plural(r.days, "day")))"
        }
        if let old = r.old { html += ", compared with <code>\(escape(old.rules))</code>" }
        html += ". Sample findings (counted apart): \(ReplayReport.grouped(h.sampleFindingIds.count)).</p>\n"
        if let old = r.old {
            html += "<p>Messages in all channels: <b>\(ReplayReport.grouped(old.messages))</b> with the old rules, <b>\(ReplayReport.grouped(r.current.messages))</b> with the new.</p>\n"
        }
        if !r.warnings.isEmpty {
            html += "<p class=\"warn\"><b>\(ReplayReport.plural(r.warnings.count, "warning"))</b>: CRITICAL or HIGH findings the old rules delivered and the new rules do not (below).</p>\n"
        }

        html += "<h2>Messages per day</h2>\n"
        html += chart(r)
        if let old = r.old {
            html += "<h2>Old and new, channel by channel</h2>\n<div class=\"grid\">\n"
            let oldByKey = Dictionary(old.channels.map { ($0.key, $0) }, uniquingKeysWith: { a, _ in a })
            var keys = r.current.channels.map(\.key)
            for c in old.channels where !keys.contains(c.key) { keys.append(c.key) }
            let newByKey = Dictionary(r.current.channels.map { ($0.key, $0) }, uniquingKeysWith: { a, _ in a })
            for key in keys.prefix(24) {
                let n = newByKey[key], o = oldByKey[key]
                let name = (n ?? o).map(ReplayReport.displayChannel) ?? key
                html += "<div class=\"chart\"><b>\(escape(name))</b>: \(ReplayReport.grouped(o?.messages ?? 0)) &rarr; \(ReplayReport.grouped(n?.messages ?? 0)) messages"
                html += svg(series: [
                    (o?.daily ?? [Int](repeating: 0, count: r.days), "#9a9aa5", true),
                    (n?.daily ?? [Int](repeating: 0, count: r.days), "#1f77b4", false),
                ], days: r.days, firstDay: r.firstDay, width: 320, height: 120)
                html += "<div class=\"legend\"><span><i style=\"background:#9a9aa5\"></i>old</span><span><i style=\"background:#1f77b4\"></i>new</span></div></div>\n"
            }
            html += "</div>\n"
        }

        html += "<h2>Channels</h2>\n<table><tr><th>channel</th><th class=\"n\">findings</th><th class=\"n\">messages</th>"
        if r.old != nil { html += "<th class=\"n\">old</th>" }
        html += "<th class=\"n\">posts</th><th class=\"n\">replies</th><th class=\"n\">digests</th><th class=\"n\">edits</th><th>mentions</th><th class=\"n\">per day (median / max)</th><th>busiest hour</th><th>top types</th></tr>\n"
        let oldMessages = Dictionary((r.old?.channels ?? []).map { ($0.key, $0.messages) }, uniquingKeysWith: { a, _ in a })
        for c in r.current.channels {
            html += "<tr><td>\(escape(ReplayReport.displayChannel(c)))</td><td class=\"n\">\(ReplayReport.grouped(c.findings))"
            if c.sampleFindings > 0 { html += " <span class=\"sub\">+\(c.sampleFindings) sample</span>" }
            html += "</td><td class=\"n\">\(ReplayReport.grouped(c.messages))</td>"
            if r.old != nil { html += "<td class=\"n\">\(ReplayReport.grouped(oldMessages[c.key] ?? 0))</td>" }
            html += "<td class=\"n\">\(ReplayReport.grouped(c.posts))</td><td class=\"n\">\(ReplayReport.grouped(c.replies))</td>"
            html += "<td class=\"n\">\(ReplayReport.grouped(c.digests))</td><td class=\"n\">\(ReplayReport.grouped(c.edits))</td>"
            html += "<td>\(escape(c.mentions.map { "\($0.kind) \(ReplayReport.grouped($0.count))" }.joined(separator: ", ")))</td>"
            html += "<td class=\"n\">\(ReplayReport.number(c.perDayMedian)) / \(ReplayReport.grouped(c.perDayMax))</td>"
            html += "<td>\(c.busiestHour.map { escape(ReplayReport.hour($0.hour)) + " (\($0.messages))" } ?? "")</td>"
            html += "<td>\(escape(c.topTypes.prefix(3).map { "\($0.type) \($0.findings)" }.joined(separator: ", ")))</td></tr>\n"
        }
        html += "</table>\n"

        html += outcomes(r.current, label: r.old == nil ? "" : " (new rules)")
        if let old = r.old {
            html += outcomes(old, label: " (old rules)")
            html += "<h2>Routing changes</h2>\n"
            if r.changes.isEmpty {
                html += "<p>None: every event is routed the same way.</p>\n"
            } else {
                html += "<table><tr><th>type</th><th>old</th><th>new</th><th class=\"n\">findings</th><th class=\"n\">events</th><th>example</th></tr>\n"
                for c in r.changes.prefix(200) {
                    html += "<tr><td>\(escape(c.type))</td><td>\(escape(c.old))</td><td>\(escape(c.new))</td><td class=\"n\">\(ReplayReport.grouped(c.findings))</td><td class=\"n\">\(ReplayReport.grouped(c.events))</td><td><code>\(escape(c.example))</code></td></tr>\n"
                }
                html += "</table>\n"
            }
            if !r.warnings.isEmpty {
                html += "<h2 class=\"warn\">Warnings</h2>\n<ul>\n"
                for w in r.warnings.prefix(500) { html += "<li class=\"warn\">\(escape(w.text))</li>\n" }
                html += "</ul>\n"
            }
        }
        html += "<p class=\"sub\">Made by <code>router replay</code> in \(ReplayReport.number((r.seconds * 10).rounded() / 10)) s. Pacing: \(ReplayReport.number(r.options.policy.ratePerSecond)) message/s per channel, burst \(r.options.policy.burst), digests after \(ReplayReport.number(r.options.policy.digestWindow)) s of backlog.</p>\n"
        html += "</body></html>\n"
        return html
    }

    static func outcomes(_ rs: ReplayReport.RuleSet, label: String) -> String {
        var html = "<h2>Dropped, unrouted, rule errors\(escape(label))</h2>\n"
        if rs.drops.isEmpty {
            html += "<p>Nothing dropped.</p>\n"
        } else {
            html += "<table><tr><th>file</th><th>reason</th><th class=\"n\">events</th><th class=\"n\">findings</th></tr>\n"
            for d in rs.drops {
                html += "<tr><td><code>\(escape(d.file))</code></td><td>\(escape(d.reason))</td><td class=\"n\">\(ReplayReport.grouped(d.events))</td><td class=\"n\">\(ReplayReport.grouped(d.findings))</td></tr>\n"
            }
            html += "</table>\n"
        }
        html += "<p>Unrouted: \(ReplayReport.plural(rs.unroutedEvents, "event")) (\(ReplayReport.plural(rs.unroutedFindings, "finding")))"
        if !rs.unroutedTypes.isEmpty { html += ": " + escape(rs.unroutedTypes.map { "\($0.type) \($0.events)" }.joined(separator: ", ")) }
        html += ". Rule errors: \(ReplayReport.grouped(rs.ruleErrors.reduce(0) { $0 + $1.events })), fallback deliveries: \(ReplayReport.grouped(rs.fallbacks)).</p>\n"
        if !rs.ruleErrors.isEmpty {
            html += "<ul>\n"
            for e in rs.ruleErrors.prefix(20) { html += "<li><code>\(escape(e.message))</code>: \(ReplayReport.plural(e.events, "event"))</li>\n" }
            html += "</ul>\n"
        }
        return html
    }

    /// Messages per day of the busiest channels (up to 8; the rest summed as "other channels").
    static func chart(_ r: ReplayReport) -> String {
        let channels = r.current.channels
        guard r.days > 0, !channels.isEmpty else { return "<p>Nothing would have been posted.</p>\n" }
        var series: [(name: String, daily: [Int])] = channels.prefix(7).map { (ReplayReport.displayChannel($0), $0.daily) }
        if channels.count > 7 {
            var rest = [Int](repeating: 0, count: r.days)
            for c in channels.dropFirst(7) { for i in rest.indices { rest[i] += c.daily[i] } }
            series.append(("other channels", rest))
        }
        var html = "<div class=\"chart\">"
        html += svg(series: series.enumerated().map { ($0.element.daily, palette[$0.offset % palette.count], false) }, days: r.days, firstDay: r.firstDay, width: 1040, height: 300)
        html += "<div class=\"legend\">"
        for (i, s) in series.enumerated() {
            html += "<span><i style=\"background:\(palette[i % palette.count])\"></i>\(escape(s.name))</span>"
        }
        html += "</div></div>\n"
        return html
    }

    /// A line chart of daily counts with axes, as inline SVG.
    static func svg(series: [(daily: [Int], color: String, dashed: Bool)], days: Int, firstDay: Int, width: Int, height: Int) -> String {
        let left = 44.0, right = 10.0, top = 10.0, bottom = 26.0
        let w = Double(width) - left - right, h = Double(height) - top - bottom
        let maxValue = max(1, series.flatMap(\.daily).max() ?? 1)
        let ticks = niceTicks(maxValue)
        let top2 = Double(ticks.last ?? maxValue)
        func x(_ i: Int) -> Double { days <= 1 ? left + w / 2 : left + w * Double(i) / Double(days - 1) }
        func y(_ v: Int) -> Double { top + h - h * Double(v) / top2 }
        func f(_ d: Double) -> String { String((d * 10).rounded() / 10) }
        var s = "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 \(width) \(height)\" width=\"100%\" role=\"img\" aria-label=\"messages per day\">"
        for t in ticks {
            s += "<line x1=\"\(f(left))\" x2=\"\(f(left + w))\" y1=\"\(f(y(t)))\" y2=\"\(f(y(t)))\" stroke=\"#ececf0\"/>"
            s += "<text x=\"\(f(left - 6))\" y=\"\(f(y(t) + 4))\" font-size=\"11\" text-anchor=\"end\" fill=\"#666\">\(ReplayReport.grouped(t))</text>"
        }
        let labels = min(days, width < 500 ? 3 : 6)
        for k in 0..<labels {
            let i = labels == 1 ? 0 : k * (days - 1) / (labels - 1)
            s += "<text x=\"\(f(x(i)))\" y=\"\(f(top + h + 17))\" font-size=\"11\" text-anchor=\"middle\" fill=\"#666\">\(ReplayReport.date(day: firstDay + i))</text>"
        }
        s += "<line x1=\"\(f(left))\" x2=\"\(f(left + w))\" y1=\"\(f(top + h))\" y2=\"\(f(top + h))\" stroke=\"#999\"/>"
        for line in series {
            var points = ""
            for (i, v) in line.daily.enumerated() { points += "\(f(x(i))),\(f(y(v))) " }
            s += "<polyline fill=\"none\" stroke=\"\(line.color)\" stroke-width=\"\(line.dashed ? "1.5" : "2")\"\(line.dashed ? " stroke-dasharray=\"5 3\"" : "") points=\"\(points)\"/>"
            if days == 1, let v = line.daily.first {
                s += "<circle cx=\"\(f(x(0)))\" cy=\"\(f(y(v)))\" r=\"4\" fill=\"\(line.color)\"/>"
            }
        }
        s += "</svg>"
        return s
    }

    /// 0 and about four round steps up to at least `maxValue`.
    static func niceTicks(_ maxValue: Int) -> [Int] {
        var step = 1
        while maxValue / step > 4 {
            if maxValue / (step * 2) <= 4 { step *= 2; break }
            if maxValue / (step * 5) <= 4 { step *= 5; break }
            step *= 10
        }
        var ticks = [0]
        while ticks.last! < maxValue { ticks.append(ticks.last! + step) }
        return ticks
    }
}
