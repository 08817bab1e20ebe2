import CRouterJSON
import CRouterLua
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import RouterFinding
import RouterJSON
import RouterSlack

/// What the evaluation of one finding may depend on besides the finding.
public struct EvaluationContext: Sendable {
    /// Evaluation time, Unix seconds (`ctx.now`).
    public var now: Double
    /// `ctx.mode`: `"test"` for dry runs, `"live"` otherwise.
    public var mode: String
    /// Channel of the fallback delivery a rule error sends the finding to; nil means the default destination's own
    /// channel (an incoming webhook's).
    public var fallbackChannel: String?
    /// Record every filter and route call in `Evaluation.trace`.
    public var explain: Bool
    /// Render the built-in formats (`detailed`, `compact`) into each delivery's message. `router replay` counts
    /// messages without building them (custom formats still run: their errors are rule errors).
    public var render: Bool = true

    public init(now: Double, mode: String = "live", fallbackChannel: String? = nil, explain: Bool = false) {
        self.now = now
        self.mode = mode
        self.fallbackChannel = fallbackChannel
        self.explain = explain
    }
}

/// One loaded rule file.
public struct RuleFile: Sendable, Equatable {
    public var path: String
    public var hasFilter: Bool
    public var hasRoute: Bool
    public var filterLine: Int?
    public var routeLine: Int?
    public var hasPermit: Bool = false
    public var permitLine: Int?
}

/// The rule files of a directory, compiled into one sandboxed Lua state, evaluated one finding at a time.
///
/// Not thread-safe: use one engine per thread (engines are cheap: a few hundred microseconds to load).
/// A rule mistake never escapes as a crash: it is an `RuleError` in the `Evaluation`, and the finding then goes to
/// the fallback delivery.
public final class RuleEngine {
    public let directory: String
    /// The rule files as loaded (path and text, in load order): what the start-up checks read, so no file is read
    /// twice.
    public let sources: [(path: String, source: [UInt8])]
    public let limits: RuleLimits
    public private(set) var files: [RuleFile] = []
    /// Custom format names, with the file that defines each.
    public private(set) var formats: [String: String] = [:]

    private let engine: OpaquePointer
    private var formatIndex: [String: Int32] = [:]

