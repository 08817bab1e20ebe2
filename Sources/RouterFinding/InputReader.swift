import RouterJSON

/// Turns input documents of any supported shape into findings or input errors, in document order.
///
/// Shapes recognised in one JSON document (they nest: an array of SQS batches of SNS envelopes is fine):
/// - EventBridge event (`detail-type` + `detail`): `GuardDuty Finding` yields a finding from `detail`;
///   `Security Hub Findings - Imported` yields one item per `detail.findings[i]` (source `#i`); any other
///   `detail-type` is `not_a_finding`.
/// - Bare finding: `type` + `id`, or `schemaVersion`, together with `severity`, `resource` or `service`.
/// - SNS record batch (`Records[i].Sns.Message`, a JSON string) and SQS record batch (`Records[i].body`, a JSON
///   string that may itself be an SNS envelope): one item per record, source `#i`, `recordId` the SQS `messageId`
///   (or the SNS `MessageId`).
/// - SNS HTTP message (`Type: Notification` with `Message`); subscription and unsubscribe confirmations are
///   `not_a_finding`.
/// - `aws guardduty get-findings` / `aws securityhub get-findings` output (`{"Findings": [...]}`, source `#i`): SDK
///   PascalCase GuardDuty findings are translated to the wire shape (``GuardDutySDK``), ASFF findings read as ASFF;
///   a bare SDK-shaped finding, also inside an EventBridge envelope, likewise.
/// - A JSON array of any of these: source `#i` per element.
///
/// All functions are pure and thread-safe; none throws: problems become items with an ``InputError``.
public enum InputReader {
    /// Items of one JSON document held in memory. Larger than `limits.maxBytes`: one `too_large` item, not parsed.
    public static func items(fromBytes bytes: [UInt8], source: String, limits: InputLimits = .default) -> [InputItem] {
        var out: [InputItem] = []
        collect(bytes: bytes, source: source, limits: limits, into: &out)
        return out
    }

    /// ``items(fromBytes:source:limits:)`` for any byte collection (a slice of a larger buffer, a `Data`, ...).
    public static func items(fromBytes bytes: some Collection<UInt8>, source: String, limits: InputLimits = .default)
        -> [InputItem]
    {
        var out: [InputItem] = []
        collect(bytes: bytes, source: source, limits: limits, into: &out)
        return out
    }

    /// Items of an already parsed document (for callers that parsed the payload themselves).
    public static func items(from node: JSONNode, source: String, limits: InputLimits = .default) -> [InputItem] {
        var out: [InputItem] = []
        walk(node, source: source, recordId: nil, depth: 0, limits: limits, into: &out)
        return out
    }

    // MARK: - One document

    static func collect(bytes: some Collection<UInt8>, source: String, limits: InputLimits, into out: inout [InputItem]) {
        let size = bytes.count
        guard size <= limits.maxBytes else {
            out.append(InputItem(source: source, result: .failure(tooLarge(size: size, limits: limits))))
            return
        }
        guard !isBlank(bytes) else {
            out.append(InputItem(source: source, result: .failure(.invalidJSON("empty input"))))
            return
        }
        do {
            let document = try JSONDocument(bytes: bytes, maxDepth: limits.maxDepth)
            walk(document.root, source: source, recordId: nil, depth: 0, limits: limits, into: &out)
        } catch {
            out.append(InputItem(source: source, result: .failure(.invalidJSON(error.description))))
        }
    }

    static func tooLarge(size: Int, limits: InputLimits) -> InputError {
        .tooLarge("document is \(size) bytes, more than the limit of \(limits.maxBytes) bytes; not parsed")
    }

    static func isBlank(_ bytes: some Collection<UInt8>) -> Bool {
        @inline(__always) func blank(_ b: UInt8) -> Bool { b == 0x20 || b == 0x0A || b == 0x0D || b == 0x09 }
        // Contiguous bytes (the usual case) are scanned directly; a document normally fails at its first byte.
        if let answer = bytes.withContiguousStorageIfAvailable({ buf -> Bool in
            for b in buf where !blank(b) { return false }
            return true
        }) {
            return answer
        }
        for b in bytes where !blank(b) { return false }
        return true
    }

    // MARK: - Shapes

    static func walk(
        _ node: JSONNode, source: String, recordId: String?, depth: Int, limits: InputLimits,
        into out: inout [InputItem]
    ) {
        func fail(_ error: InputError) {
            out.append(InputItem(source: source, result: .failure(error), recordId: recordId))
        }
        guard depth <= limits.maxWrapperDepth else {
            fail(.notAFinding("wrappers nest more than \(limits.maxWrapperDepth) levels deep"))
            return
        }
        switch node.kind {
        case .array:
            for (i, element) in node.elements.enumerated() {
                walk(element, source: "\(source)#\(i)", recordId: recordId, depth: depth + 1, limits: limits, into: &out)
            }
        case .object:
            walkObject(node, source: source, recordId: recordId, depth: depth, limits: limits, into: &out)
        default:
            fail(.notAFinding("JSON value is \(JSONFields.kindName(node.kind)), not an object or array"))
        }
    }

