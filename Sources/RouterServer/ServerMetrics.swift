import CoreMetrics
import Prometheus
import RouterDelivery

/// The server's metrics: swift-metrics counters and gauges backed by a Prometheus registry of its own (no global
/// bootstrap, so tests can make several), rendered by `/metrics` in the Prometheus text format.
final class ServerMetrics: @unchecked Sendable {
    let registry = PrometheusCollectorRegistry()
    let factory: PrometheusMetricsFactory

    let findingsReceived: CoreMetrics.Counter
    let findingsUnrouted: CoreMetrics.Counter
    let ruleErrors: CoreMetrics.Counter
    let queueDepth: CoreMetrics.Gauge
    let deadLetterDepth: CoreMetrics.Gauge

    init() {
        factory = PrometheusMetricsFactory(registry: registry)
        findingsReceived = CoreMetrics.Counter(label: "router_findings_received_total", factory: factory)
        findingsUnrouted = CoreMetrics.Counter(label: "router_findings_unrouted_total", factory: factory)
        ruleErrors = CoreMetrics.Counter(label: "router_rule_errors_total", factory: factory)
        queueDepth = CoreMetrics.Gauge(label: "router_queue_depth", factory: factory)
        deadLetterDepth = CoreMetrics.Gauge(label: "router_dead_letter_depth", factory: factory)
        // Present (at zero) from the start, so a scrape sees them before the first event.
        for result in ["ok", "failed"] { _ = counter("router_rule_reloads_total", [("result", result)]) }
    }

    func counter(_ name: String, _ dimensions: [(String, String)] = []) -> CoreMetrics.Counter {
        CoreMetrics.Counter(label: name, dimensions: dimensions, factory: factory)
    }

    /// Labelled with the rule file's name (not its directory).
    func dropped(byFile file: String) {
        let name = file.split(separator: "/").last.map(String.init) ?? file
        counter("router_findings_dropped_total", [("file", name)]).increment()
    }
    func inputRejected(kind: String) { counter("router_inputs_rejected_total", [("kind", kind)]).increment() }
    func reload(ok: Bool) { counter("router_rule_reloads_total", [("result", ok ? "ok" : "failed")]).increment() }
    func httpRequest(status: Int) { counter("router_http_requests_total", [("status", String(status))]).increment() }
    /// Clicks on finding buttons by outcome (`done`, `denied`, `failed`, `unknown`, `unauthorized`).
    func slackAction(outcome: String) { counter("router_slack_actions_total", [("outcome", outcome)]).increment() }

    /// What the delivery engine reports.
    func delivery(_ event: DeliveryEvent) {
        switch event {
        case .delivered(let d):
            counter("router_deliveries_total", [("outcome", "delivered"), ("destination", d)]).increment()
        case .deadLettered(let d):
            counter("router_deliveries_total", [("outcome", "dead_lettered"), ("destination", d)]).increment()
        case .retried(let d, let rateLimited):
            counter("router_delivery_retries_total", [("destination", d)]).increment()
            if rateLimited { counter("router_slack_rate_limited_total", [("destination", d)]).increment() }
        }
    }

    /// The Prometheus text, with the queue gauges read now.
    func render(queue: DeliveryQueue) -> [UInt8] {
        if let c = try? queue.counts() {
            queueDepth.record(c.pending)
            deadLetterDepth.record(c.dead)
        }
        var out: [UInt8] = []
        registry.emit(into: &out)
        return out
    }
}
