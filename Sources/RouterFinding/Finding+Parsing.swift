import CRouterJSON
import RouterJSON

/// Reading a GuardDuty finding into its view: one reader for every shape (EventBridge events, bare findings, S3
/// export lines, SDK and CLI output once ``GuardDutySDK`` has translated their names to the wire's). It works on the
/// document's tape (``Tape``): one pass over each of `detail`, `service` and `resource`, byte comparisons for keys,
/// shared strings for known finding types; escaped keys and non-ASCII text take decoded paths with the same meaning.
extension Finding {
    /// Builds the view of one GuardDuty finding.
    ///
    /// - Parameters:
    ///   - event: the EventBridge envelope (`account`, `region` fall back to it), nil for a bare finding.
    ///   - detail: the finding object (`detail` of a `GuardDuty Finding` event, or a bare finding).
    /// - Throws: `.notAFinding` when `detail` is not an object or lacks a non-empty string `id` or `type` (with a
    ///   dedicated message for SDK-shaped PascalCase findings). Everything else is tolerated: missing or odd fields get
    ///   the defaults documented on each property, unknown and malformed types are split as well as possible.
    ///
    /// Cost: no `JSONNode` per field, no date formatter, no regular expression. The only extra parse is of
    /// `service.additionalInfo.value` (a JSON string) when it mentions `sample` in a form other than GuardDuty's own.
    public init(event: JSONNode?, detail: JSONNode) throws(InputError) {
        self = try Finding.read(envelope: event.map { EnvelopeFields(event: $0) }, detail: detail)
    }

    /// ``init(event:detail:)`` with the envelope's members already located (the reader scans the envelope once).
    init(envelope: EnvelopeFields, detail: JSONNode) throws(InputError) {
        // `read` is a static function returning the view, not an initializer: a struct initializer that stores field
        // by field (or delegates to one that does) costs one more copy of the whole struct.
        self = try Finding.read(envelope: envelope, detail: detail)
    }

