import NIOCore
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// A TCP socket with states and events (seed 004's `TcpSocket`), built on ``ClientStream``.
///
/// States: ``State/unconnected`` → `connect` → ``State/hostLookup`` → ``State/connecting`` →
/// ``State/connected``; `disconnect` → ``State/closing`` (pending output is written) →
/// ``State/unconnected``; `bind(port)` → ``State/bound``. The seed's event handlers are an
/// `AsyncSequence` of ``Event``s. If the remote host closes, `.error(.remoteHostClosed)` comes
/// (still in ``State/connected``) before `.disconnected`.
///
/// ```swift
/// let socket = TCPSocket()
/// try await socket.connect("localhost", 2020)
/// try socket.stream?.showln("hello")
/// for await event in socket.events {
///     if case .readyRead = event { print(try await socket.readLine() ?? "") }
///     if case .disconnected = event { break }
/// }
/// ```
public final class TCPSocket: Sendable {
    /// The seed's states.
    public enum State: String, Sendable, Hashable {
        case unconnected, hostLookup, connecting, connected, bound, closing
    }

    /// The seed's event handlers, as values.
    public enum Event: Sendable, Hashable {
        case hostFound
        case connected
        case stateChanged(State)
        /// New data arrived; the number of received bytes not yet read.
        case readyRead(bytesAvailable: Int)
        case bytesWritten(Int)
        case error(ErrorKind)
        case disconnected
    }

    private final class Core: Sendable {
        struct Fields {
            var state: State = .unconnected
            var error: ErrorKind?
            var errorString = ""
            var disconnectedSent = true
        }
        let fields = Mutex(Fields())
        let continuation: AsyncStream<Event>.Continuation
        /// Closes the current connection's channel (set once connected).
        let closeChannel = Mutex<(any Channel)?>(nil)

        init(continuation: AsyncStream<Event>.Continuation) { self.continuation = continuation }

        func transition(_ state: State) {
            let changed = fields.withLock { f -> Bool in
                guard f.state != state else { return false }
                f.state = state
                if state == .hostLookup { f.disconnectedSent = false }
                return true
            }
            if changed { continuation.yield(.stateChanged(state)) }
        }

        func fail(_ error: StreamPortError) {
            let kind = ErrorKind(error)
            fields.withLock { f in
                f.error = kind
                f.errorString = error.message
            }
            continuation.yield(.error(kind))
        }

        /// Unconnected, then `.disconnected`, once per connection.
        func closed() {
            let send = fields.withLock { f -> Bool in
                let send = !f.disconnectedSent
                f.disconnectedSent = true
                return send
            }
            transition(.unconnected)
            if send { continuation.yield(.disconnected) }
        }
    }

    private let core: Core
    private let connection = Mutex<(stream: ClientStream?, localPort: Int?)>((nil, nil))
    /// The transcoder of the connection's stream.
    public let transcoder: Transcoder
    /// The events, in order. One consumer. The newest ``eventBufferLimit`` events wait for it;
    /// one that falls further behind (or never iterates) loses the oldest, since the peer
    /// drives `.readyRead` and the buffer must not grow with its traffic.
    public let events: AsyncStream<Event>
    /// How many events wait for a consumer at most (4,096).
    public static let eventBufferLimit = 4096

    /// Creates an unconnected socket.
    /// - Parameter transcoder: the transcoder of its stream.
    public init(transcoder: Transcoder = .default) {
        self.transcoder = transcoder
        let (events, continuation) = AsyncStream<Event>.makeStream(
            bufferingPolicy: .bufferingNewest(TCPSocket.eventBufferLimit))
        self.events = events
        self.core = Core(continuation: continuation)
    }

    deinit { core.continuation.finish() }

