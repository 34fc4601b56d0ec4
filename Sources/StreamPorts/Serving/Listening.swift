import NIOCore
import NIOPosix

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

// Listening as tcpServerStream listens, for the package's own servers that are not stream
// ports (portecho's metrics endpoint): the same address forms, lookup, dual stack and errors.

extension ServerBootstrap {
    /// Binds this bootstrap where ``tcpServerStream(_:port:backlog:reuseAddress:reusePort:transcoder:maxLineLength:logger:proxyProtocol:)``
    /// would bind `address`: a name looked up off the caller's executor, IPv4 first; `*` as
    /// the dual-stack IPv6 wildcard where IPv6 exists, else 0.0.0.0.
    /// - Parameter address: where to listen.
    /// - Returns: the listening channel.
    /// - Throws: ``StreamPortError`` as `tcpServerStream`: `.hostNotFound`, `.addressInUse`,
    ///   `.bindFailed`, each naming the address.
    package func bind(listeningOn address: StreamAddress) async throws(StreamPortError) -> any Channel {
        guard let target = try await address.resolvedOffLoop(forListening: true).first else {
            throw StreamPortError(.hostNotFound, "\(address) has no address to bind")
        }
        var bootstrap = self
        if target.protocol == .inet6, case .anyInterface = address.host {
            bootstrap = bootstrap.serverChannelOption(
                ChannelOptions.Types.SocketOption(
                    level: .init(rawValue: Int32(IPPROTO_IPV6)), name: .init(rawValue: Int32(IPV6_V6ONLY))), value: 0)
        }
        do {
            return try await bootstrap.bind(to: target).get()
        } catch {
            throw StreamPortError.from(error, target.streamDescription)
        }
    }
}

extension Channel {
    /// The bound local address as ``ServerStream/localEndpoint`` writes it: `127.0.0.1:41234`,
    /// `[::1]:41234` (RFC 5952), or "" if unknown.
    package var streamLocalEndpoint: String { localAddress?.streamDescription ?? "" }
}
