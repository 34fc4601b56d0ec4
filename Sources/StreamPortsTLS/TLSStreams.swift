import Logging
import NIOCore
import StreamPorts

/// Opens a listening TCP port whose connections speak TLS.
///
/// ```swift
/// let tls = try TLSContext.server(certificateChain: "server.pem", privateKey: "server.key")
/// let server = try await tcpServerStream("*:7443", tls: tls, transcoder: sjis)
/// ```
///
/// ``ServerStream/read()`` yields a client stream only once its handshake has completed. A
/// failed handshake (an untrusted client certificate, plaintext or garbage instead of TLS, a
/// client that does not finish within the context's handshake timeout) closes only that
/// connection; it is logged, rate-limited, to `logger` and counted in
/// ``ServerStream/tlsHandshakeFailures``, and the server goes on serving. Connections still
/// handshaking count toward `backlog`.
/// - Parameters:
///   - address: as in the plaintext form: `"INTF:PORT"`, `"*:PORT"`, `"[::1]:PORT"`, all digits.
///   - port: the port, when not in `address`.
///   - tls: a server context.
///   - backlog: the listen backlog; also the most accepted connections (handshaking or waiting
///     for `read()`).
///   - reuseAddress: set SO_REUSEADDR.
///   - reusePort: set SO_REUSEPORT before binding (several processes may listen on the port).
///   - transcoder: the transcoder of every accepted stream.
///   - maxLineLength: the accepted streams' longest line, in bytes.
///   - logger: where accept trouble, failed handshakes and refused PROXY headers are logged.
///   - proxyProtocol: read a PROXY protocol header at the start of every connection, before
///     the TLS handshake (nil, the default: none). As in the plaintext form: the header's
///     source becomes the stream's remote endpoint, and a connection without a valid header
///     from a trusted source, in time, is closed before its handshake.
/// - Returns: the listening server stream.
/// - Throws: ``StreamPortError``: `.tlsInvalidUserData` for a client context; otherwise as
///   the plaintext form (`.invalidAddress`, `.hostNotFound`, `.addressInUse`, `.bindFailed`).
///
/// Behind a load balancer that passes TLS through and sends the PROXY protocol:
/// ```swift
/// let server = try await tcpServerStream(
///     "*:7001", tls: tls, proxyProtocol: try .init(trustedSources: ["10.0.0.0/8", "127.0.0.1/32"]))
/// ```
public func tcpServerStream(
    _ address: String, port: Int? = nil, tls: TLSContext, backlog: Int = 128, reuseAddress: Bool = true,
    reusePort: Bool = false,
    transcoder: Transcoder = .default, maxLineLength: Int = StreamDefaults.maxLineLength,
    logger: Logger = Logger(label: "StreamPorts"), proxyProtocol: ProxyProtocolConfiguration? = nil
) async throws -> ServerStream {
    let parsed = try StreamAddress.parse(address, port: port)
    return try await listenTLS(
        parsed, input: address, tls: tls, backlog: backlog, reuseAddress: reuseAddress, reusePort: reusePort,
        transcoder: transcoder, maxLineLength: maxLineLength, logger: logger, proxyProtocol: proxyProtocol)
}