    /// Loads every `*.lua` file directly in `directory`, in byte-wise filename order.
    /// Throws `RuleLoadError` listing every file that does not compile or returns the wrong shape.
    public convenience init(directory: String, limits: RuleLimits = .default) throws(RuleLoadError) {
        guard let dir = opendir(directory) else {
            throw RuleLoadError(errors: [
                RuleError(
                    file: directory, line: nil, phase: .load, kind: .io,
                    message: "cannot read the rules directory: \(String(cString: strerror(errno)))")
            ])
        }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(cString: raw.baseAddress!.assumingMemoryBound(to: CChar.self))
            }
            if name.hasSuffix(".lua") { names.append(name) }
        }
        closedir(dir)
        names.sort { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }
        var sources: [(path: String, source: [UInt8])] = []
        var errors: [RuleError] = []
        for name in names {
            let path = directory.hasSuffix("/") ? directory + name : directory + "/" + name
            var info = stat()
            guard stat(path, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else { continue }
            guard let bytes = Self.readFile(path) else {
                errors.append(
                    RuleError(file: path, line: nil, phase: .load, kind: .io,
                              message: "cannot read the file: \(String(cString: strerror(errno)))"))
                continue
            }
            sources.append((path, bytes))
        }
        try self.init(sources: sources, directory: directory, limits: limits, priorErrors: errors)
    }

    /// Loads rule files from memory (path is used in messages). Order is the order given.
    public init(
        sources: [(path: String, source: [UInt8])], directory: String = "rules", limits: RuleLimits = .default,
        priorErrors: [RuleError] = []
    ) throws(RuleLoadError) {
        self.directory = directory
        self.sources = sources
        self.limits = limits
        var c = rl_limits(
            instructions: Int64(limits.instructions), wall_seconds: limits.wallSeconds,
            memory_bytes: limits.memoryBytes, pattern_steps: Int64(limits.patternSteps),
            max_deliveries: Int32(limits.maxDeliveries))
        guard let e = rl_new(&c) else {
            throw RuleLoadError(errors: [
                RuleError(file: nil, line: nil, phase: .load, kind: .memory, message: "cannot create the Lua state")
            ])
        }
        self.engine = e
        var errors = priorErrors
        for (path, source) in sources {
            let status = source.withUnsafeBufferPointer { buf in
                buf.withMemoryRebound(to: CChar.self) { chars in
                    rl_load(e, "@" + path, chars.baseAddress, chars.count)
                }
            }
            if status != 0 {
                errors.append(lastError(phase: .load, defaultFile: path))
                continue
            }
            let i = rl_file_count(e) - 1
            let filterLine = Int(rl_file_filter_line(e, i))
            let routeLine = Int(rl_file_route_line(e, i))
            let permitLine = Int(rl_file_permit_line(e, i))
            files.append(
                RuleFile(
                    path: path, hasFilter: rl_file_has_filter(e, i) != 0, hasRoute: rl_file_has_route(e, i) != 0,
                    filterLine: filterLine > 0 ? filterLine : nil, routeLine: routeLine > 0 ? routeLine : nil,
                    hasPermit: rl_file_has_permit(e, i) != 0, permitLine: permitLine > 0 ? permitLine : nil))
        }
        for k in 0..<rl_format_count(e) {
            let name = String(cString: rl_format_name(e, k))
            formatIndex[name] = k
            formats[name] = files[Int(rl_format_file(e, k))].path
        }
        if !errors.isEmpty {
            throw RuleLoadError(errors: errors)
        }
    }

    deinit { rl_free(engine) }

    /// Bytes of Lua heap in use.
    public var memoryUsed: Int { rl_memory_used(engine) }

    /// The whole file, or nil (errno set) when it cannot be read.
    public static func readFile(_ path: String) -> [UInt8]? {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                return nil
            }
            if n == 0 { return bytes }
            bytes.append(contentsOf: chunk[0..<n])
        }
    }

    private func lastError(phase: RuleError.Phase, defaultFile: String?) -> RuleError {
        let status = rl_error_status(engine)
        let kind: RuleError.Kind =
            switch status {
            case 2: .instructions
            case 3: .timeout
            case 4: .memory
            case 5: .result
            case 6: .syntax
            default: .runtime
            }
        let phase: RuleError.Phase = rl_error_in_load(engine) != 0 ? .load : phase
        let fileIndex = Int(rl_error_file(engine))
        let file = fileIndex >= 0 && fileIndex < files.count ? files[fileIndex].path : defaultFile
        let line = Int(rl_error_line(engine))
        return RuleError(
            file: file, line: line > 0 ? line : nil, phase: phase, kind: kind,
            message: String(cString: rl_error_message(engine)))
    }

    private func fileError(_ file: Int, line: Int?, phase: RuleError.Phase, _ message: String) -> RuleError {
        RuleError(file: files[file].path, line: line, phase: phase, kind: .result, message: message)
    }

    // MARK: - Evaluation

    /// Runs the finding through every filter, then the routes, then renders each delivery.
    public func evaluate(_ finding: Finding, context: EvaluationContext) -> Evaluation {
        var result = Evaluation()
        defer { rl_event_end(engine) }

        let begun = beginEvent(finding, context: context)
        if begun != 0 {
            let error = lastError(phase: .load, defaultFile: nil)
            result.errors.append(error)
            result.deliveries.append(fallbackDelivery(finding, context: context, error: error))
            captureOutput(&result)
            return result
        }

        // Filters, in file order; the first false drops the finding.
        for i in files.indices where files[i].hasFilter {
            var keep: Int32 = 1
            var reasonPtr: UnsafePointer<CChar>? = nil
            var reasonLen = 0
            let status = rl_call_filter(engine, Int32(i), &keep, &reasonPtr, &reasonLen)
            if status != 0 {
                let error = lastError(phase: .filter, defaultFile: files[i].path)
                result.errors.append(error)
                if context.explain { result.trace.append(TraceEntry(phase: .filter, file: files[i].path, line: files[i].filterLine, outcome: .error(error))) }
                result.deliveries.append(fallbackDelivery(finding, context: context, error: error))
                captureOutput(&result)
                return result
            }
            if keep == 0 {
                let reason = reasonPtr.map { Self.string($0, reasonLen) }
                result.dropped = Evaluation.Drop(file: files[i].path, reason: reason)
                if context.explain { result.trace.append(TraceEntry(phase: .filter, file: files[i].path, line: files[i].filterLine, outcome: .dropped(reason: reason))) }
                captureOutput(&result)
                return result
            }
            if context.explain { result.trace.append(TraceEntry(phase: .filter, file: files[i].path, line: files[i].filterLine, outcome: .kept)) }
        }

        // Routes, in file order, until one returns deliveries none of which says `continue = true`.
        var routeError: RuleError? = nil
        // Chosen deliveries go straight into the result and are rendered there (no copies). They are the engine's
        // deliveries 0, 1, ... in order (every delivery a route returned is read, until the first invalid one).
        var chosen: Int32 = 0
        let firstChosen = result.deliveries.count
        for i in files.indices where files[i].hasRoute {
            var added: Int32 = 0
            let status = rl_call_route(engine, Int32(i), &added)
            if status != 0 {
                let error = lastError(phase: .route, defaultFile: files[i].path)
                routeError = error
                if context.explain { result.trace.append(TraceEntry(phase: .route, file: files[i].path, line: files[i].routeLine, outcome: .error(error))) }
                break
            }
            if added == 0 {
                if context.explain { result.trace.append(TraceEntry(phase: .route, file: files[i].path, line: files[i].routeLine, outcome: .noRoute)) }
                continue
            }
            let total = rl_delivery_count(engine)
            var continues = false
            for k in (total - added)..<total {
                switch readDelivery(k, file: i) {
                case .success(let d):
                    assert(k == chosen, "deliveries are read in engine order")
                    chosen += 1
                    if d.continueRouting { continues = true }
                    result.deliveries.append(d)
                case .failure(let error):
                    routeError = error
                }
                if routeError != nil { break }
            }
            if let routeError {
                if context.explain { result.trace.append(TraceEntry(phase: .route, file: files[i].path, line: files[i].routeLine, outcome: .error(routeError))) }
                break
            }
            if context.explain { result.trace.append(TraceEntry(phase: .route, file: files[i].path, line: files[i].routeLine, outcome: .routed(count: Int(added), continues: continues))) }
            if !continues { break }
        }

        // Render what was chosen.
        for index in 0..<chosen {
            let j = firstChosen + Int(index)
            let format = result.deliveries[j].format
            if !context.render && (format == "detailed" || format == "compact") { continue }
            switch format {
            case "detailed":
                result.deliveries[j].message = SlackRenderer.detailed(finding, mentions: result.deliveries[j].mentions)
            case "compact":
                result.deliveries[j].message = SlackRenderer.compact(finding, mentions: result.deliveries[j].mentions)
            default:
                switch renderCustom(finding, format: format, delivery: index, mentions: result.deliveries[j].mentions) {
                case .success(let message):
                    result.deliveries[j].message = message
                case .failure(let error):
                    result.errors.append(error)
                    result.deliveries[j].message = SlackRenderer.detailed(
                        finding, mentions: result.deliveries[j].mentions,
                        note: "Rule error (shown in the detailed format): " + Self.locatedMessage(error))
                    result.deliveries[j].fallback = true
                }
            }
        }
        if let routeError {
            result.errors.append(routeError)
            result.deliveries.append(fallbackDelivery(finding, context: context, error: routeError))
        }
        captureOutput(&result)
        return result
    }

    /// Whether any rule file defines `permit` (without one, every click is denied).
    public var hasPermit: Bool { files.contains(where: \.hasPermit) }

    /// The rules' verdict on `user` doing `action` to `finding` (as it was last routed): every file's
    /// `permit(action, user, f, ctx)` in file order; the first `false` denies; allowed only when some file said
    /// `true` and none `false`; a rule error denies.
    public func permit(_ action: FindingAction, user: PermitUser, finding: Finding, context: EvaluationContext)
        -> PermitDecision
    {
        defer { rl_event_end(engine) }
        var decision = PermitDecision(allowed: false, file: nil, reason: nil)
        func output() -> String {
            var len = 0
            guard let p = rl_event_output(engine, &len), len > 0 else { return "" }
            return Self.string(p, len)
        }
        if beginEvent(finding, context: context) != 0 {
            let error = lastError(phase: .permit, defaultFile: nil)
            decision.errors.append(error)
            decision.reason = "rule error: " + Self.locatedMessage(error)
            return decision
        }
        var allowedBy: (file: String, reason: String?)?
        for i in files.indices where files[i].hasPermit {
            var verdict: Int32 = -1
            var reasonPtr: UnsafePointer<CChar>? = nil
            var reasonLen = 0
            let status = action.rawValue.withCString { a in
                user.id.withCString { id in
                    withOptionalCString(user.name) { name in
                        withOptionalCString(user.team) { team in
                            rl_call_permit(engine, Int32(i), a, id, name, team, &verdict, &reasonPtr, &reasonLen)
                        }
                    }
                }
            }
            if status != 0 {
                let error = lastError(phase: .permit, defaultFile: files[i].path)
                decision.errors.append(error)
                decision.file = files[i].path
                decision.reason = "rule error: " + Self.locatedMessage(error)
                decision.output = output()
                return decision
            }
            let reason = reasonPtr.map { Self.string($0, reasonLen) }
            if verdict == 0 {
                decision.file = files[i].path
                decision.reason = reason ?? "denied by \(files[i].path)"
                decision.output = output()
                return decision
            }
            if verdict == 1 && allowedBy == nil { allowedBy = (files[i].path, reason) }
        }
        decision.output = output()
        if let allowedBy {
            decision.allowed = true
            decision.file = allowedBy.file
            decision.reason = allowedBy.reason
        } else {
            decision.reason = hasPermit
                ? "no rule permits \(action.rawValue) (every permit function returned nil)"
                : "no rule file defines permit(action, user, f, ctx), so nobody may act on findings"
        }
        return decision
    }

    private func captureOutput(_ result: inout Evaluation) {
        var len = 0
        if let p = rl_event_output(engine, &len), len > 0 {
            result.output = Self.string(p, len)
        }
    }

    private static func string(_ p: UnsafePointer<CChar>, _ len: Int) -> String {
        p.withMemoryRebound(to: UInt8.self, capacity: len) { u in
            String(decoding: UnsafeBufferPointer(start: u, count: len), as: UTF8.self)
        }
    }

    private func fallbackDelivery(_ finding: Finding, context: EvaluationContext, error: RuleError) -> RoutedDelivery {
        RoutedDelivery(
            channel: context.fallbackChannel, mentions: [], format: "detailed", to: "default", file: nil,
            fallback: true, continueRouting: false,
            message: SlackRenderer.detailed(finding, mentions: [], note: "Rule error: " + Self.locatedMessage(error)))
    }

    private func readDelivery(_ k: Int32, file: Int) -> Result<RoutedDelivery, RuleError> {
        var d = rl_delivery()
        rl_delivery_get(engine, k, &d)
        let line = files[file].routeLine
        let where_ = "delivery"
        func fail(_ message: String) -> Result<RoutedDelivery, RuleError> {
            .failure(fileError(file, line: line, phase: .route, message))
        }
        let channel = d.channel.map { Self.string($0, d.channel_len) }
        if let channel, !Self.isValidChannel(channel) {
            return fail("\(where_): 'channel' must be '#name' (lowercase letters, digits, '-', '_') or a channel ID such as C0123ABCD, not \(Self.quote(channel))")
        }
        let to = d.to.map { Self.string($0, d.to_len) } ?? "default"
        if !Self.isValidDestination(to) {
            return fail("\(where_): 'to' must be a destination name (letters, digits, '-', '_'), not \(Self.quote(to))")
        }
        let format = d.format.map { Self.string($0, d.format_len) } ?? "detailed"
        if format != "detailed" && format != "compact" && formatIndex[format] == nil {
            let defined = formats.keys.sorted()
            return fail(
                "\(where_): 'format' \(Self.quote(format)) is not defined (built in: detailed, compact"
                    + (defined.isEmpty ? "" : "; defined in rule files: " + defined.joined(separator: ", ")) + ")")
        }
        var onUpdate: OnUpdate?
        if let raw = d.on_update.map({ Self.string($0, d.on_update_len) }) {
            guard let value = OnUpdate(rawValue: raw) else {
                return fail("\(where_): 'on_update' must be one of \(OnUpdate.allowedList), not \(Self.quote(raw))")
            }
            onUpdate = value
        }
        var mentions: [Mention] = []
        for j in 0..<d.mention_count {
            var len = 0
            let p = rl_delivery_mention(engine, k, j, &len)!
            let raw = Self.string(p, len)
            do {
                mentions.append(try Mention(parsing: raw))
            } catch {
                return fail("\(where_): 'mention' \(error)")
            }
        }
        // The C bits are the order of FindingAction.offerable and SuppressCriterion.allCases.
        let actions = FindingAction.offerable.enumerated().filter { d.actions & (1 << UInt32($0.offset)) != 0 }.map(\.element)
        let suppressBy = SuppressCriterion.allCases.enumerated().filter { d.suppress_by & (1 << UInt32($0.offset)) != 0 }
            .map(\.element)
        return .success(
            RoutedDelivery(
                channel: channel, mentions: mentions, format: format, to: to, file: files[file].path, fallback: false,
                continueRouting: d.has_continue != 0 && d.continue_ != 0, message: SlackMessage(text: ""),
                onUpdate: onUpdate, actions: actions, suppressBy: suppressBy))
    }

    private func renderCustom(_ finding: Finding, format: String, delivery: Int32, mentions: [Mention])
        -> Result<SlackMessage, RuleError>
    {
        guard let k = formatIndex[format] else {
            return .failure(RuleError(file: nil, line: nil, phase: .format, kind: .result, message: "unknown format '\(format)'"))
        }
        var json: UnsafePointer<CChar>? = nil
        var len = 0
        var isString: Int32 = 0
        let status = rl_call_format(engine, k, delivery, &json, &len, &isString)
        if status != 0 {
            return .failure(lastError(phase: .format, defaultFile: formats[format]))
        }
        let file = formats[format]
        let line = Int(rl_format_line(engine, k))
        do {
            let value: JSONValue
            if isString != 0 {
                value = .string(Self.string(json!, len))
            } else {
                let bytes = json!.withMemoryRebound(to: UInt8.self, capacity: len) { Array(UnsafeBufferPointer(start: $0, count: len)) }
                value = try JSONValue.parse(bytes)
            }
            return .success(try SlackRenderer.custom(value, mentions: mentions))
        } catch {
            return .failure(
                RuleError(file: file, line: line > 0 ? line : nil, phase: .format, kind: .result, message: "format '\(format)': \(error)"))
        }
    }

    // MARK: - Pushing the finding

    /// The view's string fields, each with its field number: the one list both passes of ``beginEvent`` walk.
    @inline(__always)
    private static func forEachString(_ f: Finding, _ body: (Int, String?) -> Void) {
        body(RL_F_ID, f.id)
        body(RL_F_TYPE, f.type)
        body(RL_F_PURPOSE, f.purpose)
        body(RL_F_RESOURCE_KIND, f.resourceKind)
        body(RL_F_FAMILY, f.family)
        body(RL_F_ARTIFACT, f.artifact)
        body(RL_F_SEVERITY_LABEL, f.severityLabel.rawValue)
        body(RL_F_TITLE, f.title)
        body(RL_F_DESCRIPTION, f.description)
        body(RL_F_ACCOUNT, f.account)
        body(RL_F_EVENT_ACCOUNT, f.eventAccount)
        body(RL_F_REGION, f.region)
        body(RL_F_PARTITION, f.partition)
        body(RL_F_RESOURCE_TYPE, f.resourceType)
        body(RL_F_ACTION_TYPE, f.actionType)
        body(RL_F_FIRST_SEEN, f.firstSeen)
        body(RL_F_LAST_SEEN, f.lastSeen)
        body(RL_F_CREATED_AT, f.createdAt)
        body(RL_F_UPDATED_AT, f.updatedAt)
        body(RL_F_CONSOLE_URL, f.consoleURL)
        body(RL_F_RESOURCE, f.resourceSummary)
    }

    private func beginEvent(_ f: Finding, context: EvaluationContext) -> Int32 {
        // The string fields are written straight into the engine's buffer, sized first (`utf8.count` is O(1) for
        // native strings); the engine's field values point at them.
        var total = 0
        Self.forEachString(f) { _, s in total += s?.utf8.count ?? 0 }
        var fieldsOut: UnsafeMutablePointer<rl_value>? = nil
        guard let buf = rl_event_prepare(engine, total, &fieldsOut), let fields = fieldsOut else {
            return Int32(RL_ERR_MEMORY.rawValue)
        }
        var off = 0
        Self.forEachString(f) { field, s in
            guard let s else { return }
            let count = s.utf8.count
            if count > 0 {
                // Not UTF8Bytes.withBytes: the `var` copy its fallback needs costs about 3% of `router bench` here
                // (measured), though the fallback (non-contiguous strings) never runs on Linux.
                let dst = UnsafeMutableRawPointer(buf + off)
                if s.utf8.withContiguousStorageIfAvailable({ dst.copyMemory(from: $0.baseAddress!, byteCount: count) }) == nil {
                    for (k, b) in s.utf8.enumerated() { dst.storeBytes(of: b, toByteOffset: k, as: UInt8.self) }
                }
            }
            fields[field].kind = Int32(RL_V_STRING.rawValue)
            fields[field].s = UnsafePointer(buf + off)
            fields[field].len = count
            off += count
        }
        if f.severity == f.severity.rounded() && abs(f.severity) < 1e15 {
            fields[RL_F_SEVERITY].kind = Int32(RL_V_INTEGER.rawValue)
            fields[RL_F_SEVERITY].integer = Int64(f.severity)
        } else {
            fields[RL_F_SEVERITY].kind = Int32(RL_V_NUMBER.rawValue)
            fields[RL_F_SEVERITY].number = f.severity
        }
        fields[RL_F_COUNT].kind = Int32(RL_V_INTEGER.rawValue)
        fields[RL_F_COUNT].integer = Int64(f.count)
        fields[RL_F_ARCHIVED].kind = Int32(RL_V_BOOLEAN.rawValue)
        fields[RL_F_ARCHIVED].integer = f.archived ? 1 : 0
        fields[RL_F_SAMPLE].kind = Int32(RL_V_BOOLEAN.rawValue)
        fields[RL_F_SAMPLE].integer = f.sample ? 1 : 0
        return context.mode.withCString { mode in
            rl_event_start(engine, f.document.cDocument, f.detail.index, context.now, mode)
        }
    }

    /// `rules/x.lua:3: message` (no "error:"), for notes inside Slack messages.
    static func locatedMessage(_ e: RuleError) -> String {
        guard let file = e.file else { return e.message }
        return file + (e.line.map { ":\($0)" } ?? "") + ": " + e.message
    }

    // MARK: - Validation helpers

    static func isValidChannel(_ s: String) -> Bool {
        let u = s.utf8
        if u.first == UInt8(ascii: "#") {
            guard u.count >= 2, u.count <= 81 else { return false }
            return u.dropFirst().allSatisfy { c in
                (c >= 0x61 && c <= 0x7A) || (c >= 0x30 && c <= 0x39) || c == 0x2D || c == 0x5F || c >= 0x80
            }
        }
        guard u.count >= 9, u.count <= 24, let first = u.first, first == UInt8(ascii: "C") || first == UInt8(ascii: "G") || first == UInt8(ascii: "D") else {
            return false
        }
        return u.allSatisfy { ($0 >= 0x41 && $0 <= 0x5A) || ($0 >= 0x30 && $0 <= 0x39) }
    }

    static func isValidDestination(_ s: String) -> Bool {
        let u = s.utf8
        guard !u.isEmpty, u.count <= 64 else { return false }
        return u.allSatisfy { c in
            (c >= 0x61 && c <= 0x7A) || (c >= 0x41 && c <= 0x5A) || (c >= 0x30 && c <= 0x39) || c == 0x2D || c == 0x5F
        }
    }

    /// A value quoted for an error message: control characters escaped, at most 80 characters.
    static func quote(_ s: String) -> String {
        var out = "'"
        for (n, ch) in s.unicodeScalars.enumerated() {
            if n >= 80 {
                out += "..."
                break
            }
            if ch.value < 0x20 || ch.value == 0x7F {
                let hex = Array("0123456789ABCDEF")
                out += "\\x" + String(hex[Int(ch.value >> 4)]) + String(hex[Int(ch.value & 15)])
            } else {
                out.unicodeScalars.append(ch)
            }
        }
        return out + "'"
    }
}

private func withOptionalCString<R>(_ s: String?, _ body: (UnsafePointer<CChar>?) -> R) -> R {
    guard let s else { return body(nil) }
    return s.withCString { body($0) }
}
