extension ClientStream {
    /// The local address, `127.0.0.1:41234` or `[::1]:41234`.
    public var localAddress: String { channel.localAddress?.streamDescription ?? "" }
    /// The local port.
    public var localPort: Int { channel.localAddress?.port ?? 0 }
    /// The peer's address, `127.0.0.1:50000` or `[::1]:50000`.
    public var remoteAddress: String { channel.remoteAddress?.streamDescription ?? "" }
    /// The peer's port.
    public var remotePort: Int { channel.remoteAddress?.port ?? 0 }
}
