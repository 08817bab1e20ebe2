import RouterJSON

/// Details renderers often show, read from `detail` on demand (nothing here is computed while parsing).
/// They work for both formats (GuardDuty and Security Hub ASFF) and are nil when the finding does not carry them.
/// Values are attacker-influenced text like every other finding field: escape them before display.
extension Finding {
    /// The finding ARN (`detail.arn`; the ASFF `Id`).
    public var arn: String? {
        switch format {
        case .guardDuty: JSONFields.nonEmptyString(detail["arn"])
        case .securityHub: JSONFields.nonEmptyString(detail["Id"])
        }
    }

    /// The remote IP address of the activity (IPv4, else IPv6): network connections, API calls, Kubernetes API
    /// calls, RDS logins, the first port probe, the first endpoint of an attack sequence.
    public var remoteIPAddress: String? {
        switch format {
        case .guardDuty:
            if let ip = remoteIPDetails.flatMap({ JSONFields.nonEmptyString($0["ipAddressV4"]) ?? JSONFields.nonEmptyString($0["ipAddressV6"]) }) {
                return ip
            }
            return JSONFields.nonEmptyString(detail["service", "detection", "sequence", "endpoints"]?[0]?["ip"])
        case .securityHub:
            return productField(endingWith: "remoteIpDetails/ipAddressV4")
                ?? productField(endingWith: "remoteIpDetails/ipAddressV6")
        }
    }

    /// The country of ``remoteIPAddress`` (`remoteIpDetails.country.countryName`).
    public var remoteCountry: String? {
        switch format {
        case .guardDuty:
            if let c = JSONFields.nonEmptyString(remoteIPDetails?["country", "countryName"]) { return c }
            return JSONFields.nonEmptyString(detail["service", "detection", "sequence", "endpoints"]?[0]?["location", "country"])
        case .securityHub:
            return productField(endingWith: "remoteIpDetails/country/countryName")
        }
    }

    /// The network owner of ``remoteIPAddress`` (`organization.asnOrg`, else `org`).
    public var remoteOrganization: String? {
        switch format {
        case .guardDuty:
            let org = remoteIPDetails?["organization"]
            return JSONFields.nonEmptyString(org?["asnOrg"]) ?? JSONFields.nonEmptyString(org?["org"])
        case .securityHub:
            return productField(endingWith: "remoteIpDetails/organization/asnOrg")
                ?? productField(endingWith: "remoteIpDetails/organization/org")
        }
    }

    /// The AWS API called (`awsApiCallAction.api`, with its `serviceName` when present: `s3.amazonaws.com GetObject`).
    public var apiCall: String? {
        switch format {
        case .guardDuty:
            guard let call = detail["service", "action", "awsApiCallAction"],
                let api = JSONFields.nonEmptyString(call["api"])
            else { return nil }
            return JSONFields.nonEmptyString(call["serviceName"]).map { "\($0) \(api)" } ?? api
        case .securityHub:
            guard let api = productField(endingWith: "awsApiCallAction/api") else { return nil }
            return productField(endingWith: "awsApiCallAction/serviceName").map { "\($0) \(api)" } ?? api
        }
    }

    /// The domain queried or calling (`dnsRequestAction.domain`, `awsApiCallAction.domainDetails.domain`).
    public var domain: String? {
        switch format {
        case .guardDuty:
            return JSONFields.nonEmptyString(detail["service", "action", "dnsRequestAction", "domain"])
                ?? JSONFields.nonEmptyString(detail["service", "action", "awsApiCallAction", "domainDetails", "domain"])
        case .securityHub:
            return productField(endingWith: "dnsRequestAction/domain")
        }
    }

    /// Number of signals of an attack sequence (`service.detection.sequence.signals`), nil for other findings.
    public var attackSequenceSignalCount: Int? {
        guard format == .guardDuty, let signals = detail["service", "detection", "sequence", "signals"],
            signals.kind == .array
        else { return nil }
        return signals.count
    }

    /// `remoteIpDetails` of the action that has one.
    var remoteIPDetails: JSONNode? {
        guard let action = detail["service", "action"], action.kind == .object else { return nil }
        for key in ["networkConnectionAction", "awsApiCallAction", "kubernetesApiCallAction", "rdsLoginAttemptAction"] {
            if let details = action[key, "remoteIpDetails"], details.kind == .object { return details }
        }
        if let details = action["portProbeAction", "portProbeDetails"]?[0]?["remoteIpDetails"], details.kind == .object {
            return details
        }
        return nil
    }

    /// The first non-empty ASFF `ProductFields` value under `aws/guardduty/service/` whose key ends with `suffix`.
    func productField(endingWith suffix: String) -> String? {
        guard let fields = detail["ProductFields"], fields.kind == .object else { return nil }
        for (key, value) in fields.members where key.hasPrefix("aws/guardduty/service/") && key.hasSuffix(suffix) {
            if let s = JSONFields.nonEmptyString(value) { return s }
        }
        return nil
    }
}
