import Logging
import NIOCore
import NIOPosix

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// Opens a listening TCP port (Slogan's `tcp_server_stream`).
///
/// ```swift
/// let server = try await tcpServerStream("*:2020")          // all interfaces
/// let local = try await tcpServerStream("[::1]:0")          // a free port on ::1
/// print(local.localPort)
/// ```
/// - Parameters:
///   - address: `"INTF:PORT"`, `"localhost:PORT"`, `"*:PORT"`, `"[::1]:PORT"`, a bare host or
///     unbracketed IPv6 literal with `port:`, or all digits (a port on loopback). See
///     ``StreamAddress``.
///   - port: the port, when not in `address` (must agree if in both).
///   - backlog: the listen backlog (default 128). It also bounds the accepted connections
///     waiting for ``ServerStream/read()``: at that many the server stops accepting (the
///     kernel's backlog then holds the next ones) until `read()` takes one.
///   - reuseAddress: set SO_REUSEADDR (default true).
///   - reusePort: set SO_REUSEPORT before binding (default false): several sockets, in this
///     process or others, may then listen on the same address and port, each with its own
///     accept queue, the kernel spreading new connections among them (each must set it; a
///     restart without refused connections starts the new process before stopping the old).
///   - transcoder: the transcoder of every accepted stream.
///   - maxLineLength: the accepted streams' longest line, in bytes.
///   - logger: where accept trouble (and connections refused for their PROXY header) is
///     logged.
///   - proxyProtocol: read a PROXY protocol header (v1 or v2) at the start of every
///     connection (nil, the default: none). See "PROXY protocol" below.
/// - Returns: the listening server stream.
/// - Throws: ``StreamPortError``: `.invalidAddress` or `.invalidArgument` (a negative
///   `backlog`, a `maxLineLength` below 1), both before any socket opens; `.hostNotFound`;
///   `.addressInUse` (`EADDRINUSE`), `.bindFailed` (`EACCES`, `EADDRNOTAVAIL`), or `.system`
///   with the errno.
///
/// A host name is looked up on NIO's blocking-I/O thread pool, not on the calling executor.
///
/// ## PROXY protocol
/// Behind a load balancer that sends the PROXY protocol (HAProxy's `send-proxy` or
/// `send-proxy-v2`, nginx's `proxy_protocol on`):
/// ```swift
/// let server = try await tcpServerStream(
///     "*:7001", proxyProtocol: try .init(trustedSources: ["10.0.0.0/8", "127.0.0.1/32"]))
/// ```
/// Every connection must then start with a header; its source and destination become the
/// stream's ``ClientStream/remoteEndpoint`` and ``ClientStream/localEndpoint`` (the socket's
/// own stay available as ``ClientStream/socketRemoteEndpoint`` and
/// ``ClientStream/socketLocalEndpoint``), and the access log and metrics name the header's
/// source. A LOCAL header (a health check) or v1 `UNKNOWN` keeps the socket's endpoints. The
/// bytes after the header belong to the stream. A connection whose header is missing,
/// malformed, truncated or too long, that comes from a source outside `trustedSources`, or
/// whose header is not complete within `headerTimeout`, is closed without ever reaching
/// ``ServerStream/read()``: it is logged at `.warning` (at most 5 lines a second), counted in
/// ``ServerStream/proxyHeaderFailures`` and in the metrics as an error with code
/// `proxyHeader`, and no other connection is affected.
public func tcpServerStream(
    _ address: String, port: Int? = nil, backlog: Int = 128, reuseAddress: Bool = true, reusePort: Bool = false,
    transcoder: Transcoder = .default, maxLineLength: Int = StreamDefaults.maxLineLength,
    logger: Logger = Logger(label: "StreamPorts"), proxyProtocol: ProxyProtocolConfiguration? = nil
) async throws -> ServerStream {
    let parsed = try StreamAddress.parse(address, port: port)
    return try await listen(
        parsed, input: address, backlog: backlog, reuseAddress: reuseAddress, reusePort: reusePort,
        transcoder: transcoder, maxLineLength: maxLineLength, logger: logger, proxyProtocol: proxyProtocol)
}

