/// Strict IP address text for the PROXY protocol and CIDR lists: parsing to network-order
/// bytes and formatting (IPv6 per RFC 5952). Kept apart from Addressing's formatter on purpose
/// (one will replace the other); nothing here allocates beyond the returned values.
enum ProxyIPText {
    /// The 4 bytes of a dotted-decimal IPv4 address: exactly four numbers 0–255 separated by
    /// single dots, no sign, no leading zeros (`010` could be octal), nothing else.
    static func parseIPv4(_ text: some Collection<UInt8>) -> [UInt8]? {
        var out: [UInt8] = []
        out.reserveCapacity(4)
        var value = 0, digits = 0, leadingZero = false
        for byte in text {
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"):
                if leadingZero { return nil }
                if digits == 0 && byte == UInt8(ascii: "0") { leadingZero = true }
                value = value * 10 + Int(byte - UInt8(ascii: "0"))
                digits += 1
                if value > 255 { return nil }
            case UInt8(ascii: "."):
                guard digits > 0, out.count < 3 else { return nil }
                out.append(UInt8(value))
                value = 0; digits = 0; leadingZero = false
            default:
                return nil
            }
        }
        guard digits > 0, out.count == 3 else { return nil }
        out.append(UInt8(value))
        return out
    }

    /// The 16 bytes of an IPv6 address in RFC 4291 text: groups of 1–4 hex digits (either
    /// case) separated by colons, at most one `::` standing for one or more zero groups, and
    /// optionally a strict dotted-decimal IPv4 address as the last 32 bits. No zone, no
    /// brackets, no spaces.
    static func parseIPv6(_ text: some Collection<UInt8>) -> [UInt8]? {
        let s = Array(text)
        guard s.count >= 2, s.count <= 45 else { return nil }
        var head: [UInt16] = [], tail: [UInt16] = []
        var compressed = false
        var i = 0
        if s[0] == UInt8(ascii: ":") {
            guard s[1] == UInt8(ascii: ":") else { return nil }
            compressed = true
            i = 2
        }
        while i < s.count {
            let start = i
            var value: UInt16 = 0
            while i < s.count, i - start < 5, let digit = hexValue(s[i]) {
                value = value << 4 | UInt16(digit)
                i += 1
            }
            if i < s.count, s[i] == UInt8(ascii: ".") {
                // The embedded IPv4 address ends the text and fills the last two groups.
                guard let v4 = parseIPv4(s[start...]) else { return nil }
                let last = [UInt16(v4[0]) << 8 | UInt16(v4[1]), UInt16(v4[2]) << 8 | UInt16(v4[3])]
                if compressed { tail += last } else { head += last }
                i = s.count
                break
            }
            guard i > start, i - start <= 4 else { return nil }
            if compressed { tail.append(value) } else { head.append(value) }
            if i == s.count { break }
            guard s[i] == UInt8(ascii: ":") else { return nil }
            i += 1
            if i < s.count, s[i] == UInt8(ascii: ":") {
                guard !compressed else { return nil }
                compressed = true
                i += 1
            } else if i == s.count {
                return nil  // a single trailing colon
            }
        }
        let count = head.count + tail.count
        guard compressed ? count <= 7 : count == 8 else { return nil }
        let groups = head + Array(repeating: 0, count: 8 - count) + tail
        return groups.flatMap { [UInt8($0 >> 8), UInt8($0 & 0xFF)] }
    }

    /// `a.b.c.d` from 4 bytes.
    static func formatIPv4(_ bytes: some Collection<UInt8>) -> String {
        bytes.map { String($0) }.joined(separator: ".")
    }

    /// RFC 5952 text from 16 bytes (the shared formatter, ``ipv6Text(_:)``).
    static func formatIPv6(_ bytes: some Collection<UInt8>) -> String {
        ipv6Text(bytes)
    }

    /// A decimal port 0–65535 without sign or leading zeros ("0" itself is fine).
    static func parsePort(_ text: some Collection<UInt8>) -> Int? {
        guard let first = text.first, text.count <= 5, !(first == UInt8(ascii: "0") && text.count > 1) else {
            return nil
        }
        var value = 0
        for byte in text {
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
            value = value * 10 + Int(byte - UInt8(ascii: "0"))
        }
        return value <= 65535 ? value : nil
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}