    /// The current state.
    public var state: State { core.fields.withLock { $0.state } }
    /// True when connected (ready for reading and writing).
    public var isValid: Bool { state == .connected }
    /// The kind of the last error, nil if none.
    public var error: ErrorKind? { core.fields.withLock { $0.error } }
    /// A human-readable description of the last error.
    public var errorString: String { core.fields.withLock { $0.errorString } }
    /// The connection's stream (characters and bytes), nil when not connected.
    public var stream: ClientStream? { connection.withLock { $0.stream } }

    /// The local host address alone, as seed 004 defines it (`127.0.0.1`, `::1`; IPv6 per
    /// RFC 5952), or "" when unavailable. The port is ``localPort``.
    public var localAddress: String { stream?.channel.localAddress?.streamHost ?? "" }
    /// The local port, or the bound one, or 0.
    public var localPort: Int { connection.withLock { $0.stream?.localPort ?? $0.localPort ?? 0 } }
    /// The local address and port as one string, `HOST:PORT` with an IPv6 host bracketed
    /// (`127.0.0.1:41234`, `[::1]:41234`), or "" when unavailable.
    public var localEndpoint: String { stream?.channel.localAddress?.streamDescription ?? "" }
    /// The remote host address alone (`127.0.0.1`, `::1`) when connected, else "". The port is
    /// ``remotePort``.
    public var remoteAddress: String { isValid ? stream?.channel.remoteAddress?.streamHost ?? "" : "" }
    /// The remote port when connected, else 0.
    public var remotePort: Int { isValid ? stream?.remotePort ?? 0 : 0 }
    /// The remote address and port as one string, `HOST:PORT` with an IPv6 host bracketed, when
    /// connected, else "".
    public var remoteEndpoint: String { isValid ? stream?.channel.remoteAddress?.streamDescription ?? "" : "" }

    /// Chooses the local port of the outgoing connection (0: any); enters ``State/bound``.
    /// - Parameter port: the port.
    /// - Throws: ``StreamPortError`` `.operation` unless unconnected, `.invalidAddress` for a
    ///   port out of range.
    public func bind(_ port: Int = 0) throws {
        guard (0...65535).contains(port) else {
            throw StreamPortError.invalid("\(port)", "port \(port) is out of range 0–65535")
        }
        guard state == .unconnected else { throw operationError("bind") }
        connection.withLock { $0.localPort = port }
        core.transition(.bound)
    }

    /// Connects: ``State/hostLookup``, `.hostFound`, ``State/connecting``, ``State/connected``,
    /// `.connected`. On failure `.error(kind)` then ``State/unconnected``, and the error is thrown.
    /// - Parameters:
    ///   - host: a host name or a numeric address.
    ///   - port: the port.
    ///   - connectTimeout: how long each address may take.
    /// - Throws: ``StreamPortError``: `.operation` when not unconnected or bound;
    ///   `.invalidAddress` for a bad host or port; `.hostNotFound`; `.connectionRefused`
    ///   (`ECONNREFUSED`); `.timedOut` (`connectTimeout`, `ETIMEDOUT`); `.addressInUse` for a
    ///   local port taken by ``bind(_:)``; `.system` with the errno. ``error`` then holds its
    ///   ``ErrorKind``.
    ///
    /// A host name is looked up on NIO's blocking-I/O thread pool, not on the calling executor.
    public func connect(
        _ host: String, _ port: Int, connectTimeout: Duration = StreamDefaults.connectTimeout
    ) async throws {
        try await connect(host, port, connectTimeout: connectTimeout, security: { _ in nil })
    }

