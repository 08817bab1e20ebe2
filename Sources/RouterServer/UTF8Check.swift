/// JSON text is UTF-8 (RFC 8259): a body that is not is refused before parsing, with the offset of the first bad byte
/// (the JSON parser does not check the bytes inside strings).
enum UTF8Check {
    /// The offset of the first byte that does not belong to a well-formed UTF-8 sequence, or nil when all do
    /// (overlong forms, surrogates and code points above U+10FFFF are ill-formed).
    static func firstInvalidOffset(_ bytes: [UInt8]) -> Int? {
        bytes.withUnsafeBufferPointer { b -> Int? in
            var i = 0
            let n = b.count
            while i < n {
                let c = b[i]
                if c < 0x80 {
                    i += 1
                    continue
                }
                let need: Int
                var lower: UInt8 = 0x80, upper: UInt8 = 0xBF
                switch c {
                case 0xC2...0xDF: need = 1
                case 0xE0: need = 2; lower = 0xA0
                case 0xE1...0xEC, 0xEE...0xEF: need = 2
                case 0xED: need = 2; upper = 0x9F
                case 0xF0: need = 3; lower = 0x90
                case 0xF1...0xF3: need = 3
                case 0xF4: need = 3; upper = 0x8F
                default: return i
                }
                guard i + need < n else { return i }
                let second = b[i + 1]
                if second < lower || second > upper { return i }
                for k in 2..<(need + 1) where b[i + k] & 0xC0 != 0x80 { return i }
                i += need + 1
            }
            return nil
        }
    }
}
