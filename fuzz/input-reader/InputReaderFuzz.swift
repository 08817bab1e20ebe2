// Fuzz target: the input reader as a whole (bytes -> items, every wrapper shape: EventBridge events, bare findings,
// SNS and SQS record batches, SNS HTTP messages, Security Hub imports, arrays of them, nested), as the router reads a
// request body or a file. Built only by scripts/fuzz.sh (ROUTER_FUZZ=1 swift build --sanitize=fuzzer ...).
//
// For any bytes: bytes that are not one JSON document are exactly one invalid_json item; every item is a finding or an
// input error with a message; a finding's view is
// consistent (the severity label is the band of the severity, the id and type are what the reader checked, count at
// least 1); reading the same bytes again gives the same items.
import RouterFinding
import RouterJSON

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzInputReader(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = UnsafeBufferPointer(start: data, count: size)
    let items = InputReader.items(fromBytes: bytes, source: "fuzz")
    if (try? JSONDocument(bytes: bytes, maxDepth: InputLimits.default.maxDepth)) == nil {
        precondition(items.count == 1 && items[0].error?.kind == .invalidJSON, "not JSON, yet \(items.count) items")
    }
    for item in items {
        precondition(item.source.hasPrefix("fuzz"), "source \(item.source)")
        switch item.result {
        case .success(let f):
            // The bands, written out here (CRITICAL is never folded into HIGH); below 1, absent or not finite, the reader
            // decides between LOW and UNKNOWN.
            if f.severity.isFinite && f.severity >= 1 {
                let band: SeverityLabel =
                    f.severity >= 9 ? .critical : f.severity >= 7 ? .high : f.severity >= 4 ? .medium : .low
                precondition(f.severityLabel == band, "severity \(f.severity) labelled \(f.severityLabel)")
            }
            precondition(!f.id.isEmpty && !f.type.isEmpty, "a finding without id or type")
            precondition(f.count >= 1, "count \(f.count)")
            _ = (f.purpose, f.resourceKind, f.family, f.artifact, f.title, f.description, f.account, f.region,
                 f.partition, f.resourceType, f.actionType, f.firstSeen, f.lastSeen, f.consoleURL, f.resourceSummary)
        case .failure(let e):
            precondition(!e.message.isEmpty, "an input error without a message")
        }
    }
    let again = InputReader.items(fromBytes: bytes, source: "fuzz")
    precondition(again.count == items.count, "a second read gave \(again.count) items, not \(items.count)")
    for (a, b) in zip(items, again) {
        precondition(a.source == b.source && a.finding?.id == b.finding?.id && a.error?.message == b.error?.message)
    }
    return 0
}
