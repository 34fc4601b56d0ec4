import Logging
import ServiceLifecycle
import StreamPorts

/// A server stream and its connection handler as a swift-service-lifecycle `Service`: a
/// `ServiceGroup` starts it, and stops it gracefully on SIGTERM or SIGINT.
///
/// ```swift
/// let server = try await tcpServerStream("*:7000", transcoder: sjis)
/// let service = StreamService(server: server, maxConnections: 10_000, gracePeriod: .seconds(10)) { client in
///     while let line = try await client.readLine() { try client.showln(line) }
/// }
/// let group = ServiceGroup(services: [service], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
/// try await group.run()
/// ```
///
/// ``run()`` serves as ``ServerStream/serve(maxConnections:logger:handler:)`` does. On graceful
/// shutdown it:
/// 1. stops accepting and closes the listening socket at once, so that a restarted process can
///    bind the port; the connections it had already accepted are served, not dropped (one that
///    has received nothing yet gets up to 250 ms for its first bytes: a client that connected
///    just before);
/// 2. ends every connection's input where it stands: a handler looping on `readLine` still
///    gets the lines already received, then nil, so an idle connection (blocked in a read)
///    ends at once and a busy one once it has answered what it had read. Handlers can also
///    watch `Task.isShuttingDownGracefully` or use `cancelOnGracefulShutdown()`;
/// 3. closes each connection as its handler returns, after its last replies and a FIN, reading
///    and dropping what the peer still sends until it closes: no reset destroys replies the
///    peer has not read yet;
/// 4. after `gracePeriod`, cancels the handlers still running and resets their connections.
///
/// It returns once every handler has finished.
public struct StreamService: Service {
    /// The listening server stream.
    public let server: ServerStream
    /// The most connections served at once (nil: no limit).
    public let maxConnections: Int?
    /// How long handlers may take to finish once graceful shutdown begins.
    public let gracePeriod: Duration
    private let logger: Logger
    private let connections = ServedConnections()
    private let handler: @Sendable (ClientStream) async throws -> Void

    /// A service that serves `server` with `handler`.
    /// - Parameters:
    ///   - server: the listening server stream (``tcpServerStream(_:port:backlog:reuseAddress:reusePort:transcoder:maxLineLength:logger:proxyProtocol:)``).
    ///   - maxConnections: the most connections served at once (nil: no limit).
    ///   - gracePeriod: how long handlers may take to finish once graceful shutdown begins
    ///     (default 10 s).
    ///   - logger: where handler errors and the shutdown are logged.
    ///   - handler: what to do with each client stream.
    public init(
        server: ServerStream, maxConnections: Int? = nil, gracePeriod: Duration = .seconds(10),
        logger: Logger = Logger(label: "StreamPorts"),
        handler: @escaping @Sendable (ClientStream) async throws -> Void
    ) {
        self.server = server
        self.maxConnections = maxConnections
        self.gracePeriod = gracePeriod
        self.logger = logger
        self.handler = handler
    }

    /// A service that listens on `address` (as ``tcpServerStream(_:port:backlog:reuseAddress:reusePort:transcoder:maxLineLength:logger:proxyProtocol:)``)
    /// and serves it with `handler`.
    /// - Parameters:
    ///   - address: where to listen, in any form `tcpServerStream` takes.
    ///   - transcoder: the transcoder of every accepted stream.
    ///   - maxConnections: the most connections served at once (nil: no limit).
    ///   - gracePeriod: how long handlers may take to finish once graceful shutdown begins.
    ///   - logger: where the server logs.
    ///   - handler: what to do with each client stream.
    /// - Throws: as `tcpServerStream`: ``StreamPortError`` `.invalidAddress`, `.hostNotFound`,
    ///   `.addressInUse`, `.bindFailed`.
    public init(
        _ address: String, transcoder: Transcoder = .default, maxConnections: Int? = nil,
        gracePeriod: Duration = .seconds(10), logger: Logger = Logger(label: "StreamPorts"),
        handler: @escaping @Sendable (ClientStream) async throws -> Void
    ) async throws {
        let server = try await tcpServerStream(address, transcoder: transcoder, logger: logger)
        self.init(
            server: server, maxConnections: maxConnections, gracePeriod: gracePeriod, logger: logger,
            handler: handler)
    }

    /// Resets every connection being served now (their pending output is dropped): for a
    /// second shutdown signal, when waiting out the grace period is not wanted.
    public func resetConnections() async {
        await connections.abortAll()
    }

    private enum Outcome: Sendable {
        case served
        case failed(any Error)
        case graceOver
        case cancelled
    }

    /// Serves until graceful shutdown (then as the type's documentation says) or cancellation
    /// (then handlers are cancelled and connections reset).
    /// - Throws: ``StreamPortError`` `.invalidArgument` for a `maxConnections` below 1.
    public func run() async throws {
        let (connections, server, logger, grace, handler, limit) = (
            self.connections, self.server, self.logger, gracePeriod, self.handler, maxConnections
        )
        let failure: (any Error)? = await withTaskGroup(of: Outcome.self) { group in
            group.addTask {
                do {
                    try await server.serve(
                        maxConnections: limit, logger: logger, connections: connections, linger: grace, handler: handler
                    )
                    return .served
                } catch {
                    return .failed(error)
                }
            }
            group.addTask {
                do { try await gracefulShutdown() } catch { return .cancelled }
                server.stopAcceptingGracefully()
                let open = connections.count
                logger.notice(
                    "shutting down: stopped accepting on \(server.localEndpoint); \(open) connection(s) open, grace \(grace)"
                )
                connections.stopReadingAll()
                do { try await Task.sleep(for: grace) } catch { return .cancelled }
                return .graceOver
            }
            var failure: (any Error)?
            while let outcome = await group.next() {
                switch outcome {
                case .served:
                    group.cancelAll()
                case .failed(let error):
                    failure = error
                    group.cancelAll()
                case .graceOver:
                    logger.warning("grace period over: resetting \(connections.count) connection(s)")
                    group.cancelAll()
                    await connections.abortAll()
                case .cancelled:
                    break
                }
            }
            return failure
        }
        if let failure { throw failure }
    }
}
