import NIOCore
import NIOPosix

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

// From a parsed address to the socket addresses to bind or connect to. Numeric hosts need no
// lookup. A name needs getaddrinfo, which blocks its thread: the async entry points
// (tcpServerStream, tcpClientStream, TCPSocket.connect) run it on NIO's blocking-I/O thread
// pool, never on the caller's executor, which may be an event loop serving other connections.
// The seeds' synchronous functions (TCPServer.bind, hostByName, hostByAddress) block their
// caller and say so.

extension StreamAddress {
    /// The socket addresses to bind (`forListening`) or to connect to, with a name looked up on
    /// `NIOThreadPool.singleton` so that the calling executor (perhaps an event loop) never
    /// blocks; a numeric address resolves at once, with no thread hop.
    func resolvedOffLoop(forListening: Bool) async throws(StreamPortError) -> [SocketAddress] {
        guard case .name(let name) = host else {
            return try forListening ? resolveForListening() : resolveForConnecting()
        }
        do {
            return try await NIOThreadPool.singleton.runIfActive { [self] in
                try forListening ? resolveForListening() : resolveForConnecting()
            }
        } catch let error as StreamPortError {
            throw error
        } catch {
            throw StreamPortError(.system, "looking up host \"\(name)\": \(error)")
        }
    }

    /// The socket addresses to bind, best first (IPv4 first for names). A name is looked up on
    /// the calling thread, which blocks: async callers use ``resolvedOffLoop(forListening:)``.
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

    /// The socket addresses to try when connecting, in resolver order. A name is looked up on
    /// the calling thread, which blocks: async callers use ``resolvedOffLoop(forListening:)``.
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

    /// getaddrinfo, numeric results only. Blocks the calling thread for as long as the resolver
    /// takes (DNS: up to its timeout).
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
            if let address = socketAddress(info.pointee, port: port), !addresses.contains(address) {
                addresses.append(address)
            }
            cursor = info.pointee.ai_next
        }
        guard !addresses.isEmpty else {
            throw StreamPortError(.hostNotFound, "host \"\(name)\" has no IPv4 or IPv6 address")
        }
        return addresses
    }

    /// Whether this machine can open IPv6 sockets.
    static let ipv6Available: Bool = {
        guard let fd = try? Syscalls.streamSocket(family: AF_INET6, what: "an IPv6 probe") else { return false }
        try? Syscalls.close(fd, what: "an IPv6 probe")
        return true
    }()

    /// The socket address of one getaddrinfo result, with `port`; nil for other families.
    private static func socketAddress(_ info: addrinfo, port: Int) -> SocketAddress? {
        guard let sa = info.ai_addr else { return nil }
        switch Int32(sa.pointee.sa_family) {
        case AF_INET:
            var sin = sa.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { $0.pointee }
            sin.sin_port = in_port_t(UInt16(port).bigEndian)
            return SocketAddress(sin, host: "")
        case AF_INET6:
            var sin6 = sa.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { $0.pointee }
            sin6.sin6_port = in_port_t(UInt16(port).bigEndian)
            return SocketAddress(sin6, host: "")
        default:
            return nil
        }
    }
}