    static func walkObject(
        _ node: JSONNode, source: String, recordId: String?, depth: Int, limits: InputLimits,
        into out: inout [InputItem]
    ) {
        func emit(_ source: String, _ result: consuming Result<Finding, InputError>, _ recordId: String? = recordId) {
            out.append(InputItem(source: source, result: result, recordId: recordId))
        }
        func fail(_ error: InputError) { emit(source, .failure(error)) }

        // A GuardDuty Finding event (the common case), its envelope read in one pass.
        if guardDutyEvent(node, source: source, recordId: recordId, limits: limits, into: &out) { return }

        // Another EventBridge event.
        if let detailTypeNode = node["detail-type"] {
            guard let detailType = detailTypeNode.string else {
                fail(.notAFinding("'detail-type' is \(JSONFields.kindName(detailTypeNode.kind)), not a string"))
                return
            }
            switch detailType {
            case "Security Hub Findings - Imported":
                guard let findings = node["detail", "findings"], findings.kind == .array else {
                    fail(.notAFinding("Security Hub event has no 'detail.findings' array"))
                    return
                }
                guard findings.count > 0 else {
                    fail(.notAFinding("Security Hub event has an empty 'detail.findings' array"))
                    return
                }
                for (i, asff) in findings.elements.enumerated() {
                    do {
                        emit("\(source)#\(i)", .success(try Finding(event: node, asffFinding: asff)))
                    } catch {
                        emit("\(source)#\(i)", .failure(error))
                    }
                }
            default:
                fail(.notAFinding("detail-type '\(shortText(detailType))' is not a GuardDuty finding"))
            }
            return
        }

        // Lambda SNS or SQS record batch.
        if let records = node["Records"], records.kind == .array {
            for (i, record) in records.elements.enumerated() {
                let recordSource = "\(source)#\(i)"
                if let sns = record["Sns"], sns.kind == .object {
                    let id = recordId ?? sns["MessageId"]?.string
                    guard let message = sns["Message"] else {
                        emit(recordSource, .failure(.notAFinding("SNS record has no 'Sns.Message'")), id)
                        continue
                    }
                    unwrap(
                        message, field: "Sns.Message", source: recordSource, recordId: id, depth: depth + 1,
                        limits: limits, into: &out)
                } else if let body = record["body"] {
                    let id = recordId ?? record["messageId"]?.string
                    unwrap(
                        body, field: "body", source: recordSource, recordId: id, depth: depth + 1, limits: limits,
                        into: &out)
                } else {
                    let origin = (record["eventSource"] ?? record["EventSource"])?.string
                    let suffix = origin.map { " (eventSource '\(shortText($0))')" } ?? ""
                    emit(
                        recordSource,
                        .failure(.notAFinding("record is neither an SNS record nor an SQS record\(suffix)")))
                }
            }
            return
        }

        // SNS message as an HTTP(S) subscription (or SNS-to-SQS without raw delivery) delivers it.
        if let snsType = node["Type"]?.string, node["Message"] != nil || node["TopicArn"] != nil {
            let id = recordId ?? node["MessageId"]?.string
            switch snsType {
            case "Notification":
                guard let message = node["Message"] else {
                    emit(source, .failure(.notAFinding("SNS notification has no 'Message'")), id)
                    return
                }
                unwrap(
                    message, field: "Message", source: source, recordId: id, depth: depth + 1, limits: limits,
                    into: &out)
            case "SubscriptionConfirmation":
                emit(
                    source,
                    .failure(
                        .notAFinding(
                            "SNS SubscriptionConfirmation carries no finding (confirm the subscription with its SubscribeURL)"
                        )), id)
            case "UnsubscribeConfirmation":
                emit(source, .failure(.notAFinding("SNS UnsubscribeConfirmation carries no finding")), id)
            default:
                emit(source, .failure(.notAFinding("SNS message of Type '\(shortText(snsType))' carries no finding")), id)
            }
            return
        }

        // Bare finding.
        let hasTypeAndId = node["type"] != nil && node["id"] != nil
        if hasTypeAndId || node["schemaVersion"] != nil,
            node["severity"] != nil || node["resource"] != nil || node["service"] != nil
        {
            do { emit(source, .success(try Finding(event: nil, detail: node))) } catch { fail(error) }
            return
        }
        // `aws guardduty get-findings` / `aws securityhub get-findings` output (and the SDKs' GetFindings responses).
        if let findings = node["Findings"], findings.kind == .array {
            guard findings.count > 0 else {
                fail(.notAFinding("'Findings' is an empty array"))
                return
            }
            for (i, element) in findings.elements.enumerated() {
                let elementSource = "\(source)#\(i)"
                if GuardDutySDK.isASFF(element) {
                    do { emit(elementSource, .success(try Finding(event: nil, asffFinding: element))) } catch {
                        emit(elementSource, .failure(error))
                    }
                } else if let result = sdkFinding(event: nil, detail: element, limits: limits) {
                    emit(elementSource, result)
                } else {
                    emit(elementSource, .failure(.notAFinding("'Findings' element is neither a GuardDuty finding (Id, Type) nor a Security Hub finding (ProductArn, AwsAccountId)")))
                }
            }
            return
        }
        if let result = sdkFinding(event: nil, detail: node, limits: limits) {
            emit(source, result)
            return
        }
        if JSONFields.looksPascalCase(node) {
            fail(.notAFinding("keys are PascalCase but this is not a GuardDuty finding in the SDK's shape (no string 'Id' and 'Type')"))
            return
        }
        fail(.notAFinding("object has neither 'detail-type' nor finding fields"))
    }

