import NIOCore

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// A host and port as written by users, parsed and checked before any socket opens.
///
/// Accepted forms (Slogan's and Gambit's, plus the usual ones):
/// - `"INTF:PORT"`, `"localhost:PORT"`, `"host.name:PORT"`: resolved; IPv4 first when a name
///   has both (predictable, as Go does);
/// - `"*:PORT"`: all interfaces (the IPv6 wildcard, dual stack, where IPv6 exists; else
///   0.0.0.0);
/// - `"[::1]:PORT"`, `"[::]:PORT"`;
/// - a bare host or an unbracketed IPv6 literal with `port:` (an unbracketed IPv6 literal is
///   always a host only);
/// - all digits (`"2020"`): a port on the loopback interface;
/// - raw addresses: 4 bytes (IPv4), 16 bytes or 8 16-bit groups (IPv6).
public struct StreamAddress: Sendable, Hashable, CustomStringConvertible {
    /// Where to listen or connect.
    public enum Host: Sendable, Hashable {
        /// A name to resolve.
        case name(String)
        /// A numeric IPv4 address.
        case ipv4(String)
        /// A numeric IPv6 address (without brackets). ``StreamAddress/parse(_:port:)`` and
        /// `StreamAddress.raw` give it in RFC 5952's canonical form (`::1`).
        case ipv6(String)
        /// Every interface.
        case anyInterface
    }

    /// The host.
    public var host: Host
    /// The port, 0–65535 (0: the OS picks one).
    public var port: Int

    /// Creates an address from parts already checked.
    /// - Parameters:
    ///   - host: the host.
    ///   - port: the port, 0–65535.
    public init(host: Host, port: Int) {
        self.host = host
        self.port = port
    }

    /// `127.0.0.1:2020`, `[::1]:2020` (IPv6 per RFC 5952), `*:2020`, `example.org:80`.
    public var description: String {
        switch host {
        case .name(let name): "\(name):\(port)"
        case .ipv4(let text): "\(text):\(port)"
        case .ipv6(let text): "[\(canonicalIPv6(text) ?? text)]:\(port)"
        case .anyInterface: "*:\(port)"
        }
    }

