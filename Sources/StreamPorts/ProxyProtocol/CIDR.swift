import NIOCore

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// An IPv4 or IPv6 network in CIDR notation: `10.0.0.0/8`, `127.0.0.1/32`, `::1/128`,
/// `2001:db8::/32`; a bare address is a single host (/32 or /128).
///
/// A network with host bits set (`10.1.2.3/8`) is rejected, not masked as HAProxy and nginx
/// do: in a list of trusted sources a typo must not silently widen (or shift) the trust, and
/// the error message names the network that was probably meant.
///
/// An IPv4 network also contains IPv4-mapped IPv6 peers (`::ffff:10.1.2.3`, as a dual-stack
/// listener reports IPv4 clients), and an IPv6 network is matched against an IPv4 peer's mapped
/// form, so `::ffff:0:0/96` contains every IPv4 peer.
public struct CIDR: Sendable, Hashable, CustomStringConvertible {
    /// The network's address family.
    public enum Family: Sendable, Hashable {
        /// IPv4: prefix lengths 0–32.
        case ipv4
        /// IPv6: prefix lengths 0–128.
        case ipv6
    }

    /// IPv4 or IPv6.
    public let family: Family
    /// The number of leading bits that must match.
    public let prefixLength: Int
    /// The network's bits: IPv6 bits 0–63, 0 for IPv4.
    private let high: UInt64
    /// IPv6 bits 64–127, or the IPv4 address in the low 32 bits.
    private let low: UInt64

    /// Parses a network or a single address.
    /// - Parameter text: `ADDRESS/PREFIX` or `ADDRESS`; IPv4 addresses dotted decimal without
    ///   leading zeros, IPv6 addresses in RFC 4291 text without zone; the prefix decimal
    ///   without leading zeros.
    /// - Throws: ``StreamPortError`` `.invalidAddress` naming `text` and the reason: a bad
    ///   address, a bad or too long prefix, or host bits set beyond the prefix.
    public init(_ text: String) throws(StreamPortError) {
        let parts = text.utf8.split(separator: UInt8(ascii: "/"), maxSplits: 2, omittingEmptySubsequences: false)
        guard !text.isEmpty else { throw Self.invalid(text, "it is empty") }
        guard parts.count <= 2 else { throw Self.invalid(text, "more than one \"/\"") }
        let addressText = parts[0]
        let isIPv6 = addressText.contains(UInt8(ascii: ":"))
        let bits = isIPv6 ? 128 : 32
        var prefix = bits
        if parts.count == 2 {
            let digits = parts[1]
            guard !digits.isEmpty, digits.count <= 3, digits.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }),
                !(digits.first == 0x30 && digits.count > 1)
            else {
                throw Self.invalid(text, "the prefix length after \"/\" is not a decimal number without leading zeros")
            }
            prefix = digits.reduce(0) { $0 * 10 + Int($1 - 0x30) }
            guard prefix <= bits else {
                throw Self.invalid(
                    text, "the prefix length \(prefix) is more than \(bits) for an \(isIPv6 ? "IPv6" : "IPv4") address")
            }
        }
        var high: UInt64 = 0, low: UInt64 = 0
        if isIPv6 {
            guard let bytes = ProxyIPText.parseIPv6(addressText) else {
                throw Self.invalid(text, "\"\(String(decoding: addressText, as: UTF8.self))\" is not an IPv6 address")
            }
            high = bytes[0..<8].reduce(0) { $0 << 8 | UInt64($1) }
            low = bytes[8..<16].reduce(0) { $0 << 8 | UInt64($1) }
        } else {
            guard let bytes = ProxyIPText.parseIPv4(addressText) else {
                throw Self.invalid(
                    text,
                    "\"\(String(decoding: addressText, as: UTF8.self))\" is not an IPv4 address (dotted decimal, no leading zeros)"
                )
            }
            low = bytes.reduce(0) { $0 << 8 | UInt64($1) }
        }
        let family: Family = isIPv6 ? .ipv6 : .ipv4
        let (highMask, lowMask) = Self.masks(family, prefix)
        guard high & ~highMask == 0 && low & ~lowMask == 0 else {
            let meant = CIDR(family: family, prefixLength: prefix, high: high & highMask, low: low & lowMask)
            throw Self.invalid(text, "host bits are set beyond the /\(prefix) prefix; the network is \(meant)")
        }
        self.init(family: family, prefixLength: prefix, high: high, low: low)
    }

    private init(family: Family, prefixLength: Int, high: UInt64, low: UInt64) {
        self.family = family
        self.prefixLength = prefixLength
        self.high = high
        self.low = low
    }

    /// `10.0.0.0/8`, `2001:db8::/32` (IPv6 per RFC 5952).
    public var description: String {
        switch family {
        case .ipv4:
            return ProxyIPText.formatIPv4((0..<4).map { UInt8(truncatingIfNeeded: low >> (24 - 8 * $0)) })
                + "/\(prefixLength)"
        case .ipv6:
            let bytes =
                (0..<8).map { UInt8(truncatingIfNeeded: high >> (56 - 8 * $0)) }
                + (0..<8).map { UInt8(truncatingIfNeeded: low >> (56 - 8 * $0)) }
            return ProxyIPText.formatIPv6(bytes) + "/\(prefixLength)"
        }
    }

    /// Whether `address` is in this network (never for a UNIX socket address).
    /// - Parameter address: a peer's address; its port is ignored.
    public func contains(_ address: SocketAddress) -> Bool {
        switch address {
        case .v4(let v4):
            return contains(ipv4: UInt32(bigEndian: v4.address.sin_addr.s_addr))
        case .v6(let v6):
            var raw = v6.address.sin6_addr
            let (high, low) = withUnsafeBytes(of: &raw) { bytes in
                (
                    UInt64(bigEndian: bytes.loadUnaligned(as: UInt64.self)),
                    UInt64(bigEndian: bytes.loadUnaligned(fromByteOffset: 8, as: UInt64.self))
                )
            }
            return contains(ipv6High: high, low: low)
        case .unixDomainSocket:
            return false
        }
    }

    private func contains(ipv4 value: UInt32) -> Bool {
        switch family {
        case .ipv4: UInt64(value) & Self.masks(.ipv4, prefixLength).low == low
        case .ipv6: contains(ipv6High: 0, low: 0x0000_FFFF_0000_0000 | UInt64(value))
        }
    }

    private func contains(ipv6High high: UInt64, low: UInt64) -> Bool {
        switch family {
        case .ipv4:
            return high == 0 && low >> 32 == 0xFFFF && contains(ipv4: UInt32(truncatingIfNeeded: low))
        case .ipv6:
            let masks = Self.masks(.ipv6, prefixLength)
            return high & masks.high == self.high && low & masks.low == self.low
        }
    }

    /// The masks of a prefix in the two halves (an IPv4 mask in the low 32 bits of `low`).
    private static func masks(_ family: Family, _ prefix: Int) -> (high: UInt64, low: UInt64) {
        switch family {
        case .ipv4:
            return (0, UInt64(UInt32.max << (32 - prefix)))  // a shift by 32 gives 0: /0
        case .ipv6:
            let high = prefix >= 64 ? UInt64.max : UInt64.max << (64 - prefix)
            let low = prefix <= 64 ? 0 : UInt64.max << (128 - prefix)
            return (high, low)
        }
    }

    /// Every CIDR error is made here.
    private static func invalid(_ text: String, _ reason: String) -> StreamPortError {
        StreamPortError(.invalidAddress, "invalid CIDR \"\(text)\": \(reason)")
    }
}

