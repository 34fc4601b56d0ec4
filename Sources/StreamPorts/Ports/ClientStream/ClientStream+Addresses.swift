import NIOCore

extension ClientStream {
    /// The local host address alone (seeds 003 and 004): `127.0.0.1`, or `::1` for IPv6
    /// (RFC 5952 text, no brackets); "" once the connection is gone. The port is
    /// ``localPort``; ``localEndpoint`` has both.
    public var localAddress: String { channel.localAddress?.streamHost ?? "" }
    /// The local port.
    public var localPort: Int { channel.localAddress?.port ?? 0 }
    /// The local address and port: `127.0.0.1:41234`, or `[::1]:41234` for IPv6.
    public var localEndpoint: String { channel.localAddress?.streamDescription ?? "" }

    /// The peer's host address alone (seeds 003 and 004): `127.0.0.1`, or `::1` for IPv6
    /// (RFC 5952 text, no brackets); "" once the connection is gone. The port is
    /// ``remotePort``; ``remoteEndpoint`` has both.
    public var remoteAddress: String { channel.remoteAddress?.streamHost ?? "" }
    /// The peer's port.
    public var remotePort: Int { channel.remoteAddress?.port ?? 0 }
    /// The peer's address and port: `127.0.0.1:50000`, or `[::1]:50000` for IPv6. Error
    /// messages name the peer this way.
    public var remoteEndpoint: String { channel.remoteAddress?.streamDescription ?? "" }
}
