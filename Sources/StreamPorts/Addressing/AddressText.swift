import NIOCore

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

// Every address StreamPorts prints goes through here: IPv4 in dotted decimal, IPv6 in the
// canonical text form of RFC 5952. glibc's inet_ntop (and so NIO's `ipAddress`) is not
// canonical: it writes any address whose first 96 bits are zero in the deprecated
// IPv4-compatible form (`::1:80` as `::0.1.0.128`).

/// The RFC 5952 text of a 16-byte IPv6 address in network order: lowercase hex without
/// leading zeros, the longest run of two or more zero groups as `::` (the leftmost on a tie), a
/// single zero group never compressed, and an IPv4-mapped address (`::ffff:0:0/96`) with its
/// last 32 bits in dotted decimal (§5).
///
/// ```swift
/// ipv6Text([0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1])   // "2001:db8::1"
/// ```
func ipv6Text<Bytes: Collection<UInt8>>(_ bytes: Bytes) -> String {
    precondition(bytes.count == 16, "an IPv6 address has 16 bytes")
    let b = Array(bytes)
    let groups = (0..<8).map { UInt16(b[2 * $0]) << 8 | UInt16(b[2 * $0 + 1]) }
    if groups[0..<5].allSatisfy({ $0 == 0 }) && groups[5] == 0xFFFF {
        return "::ffff:\(b[12]).\(b[13]).\(b[14]).\(b[15])"
    }
    // The longest run of zero groups, at least two long; the first such on a tie.
    var best: Range<Int>?
    var index = 0
    while index < 8 {
        guard groups[index] == 0 else {
            index += 1
            continue
        }
        var end = index
        while end < 8 && groups[end] == 0 { end += 1 }
        if end - index >= 2 && end - index > (best?.count ?? 0) { best = index..<end }
        index = end
    }
    let hex = { (range: Range<Int>) in groups[range].map { String($0, radix: 16) }.joined(separator: ":") }
    guard let best else { return hex(0..<8) }
    return hex(0..<best.lowerBound) + "::" + hex(best.upperBound..<8)
}

/// The RFC 5952 text of an IPv6 literal (`"0:0::1"` → `"::1"`), or nil if `text` is not one.
func canonicalIPv6(_ text: String) -> String? {
    guard !text.utf8.contains(0) else { return nil }  // inet_pton would stop at a NUL
    var address = in6_addr()
    guard inet_pton(AF_INET6, text, &address) == 1 else { return nil }
    return withUnsafeBytes(of: &address) { ipv6Text($0) }
}

extension SocketAddress {
    /// The host address alone: `127.0.0.1`, `::1` (RFC 5952); a Unix socket's path.
    var streamHost: String {
        switch self {
        case .v4(let address):
            return withUnsafeBytes(of: address.address.sin_addr) { $0.map(String.init).joined(separator: ".") }
        case .v6(let address):
            return withUnsafeBytes(of: address.address.sin6_addr) { ipv6Text($0) }
        case .unixDomainSocket:
            return pathname ?? "?"
        }
    }

    /// `127.0.0.1:2020` or `[::1]:2020`: the host as ``streamHost`` has it, and the port.
    var streamDescription: String {
        SocketAddress.endpoint(host: streamHost, port: port ?? 0)
    }

    /// `HOST:PORT`, the host bracketed when it is an IPv6 address (it holds a colon).
    static func endpoint(host: String, port: Int) -> String {
        host.utf8.contains(UInt8(ascii: ":")) ? "[\(host)]:\(port)" : "\(host):\(port)"
    }
}

/// The text of a NUL-terminated C buffer.
func cString(_ buffer: [CChar]) -> String {
    String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
}
