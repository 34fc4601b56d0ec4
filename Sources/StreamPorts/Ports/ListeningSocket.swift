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

/// Serves a TCP socket that is already bound and listening, handed over by systemd's socket
/// activation, a supervisor or a parent process (`tcpServerStream(listeningSocket: 3)`).
///
/// ```swift
/// let server = try await tcpServerStream(listeningSocket: 3)   // systemd's first socket
/// print(server.localEndpoint)                                  // as the socket was bound
/// ```
///
/// The socket's options (SO_REUSEADDR, SO_REUSEPORT, its listen backlog) stay as its creator
/// set them. From a successful return the server stream owns the descriptor: closing the
/// stream closes it.
/// - Parameters:
///   - listeningSocket: the descriptor: an IPv4 or IPv6 stream socket on which `listen(2)` has
///     been called.
///   - backlog: the most accepted connections waiting for ``ServerStream/read()`` (default 128);
///     the kernel's listen backlog is the one the socket was given.
///   - transcoder: the transcoder of every accepted stream.
///   - maxLineLength: the accepted streams' longest line, in bytes.
///   - logger: where accept trouble is logged.
///   - proxyProtocol: read a PROXY protocol header first on every connection (nil: none), as
///     in `tcpServerStream(_:port:backlog:reuseAddress:reusePort:transcoder:maxLineLength:logger:proxyProtocol:)`.
/// - Returns: the listening server stream.
/// - Throws: ``StreamPortError`` `.invalidArgument`, naming the descriptor and the reason, when
///   it is not open, not a socket, not a TCP (IPv4 or IPv6 stream) socket, or not listening,
///   or for a negative `backlog` or a `maxLineLength` below 1 (the descriptor is left open,
///   still the caller's); `.system` with the errno when NIO cannot take it (it is then closed).
public func tcpServerStream(
    listeningSocket: CInt, backlog: Int = 128, transcoder: Transcoder = .default,
    maxLineLength: Int = StreamDefaults.maxLineLength, logger: Logger = Logger(label: "StreamPorts"),
    proxyProtocol: ProxyProtocolConfiguration? = nil
) async throws -> ServerStream {
    try checkListeningSocket(listeningSocket)
    return try await adopt(
        listeningSocket: listeningSocket, backlog: backlog, transcoder: transcoder, maxLineLength: maxLineLength,
        logger: logger, proxyProtocol: proxyProtocol)
}

/// `.invalidArgument` unless `fd` is an open, listening IPv4 or IPv6 stream socket.
package func checkListeningSocket(_ fd: CInt) throws(StreamPortError) {
    let name = "listeningSocket \(fd)"
    guard fd >= 0 else { throw .invalidArgument(name, "it is not a file descriptor") }
    let type: CInt
    do {
        type = try Syscalls.option(fd, level: SOL_SOCKET, name: SO_TYPE, what: "descriptor \(fd)")
    } catch {
        switch error.errno {
        case EBADF: throw .invalidArgument(name, "it is not an open file descriptor")
        case ENOTSOCK: throw .invalidArgument(name, "it is not a socket")
        default: throw error
        }
    }
    guard type == CInt(SOCK_STREAM.rawValue) else {
        throw .invalidArgument(name, "it is not a stream socket (SO_TYPE \(type); SOCK_STREAM expected)")
    }
    let family = try Syscalls.option(fd, level: SOL_SOCKET, name: SO_DOMAIN, what: "descriptor \(fd)")
    guard family == AF_INET || family == AF_INET6 else {
        throw .invalidArgument(name, "it is not a TCP socket (address family \(family); AF_INET or AF_INET6 expected)")
    }
    guard try Syscalls.option(fd, level: SOL_SOCKET, name: SO_ACCEPTCONN, what: "descriptor \(fd)") != 0 else {
        throw .invalidArgument(name, "it is not listening (listen(2) has not been called on it)")
    }
}

/// Serves `fd`, bound and listening (checked by the caller), as a server stream; with
/// `security`, each accepted connection is handed out once its handshake has completed. NIO
/// takes the descriptor: after a failure here it has been closed, unless NIO could not take it
/// at all. SO_REUSEADDR is left as the socket's creator set it.
package func adopt(
    listeningSocket fd: CInt, backlog: Int, transcoder: Transcoder, maxLineLength: Int, logger: Logger,
    security: (any ChannelSecurity)? = nil, requestedAddress: StreamAddress? = nil,
    proxyProtocol: ProxyProtocolConfiguration? = nil
) async throws -> ServerStream {
    guard backlog >= 0 else { throw StreamPortError.invalidArgument("backlog \(backlog)", "it must be 0 or more") }
    try checkMaxLineLength(maxLineLength)
    let queue = AcceptQueue(limit: backlog)
    let metrics = ServerMetrics.Slot()
    let proxy = proxyProtocol.map { ProxyProtocolGate(configuration: $0, logger: logger) }
    let bootstrap = makeServerBootstrap(
        queue: queue, backlog: backlog, reuseAddress: nil, transcoder: transcoder, maxLineLength: maxLineLength,
        metrics: metrics, logger: logger, security: security, proxy: proxy)
    let channel: any Channel
    do {
        channel = try await bootstrap.withBoundSocket(fd).get()
    } catch {
        throw StreamPortError.from(error, "listening socket \(fd)")
    }
    let endpoint = channel.localAddress?.streamDescription ?? "listening socket \(fd)"
    metrics.open(server: endpoint)
    let requested =
        requestedAddress ?? (try? StreamAddress.parse(endpoint)) ?? StreamAddress(host: .anyInterface, port: 0)
    return ServerStream(
        channel: channel, accepted: queue, transcoder: transcoder, requestedAddress: requested, logger: logger,
        security: security, proxy: proxy)
}