/// How a server reads the PROXY protocol: which peers may send a header, and how long it may
/// take. With it enabled, every connection must start with a header (the protocol forbids
/// guessing).
///
/// ```swift
/// let proxy = try ProxyProtocolConfiguration(trustedSources: ["10.0.0.0/8", "127.0.0.1/32"])
/// ```
public struct ProxyProtocolConfiguration: Sendable, Hashable {
    /// The peers allowed to send a header; empty: any peer.
    public var trustedSources: [CIDR]
    /// How long a connection may take to send its complete header.
    public var headerTimeout: Duration

    /// Creates a configuration from parsed networks.
    /// - Parameters:
    ///   - trustedSources: the peers allowed to send a header; empty (the default): any peer.
    ///   - headerTimeout: the time allowed for the complete header (default 5 s; the
    ///     specification suggests at least 3 s, to cover a TCP retransmission).
    public init(trustedSources: [CIDR] = [], headerTimeout: Duration = .seconds(5)) {
        self.trustedSources = trustedSources
        self.headerTimeout = headerTimeout
    }

    /// Creates a configuration from networks in CIDR notation.
    ///
    /// (Generic so that `init(trustedSources: [])` picks the non-throwing initializer.)
    /// - Parameters:
    ///   - trustedSources: networks such as `"10.0.0.0/8"`, `"::1"`; empty: any peer.
    ///   - headerTimeout: the time allowed for the complete header (default 5 s).
    /// - Throws: ``StreamPortError`` `.invalidAddress` naming the first network that does not
    ///   parse and the reason.
    public init(trustedSources: some Sequence<String>, headerTimeout: Duration = .seconds(5)) throws(StreamPortError) {
        var networks: [CIDR] = []
        for text in trustedSources { networks.append(try CIDR(text)) }
        self.init(trustedSources: networks, headerTimeout: headerTimeout)
    }

    /// Whether `peer` may send a header: `trustedSources` is empty or one of them contains it.
    /// - Parameter peer: the socket's real remote address.
    public func trusts(_ peer: SocketAddress) -> Bool {
        trustedSources.isEmpty || trustedSources.contains { $0.contains(peer) }
    }
}
