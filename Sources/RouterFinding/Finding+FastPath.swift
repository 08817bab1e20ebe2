import CRouterJSON
import RouterJSON

/// The EventBridge envelope members the finding view reads (`account`, `region`), located by whoever scanned the
/// envelope. `event` keeps the envelope's document alive and serves the general code.
struct EnvelopeFields {
    var event: JSONNode
    var tape: Tape
    var account: UInt32
    var region: UInt32

    /// Looks both members up in `event` (absent when `event` is not an object).
    init(event: JSONNode) {
        self.event = event
        tape = Tape(event.document)
        account = tape.get(event.index, "account")
        region = tape.get(event.index, "region")
    }

    init(event: JSONNode, tape: Tape, account: UInt32, region: UInt32) {
        self.event = event
        self.tape = tape
        self.account = account
        self.region = region
    }
}

/// Members of `detail` the view reads (value indices, first occurrence; `Tape.none` when absent).
struct DetailMembers {
    var id = Tape.none, type = Tape.none, severity = Tape.none, arn = Tape.none, accountId = Tape.none
    var region = Tape.none, partition = Tape.none, resource = Tape.none, service = Tape.none, title = Tape.none
    var description = Tape.none, createdAt = Tape.none, updatedAt = Tape.none

    @inline(__always) mutating func take(_ k: UnsafeBufferPointer<UInt8>, _ v: UInt32) {
        switch k.count {
        case 2: _ = Tape.claim(&id, k, "id", v)
        case 3: _ = Tape.claim(&arn, k, "arn", v)
        case 4: _ = Tape.claim(&type, k, "type", v)
        case 5: _ = Tape.claim(&title, k, "title", v)
        case 6: _ = Tape.claim(&region, k, "region", v)
        case 7: _ = Tape.claim(&service, k, "service", v)
        case 8: _ = Tape.claim(&severity, k, "severity", v) || Tape.claim(&resource, k, "resource", v)
        case 9:
            _ = Tape.claim(&accountId, k, "accountId", v) || Tape.claim(&createdAt, k, "createdAt", v) || Tape.claim(&updatedAt, k, "updatedAt", v)
                || Tape.claim(&partition, k, "partition", v)
        case 11: _ = Tape.claim(&description, k, "description", v)
        default: break
        }
    }
}

/// Members of `detail.service` the view reads.
struct ServiceMembers {
    var action = Tape.none, count = Tape.none, eventFirstSeen = Tape.none, eventLastSeen = Tape.none
    var archived = Tape.none, additionalInfo = Tape.none

    @inline(__always) mutating func take(_ k: UnsafeBufferPointer<UInt8>, _ v: UInt32) {
        switch k.count {
        case 5: _ = Tape.claim(&count, k, "count", v)
        case 6: _ = Tape.claim(&action, k, "action", v)
        case 8: _ = Tape.claim(&archived, k, "archived", v)
        case 13: _ = Tape.claim(&eventLastSeen, k, "eventLastSeen", v)
        case 14: _ = Tape.claim(&eventFirstSeen, k, "eventFirstSeen", v) || Tape.claim(&additionalInfo, k, "additionalInfo", v)
        default: break
        }
    }
}

extension Finding {
    /// ``init(event:detail:)`` with the envelope's members already located (the reader scans the envelope once).
    init(envelope: EnvelopeFields, detail: JSONNode) throws(InputError) {
        // `fast` is a static function returning the view, not an initializer: a struct initializer that stores field by
        // field (or delegates to one that does) costs one more copy of the whole struct.
        do {
            self = try Finding.fast(envelope: envelope, detail: detail)
        } catch {
            try self.init(general: envelope.event, detail: detail)
        }
    }