/// Opens a listening TCP port on the loopback interface only (`tcpServerStream(2020)`, as in
/// Slogan: never all interfaces by surprise).
/// - Parameters:
///   - port: the port (0: any free one).
///   - backlog: the listen backlog; also the most accepted connections waiting for `read()`.
///   - reuseAddress: set SO_REUSEADDR.
///   - reusePort: set SO_REUSEPORT before binding.
///   - transcoder: the transcoder of every accepted stream.
///   - maxLineLength: the accepted streams' longest line, in bytes.
///   - logger: where accept trouble is logged.
///   - proxyProtocol: read a PROXY protocol header first on every connection (nil: none),
///     as in the string form.
/// - Returns: the listening server stream.
/// - Throws: ``StreamPortError`` as ``tcpServerStream(_:port:backlog:reuseAddress:reusePort:transcoder:maxLineLength:logger:proxyProtocol:)``.
public func tcpServerStream(
    _ port: Int, backlog: Int = 128, reuseAddress: Bool = true, reusePort: Bool = false,
    transcoder: Transcoder = .default, maxLineLength: Int = StreamDefaults.maxLineLength,
    logger: Logger = Logger(label: "StreamPorts"), proxyProtocol: ProxyProtocolConfiguration? = nil
) async throws -> ServerStream {
    guard (0...65535).contains(port) else {
        throw StreamPortError.invalid("\(port)", "port \(port) is out of range 0–65535")
    }
    return try await listen(
        StreamAddress(host: .ipv4("127.0.0.1"), port: port), input: "\(port)", backlog: backlog,
        reuseAddress: reuseAddress, reusePort: reusePort, transcoder: transcoder, maxLineLength: maxLineLength,
        logger: logger, proxyProtocol: proxyProtocol)
}

/// Opens a listening TCP port on a raw address: 4 bytes (IPv4) or 16 bytes (IPv6).
/// - Parameters:
///   - address: the address bytes in network order.
///   - port: the port.
///   - backlog: the listen backlog.
///   - reuseAddress: set SO_REUSEADDR.
///   - reusePort: set SO_REUSEPORT before binding.
///   - transcoder: the transcoder of every accepted stream.
/// - Returns: the listening server stream.
/// - Throws: ``StreamPortError`` `.invalidAddress` for another byte count; as the string form.
public func tcpServerStream(
    _ address: [UInt8], port: Int, backlog: Int = 128, reuseAddress: Bool = true, reusePort: Bool = false,
    transcoder: Transcoder = .default
) async throws -> ServerStream {
    let parsed = try StreamAddress.raw(address, port: port)
    return try await listen(
        parsed, input: parsed.description, backlog: backlog, reuseAddress: reuseAddress, reusePort: reusePort,
        transcoder: transcoder,
        maxLineLength: StreamDefaults.maxLineLength, logger: Logger(label: "StreamPorts"))
}

/// Opens a listening TCP port on an IPv6 address given as 8 16-bit groups (Gambit's form).
/// - Parameters:
///   - address: the eight groups.
///   - port: the port.
///   - backlog: the listen backlog; also the most accepted connections waiting for `read()`.
///   - reuseAddress: set SO_REUSEADDR.
///   - reusePort: set SO_REUSEPORT before binding.
///   - transcoder: the transcoder of every accepted stream.
/// - Returns: the listening server stream.
/// - Throws: ``StreamPortError`` `.invalidAddress` for another group count; as the string form.
public func tcpServerStream(
    _ address: [UInt16], port: Int, backlog: Int = 128, reuseAddress: Bool = true, reusePort: Bool = false,
    transcoder: Transcoder = .default
) async throws -> ServerStream {
    let parsed = try StreamAddress.raw(address, port: port)
    return try await listen(
        parsed, input: parsed.description, backlog: backlog, reuseAddress: reuseAddress, reusePort: reusePort,
        transcoder: transcoder,
        maxLineLength: StreamDefaults.maxLineLength, logger: Logger(label: "StreamPorts"))
}

/// Binds and listens on `address`; with `security`, each accepted connection is handed out
/// only once its handshake has completed; with `proxyProtocol`, only once its PROXY header
/// has been read (before any handshake).
package func listen(
    _ address: StreamAddress, input: String, backlog: Int, reuseAddress: Bool, reusePort: Bool = false,
    transcoder: Transcoder, maxLineLength: Int, logger: Logger, security: (any ChannelSecurity)? = nil,
    proxyProtocol: ProxyProtocolConfiguration? = nil
) async throws -> ServerStream {
    guard backlog >= 0 else { throw StreamPortError.invalidArgument("backlog \(backlog)", "it must be 0 or more") }
    try checkMaxLineLength(maxLineLength)
    guard let target = try await address.resolvedOffLoop(forListening: true).first else {
        throw StreamPortError(.hostNotFound, "\(address) has no address to bind")
    }
    let queue = AcceptQueue(limit: backlog)
    let metrics = ServerMetrics.Slot()
    let proxy = proxyProtocol.map { ProxyProtocolGate(configuration: $0, logger: logger) }
    var bootstrap = makeServerBootstrap(
        queue: queue, backlog: backlog, reuseAddress: reuseAddress, reusePort: reusePort, transcoder: transcoder,
        maxLineLength: maxLineLength, metrics: metrics, logger: logger, security: security, proxy: proxy)
    if target.protocol == .inet6, case .anyInterface = address.host {
        bootstrap = bootstrap.serverChannelOption(
            ChannelOptions.Types.SocketOption(
                level: .init(rawValue: Int32(IPPROTO_IPV6)), name: .init(rawValue: Int32(IPV6_V6ONLY))), value: 0)
    }
    let channel: any Channel
    do {
        channel = try await bootstrap.bind(to: target).get()
    } catch {
        throw StreamPortError.from(error, target.streamDescription)
    }
    metrics.open(server: channel.localAddress?.streamDescription ?? input)
    return ServerStream(
        channel: channel, accepted: queue, transcoder: transcoder, requestedAddress: address, logger: logger,
        security: security, proxy: proxy)
}

