import RouterJSON

/// Finding timestamps: strings are kept exactly as given; epoch numbers become ISO-8601 UTC with milliseconds.
public enum Timestamp {
    /// A non-empty string as given, an epoch number converted by ``iso8601(epoch:)``, else nil.
    public static func string(_ node: JSONNode?) -> String? {
        guard let node else { return nil }
        switch node.kind {
        case .string:
            guard let s = node.string, !s.isEmpty else { return nil }
            return s
        case .number:
            return node.double.flatMap(iso8601(epoch:))
        default:
            return nil
        }
    }

    /// `YYYY-MM-DDTHH:MM:SS.sssZ` for an epoch in seconds (possibly fractional), or in milliseconds when its magnitude
    /// is above 1e11 (1e11 seconds is the year 5138; 1e11 milliseconds is March 1973). Rounded to the millisecond.
    /// nil for non-finite values and dates outside the years 0001-9999.
    public static func iso8601(epoch value: Double) -> String? {
        guard value.isFinite else { return nil }
        let millis = (abs(value) > 1e11 ? value : value * 1000).rounded()
        guard millis >= -62_135_596_800_000, millis < 253_402_300_800_000 else { return nil }
        let ms = Int64(millis)
        var days = ms / 86_400_000
        var rem = ms % 86_400_000
        if rem < 0 {
            rem += 86_400_000
            days -= 1
        }
        // Civil date from days since 1970-01-01 (H. Hinnant's algorithm, proleptic Gregorian).
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let day = doy - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        let year = yoe + era * 400 + (month <= 2 ? 1 : 0)

        let hour = rem / 3_600_000
        let minute = rem / 60_000 % 60
        let second = rem / 1000 % 60
        let milli = rem % 1000

        return String(unsafeUninitializedCapacity: 24) { buf in
            func put(_ v: Int64, _ width: Int, _ at: Int) {
                var v = v
                var i = at + width - 1
                while i >= at {
                    buf[i] = UInt8(ascii: "0") + UInt8(v % 10)
                    v /= 10
                    i -= 1
                }
            }
            put(year, 4, 0)
            buf[4] = UInt8(ascii: "-")
            put(month, 2, 5)
            buf[7] = UInt8(ascii: "-")
            put(day, 2, 8)
            buf[10] = UInt8(ascii: "T")
            put(hour, 2, 11)
            buf[13] = UInt8(ascii: ":")
            put(minute, 2, 14)
            buf[16] = UInt8(ascii: ":")
            put(second, 2, 17)
            buf[19] = UInt8(ascii: ".")
            put(milli, 3, 20)
            buf[23] = UInt8(ascii: "Z")
            return 24
        }
    }
}