    /// Parses `input`, with `port` given separately or not.
    /// - Parameters:
    ///   - input: the address text.
    ///   - port: a port given separately (Slogan's `port_number`); it must agree with a port in
    ///     `input` if both are given.
    /// - Throws: ``StreamPortError`` `.invalidAddress` naming the input and the reason.
    public static func parse(_ input: String, port: Int? = nil) throws(StreamPortError) -> StreamAddress {
        if let port { try checkPort(port, input) }
        let text = input
        guard !text.isEmpty else { throw .invalid(input, "the address is empty") }
        if text.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) {
            let parsed = try parsePort(Substring(text), input)
            return StreamAddress(host: .ipv4("127.0.0.1"), port: try merge(parsed, port, input))
        }
        // The structure is found in UTF-8 bytes, not Characters: a combining mark after ":" or
        // "]" would make one Character of both.
        if text.utf8.first == UInt8(ascii: "[") {
            guard let close = text.utf8.firstIndex(of: UInt8(ascii: "]")) else {
                throw .invalid(input, "missing \"]\" after the IPv6 address")
            }
            let literal = String(text[text.utf8.index(after: text.startIndex)..<close])
            guard let ipv6 = canonicalIPv6(literal) else {
                throw .invalid(input, "\"\(literal)\" is not an IPv6 address")
            }
            let rest = text[text.utf8.index(after: close)...]
            if rest.isEmpty {
                guard let port else { throw .invalid(input, "no port: write [\(literal)]:PORT or pass port:") }
                return StreamAddress(host: .ipv6(ipv6), port: port)
            }
            guard rest.utf8.first == UInt8(ascii: ":") else { throw .invalid(input, "expected \":PORT\" after \"]\"") }
            let parsed = try parsePort(rest[rest.utf8.index(after: rest.startIndex)...], input)
            return StreamAddress(host: .ipv6(ipv6), port: try merge(parsed, port, input))
        }
        let colons = text.utf8.count(where: { $0 == UInt8(ascii: ":") })
        if colons > 1 {
            guard let ipv6 = canonicalIPv6(text) else {
                let example = splitPort(text).map { ", here [\($0.host)]:\($0.port)" } ?? ""
                throw .invalid(
                    input, "not an IPv6 address; an IPv6 address with a port is written [ADDRESS]:PORT\(example)")
            }
            guard let port else { throw .invalid(input, unbracketedWithoutPort(text)) }
            return StreamAddress(host: .ipv6(ipv6), port: port)
        }
        let hostPart: Substring
        var parsedPort: Int?
        if colons == 1 {
            let colon = text.utf8.firstIndex(of: UInt8(ascii: ":"))!
            hostPart = text[..<colon]
            parsedPort = try parsePort(text[text.utf8.index(after: colon)...], input)
        } else {
            hostPart = Substring(text)
        }
        guard !hostPart.isEmpty else { throw .invalid(input, "the host is empty (use \"*\" for all interfaces)") }
        guard let finalPort = try mergeOptional(parsedPort, port, input) else {
            throw .invalid(input, "no port: write \(hostPart):PORT or pass port:")
        }
        let host = String(hostPart)
        if host == "*" { return StreamAddress(host: .anyInterface, port: finalPort) }
        if isIPv4(host) { return StreamAddress(host: .ipv4(host), port: finalPort) }
        guard host.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F && $0 != UInt8(ascii: "/") }) else {
            throw .invalid(input, "\"\(host)\" is not a host name")
        }
        return StreamAddress(host: .name(host), port: finalPort)
    }

    /// An address from raw bytes: 4 (IPv4) or 16 (IPv6).
    /// - Parameters:
    ///   - bytes: the address in network order.
    ///   - port: the port.
    /// - Throws: ``StreamPortError`` `.invalidAddress` for another count or a bad port.
    public static func raw(_ bytes: [UInt8], port: Int) throws(StreamPortError) -> StreamAddress {
        let name = "\(bytes)"
        try checkPort(port, name)
        switch bytes.count {
        case 4:
            return StreamAddress(host: .ipv4(bytes.map(String.init).joined(separator: ".")), port: port)
        case 16:
            return StreamAddress(host: .ipv6(ipv6Text(bytes)), port: port)
        default:
            throw .invalid(name, "a raw address has 4 bytes (IPv4) or 16 bytes (IPv6), not \(bytes.count)")
        }
    }

    /// An IPv6 address from 8 16-bit groups (Gambit's form).
    /// - Parameters:
    ///   - groups: the eight groups.
    ///   - port: the port.
    /// - Throws: ``StreamPortError`` `.invalidAddress` for another count or a bad port.
    public static func raw(_ groups: [UInt16], port: Int) throws(StreamPortError) -> StreamAddress {
        guard groups.count == 8 else {
            throw .invalid("\(groups)", "an IPv6 address has 8 16-bit groups, not \(groups.count)")
        }
        return try raw(groups.flatMap { [UInt8($0 >> 8), UInt8($0 & 0xFF)] }, port: port)
    }

    // MARK: Checks

    // inet_pton reads a C string: a NUL inside `text` would end it early, and "127.0.0.1\0junk"
    // would pass as 127.0.0.1.
    static func isIPv4(_ text: String) -> Bool {
        var a = in_addr()
        return !text.utf8.contains(0) && inet_pton(AF_INET, text, &a) == 1
    }

    static func isIPv6(_ text: String) -> Bool {
        var a = in6_addr()
        return !text.utf8.contains(0) && inet_pton(AF_INET6, text, &a) == 1
    }

    /// Why an unbracketed IPv6 literal without a port is refused, and what to write instead:
    /// `::1:80` may mean host `::1` and port 80, so both readings are offered.
    private static func unbracketedWithoutPort(_ text: String) -> String {
        let reason = "an unbracketed IPv6 address is a host only and has no port here"
        guard let split = splitPort(text) else { return "\(reason); write [\(text)]:PORT or pass port:" }
        let (host, port) = split
        return "\(reason); write [\(host)]:\(port) if \(port) is the port, [\(text)]:PORT if it is not, or pass port:"
    }

    /// `text` read as an IPv6 address, a colon and a decimal port (`::1:80` → `::1`, 80), if it
    /// can be.
    private static func splitPort(_ text: String) -> (host: String, port: Int)? {
        guard let colon = text.utf8.lastIndex(of: UInt8(ascii: ":")) else { return nil }
        let last = text[text.utf8.index(after: colon)...]
        guard !last.isEmpty, last.utf8.count <= 5, last.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }),
            let port = Int(last), port <= 65535, let host = canonicalIPv6(String(text[..<colon]))
        else { return nil }
        return (host, port)
    }

    private static func checkPort(_ port: Int, _ input: String) throws(StreamPortError) {
        guard (0...65535).contains(port) else { throw .invalid(input, "port \(port) is out of range 0–65535") }
    }

    private static func parsePort(_ text: Substring, _ input: String) throws(StreamPortError) -> Int {
        guard !text.isEmpty else { throw .invalid(input, "the port is empty") }
        guard text.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else {
            throw .invalid(input, "port \"\(text)\" is not a decimal number")
        }
        guard text.count <= 5, let value = Int(text), value <= 65535 else {
            throw .invalid(input, "port \(text) is out of range 0–65535")
        }
        return value
    }

    private static func merge(_ parsed: Int, _ given: Int?, _ input: String) throws(StreamPortError) -> Int {
        try mergeOptional(parsed, given, input)!
    }

    private static func mergeOptional(_ parsed: Int?, _ given: Int?, _ input: String) throws(StreamPortError) -> Int? {
        if let parsed, let given, parsed != given {
            throw .invalid(input, "port \(parsed) in the address disagrees with port: \(given)")
        }
        return parsed ?? given
    }
}