    static func read(envelope: EnvelopeFields?, detail: JSONNode) throws(InputError) -> Finding {
        let t = Tape(detail.document)
        let d = detail.index
        guard t.isObject(d) else { throw .notAFinding("detail is \(t.kindName(d)), not an object") }
        var m = DetailMembers()
        t.forEachMember(d) { m.take($0, $1) }

        try Finding.requireString(t, d, m.id, "id")
        try Finding.requireString(t, d, m.type, "type")
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

        let eventAccount = envelope.flatMap { $0.tape.identifier($0.account) }
        let account = t.identifier(m.accountId) ?? eventAccount ?? ""

        let detailRegion = t.nonEmptyString(m.region)
        let eventRegion = detailRegion == nil ? envelope.flatMap { $0.tape.nonEmptyString($0.region) } : nil
        let detailPartition = t.nonEmptyString(m.partition)
        let arn = (detailRegion == nil && eventRegion == nil) || detailPartition == nil ? t.stringOrNil(m.arn) : nil
        let region = detailRegion ?? eventRegion ?? arn.flatMap { ARN.component($0, 3) } ?? ""
        let partition = detailPartition ?? arn.flatMap { ARN.component($0, 1) } ?? Partition.derived(fromRegion: region)

        var s = ServiceMembers()
        t.forEachMember(m.service) { s.take($0, $1) }
        var r = ResourceMembers()
        t.forEachMember(m.resource) { r.take($0, $1) }

        let count = t.count(s.count)
        let summary = ResourceSummary.guardDuty(t, resource: m.resource, members: r, service: m.service)

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
        let sample = Finding.isSample(t, s.additionalInfo)
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

    /// A non-empty string member `key` of `detail` (its value index `i`), or `.notAFinding` naming the key (and the
    /// PascalCase SDK shape when that is why it is absent).
    static func requireString(_ t: Tape, _ detail: UInt32, _ i: UInt32, _ key: StaticString) throws(InputError) {
        if i != Tape.none {
            guard t.isString(i) else { throw .notAFinding("detail has no string '\(key)' (it is \(t.kindName(i)))") }
            // Escapes never unescape to nothing: an empty raw text is the only empty value.
            guard t.raw(i).count > 0 else { throw .notAFinding("detail has an empty '\(key)'") }
            return
        }
        // The SDK (`GetFindings` via boto3 and friends) spells finding keys `Id`, `Type`, `AccountId`, `Severity`.
        if t.get(detail, "Id") != Tape.none || t.get(detail, "Type") != Tape.none
            || t.get(detail, "AccountId") != Tape.none
            || (t.get(detail, "Severity") != Tape.none && t.get(detail, "SchemaVersion") != Tape.none)
        {
            throw .notAFinding("keys are PascalCase (SDK shape), EventBridge delivers camelCase")
        }
        throw .notAFinding("detail has no string '\(key)'")
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

    /// `additionalInfo.sample` is true (or `"true"`), or `additionalInfo.value` is a JSON string holding an object
    /// whose `sample` is true (or `"true"`). GuardDuty's own spelling (`{"sample":true}`) and values that cannot
    /// mention `sample` are answered from the raw text; anything else is parsed.
    static func isSample(_ t: Tape, _ info: UInt32) -> Bool {
        guard t.isObject(info) else { return false }
        var sample = Tape.none
        var value = Tape.none
        t.forEachMember(info) { k, v in
            if sample == Tape.none, Tape.equal(k, "sample") {
                sample = v
            } else if value == Tape.none, Tape.equal(k, "value") {
                value = v
            }
        }
        if t.isTrue(sample) { return true }
        guard t.isString(value) else { return false }
        let raw = t.raw(value)
        // Escapes other than \u never produce letters, nor join letters around them: without `\u`, the value
        // mentions `sample` exactly when its raw text does.
        if !contains(raw, "sample") && !contains(raw, "\\u") { return false }
        if Tape.equal(raw, "{\\\"sample\\\":true}") { return true }
        let text = t.string(value)
        guard text.utf8.count <= 1 << 20, JSONFields.mentionsSample(text),
            let inner = try? JSONDocument(bytes: Array(text.utf8), maxDepth: 64)
        else { return false }
        let root = inner.root
        let it = Tape(inner)
        return withExtendedLifetime(inner) { it.isTrue(it.get(root.index, "sample")) }
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

    /// Splits a finding type `ThreatPurpose:ResourceTypeAffected/ThreatFamilyName.DetectionMechanism!Artifact`.
    ///
    /// Splits on the first `:` (purpose), then the first `/` (resource kind before, family after), then the first `!`
    /// in the family (artifact). `.` stays inside the family (`DenialOfService.Tcp`). Never fails:
    /// - no `:`: purpose is empty and the whole string is split on `/`;
    /// - no `/` (`Recon:EC2 PortProbeUnprotectedPort`): the resource kind is the rest, the family is empty;
    /// - an empty artifact (`...!`) is nil.
    public static func parseType(_ type: String) -> (
        purpose: String, resourceKind: String, family: String, artifact: String?
    ) {
        var type = type
        return type.withUTF8 { u in
            @inline(__always) func text(_ from: Int, _ to: Int) -> String {
                String(decoding: UnsafeBufferPointer(rebasing: u[from..<to]), as: UTF8.self)
            }
            @inline(__always) func find(_ byte: UInt8, from: Int) -> Int? {
                var i = from
                while i < u.count {
                    if u[i] == byte { return i }
                    i += 1
                }
                return nil
            }
            // The separators are ASCII, so every cut is on a character boundary.
            let colon = find(UInt8(ascii: ":"), from: 0)
            let purpose = colon.map { text(0, $0) } ?? ""
            let rest = colon.map { $0 + 1 } ?? 0
            guard let slash = find(UInt8(ascii: "/"), from: rest) else {
                return (purpose, text(rest, u.count), "", nil)
            }
            let kind = text(rest, slash)
            guard let bang = find(UInt8(ascii: "!"), from: slash + 1) else {
                return (purpose, kind, text(slash + 1, u.count), nil)
            }
            return (purpose, kind, text(slash + 1, bang), bang + 1 == u.count ? nil : text(bang + 1, u.count))
        }
    }
}

/// The EventBridge envelope members the finding view reads (`account`, `region`), located by whoever scanned the
/// envelope. `event` keeps the envelope's document alive.
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