/// Opens a listening TLS port on the loopback interface only.
/// - Parameters:
///   - port: the port (0: any free one).
///   - tls: a server context.
///   - backlog: the listen backlog.
///   - reuseAddress: set SO_REUSEADDR.
///   - reusePort: set SO_REUSEPORT before binding (several processes may listen on the port).
///   - transcoder: the transcoder of every accepted stream.
///   - maxLineLength: the accepted streams' longest line, in bytes.
///   - logger: where accept trouble and failed handshakes are logged.
///   - proxyProtocol: read a PROXY protocol header before the TLS handshake (nil: none), as
///     in the string form.
/// - Returns: the listening server stream.
/// - Throws: ``StreamPortError`` as the string form; `.invalidAddress` for a port out of range.
public func tcpServerStream(
    _ port: Int, tls: TLSContext, backlog: Int = 128, reuseAddress: Bool = true, reusePort: Bool = false,
    transcoder: Transcoder = .default, maxLineLength: Int = StreamDefaults.maxLineLength,
    logger: Logger = Logger(label: "StreamPorts"), proxyProtocol: ProxyProtocolConfiguration? = nil
) async throws -> ServerStream {
    guard (0...65535).contains(port) else {
        throw StreamPortError(.invalidAddress, "invalid address \"\(port)\": port \(port) is out of range 0–65535")
    }
    return try await listenTLS(
        StreamAddress(host: .ipv4("127.0.0.1"), port: port), input: "\(port)", tls: tls, backlog: backlog,
        reuseAddress: reuseAddress, reusePort: reusePort, transcoder: transcoder, maxLineLength: maxLineLength,
        logger: logger, proxyProtocol: proxyProtocol)
}

/// Opens a listening TLS port on a raw address: 4 bytes (IPv4) or 16 bytes (IPv6).
/// - Parameters:
///   - address: the address bytes in network order.
///   - port: the port.
///   - tls: a server context.
///   - backlog: the listen backlog.
///   - reuseAddress: set SO_REUSEADDR.
///   - reusePort: set SO_REUSEPORT before binding (several processes may listen on the port).
///   - transcoder: the transcoder of every accepted stream.
/// - Returns: the listening server stream.
/// - Throws: ``StreamPortError`` `.invalidAddress` for another byte count; as the string form.
public func tcpServerStream(
    _ address: [UInt8], port: Int, tls: TLSContext, backlog: Int = 128, reuseAddress: Bool = true,
    reusePort: Bool = false,
    transcoder: Transcoder = .default
) async throws -> ServerStream {
    let parsed = try StreamAddress.raw(address, port: port)
    return try await listenTLS(
        parsed, input: parsed.description, tls: tls, backlog: backlog, reuseAddress: reuseAddress,
        reusePort: reusePort, transcoder: transcoder, maxLineLength: StreamDefaults.maxLineLength,
        logger: Logger(label: "StreamPorts"))
}

/// Opens a listening TLS port on an IPv6 address given as 8 16-bit groups.
/// - Parameters:
///   - address: the eight groups.
///   - port: the port.
///   - tls: a server context.
///   - backlog: the listen backlog.
///   - reuseAddress: set SO_REUSEADDR.
///   - reusePort: set SO_REUSEPORT before binding (several processes may listen on the port).
///   - transcoder: the transcoder of every accepted stream.
/// - Returns: the listening server stream.
/// - Throws: ``StreamPortError`` `.invalidAddress` for another group count; as the string form.
public func tcpServerStream(
    _ address: [UInt16], port: Int, tls: TLSContext, backlog: Int = 128, reuseAddress: Bool = true,
    reusePort: Bool = false,
    transcoder: Transcoder = .default
) async throws -> ServerStream {
    let parsed = try StreamAddress.raw(address, port: port)
    return try await listenTLS(
        parsed, input: parsed.description, tls: tls, backlog: backlog, reuseAddress: reuseAddress,
        reusePort: reusePort, transcoder: transcoder, maxLineLength: StreamDefaults.maxLineLength,
        logger: Logger(label: "StreamPorts"))
}

private func listenTLS(
    _ address: StreamAddress, input: String, tls: TLSContext, backlog: Int, reuseAddress: Bool, reusePort: Bool,
    transcoder: Transcoder, maxLineLength: Int, logger: Logger, proxyProtocol: ProxyProtocolConfiguration? = nil
) async throws -> ServerStream {
    let security = try serverSecurity(tls, input: input, logger: logger)
    return try await listen(
        address, input: input, backlog: backlog, reuseAddress: reuseAddress, reusePort: reusePort,
        transcoder: transcoder, maxLineLength: maxLineLength, logger: logger, security: security,
        proxyProtocol: proxyProtocol)
}

