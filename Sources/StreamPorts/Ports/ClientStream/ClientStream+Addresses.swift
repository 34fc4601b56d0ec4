import NIOCore

extension ClientStream {
    /// The local host address alone (seeds 003 and 004): `127.0.0.1`, or `::1` for IPv6
    /// (RFC 5952 text, no brackets); "" once the connection is gone. The port is
    /// ``localPort``; ``localEndpoint`` has both.
    public var localAddress: String { channel.localAddress.map(ClientStream.hostText) ?? "" }
    /// The local port.
    public var localPort: Int { channel.localAddress?.port ?? 0 }
    /// The local address and port: `127.0.0.1:41234`, or `[::1]:41234` for IPv6.
    public var localEndpoint: String { channel.localAddress.map(ClientStream.endpointText) ?? "" }

    /// The peer's host address alone (seeds 003 and 004): `127.0.0.1`, or `::1` for IPv6
    /// (RFC 5952 text, no brackets); "" once the connection is gone. The port is
    /// ``remotePort``; ``remoteEndpoint`` has both.
    public var remoteAddress: String { channel.remoteAddress.map(ClientStream.hostText) ?? "" }
    /// The peer's port.
    public var remotePort: Int { channel.remoteAddress?.port ?? 0 }
    /// The peer's address and port: `127.0.0.1:50000`, or `[::1]:50000` for IPv6. Error
    /// messages name the peer this way.
    public var remoteEndpoint: String { channel.remoteAddress.map(ClientStream.endpointText) ?? "" }

    // MARK: Formatting

    /// `HOST:PORT`, an IPv6 host in brackets.
    private static func endpointText(_ address: SocketAddress) -> String {
        let host = hostText(address)
        let port = address.port ?? 0
        if case .v6 = address { return "[\(host)]:\(port)" }
        return "\(host):\(port)"
    }

    /// The host address alone; IPv6 per RFC 5952 (lowercase, no leading zeros, the longest
    /// run of two or more zero groups as `::`, the first of equal runs; IPv4-mapped
    /// addresses as `::ffff:1.2.3.4`).
    private static func hostText(_ address: SocketAddress) -> String {
        switch address {
        case .v6(let v6):
            let bytes = withUnsafeBytes(of: v6.address.sin6_addr) { Array($0) }
            return ipv6Text(bytes)
        default:
            return address.ipAddress ?? ""
        }
    }

    /// RFC 5952 text of 16 address bytes.
    static func ipv6Text(_ bytes: [UInt8]) -> String {
        precondition(bytes.count == 16, "an IPv6 address has 16 bytes")
        let groups = (0..<8).map { UInt16(bytes[2 * $0]) << 8 | UInt16(bytes[2 * $0 + 1]) }
        if groups[0..<5].allSatisfy({ $0 == 0 }) && groups[5] == 0xFFFF {
            return "::ffff:\(bytes[12]).\(bytes[13]).\(bytes[14]).\(bytes[15])"
        }
        var longest = (start: 0, count: 1)   // runs of one zero group are not shortened
        var i = 0
        while i < 8 {
            guard groups[i] == 0 else { i += 1; continue }
            var end = i
            while end < 8 && groups[end] == 0 { end += 1 }
            if end - i > longest.count { longest = (i, end - i) }
            i = end
        }
        func text(_ part: ArraySlice<UInt16>) -> String { part.map { String($0, radix: 16) }.joined(separator: ":") }
        guard longest.count > 1 else { return text(groups[...]) }
        return text(groups[..<longest.start]) + "::" + text(groups[(longest.start + longest.count)...])
    }
}