    /// A finding in the SDK's PascalCase shape (`aws guardduty get-findings`), translated to the wire shape and read
    /// like any other; nil when `detail` is not one.
    static func sdkFinding(event: JSONNode?, detail: JSONNode, limits: InputLimits) -> Result<Finding, InputError>? {
        guard GuardDutySDK.isFinding(detail) else { return nil }
        return Result { () throws(InputError) -> Finding in
            try Finding(event: event, detail: try GuardDutySDK.wireFinding(detail, limits: limits))
        }
    }

    /// Handles `node` when it is a `GuardDuty Finding` EventBridge event (what ``walkObject`` does for one, with a
    /// single pass over the envelope for `detail-type`, `detail`, `account` and `region`); false otherwise.
    static func guardDutyEvent(
        _ node: JSONNode, source: String, recordId: String?, limits: InputLimits, into out: inout [InputItem]
    ) -> Bool {
        let t = Tape(node.document)
        var detailType = Tape.none
        var detail = Tape.none
        var account = Tape.none
        var region = Tape.none
        t.forEachMember(node.index) { k, v in
            switch k.count {
            case 6:
                if detail == Tape.none, Tape.equal(k, "detail") {
                    detail = v
                } else if region == Tape.none, Tape.equal(k, "region") {
                    region = v
                }
            case 7: if account == Tape.none, Tape.equal(k, "account") { account = v }
            case 11: if detailType == Tape.none, Tape.equal(k, "detail-type") { detailType = v }
            default: break
            }
        }
        guard t.stringEquals(detailType, "GuardDuty Finding") else { return false }
        guard detail != Tape.none, let detailNode = node["detail"] else {
            out.append(
                InputItem(
                    source: source, result: .failure(.notAFinding("'GuardDuty Finding' event has no 'detail'")),
                    recordId: recordId))
            return true
        }
        let envelope = EnvelopeFields(event: node, tape: t, account: account, region: region)
        do {
            let finding = try Finding(envelope: envelope, detail: detailNode)
            out.append(InputItem(source: source, result: .success(finding), recordId: recordId))
        } catch {
            // An envelope around the SDK's PascalCase shape (tools that paste GetFindings output into an event).
            let result = sdkFinding(event: node, detail: detailNode, limits: limits) ?? .failure(error)
            out.append(InputItem(source: source, result: result, recordId: recordId))
        }
        return true
    }

    /// A wrapper field holding the inner document as a JSON string (or, tolerated, as the object itself).
    static func unwrap(
        _ node: JSONNode, field: String, source: String, recordId: String?, depth: Int, limits: InputLimits,
        into out: inout [InputItem]
    ) {
        func fail(_ error: InputError) {
            out.append(InputItem(source: source, result: .failure(error), recordId: recordId))
        }
        switch node.kind {
        case .string:
            let text = node.string ?? ""
            let bytes = Array(text.utf8)
            guard bytes.count <= limits.maxBytes else {
                fail(.tooLarge("'\(field)' is \(bytes.count) bytes, more than the limit of \(limits.maxBytes) bytes"))
                return
            }
            guard !isBlank(bytes) else {
                fail(.invalidJSON("'\(field)' is empty"))
                return
            }
            do {
                let inner = try JSONDocument(bytes: bytes, maxDepth: limits.maxDepth)
                walk(inner.root, source: source, recordId: recordId, depth: depth, limits: limits, into: &out)
            } catch {
                fail(.invalidJSON("'\(field)' is not JSON: \(error.description)"))
            }
        case .object, .array:
            walk(node, source: source, recordId: recordId, depth: depth, limits: limits, into: &out)
        default:
            fail(.notAFinding("'\(field)' is \(JSONFields.kindName(node.kind)), not a JSON string"))
        }
    }

    /// Input text quoted in messages: at most 80 characters, control characters replaced.
    static func shortText(_ s: String) -> String {
        ResourceSummary.clip(s).map { $0.count > 80 ? String($0.prefix(79)) + "…" : $0 } ?? ""
    }
}