/// Serves a TCP socket that is already bound and listening (socket activation), every
/// connection speaking TLS; as the plaintext
/// `tcpServerStream(listeningSocket:backlog:transcoder:maxLineLength:logger:proxyProtocol:)`.
/// - Parameters:
///   - listeningSocket: the descriptor: an IPv4 or IPv6 stream socket that is listening.
///   - tls: a server context.
///   - backlog: the most accepted connections handshaking or waiting for `read()`.
///   - transcoder: the transcoder of every accepted stream.
///   - maxLineLength: the accepted streams' longest line, in bytes.
///   - logger: where accept trouble and failed handshakes are logged.
///   - proxyProtocol: read a PROXY protocol header first on every connection (nil: none).
/// - Returns: the listening server stream, which owns the descriptor.
/// - Throws: ``StreamPortError``: `.tlsInvalidUserData` for a client context; `.invalidArgument`
///   naming the descriptor when it is not open, not a socket, not a TCP socket or not
///   listening (it is left open then); `.system` with the errno.
public func tcpServerStream(
    listeningSocket: CInt, tls: TLSContext, backlog: Int = 128, transcoder: Transcoder = .default,
    maxLineLength: Int = StreamDefaults.maxLineLength, logger: Logger = Logger(label: "StreamPorts"),
    proxyProtocol: ProxyProtocolConfiguration? = nil
) async throws -> ServerStream {
    let security = try serverSecurity(tls, input: "listeningSocket \(listeningSocket)", logger: logger)
    try checkListeningSocket(listeningSocket)
    return try await adopt(
        listeningSocket: listeningSocket, backlog: backlog, transcoder: transcoder, maxLineLength: maxLineLength,
        logger: logger, security: security, proxyProtocol: proxyProtocol)
}

/// The TLS layer of a server, or `.tlsInvalidUserData` for a client context.
private func serverSecurity(_ tls: TLSContext, input: String, logger: Logger) throws -> TLSChannelSecurity {
    guard tls.role == .server else {
        throw StreamPortError(
            .tlsInvalidUserData,
            "tcpServerStream(\"\(input)\"): a client TLS context cannot serve; use TLSContext.server(...)")
    }
    return TLSChannelSecurity(context: tls, failureLog: HandshakeFailureLog(logger: logger))
}

/// Connects to a TLS server and completes the handshake.
///
/// ```swift
/// let c = try await tcpClientStream("localhost:7443", tls: try TLSContext.client(trustRoots: "ca.pem"))
/// print(c.tls?.protocolVersion ?? "plaintext")   // TLSv1.3
/// ```
///
/// The server's certificate must name the context's ``TLSContext/serverName`` or, by default,
/// the host of `address`; for an IP literal (`127.0.0.1:7443`, `[::1]:7443`) the address is
/// checked against the certificate's IP subject alternative names and no SNI is sent.
/// - Parameters:
///   - address: `"host:port"`, `"[::1]:port"` or all digits (a port on loopback).
///   - tls: a client context.
///   - keepAlive: set SO_KEEPALIVE.
///   - coalesce: keep Nagle's algorithm on (false sets TCP_NODELAY).
///   - transcoder: the stream's transcoder.
///   - connectTimeout: how long each address may take to connect (the handshake has the
///     context's own timeout).
///   - maxLineLength: the stream's longest line, in bytes.
/// - Returns: the connected, secured stream.
/// - Throws: ``StreamPortError``: `.tlsHandshakeFailed` with the reason (untrusted issuer,
///   name mismatch, expired certificate, no common protocol version, a client certificate
///   required, the handshake timeout, the server closing mid-handshake),
///   `.tlsInvalidUserData` for a server context or a name unusable for SNI, and as the
///   plaintext form (`.invalidAddress`, `.hostNotFound`, `.connectionRefused`, `.timedOut`).
public func tcpClientStream(
    _ address: String, tls: TLSContext, keepAlive: Bool = false, coalesce: Bool = true,
    transcoder: Transcoder = .default,
    connectTimeout: Duration = StreamDefaults.connectTimeout, maxLineLength: Int = StreamDefaults.maxLineLength
) async throws -> ClientStream {
    let parsed = try StreamAddress.parse(address)
    guard tls.role == .client else {
        throw StreamPortError(
            .tlsInvalidUserData,
            "tcpClientStream(\"\(address)\"): a server TLS context cannot connect; use TLSContext.client(...)")
    }
    let security = TLSChannelSecurity(context: tls, serverName: sniName(tls.serverName, host: parsed.host))
    return try await connect(
        parsed, keepAlive: keepAlive, coalesce: coalesce, transcoder: transcoder, connectTimeout: connectTimeout,
        maxLineLength: maxLineLength, security: security)
}