/// The bootstrap every server stream uses: pull-based child channels that feed ``ClientStream``s
/// into `queue` (with `proxy`, once their PROXY headers are read; with `security`, once their
/// handshakes have completed). A nil `reuseAddress` leaves SO_REUSEADDR as it is (an adopted
/// socket); `reusePort` sets SO_REUSEPORT, which NIO has no named option for (NIO applies
/// server channel options before it binds).
func makeServerBootstrap(
    queue: AcceptQueue, backlog: Int, reuseAddress: Bool?, reusePort: Bool = false, transcoder: Transcoder,
    maxLineLength: Int, metrics: ServerMetrics.Slot, logger: Logger, security: (any ChannelSecurity)? = nil,
    proxy: ProxyProtocolGate? = nil
) -> ServerBootstrap {
    var bootstrap = ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
        .serverChannelOption(.backlog, value: Int32(clamping: backlog))
    if let reuseAddress {
        bootstrap = bootstrap.serverChannelOption(.socketOption(.so_reuseaddr), value: reuseAddress ? 1 : 0)
    }
    if reusePort {
        bootstrap = bootstrap.serverChannelOption(
            ChannelOptions.Types.SocketOption(level: .socket, name: .init(rawValue: SO_REUSEPORT)), value: 1)
    }
    return
        bootstrap
        .serverChannelInitializer { channel in
            channel.eventLoop.makeCompletedFuture {
                try channel.pipeline.syncOperations.addHandler(AcceptController(queue: queue, logger: logger))
            }
        }
        // TCP_NODELAY: NIO sets it on the listening socket, and accepted sockets inherit it.
        // The child options are set here, synchronously, rather than with
        // `childChannelOption`, which chains a future per option for every connection.
        .childChannelInitializer { channel in
            channel.eventLoop.makeCompletedFuture {
                guard let options = channel.syncOptions else { throw ChannelError.operationUnsupported }
                try options.setOption(.autoRead, value: false)
                try options.setOption(.allowRemoteHalfClosure, value: true)
                // Receive buffers start at 512 bytes (NIO's default is 2 KiB) and grow with
                // the traffic: an idle connection holds less.
                try options.setOption(
                    .recvAllocator, value: AdaptiveRecvByteBufferAllocator(minimum: 64, initial: 512, maximum: 65536))
                let counters = metrics.metrics
                let shared = StreamShared(metrics: counters)
                try channel.pipeline.syncOperations.addHandler(StreamHandler(shared: shared))
                let stream = try ClientStream(
                    channel: channel, shared: shared, transcoder: transcoder, maxLineLength: maxLineLength)
                // The connection counts as accepted (the access log, the metrics) once it is
                // ready for `read()`: after its PROXY header, after its TLS handshake.
                let admit = {
                    if let security {
                        try security.secureAccepted(
                            channel, stream: stream, queue: queue, metrics: counters, logger: logger)
                    } else {
                        ConnectionLog.opened(stream, metrics: counters, logger: logger)
                        if !queue.push(stream) { channel.close(promise: nil) }
                    }
                }
                // Not before the channel is active: see AdmitWhenActive. (The PROXY header
                // and the TLS handshake wait for it anyway.)
                guard let proxy else {
                    return try channel.pipeline.syncOperations.addHandler(
                        AdmitWhenActive(admit: admit), position: .first)
                }
                let reader = ProxyHeaderHandler(gate: proxy, metrics: counters) { header in
                    shared.proxied.withLock { $0 = ProxiedConnection(header: header) }
                    try admit()
                }
                try channel.pipeline.syncOperations.addHandler(reader, position: .first)
            }
        }
}

