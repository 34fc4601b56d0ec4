import Logging
import NIOCore

extension ServerStream {
    /// Serves every connection with `handler`, structured: returns once the server is closed
    /// and every handler has finished.
    ///
    /// ```swift
    /// let server = try await tcpServerStream("*:7000", transcoder: sjis)
    /// try await server.serve(maxConnections: 10_000) { client in
    ///     while let line = try await client.readLine() { try client.showln(line) }
    /// }
    /// ```
    ///
    /// - Each handler runs in a child task of a discarding task group, on its connection's
    ///   event loop (as a task preferring ``ClientStream/executor``): no thread hop per call.
    /// - When the handler returns, the stream is closed; if the peer is still sending, after a
    ///   FIN it reads and drops input until the peer closes, for at most 5 s, so that a reset
    ///   does not destroy replies the peer has yet to read. When the handler throws, the stream
    ///   is reset (``ClientStream/abort()``) and the error logged at `.warning` with the
    ///   client's address (at most 5 such lines a second); the server goes on serving.
    /// - With `maxConnections`, at that many connections being served the listening socket
    ///   stops accepting: the next connections wait in the kernel's listen backlog, not in a
    ///   queue of ours, and accepting resumes when a handler finishes. Nothing is accepted and
    ///   then dropped.
    /// - Cancelling the calling task stops accepting and closes the listening socket at once
    ///   (the port can be bound again), cancels the handlers (a read waiting in one throws
    ///   `CancellationError`), and returns once they have finished.
    ///
    /// - Parameters:
    ///   - maxConnections: the most connections served at once (nil: no limit).
    ///   - logger: where handler errors go (default: the logger the server was opened with).
    ///   - handler: what to do with each client stream.
    /// - Throws: ``StreamPortError`` `.invalidArgument` for a `maxConnections` below 1. Handler
    ///   errors are logged, not thrown.
    public func serve(
        maxConnections: Int? = nil, logger: Logger? = nil,
        handler: @escaping @Sendable (ClientStream) async throws -> Void
    ) async throws {
        try await serve(
            maxConnections: maxConnections, logger: logger ?? self.logger, connections: ServedConnections(),
            linger: ServerStream.closingLinger, handler: handler)
    }

    /// How long a connection whose handler returned may keep reading (and dropping) input from
    /// a peer still sending before it is closed regardless.
    static let closingLinger: Duration = .seconds(5)

    /// ``serve(maxConnections:logger:handler:)`` with the connections recorded in `connections`
    /// (for a shutdown to end or reset them) and closing connections lingering up to `linger`.
    package func serve(
        maxConnections: Int?, logger: Logger, connections: ServedConnections, linger: Duration,
        handler: @escaping @Sendable (ClientStream) async throws -> Void
    ) async throws {
        if let maxConnections {
            guard maxConnections > 0 else {
                throw StreamPortError.invalidArgument("maxConnections \(maxConnections)", "it must be 1 or more")
            }
            // NIO accepts up to 4 connections per readiness event by default: one at a time,
            // the limit is checked before every accept.
            try await channel.setOption(.maxMessagesPerRead, value: 1)
            accepted.limitConnections(to: maxConnections)
        }
        let failures = LogRateLimiter()
        let accepted = self.accepted
        await withTaskCancellationHandler {
            await withTaskExecutorPreference(executor) {
                await withDiscardingTaskGroup { group in
                    while true {
                        await accepted.waitForSlot()
                        guard let client = await read() else { break }
                        let key = connections.add(client)
                        group.addTask(executorPreference: client.executor) {
                            await ServerStream.serveOne(client, handler: handler, linger: linger) { error in
                                failures.log(logger, .warning, "\(client.remoteEndpoint): handler failed: \(error)")
                            }
                            connections.remove(key)
                            accepted.connectionEnded()
                        }
                    }
                }
            }
        } onCancel: {
            for stream in stopAccepting() { stream.channel.close(promise: nil) }
        }
        await close()
    }

    /// Runs `handler` on `client`, then closes the stream (lingering) or, if it threw, resets
    /// it.
    private static func serveOne(
        _ client: ClientStream, handler: @Sendable (ClientStream) async throws -> Void, linger: Duration,
        failed: (any Error) -> Void
    ) async {
        do {
            try await handler(client)
        } catch {
            if !(error is CancellationError) { failed(error) }
            await client.abort()
            return
        }
        await client.closeLingering(upTo: linger)
    }
}

/// Serves every connection of `server` with `handler` (seed 002's `loop(read(s))` with
/// `call_with_stream`, as one structured call): see
/// ``ServerStream/serve(maxConnections:logger:handler:)``.
///
/// ```swift
/// try await serve(try await tcpServerStream("127.0.0.1:2020")) { s in
///     while let line = try await readLine(s) { try showln(stream: s, line) }
/// }
/// ```
/// - Parameters:
///   - server: the listening server stream.
///   - maxConnections: the most connections served at once (nil: no limit).
///   - handler: what to do with each client stream.
/// - Throws: ``StreamPortError`` `.invalidArgument` for a `maxConnections` below 1.
public func serve(
    _ server: ServerStream, maxConnections: Int? = nil,
    _ handler: @escaping @Sendable (ClientStream) async throws -> Void
) async throws {
    try await server.serve(maxConnections: maxConnections, handler: handler)
}
