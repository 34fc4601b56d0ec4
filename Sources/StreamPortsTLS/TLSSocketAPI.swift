import StreamPorts

// TLS on the step-wise seed surfaces: seed 000/001's TCPServer and seed 004's TCPSocket (whose
// error table already names the TLS kinds).

extension TCPServer {
    /// Starts accepting TLS connections (Lua's `listen(backlog)`, secured): ``accept(timeout:)``
    /// yields a connection only once its handshake has completed; a failed handshake closes
    /// that connection alone and is logged, rate-limited.
    ///
    /// ```swift
    /// let server = TCPServer()
    /// try server.bind("localhost", 7443)
    /// try await server.listen(tls: try TLSContext.server(certificateChain: "server.pem", privateKey: "server.key"))
    /// let client = try await server.accept()
    /// ```
    /// - Parameters:
    ///   - backlog: the listen backlog.
    ///   - tls: a server context.
    /// - Throws: ``StreamPortError`` `.tlsInvalidUserData` for a client context; otherwise as
    ///   ``TCPServer/listen(_:)``.
    public func listen(_ backlog: Int = 128, tls: TLSContext) async throws {
        guard tls.role == .server else {
            throw StreamPortError(
                .tlsInvalidUserData, "TCPServer.listen: a client TLS context cannot serve; use TLSContext.server(...)")
        }
        try await listen(
            backlog, security: TLSChannelSecurity(context: tls, failureLog: HandshakeFailureLog(logger: logger)))
    }
}

extension TCPSocket {
    /// Connects and completes a TLS handshake (seed 004's `connect`, secured). The server's
    /// certificate must name the context's ``TLSContext/serverName`` or, by default, `host`;
    /// for an IP literal the address is checked against the certificate's IP names.
    /// A failed handshake sets ``error`` to ``ErrorKind/sslHandshakeFailed``.
    ///
    /// ```swift
    /// let socket = TCPSocket()
    /// try await socket.connect("localhost", 7443, tls: try TLSContext.client(trustRoots: "ca.pem"))
    /// ```
    /// - Parameters:
    ///   - host: a host name or IP address.
    ///   - port: the port.
    ///   - tls: a client context.
    ///   - connectTimeout: how long each address may take to connect.
    /// - Throws: ``StreamPortError``: `.tlsHandshakeFailed` with the reason,
    ///   `.tlsInvalidUserData` for a server context, and as ``TCPSocket/connect(_:_:connectTimeout:)``.
    public func connect(
        _ host: String, _ port: Int, tls: TLSContext, connectTimeout: Duration = StreamDefaults.connectTimeout
    ) async throws {
        guard tls.role == .client else {
            throw StreamPortError(
                .tlsInvalidUserData,
                "TCPSocket.connect: a server TLS context cannot connect; use TLSContext.client(...)")
        }
        try await connect(host, port, connectTimeout: connectTimeout) { address in
            TLSChannelSecurity(context: tls, serverName: sniName(tls.serverName, host: address.host))
        }
    }
}