    /// ``connect(_:_:connectTimeout:)`` through a security layer (TLS, from StreamPortsTLS),
    /// made for the parsed address: the socket is connected once its handshake completes.
    package func connect(
        _ host: String, _ port: Int, connectTimeout: Duration,
        security: (StreamAddress) throws -> (any ChannelSecurity)?
    ) async throws {
        let current = state
        guard current == .unconnected || current == .bound else { throw operationError("connect") }
        core.transition(.hostLookup)
        do {
            let address = try StreamAddress.parse(host, port: port)
            let layer = try security(address)
            let targets = try await address.resolvedOffLoop(forListening: false)
            core.continuation.yield(.hostFound)
            core.transition(.connecting)
            let core = self.core
            let local = connection.withLock { $0.localPort }
            let stream = try await StreamPorts.connect(
                to: targets, name: address.description, keepAlive: false, coalesce: true, transcoder: transcoder,
                connectTimeout: connectTimeout, maxLineLength: StreamDefaults.maxLineLength, localPort: local,
                observer: { observation in TCPSocket.observe(observation, core: core) }, security: layer)
            connection.withLock { $0.stream = stream }
            core.closeChannel.withLock { $0 = stream.channel }
            core.transition(.connected)
            core.continuation.yield(.connected)
        } catch {
            let mapped = StreamPortError.from(error, "\(host):\(port)")
            core.fail(mapped)
            core.transition(.unconnected)
            throw mapped
        }
    }

    private static func observe(_ observation: StreamObservation, core: Core) {
        switch observation {
        case .received(let available):
            core.continuation.yield(.readyRead(bytesAvailable: available))
        case .wrote(let count):
            core.continuation.yield(.bytesWritten(count))
        case .failed(let error):
            core.fail(error)
        case .inputEnded:
            // The seed: REMOTE_HOST_CLOSED while still connected, then the socket closes.
            if core.fields.withLock({ $0.state == .connected }) {
                core.fields.withLock {
                    $0.error = .remoteHostClosed; $0.errorString = "the remote host closed the connection"
                }
                core.continuation.yield(.error(.remoteHostClosed))
                core.closeChannel.withLock { $0 }?.close(promise: nil)
            }
        case .closed:
            core.closed()
        }
    }

    /// Bytes received and not yet read.
    public var bytesAvailable: Int { stream?.bytesAvailable ?? 0 }

    /// Every byte available now (waiting for some if none), or [] at end of stream.
    /// - Throws: ``StreamPortError`` `.operation` when not connected.
    public func readAll() async throws -> [UInt8] {
        guard let stream else { throw operationError("readAll") }
        return try await stream.readAvailableBytes() ?? []
    }

    /// The next line, nil at end of stream.
    /// - Throws: ``StreamPortError`` `.operation` when not connected; as ``ClientStream``.
    public func readLine() async throws -> String? {
        guard let stream else { throw operationError("readLine") }
        return try await stream.readLine()
    }

    /// Writes bytes and hands them to the socket (`.bytesWritten` follows).
    /// - Parameter bytes: the bytes.
    /// - Throws: ``StreamPortError`` `.operation` when not connected.
    public func write(_ bytes: [UInt8]) async throws {
        guard let stream, isValid else { throw operationError("write") }
        try stream.write(bytes: bytes)
        try await stream.flushWriter()
    }

    /// Writes text through the transcoder and hands it to the socket.
    /// - Parameter text: the text.
    /// - Throws: ``StreamPortError`` `.operation` when not connected, `.encoding`.
    public func write(_ text: String) async throws {
        guard let stream, isValid else { throw operationError("write") }
        try stream.write(text)
        try await stream.flushWriter()
    }

    /// Enters ``State/closing``, waits until pending output is written, closes, enters
    /// ``State/unconnected`` and sends `.disconnected`.
    public func disconnect() async {
        guard let stream else {
            core.transition(.unconnected)
            return
        }
        core.transition(.closing)
        try? await stream.close()
        connection.withLock { $0 = (nil, nil) }
        core.closed()
    }

    /// Drops pending output and closes at once (a reset); ``State/unconnected``, `.disconnected`.
    public func abort() async {
        guard let stream else {
            core.transition(.unconnected)
            return
        }
        await stream.abort()
        connection.withLock { $0 = (nil, nil) }
        core.closed()
    }

    private func operationError(_ operation: String) -> StreamPortError {
        let error = StreamPortError(.operation, "\(operation) is not permitted in state \(state.rawValue)")
        core.fields.withLock {
            $0.error = .operation
            $0.errorString = error.message
        }
        return error
    }
}
