/// The GuardDuty console link of a finding.
public enum ConsoleURL {
    /// `https://<console host>/guardduty/home?region=R#/findings?macros=current&fId=ID`; the host follows the partition
    /// (`aws-cn`: console.amazonaws.cn, `aws-us-gov`: console.amazonaws-us-gov.com, anything else:
    /// console.aws.amazon.com). Region and id are percent-encoded (all but RFC 3986 unreserved characters).
    public static func finding(id: String, region: String, partition: String) -> String {
        let host: StaticString
        switch partition {
        case "aws-cn": host = "console.amazonaws.cn"
        case "aws-us-gov": host = "console.amazonaws-us-gov.com"
        default: host = "console.aws.amazon.com"
        }
        var id = id
        var region = region
        return id.withUTF8 { id in
            region.withUTF8 { region in
                let scheme: StaticString = "https://"
                let path: StaticString = "/guardduty/home?region="
                let fragment: StaticString = "#/findings?macros=current&fId="
                let encodedRegion = encodedCount(region)
                let encodedId = encodedCount(id)
                let total =
                    scheme.utf8CodeUnitCount + host.utf8CodeUnitCount + path.utf8CodeUnitCount
                    + fragment.utf8CodeUnitCount + encodedRegion + encodedId
                return String(unsafeUninitializedCapacity: total) { out in
                    var n = 0
                    func put(_ s: StaticString) {
                        UnsafeMutableRawPointer(out.baseAddress! + n).copyMemory(
                            from: s.utf8Start, byteCount: s.utf8CodeUnitCount)
                        n += s.utf8CodeUnitCount
                    }
                    func put(encoding bytes: UnsafeBufferPointer<UInt8>, _ encoded: Int) {
                        if encoded == bytes.count {
                            if let base = bytes.baseAddress {
                                UnsafeMutableRawPointer(out.baseAddress! + n).copyMemory(from: base, byteCount: encoded)
                            }
                            n += encoded
                            return
                        }
                        let hex: StaticString = "0123456789ABCDEF"
                        for b in bytes {
                            if unreserved(b) {
                                out[n] = b
                                n += 1
                            } else {
                                out[n] = UInt8(ascii: "%")
                                out[n + 1] = hex.utf8Start[Int(b >> 4)]
                                out[n + 2] = hex.utf8Start[Int(b & 0xF)]
                                n += 3
                            }
                        }
                    }
                    put(scheme)
                    put(host)
                    put(path)
                    put(encoding: region, encodedRegion)
                    put(fragment)
                    put(encoding: id, encodedId)
                    return n
                }
            }
        }
    }

    /// RFC 3986 unreserved: `A-Z a-z 0-9 - . _ ~` (a bitmap lookup: ids are random hex, branches mispredict).
    @inline(__always) static func unreserved(_ b: UInt8) -> Bool {
        // Bits 0x2D, 0x2E, 0x30-0x39 of the first 64 code points; 0x41-0x5A, 0x5F, 0x61-0x7A, 0x7E of the next 64.
        let low: UInt64 = 0x03FF_6000_0000_0000
        let high: UInt64 = 0x47FF_FFFE_87FF_FFFE
        let word = b < 64 ? low : (b < 128 ? high : 0)
        return (word >> UInt64(b & 63)) & 1 != 0
    }

    /// Length of the percent-encoded form of `bytes`.
    @inline(__always) static func encodedCount(_ bytes: UnsafeBufferPointer<UInt8>) -> Int {
        var n = bytes.count
        for b in bytes where !unreserved(b) { n += 2 }
        return n
    }
}