/// Connects to a TCP server (Slogan's `tcp_client_stream`), trying every resolved address,
/// IPv6 and IPv4, in the resolver's order.
///
/// ```swift
/// let client = try await tcpClientStream("localhost:2020")
/// try client.showln("hello")
/// print(try await client.readLine() ?? "")
/// ```
/// - Parameters:
///   - address: `"host:port"`, `"[::1]:port"` or all digits (a port on loopback).
///   - keepAlive: set SO_KEEPALIVE.
///   - coalesce: keep Nagle's algorithm on (false sets TCP_NODELAY).
///   - transcoder: the stream's transcoder.
///   - connectTimeout: how long each address may take.
///   - maxLineLength: the stream's longest line, in bytes.
/// - Returns: the connected stream.
/// - Throws: ``StreamPortError``: `.invalidAddress` or `.invalidArgument` (a `maxLineLength`
///   below 1), both before any socket opens; `.hostNotFound`; `.connectionRefused`
///   (`ECONNREFUSED`); `.timedOut` (`connectTimeout`, `ETIMEDOUT`); `.system` with the errno.
///
/// A host name is looked up on NIO's blocking-I/O thread pool, not on the calling executor.
public func tcpClientStream(
    _ address: String, keepAlive: Bool = false, coalesce: Bool = true, transcoder: Transcoder = .default,
    connectTimeout: Duration = StreamDefaults.connectTimeout, maxLineLength: Int = StreamDefaults.maxLineLength
) async throws -> ClientStream {
    let parsed = try StreamAddress.parse(address)
    return try await connect(
        parsed, keepAlive: keepAlive, coalesce: coalesce, transcoder: transcoder, connectTimeout: connectTimeout,
        maxLineLength: maxLineLength)
}

/// Connects to `address`, optionally from a chosen local port; with `security`, returns once
/// the handshake has completed.
package func connect(
    _ address: StreamAddress, keepAlive: Bool, coalesce: Bool, transcoder: Transcoder,
    connectTimeout: Duration, maxLineLength: Int, localPort: Int? = nil, security: (any ChannelSecurity)? = nil
) async throws -> ClientStream {
    try checkMaxLineLength(maxLineLength)
    return try await connect(
        to: address.resolvedOffLoop(forListening: false), name: address.description, keepAlive: keepAlive,
        coalesce: coalesce,
        transcoder: transcoder, connectTimeout: connectTimeout, maxLineLength: maxLineLength, localPort: localPort,
        security: security)
}

/// Connects to the first of `targets` that accepts.
func connect(
    to targets: [SocketAddress], name: String, keepAlive: Bool, coalesce: Bool, transcoder: Transcoder,
    connectTimeout: Duration, maxLineLength: Int, localPort: Int? = nil,
    observer: (@Sendable (StreamObservation) -> Void)? = nil, security: (any ChannelSecurity)? = nil
) async throws -> ClientStream {
    let timeout = TimeAmount(connectTimeout)
    var lastError: StreamPortError?
    for target in targets {
        let shared = StreamShared(observer: observer)
        let handshake = HandshakeSlot()
        var bootstrap = ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connectTimeout(timeout)
            .channelOption(.autoRead, value: false)
            .channelOption(.allowRemoteHalfClosure, value: true)
            .channelOption(.socketOption(.so_keepalive), value: keepAlive ? 1 : 0)
            .channelOption(.tcpOption(.tcp_nodelay), value: coalesce ? 0 : 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(StreamHandler(shared: shared))
                    if let security { handshake.set(try security.secure(channel)) }
                }
            }
        if let localPort {
            let any = target.protocol == .inet6 ? "::" : "0.0.0.0"
            bootstrap =
                bootstrap
                .channelOption(.socketOption(.so_reuseaddr), value: 1)
                .bind(to: try SocketAddress(ipAddress: any, port: localPort))
        }
        let channel: any Channel
        do {
            channel = try await bootstrap.connect(to: target).get()
        } catch {
            lastError = StreamPortError.from(error, target.streamDescription)
            continue
        }
        do {
            if let secured = handshake.get() {
                // A failed handshake is not the address's fault: no other address is tried.
                let session = try await secured.get()
                shared.session.withLock { $0 = session }
            }
            return try ClientStream(
                channel: channel, shared: shared, transcoder: transcoder, maxLineLength: maxLineLength)
        } catch {
            try? await channel.close()
            throw StreamPortError.from(error, target.streamDescription)
        }
    }
    throw lastError ?? StreamPortError(.hostNotFound, "\(name) has no address")
}

/// `.invalidArgument` unless `maxLineLength` is 1 or more.
func checkMaxLineLength(_ maxLineLength: Int) throws(StreamPortError) {
    guard maxLineLength > 0 else {
        throw StreamPortError.invalidArgument("maxLineLength \(maxLineLength)", "it must be 1 or more (bytes)")
    }
}

extension TimeAmount {
    /// A Swift `Duration` as NIO's time amount (negative durations become zero).
    init(_ duration: Duration) {
        let c = duration.components
        self = .nanoseconds(Swift.max(0, c.seconds * 1_000_000_000 + c.attoseconds / 1_000_000_000))
    }
}
