import NIOCore

extension ClientStream {
    /// The local host address alone (seeds 003 and 004): `127.0.0.1`, or `::1` for IPv6
    /// (RFC 5952 text, no brackets); "" once the connection is gone. The port is
    /// ``localPort``; ``localEndpoint`` has both.
    ///
    /// Behind the PROXY protocol, the address the original client connected to, from the
    /// header (the socket's own is ``socketLocalAddress``); for a UNIX socket, its path.
    public var localAddress: String {
        if let destination = proxied?.destination { return Self.address(of: destination) }
        return socketLocalAddress
    }
    /// The local port; behind the PROXY protocol, the header's destination port (0 for a UNIX
    /// socket).
    public var localPort: Int {
        if let destination = proxied?.destination { return Self.port(of: destination) }
        return socketLocalPort
    }
    /// The local address and port: `127.0.0.1:41234`, or `[::1]:41234` for IPv6; behind the
    /// PROXY protocol, the header's destination (`unix:PATH` for a UNIX socket).
    public var localEndpoint: String {
        if let destination = proxied?.destination { return destination.description }
        return socketLocalEndpoint
    }

    /// The peer's host address alone (seeds 003 and 004): `127.0.0.1`, or `::1` for IPv6
    /// (RFC 5952 text, no brackets); "" once the connection is gone. The port is
    /// ``remotePort``; ``remoteEndpoint`` has both.
    ///
    /// Behind the PROXY protocol, the original client's address from the header (the load
    /// balancer's is ``socketRemoteAddress``); for a UNIX socket, its path. A LOCAL header and
    /// v1 `UNKNOWN` keep the socket's.
    public var remoteAddress: String {
        if let source = proxied?.source { return Self.address(of: source) }
        return socketRemoteAddress
    }
    /// The peer's port; behind the PROXY protocol, the original client's, from the header (0
    /// for a UNIX socket).
    public var remotePort: Int {
        if let source = proxied?.source { return Self.port(of: source) }
        return socketRemotePort
    }
    /// The peer's address and port: `127.0.0.1:50000`, or `[::1]:50000` for IPv6; behind the
    /// PROXY protocol, the original client from the header (`unix:PATH` for a UNIX socket).
    /// Error messages and the access log name the peer this way.
    public var remoteEndpoint: String {
        if let source = proxied?.source { return source.description }
        return socketRemoteEndpoint
    }

    // MARK: The socket's own endpoints

    /// The socket's local host address, whatever a PROXY header said (as ``localAddress``
    /// without the protocol).
    public var socketLocalAddress: String { channel.localAddress?.streamHost ?? "" }
    /// The socket's local port, whatever a PROXY header said.
    public var socketLocalPort: Int { channel.localAddress?.port ?? 0 }
    /// The socket's local address and port, whatever a PROXY header said.
    public var socketLocalEndpoint: String { channel.localAddress?.streamDescription ?? "" }

    /// The socket's peer host address: behind the PROXY protocol, the load balancer's.
    public var socketRemoteAddress: String { channel.remoteAddress?.streamHost ?? "" }
    /// The socket's peer port: behind the PROXY protocol, the load balancer's.
    public var socketRemotePort: Int { channel.remoteAddress?.port ?? 0 }
    /// The socket's peer address and port: behind the PROXY protocol, the load balancer's.
    public var socketRemoteEndpoint: String { channel.remoteAddress?.streamDescription ?? "" }

    // MARK: PROXY protocol

    /// The PROXY protocol header this connection started with (version, command, addresses,
    /// TLVs); nil when the server does not read the protocol, and for a LOCAL header (the
    /// balancer's own connection, such as a health check).
    ///
    /// ```swift
    /// if let alpn = client.proxyHeader?.alpn { ... }
    /// ```
    public var proxyHeader: ProxyHeader? {
        guard let header = proxied?.header, header.command == .proxy else { return nil }
        return header
    }

    private var proxied: ProxiedConnection? { shared.proxied.withLock { $0 } }

    private static func address(of endpoint: ProxyHeader.Endpoint) -> String {
        switch endpoint {
        case .ip(let address, _): address
        case .unix(let path): path
        }
    }

    private static func port(of endpoint: ProxyHeader.Endpoint) -> Int {
        switch endpoint {
        case .ip(_, let port): port
        case .unix: 0
        }
    }
}