    /// The view of a GuardDuty finding read straight from the tape: one pass over `detail`, `service` and `resource`
    /// each, no `JSONNode` per field, byte comparisons for ASCII text, shared strings for known finding types.
    /// Throws ``Bail`` when the input needs the general code (``init(general:detail:)``): `detail` not an object, a
    /// missing or odd `id`/`type` (the error messages live there), escaped keys in the objects scanned. Fields with
    /// rarely seen kinds (a numeric string count, a non-integral account number, a `sample` flag inside
    /// `additionalInfo.value` in another spelling, a non-ASCII resource name) are read by the general per-field code,
    /// so the result is always the same as the general code's.
    static func fast(envelope: EnvelopeFields?, detail: JSONNode) throws(Bail) -> Finding {
        let t = Tape(detail.document)
        let d = detail.index
        guard t.isObject(d) else { throw Bail() }
        var m = DetailMembers()
        try t.forEachMember(d) { m.take($0, $1) }

        guard t.isString(m.id), t.raw(m.id).count > 0, t.isString(m.type), t.raw(m.type).count > 0 else {
            throw Bail()
        }
        let id = t.string(m.id)
        let type: String
        let parts: (purpose: String, resourceKind: String, family: String, artifact: String?)
        if !t.isEscaped(m.type), let known = KnownFindingTypes.lookup(t.raw(m.type)) {
            // The same bytes: the same string and the same split.
            type = known.type
            parts = (known.purpose, known.resourceKind, known.family, known.artifact)
        } else {
            type = t.string(m.type)
            parts = Finding.parseType(type)
        }

        let severity: Double?
        if m.severity == Tape.none {
            severity = nil
        } else {
            switch t.type(m.severity) {
            case UInt8(RJ_NUMBER.rawValue):
                let value = t.double(m.severity)
                severity = value.isFinite ? value : nil
            case UInt8(RJ_STRING.rawValue):
                severity = JSONFields.decimal(t.string(m.severity))
            default:
                severity = nil
            }
        }

        let eventAccount = envelope.flatMap { e in
            Finding.identifier(e.tape, e.account) { e.event["account"] }
        }
        let account = Finding.identifier(t, m.accountId) { detail["accountId"] } ?? eventAccount ?? ""

        let detailRegion = t.nonEmptyString(m.region)
        let eventRegion = detailRegion == nil ? envelope.flatMap { $0.tape.nonEmptyString($0.region) } : nil
        let detailPartition = t.nonEmptyString(m.partition)
        let arn = (detailRegion == nil && eventRegion == nil) || detailPartition == nil ? t.stringOrNil(m.arn) : nil
        let region = detailRegion ?? eventRegion ?? arn.flatMap { ARN.component($0, 3) } ?? ""
        let partition = detailPartition ?? arn.flatMap { ARN.component($0, 1) } ?? Partition.derived(fromRegion: region)

        var s = ServiceMembers()
        try t.forEachMember(m.service) { s.take($0, $1) }
        var r = ResourceMembers()
        try t.forEachMember(m.resource) { r.take($0, $1) }

        var count = 1
        if s.count != Tape.none {
            if t.isNumber(s.count) && t.isInteger(s.count) {
                let i = t.int64(s.count)
                count = i >= 1 ? Int(clamping: i) : 1
            } else {
                count = JSONFields.count(detail["service"]?["count"])
            }
        }

        let summary: String?
        do {
            summary = try ResourceSummary.fastGuardDuty(t, resource: m.resource, members: r, service: m.service)
        } catch {
            summary = ResourceSummary.guardDuty(resource: detail["resource"], service: detail["service"])
        }

        // Texts with the same bytes as one already built share its string: a new finding has `updatedAt` equal to
        // `createdAt` and `eventLastSeen` equal to `eventFirstSeen` (an allocation saved for each).
        let title = t.stringOrNil(m.title) ?? ""
        let description = t.sameString(m.description, m.title) ? title : t.stringOrNil(m.description) ?? ""
        let resourceType = t.nonEmptyString(r.resourceType)
        let actionType = Finding.actionType(t, t.get(s.action, "actionType"))
        let createdAt = Finding.timestamp(t, m.createdAt)
        let updatedAt = t.sameString(m.updatedAt, m.createdAt) ? createdAt : Finding.timestamp(t, m.updatedAt)
        let firstSeen =
            t.sameString(s.eventFirstSeen, m.createdAt) ? createdAt : Finding.timestamp(t, s.eventFirstSeen)
        let lastSeen =
            t.sameString(s.eventLastSeen, s.eventFirstSeen)
            ? firstSeen
            : t.sameString(s.eventLastSeen, m.updatedAt) ? updatedAt : Finding.timestamp(t, s.eventLastSeen)
        let archived = t.isTrue(s.archived)
        let sample = Finding.fastIsSample(t, s.additionalInfo) ?? Finding.isSample(detail["service"]?["additionalInfo"])
        let consoleURL = ConsoleURL.finding(id: id, region: region, partition: partition)
        return Finding(
            document: detail.document,
            detail: detail,
            id: id,
            type: type,
            purpose: parts.purpose,
            resourceKind: parts.resourceKind,
            family: parts.family,
            artifact: parts.artifact,
            severity: severity ?? 0,
            severityLabel: SeverityLabel(severity: severity),
            title: title,
            description: description,
            account: account,
            eventAccount: eventAccount,
            region: region,
            partition: partition,
            resourceType: resourceType,
            actionType: actionType,
            count: count,
            firstSeen: firstSeen,
            lastSeen: lastSeen,
            createdAt: createdAt,
            updatedAt: updatedAt,
            archived: archived,
            sample: sample,
            consoleURL: consoleURL,
            resourceSummary: summary,
            format: .guardDuty
        )
    }