/// The name sent as SNI and verified: the context's, else the address's host name; nil for
/// an IP literal (its address is verified instead).
func sniName(_ configured: String?, host: StreamAddress.Host?) -> String? {
    if let configured {
        return (try? StreamAddress.parse(configured, port: 0)).map { parsed in
            switch parsed.host {
            case .ipv4, .ipv6: nil
            default: configured
            }
        } ?? configured
    }
    if case .name(let name)? = host { return name }
    return nil
}

extension ClientStream {
    /// What the TLS handshake settled: protocol version, the peer certificate's subject, the
    /// ALPN protocol; nil on a plaintext stream.
    public var tls: TLSInfo? { (securitySession as? TLSSession)?.info }

    /// How the peer ended a TLS stream's input: `.closeNotify` (cleanly) or
    /// `.uncleanShutdown` (a FIN or reset without close_notify, which ends the stream the
    /// same way: check this to know whether the data may be truncated); nil while the input
    /// has not ended, and on a plaintext stream.
    public var tlsInputEnding: TLSInputEnding? { (securitySession as? TLSSession)?.inputEnding }

    /// Upgrades this plaintext stream to TLS in place (STARTTLS), at exactly its current
    /// position, with the context's role: a server context answers the handshake, a client
    /// context starts it.
    ///
    /// Pending output (the "220 ready to start TLS" reply) is flushed first. Bytes received but
    /// not yet read at that moment are refused: they came in plaintext after the request to
    /// upgrade, and executing them as if they had come over TLS is the STARTTLS command
    /// injection (CVE-2011-0411). The same transcoder and line state continue afterwards.
    ///
    /// ```swift
    /// if line == "STARTTLS" {
    ///     try stream.showln("220 ready to start TLS")
    ///     try await stream.startTLS(tls)
    /// }
    /// ```
    /// - Parameters:
    ///   - tls: the context.
    ///   - serverName: for a client context, the name to send and verify (default: the
    ///     context's ``TLSContext/serverName``, else the peer's IP address is verified).
    /// - Throws: ``StreamPortError``: `.operation` when unread bytes are buffered, the stream
    ///   is already secured, or it is closed (the stream is left as it was);
    ///   `.tlsHandshakeFailed` with the reason (the connection is then closed);
    ///   `.tlsInvalidUserData` for a name unusable for SNI.
    public func startTLS(_ tls: TLSContext, serverName: String? = nil) async throws {
        let name = tls.role == .client ? sniName(serverName ?? tls.serverName, host: nil) : nil
        try await upgradeSecurity(TLSChannelSecurity(context: tls, serverName: name))
    }
}

extension ServerStream {
    /// How many handshakes have failed on this TLS server (0 for a plaintext server).
    public var tlsHandshakeFailures: Int {
        (security as? TLSChannelSecurity)?.failureLog?.count ?? 0
    }
}
