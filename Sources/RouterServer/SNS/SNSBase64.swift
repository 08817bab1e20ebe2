/// Strict standard base64 (RFC 4648 section 4): length a multiple of 4, `=` padding only at the end (at most two),
/// no whitespace, and unused bits of the last group zero (one text per byte string).
enum SNSBase64 {
    static func decode(_ text: String) -> [UInt8]? {
        let input = Array(text.utf8)
        guard !input.isEmpty, input.count % 4 == 0 else { return nil }
        var padding = 0
        if input[input.count - 1] == UInt8(ascii: "=") { padding += 1 }
        if input[input.count - 2] == UInt8(ascii: "=") { padding += 1 }
        var out: [UInt8] = []
        out.reserveCapacity(input.count / 4 * 3)
        var i = 0
        while i < input.count {
            var group: UInt32 = 0
            for k in 0..<4 {
                let c = input[i + k]
                let last = i + 4 == input.count
                if c == UInt8(ascii: "=") {
                    guard last, k >= 4 - padding else { return nil }
                    group <<= 6
                    continue
                }
                guard let v = value(c) else { return nil }
                group = group << 6 | UInt32(v)
            }
            let bytes = [UInt8(group >> 16 & 0xff), UInt8(group >> 8 & 0xff), UInt8(group & 0xff)]
            if i + 4 == input.count {
                let kept = 3 - padding
                // Bits past the last kept byte must be zero.
                if bytes[kept...].contains(where: { $0 != 0 }) { return nil }
                out += bytes[..<kept]
            } else {
                out += bytes
            }
            i += 4
        }
        return out
    }

    private static func value(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"): return c - UInt8(ascii: "A")
        case UInt8(ascii: "a")...UInt8(ascii: "z"): return c - UInt8(ascii: "a") + 26
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return c - UInt8(ascii: "0") + 52
        case UInt8(ascii: "+"): return 62
        case UInt8(ascii: "/"): return 63
        default: return nil
        }
    }
}