    /// `JSONFields.identifier`; `general` supplies the node for numbers that are not integer literals.
    @inline(__always) static func identifier(_ t: Tape, _ i: UInt32, general: () -> JSONNode?) -> String? {
        guard i != Tape.none else { return nil }
        switch t.type(i) {
        case UInt8(RJ_STRING.rawValue): return t.nonEmptyString(i)
        case UInt8(RJ_NUMBER.rawValue): return t.isInteger(i) ? String(t.int64(i)) : JSONFields.identifier(general())
        default: return nil
        }
    }

    /// `nonEmptyString` of `service.action.actionType`; the values too long for an inline string are shared literals.
    @inline(__always) static func actionType(_ t: Tape, _ i: UInt32) -> String? {
        if t.isString(i), !t.isEscaped(i) {
            let raw = t.raw(i)
            switch raw.count {
            case 17 where Tape.equal(raw, "RDS_LOGIN_ATTEMPT"): return "RDS_LOGIN_ATTEMPT"
            case 18 where Tape.equal(raw, "NETWORK_CONNECTION"): return "NETWORK_CONNECTION"
            case 19 where Tape.equal(raw, "KUBERNETES_API_CALL"): return "KUBERNETES_API_CALL"
            default: break
            }
        }
        return t.nonEmptyString(i)
    }

    /// `Timestamp.string`.
    @inline(__always) static func timestamp(_ t: Tape, _ i: UInt32) -> String? {
        guard i != Tape.none else { return nil }
        switch t.type(i) {
        case UInt8(RJ_STRING.rawValue): return t.nonEmptyString(i)
        case UInt8(RJ_NUMBER.rawValue): return Timestamp.iso8601(epoch: t.double(i))
        default: return nil
        }
    }

    /// `isSample` for the common shapes; nil when `additionalInfo.value` has to be parsed (the general code does it).
    static func fastIsSample(_ t: Tape, _ info: UInt32) -> Bool? {
        guard t.isObject(info) else { return false }
        var sample = Tape.none
        var value = Tape.none
        do {
            try t.forEachMember(info) { k, v in
                if sample == Tape.none, Tape.equal(k, "sample") {
                    sample = v
                } else if value == Tape.none, Tape.equal(k, "value") {
                    value = v
                }
            }
        } catch { return nil }
        if t.isTrue(sample) { return true }
        guard t.isString(value) else { return false }
        let raw = t.raw(value)
        // Escapes other than \u never produce letters, nor join letters around them: without `\u`, the value
        // mentions `sample` exactly when its raw text does.
        if !contains(raw, "sample") && !contains(raw, "\\u") { return false }
        // What GuardDuty sample findings carry; parses to an object whose `sample` is `true`.
        if Tape.equal(raw, "{\\\"sample\\\":true}") { return true }
        return nil
    }

    @inline(__always) static func contains(_ haystack: UnsafeBufferPointer<UInt8>, _ needle: StaticString) -> Bool {
        let n = needle.utf8CodeUnitCount
        let p = needle.utf8Start
        guard haystack.count >= n else { return false }
        var i = 0
        let last = haystack.count - n
        while i <= last {
            if haystack[i] == p[0] {
                var j = 1
                while j < n && haystack[i + j] == p[j] { j += 1 }
                if j == n { return true }
            }
            i += 1
        }
        return false
    }
}
