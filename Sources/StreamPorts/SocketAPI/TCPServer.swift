import Logging
import NIOCore
import NIOPosix
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// A step-wise server: create, set options, bind, listen, accept — Falcon's `TCPServer`
/// (seed 000) and Lua SocketLib's `socket.tcp()` server (seed 001), on the same
/// ``ServerStream`` and ``ClientStream`` types as ``tcpServerStream(_:port:backlog:reuseAddress:reusePort:transcoder:maxLineLength:logger:proxyProtocol:)``.
///
/// ```swift
/// let server = TCPServer()                       // socket.tcp()
/// try server.setOption(.reuseAddress, true)      // setoption("reuseaddr", true)
/// try server.bind("localhost", 0)                // loopback only; "*" for all interfaces
/// try await server.listen(16)
/// if let client = try await server.accept(timeout: 500) { … }   // milliseconds; nil on timeout
/// await server.dispose()
/// ```
///
/// `bind` reserves the address at once (errors surface there); `listen` starts accepting.
/// `accept` on a bound server that never called `listen` listens with a backlog of 128, as
/// Falcon's bind-then-accept flow expects. Errors are thrown (Lua's `nil, err`); ``lastError``
/// keeps the OS error number of the last failure.
public final class TCPServer: Sendable {
    /// Socket options settable before `bind`.
    public enum Option: String, Sendable, Hashable, CaseIterable {
        /// SO_REUSEADDR (Lua's `"reuseaddr"`); on by default.
        case reuseAddress = "reuseaddr"
        /// SO_REUSEPORT (Lua's `"reuseport"`); off by default. Every socket listening on the
        /// port, in this process or another, must set it.
        case reusePort = "reuseport"
        /// IPV6_V6ONLY for an IPv6 wildcard (off by default: dual stack).
        case ipv6Only = "ipv6only"
    }

    private struct State {
        var reuseAddress = true
        var reusePort = false
        var ipv6Only = false
        var fd: Int32 = -1
        /// The address bound to (the port as asked: 0 until `listen` or ``localPort``).
        var bound: SocketAddress?
        var server: ServerStream?
        var disposed = false
        var lastError: Int32 = 0
    }

    private let state = Mutex(State())
    /// The transcoder of accepted streams.
    public let transcoder: Transcoder
    private let maxLineLength: Int
    package let logger: Logger

    /// Creates an unbound server (Falcon's constructor, Lua's `socket.tcp()`).
    /// - Parameters:
    ///   - transcoder: the transcoder of accepted streams.
    ///   - maxLineLength: the accepted streams' longest line, in bytes.
    ///   - logger: where accept trouble is logged.
    public init(
        transcoder: Transcoder = .default, maxLineLength: Int = StreamDefaults.maxLineLength,
        logger: Logger = Logger(label: "StreamPorts")
    ) {
        self.transcoder = transcoder
        self.maxLineLength = maxLineLength
        self.logger = logger
    }

    deinit {
        let fd = state.withLock { $0.fd }
        if fd >= 0 { try? Syscalls.close(fd, what: "a disposed server's socket") }
    }

    /// The OS error number of the last failure (0 when none), Falcon's `lastError`.
    public var lastError: Int32 { state.withLock { $0.lastError } }

    /// The bound host address alone, as seeds 003 and 004 define it (`127.0.0.1`, `::`,
    /// `::1`; IPv6 per RFC 5952), nil before `bind`. The port is ``localPort``.
    public var localAddress: String? { state.withLock { s in (s.server?.channel.localAddress ?? s.bound)?.streamHost } }

    /// The bound address and port as one string, `HOST:PORT` with an IPv6 host bracketed
    /// (`127.0.0.1:41234`, `[::]:2020`), nil before `bind`.
    public var localEndpoint: String? {
        guard let host = localAddress else { return nil }
        return SocketAddress.endpoint(host: host, port: localPort)
    }

    /// The bound port (the real one when 0 was asked), 0 before `bind`.
    public var localPort: Int {
        state.withLock { s in
            if let server = s.server { return server.localPort }
            guard s.fd >= 0 else { return 0 }
            return (try? Syscalls.boundPort(s.fd, what: "the bound socket")) ?? 0
        }
    }

