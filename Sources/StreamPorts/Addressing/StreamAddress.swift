#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import NIOCore

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
        /// A numeric IPv6 address (without brackets).
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

    /// `127.0.0.1:2020`, `[::1]:2020`, `*:2020`, `example.org:80`.
    public var description: String {
        switch host {
        case .name(let name): "\(name):\(port)"
        case .ipv4(let text): "\(text):\(port)"
        case .ipv6(let text): "[\(text)]:\(port)"
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
            guard isIPv6(literal) else { throw .invalid(input, "\"\(literal)\" is not an IPv6 address") }
            let rest = text[text.utf8.index(after: close)...]
            if rest.isEmpty {
                guard let port else { throw .invalid(input, "no port: write [\(literal)]:PORT or pass port:") }
                return StreamAddress(host: .ipv6(literal), port: port)
            }
            guard rest.utf8.first == UInt8(ascii: ":") else { throw .invalid(input, "expected \":PORT\" after \"]\"") }
            let parsed = try parsePort(rest[rest.utf8.index(after: rest.startIndex)...], input)
            return StreamAddress(host: .ipv6(literal), port: try merge(parsed, port, input))
        }
        let colons = text.utf8.count(where: { $0 == UInt8(ascii: ":") })
        if colons > 1 {
            guard isIPv6(text) else {
                throw .invalid(input, "not an IPv6 address; an IPv6 address with a port is written [ADDRESS]:PORT")
            }
            guard let port else {
                throw .invalid(
                    input,
                    "an unbracketed IPv6 address is a host only and has no port here; write [\(text)]:PORT (or [ADDRESS]:PORT if its last group is a port), or pass port:")
            }
            return StreamAddress(host: .ipv6(text), port: port)
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
            var storage = in6_addr()
            withUnsafeMutableBytes(of: &storage) { $0.copyBytes(from: bytes) }
            var out = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
            inet_ntop(AF_INET6, &storage, &out, socklen_t(out.count))
            return StreamAddress(host: .ipv6(cString(out)), port: port)
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

    // MARK: Resolution

    /// The socket addresses to bind, best first (IPv4 first for names).
    func resolveForListening() throws(StreamPortError) -> [SocketAddress] {
        switch host {
        case .anyInterface:
            return [try socketAddress(StreamAddress.ipv6Available ? "::" : "0.0.0.0")]
        case .ipv4(let text), .ipv6(let text):
            return [try socketAddress(text)]
        case .name(let name):
            let all = try StreamAddress.lookup(name, port: port)
            return all.filter { $0.protocol == .inet } + all.filter { $0.protocol != .inet }
        }
    }

    /// The socket addresses to try when connecting, in resolver order.
    func resolveForConnecting() throws(StreamPortError) -> [SocketAddress] {
        switch host {
        case .anyInterface:
            return [try socketAddress("127.0.0.1")]
        case .ipv4(let text), .ipv6(let text):
            return [try socketAddress(text)]
        case .name(let name):
            return try StreamAddress.lookup(name, port: port)
        }
    }

    private func socketAddress(_ ip: String) throws(StreamPortError) -> SocketAddress {
        do {
            return try SocketAddress(ipAddress: ip, port: port)
        } catch {
            throw .invalid(description, "\"\(ip)\" is not a numeric address")
        }
    }

    /// getaddrinfo, numeric results only.
    static func lookup(_ name: String, port: Int) throws(StreamPortError) -> [SocketAddress] {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var result: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(name, nil, &hints, &result)
        guard status == 0, let first = result else {
            let reason = String(cString: gai_strerror(status))
            throw StreamPortError(.hostNotFound, "host \"\(name)\" not found: \(reason)")
        }
        defer { freeaddrinfo(first) }
        var addresses: [SocketAddress] = []
        var cursor: UnsafeMutablePointer<addrinfo>? = first
        while let info = cursor {
            if let sa = info.pointee.ai_addr {
                var out = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
                let family = Int32(sa.pointee.sa_family)
                if family == AF_INET {
                    sa.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { var a = $0.pointee.sin_addr; _ = inet_ntop(AF_INET, &a, &out, socklen_t(out.count)) }
                } else if family == AF_INET6 {
                    sa.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { var a = $0.pointee.sin6_addr; _ = inet_ntop(AF_INET6, &a, &out, socklen_t(out.count)) }
                }
                if out[0] != 0, let address = try? SocketAddress(ipAddress: cString(out), port: port),
                   !addresses.contains(address) {
                    addresses.append(address)
                }
            }
            cursor = info.pointee.ai_next
        }
        guard !addresses.isEmpty else { throw StreamPortError(.hostNotFound, "host \"\(name)\" has no IPv4 or IPv6 address") }
        return addresses
    }

    /// Whether this machine can open IPv6 sockets.
    static let ipv6Available: Bool = {
        guard let fd = try? Syscalls.streamSocket(family: AF_INET6, what: "an IPv6 probe") else { return false }
        try? Syscalls.close(fd, what: "an IPv6 probe")
        return true
    }()

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

extension SocketAddress {
    /// `127.0.0.1:2020` or `[::1]:2020`.
    var streamDescription: String {
        let ip = ipAddress ?? "?"
        let port = self.port ?? 0
        return self.protocol == .inet6 ? "[\(ip)]:\(port)" : "\(ip):\(port)"
    }
}

/// The text of a NUL-terminated C buffer.
func cString(_ buffer: [CChar]) -> String {
    String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
}