    /// Sets an option (before `bind`).
    /// - Parameters:
    ///   - option: the option.
    ///   - value: on or off.
    /// - Throws: ``StreamPortError`` `.operation` after `bind`.
    public func setOption(_ option: Option, _ value: Bool) throws {
        try state.withLock { (s: inout State) throws(StreamPortError) in
            guard s.bound == nil, !s.disposed else {
                throw StreamPortError(.operation, "setOption(\(option.rawValue)) must come before bind")
            }
            switch option {
            case .reuseAddress: s.reuseAddress = value
            case .reusePort: s.reusePort = value
            case .ipv6Only: s.ipv6Only = value
            }
        }
    }

    /// Sets an option by Lua's name (`"reuseaddr"`, `"reuseport"`, `"ipv6only"`).
    /// - Parameters:
    ///   - name: the option's name.
    ///   - value: on or off.
    /// - Throws: ``StreamPortError`` `.operation` for an unknown name or after `bind`.
    public func setOption(_ name: String, _ value: Bool) throws {
        guard let option = Option(rawValue: name) else {
            throw StreamPortError(
                .operation,
                "unknown option \"\(name)\"; known: \(Option.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        try setOption(option, value)
    }

    /// Binds to a service on every interface, or to a full address (Falcon's one-argument
    /// `bind`): `"8080"`, `"http"` (the services database), `"[::1]:8080"`, `"localhost:8080"`.
    ///
    /// Synchronous, as in the seeds: a host name or service name is looked up on the calling
    /// thread (`getaddrinfo`, `getservbyname`), which blocks it; from async code on an event
    /// loop, prefer numeric addresses or ``tcpServerStream(_:port:backlog:reuseAddress:reusePort:transcoder:maxLineLength:logger:proxyProtocol:)``.
    /// - Parameter addressOrService: a service name, a port number or `HOST:PORT`.
    /// - Throws: ``StreamPortError`` (`.invalidAddress`, `.hostNotFound`, `.addressInUse`, …).
    public func bind(_ addressOrService: String) throws {
        if addressOrService.contains(":") {
            try bind(address: recording { try StreamAddress.parse(addressOrService) })
        } else {
            try bind(address: StreamAddress(host: .anyInterface, port: recording { try servicePort(addressOrService) }))
        }
    }

    /// Binds to `address` and a service or port number (Falcon's two-argument `bind`). Names are
    /// looked up on the calling thread, as in ``bind(_:)``.
    /// - Parameters:
    ///   - address: a local address: `"localhost"` (loopback only), `"*"`, `"0.0.0.0"`, `"::"`, …
    ///   - service: a port number or a service name (`"http"` → 80).
    /// - Throws: ``StreamPortError`` (`.invalidAddress`, `.hostNotFound`, `.addressInUse`, …).
    public func bind(_ address: String, _ service: String) throws {
        let port = try recording { try servicePort(service) }
        try bind(address: recording { try StreamAddress.parse(address, port: port) })
    }

    /// Binds to `host` and `port` (Lua's `bind(host, port)`): `"*"` listens on all interfaces,
    /// `"localhost"` on loopback only. A name is looked up on the calling thread, as in ``bind(_:)``.
    /// - Parameters:
    ///   - host: the local host.
    ///   - port: the port (0: any free one).
    /// - Throws: ``StreamPortError`` (`.invalidAddress`, `.hostNotFound`, `.addressInUse`, …).
    public func bind(_ host: String, _ port: Int) throws {
        try bind(address: recording { try StreamAddress.parse(host, port: port) })
    }

    private func bind(address: StreamAddress) throws {
        guard let target = try recording({ try address.resolveForListening().first }) else {
            throw StreamPortError(.hostNotFound, "\(address) has no address")
        }
        try state.withLock { (s: inout State) throws(StreamPortError) in
            guard !s.disposed else { throw StreamPortError(.closed, "bind on a disposed server") }
            if let bound = s.bound { throw StreamPortError(.operation, "already bound to \(bound.streamDescription)") }
            do throws(StreamPortError) {
                s.fd = try TCPServer.boundSocket(
                    target, reuseAddress: s.reuseAddress, reusePort: s.reusePort, ipv6Only: s.ipv6Only)
                s.bound = target
            } catch {
                s.lastError = error.errno ?? s.lastError
                throw error
            }
        }
    }

    /// A socket bound to `target` with the options set, or closed again on failure.
    private static func boundSocket(
        _ target: SocketAddress, reuseAddress: Bool, reusePort: Bool, ipv6Only: Bool
    ) throws(StreamPortError) -> Int32 {
        let what = target.streamDescription
        let fd = try Syscalls.streamSocket(family: Int32(target.protocol.rawValue), what: what)
        do {
            try Syscalls.setOption(fd, level: SOL_SOCKET, name: SO_REUSEADDR, value: reuseAddress ? 1 : 0, what: what)
            if reusePort { try Syscalls.setOption(fd, level: SOL_SOCKET, name: SO_REUSEPORT, value: 1, what: what) }
            if target.protocol == .inet6 {
                try Syscalls.setOption(
                    fd, level: Int32(IPPROTO_IPV6), name: IPV6_V6ONLY, value: ipv6Only ? 1 : 0, what: what)
            }
            try Syscalls.bind(fd, to: target, what: what)
            return fd
        } catch {
            try? Syscalls.close(fd, what: what)  // the bind's error is the one to report
            throw error
        }
    }

    /// Starts accepting connections (Lua's `listen(backlog)`).
    /// - Parameter backlog: the listen backlog; also the most accepted connections waiting for
    ///   ``accept(timeout:)`` (at that many the server stops accepting until one is taken).
    /// - Throws: ``StreamPortError`` `.operation` before `bind` or when already listening,
    ///   `.invalidArgument` for a negative backlog or the server's `maxLineLength` below 1, or
    ///   the OS error (``lastError`` keeps its number).
    public func listen(_ backlog: Int = 128) async throws {
        try await listen(backlog, security: nil)
    }

    /// ``listen(_:)`` with a security layer (TLS, from StreamPortsTLS) that every accepted
    /// connection goes through before ``accept(timeout:)`` yields it.
    package func listen(_ backlog: Int, security: (any ChannelSecurity)?) async throws {
        guard backlog >= 0 else { throw StreamPortError.invalidArgument("backlog \(backlog)", "it must be 0 or more") }
        try checkMaxLineLength(maxLineLength)
        let fd = try state.withLock { (s: inout State) throws(StreamPortError) -> Int32 in
            let name = s.bound?.streamDescription ?? "?"
            guard s.server == nil else { throw StreamPortError(.operation, "already listening on \(name)") }
            guard s.fd >= 0 else { throw StreamPortError(.operation, "listen before bind") }
            do throws(StreamPortError) {
                try Syscalls.listen(s.fd, backlog: Int32(clamping: backlog), what: name)
            } catch {
                s.lastError = error.errno ?? s.lastError
                throw error
            }
            let fd = s.fd
            s.fd = -1  // NIO owns it from here
            return fd
        }
        do {
            let server = try await adopt(
                listeningSocket: fd, backlog: backlog, transcoder: transcoder, maxLineLength: maxLineLength,
                logger: logger, security: security, requestedAddress: StreamAddress(host: .anyInterface, port: 0))
            state.withLock { $0.server = server }
        } catch {
            try? Syscalls.close(fd, what: "listen")  // NIO did not take it
            throw recordingError(StreamPortError.from(error, "listen"))
        }
    }

    /// Waits for a connection (Falcon's `accept`): nil when none arrives within `timeout`
    /// milliseconds; 0 returns at once with a pending connection or nil; no timeout waits.
    /// - Parameter timeout: milliseconds, or nil to wait for ever.
    /// - Returns: the accepted stream, or nil on timeout or once disposed.
    /// - Throws: ``StreamPortError`` `.operation` before `bind`.
    public func accept(timeout: Int? = nil) async throws -> ClientStream? {
        var current = state.withLock { $0.server }
        if current == nil { current = try await listenedOnDemand() }
        guard let server = current else { return nil }
        guard let timeout else { return await server.read() }
        return await server.read(timeout: .milliseconds(max(0, timeout)))
    }

    private func listenedOnDemand() async throws -> ServerStream? {
        if state.withLock({ $0.disposed }) { return nil }
        try await listen()
        return state.withLock { $0.server }
    }

    /// Closes the server and frees its resources. Idempotent.
    public func dispose() async {
        let (server, fd) = state.withLock { s -> (ServerStream?, Int32) in
            let r = (s.server, s.fd)
            s.server = nil
            s.fd = -1
            s.disposed = true
            return r
        }
        if fd >= 0 { try? Syscalls.close(fd, what: "dispose") }
        await server?.close()
    }

    private func recording<T>(_ body: () throws -> T) throws -> T {
        do { return try body() } catch { throw recordingError(error) }
    }

    private func recordingError(_ error: any Error) -> any Error {
        if let e = error as? StreamPortError { state.withLock { $0.lastError = e.errno ?? $0.lastError } }
        return error
    }
}
