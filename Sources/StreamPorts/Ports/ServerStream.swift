import Logging
import NIOCore
import NIOPosix
import Synchronization

/// A listening TCP port whose ``read()`` yields one ``ClientStream`` per connection
/// (Slogan's `tcp_server_stream`). Also an `AsyncSequence` of client streams.
///
/// Connections are accepted ahead of `read()`, up to the listen backlog: while that many wait,
/// the server stops accepting and the kernel's backlog holds the next ones.
///
/// ```swift
/// let server = try await tcpServerStream("127.0.0.1:2020")
/// for await client in server {
///     Task { try await callWithStream(client) { c in
///         while let line = try await c.readLine() { try c.showln(line) }
///     } }
/// }
/// ```
public final class ServerStream: AsyncSequence, Sendable {
    public typealias Element = ClientStream

    let channel: any Channel
    let accepted: AcceptQueue
    /// The transcoder given to each accepted stream.
    public let transcoder: Transcoder
    /// The address the port was asked for.
    public let requestedAddress: StreamAddress
    /// Where ``serve(maxConnections:logger:handler:)`` logs by default: the logger the server
    /// was opened with.
    package let logger: Logger
    /// The security layer every accepted connection goes through (TLS), if any.
    package let security: (any ChannelSecurity)?
    /// The PROXY protocol step every accepted connection goes through first, if any.
    let proxy: ProxyProtocolGate?

    init(
        channel: any Channel, accepted: AcceptQueue, transcoder: Transcoder, requestedAddress: StreamAddress,
        logger: Logger = Logger(label: "StreamPorts"), security: (any ChannelSecurity)? = nil,
        proxy: ProxyProtocolGate? = nil
    ) {
        self.logger = logger
        self.security = security
        self.proxy = proxy
        self.channel = channel
        self.accepted = accepted
        self.transcoder = transcoder
        self.requestedAddress = requestedAddress
    }

    /// The bound host address alone, as seeds 003 and 004 define a local address: `127.0.0.1`,
    /// `::1`, `::`, `0.0.0.0` (IPv6 per RFC 5952), or "" if unknown. The port is ``localPort``.
    public var localAddress: String { channel.localAddress?.streamHost ?? "" }
    /// The bound port (the real one when 0 was asked).
    public var localPort: Int { channel.localAddress?.port ?? 0 }
    /// The bound address and port as one string, `HOST:PORT` with an IPv6 host bracketed:
    /// `127.0.0.1:41234`, `[::1]:41234`, `[::]:2020`, `0.0.0.0:2020`, or "" if unknown.
    public var localEndpoint: String { channel.localAddress?.streamDescription ?? "" }

    /// How a server reads the PROXY protocol (its trusted sources and header timeout); nil
    /// when it does not.
    public var proxyProtocol: ProxyProtocolConfiguration? { proxy?.configuration }

    /// How many connections were closed for their PROXY protocol header (missing, malformed,
    /// truncated, too long, from an untrusted source, or not complete in time); 0 without
    /// the protocol.
    public var proxyHeaderFailures: Int { proxy?.failures ?? 0 }

    /// A task executor on the listening socket's event loop: an accept loop that prefers it
    /// takes each new connection without a detour through Swift's global thread pool.
    ///
    /// ```swift
    /// Task(executorPreference: server.executor) {
    ///     while let client = await server.read() { /* ... */ }
    /// }
    /// ```
    public var executor: any TaskExecutor { EventLoopTaskExecutor.for(channel.eventLoop) }

    /// The next client stream, waiting for a connection; nil once the server is closed.
    public func read() async -> ClientStream? {
        await read(timeoutNanoseconds: nil)
    }

    /// The next client stream, or nil when none arrives within `timeout` (`.zero` polls, as
    /// Falcon's `accept(0)`), or once the server is closed.
    /// - Parameter timeout: how long to wait.
    public func read(timeout: Duration) async -> ClientStream? {
        return await read(timeoutNanoseconds: TimeAmount(timeout).nanoseconds)
    }

    private func read(timeoutNanoseconds: Int64?) async -> ClientStream? {
        if let ready = accepted.take() { return ready }
        if timeoutNanoseconds == 0 { return nil }
        let accepted = self.accepted
        let id = accepted.state.withLock { s -> Int in
            s.waiterID += 1; return s.waiterID
        }
        let wake: @Sendable () -> Void = {
            accepted.state.withLock { s -> UnsafeContinuation<ClientStream?, Never>? in
                guard s.waiterID == id, let w = s.waiter else { return nil }
                s.waiter = nil
                return w
            }?.resume(returning: nil)
        }
        let scheduled = timeoutNanoseconds.map { channel.eventLoop.scheduleTask(in: .nanoseconds($0)) { wake() } }
        defer { scheduled?.cancel() }
        return await withTaskCancellationHandler {
            await withUnsafeContinuation { (continuation: UnsafeContinuation<ClientStream?, Never>) in
                if let immediate = accepted.take(orWait: continuation) { continuation.resume(returning: immediate) }
            }
        } onCancel: {
            wake()
        }
    }

    /// Stops accepting, closes connections not yet handed out. Idempotent.
    public func close() async {
        let pending = stopAccepting()
        try? await channel.close()
        for stream in pending { await stream.abort() }
    }

    /// Stops accepting at once: ``read()`` returns nil from now on, and the listening socket
    /// starts closing (the port is free as soon as it has). Returns the streams accepted and
    /// not yet handed out, for the caller to close. Callable from any thread, without waiting.
    @discardableResult
    package func stopAccepting() -> [ClientStream] {
        var slot: UnsafeContinuation<Void, Never>?
        let (pending, waiter) = accepted.state.withLock {
            s -> ([ClientStream], UnsafeContinuation<ClientStream?, Never>?) in
            s.closed = true
            let pending = Array(s.queue)
            s.queue.removeAll()
            let w = s.waiter
            s.waiter = nil
            slot = s.slotWaiter
            s.slotWaiter = nil
            return (pending, w)
        }
        waiter?.resume(returning: nil)
        slot?.resume()
        channel.close(promise: nil)
        return pending
    }

    /// Closes the listening socket, like ``stopAccepting()``, but keeps the connections
    /// already accepted (queued, or still being set up): ``read()`` hands them out, then
    /// returns nil. A graceful shutdown, in which no connection the process has accepted is
    /// dropped. Callable from any thread, without waiting.
    ///
    /// NIO closes a connection whose setup completes after its listening channel has closed,
    /// so accepting stops first, and the socket closes once the connections being set up are
    /// through (1 ms after the last, for NIO's hop back to the listening channel's event loop;
    /// at most ``quiesceLimit``). Connections arriving meanwhile wait in the kernel's queue:
    /// Linux resets them at the close unless `net.ipv4.tcp_migrate_req=1` moves them to
    /// another socket listening on the port with SO_REUSEPORT.
    package func stopAcceptingGracefully() {
        let (accepted, channel) = (self.accepted, self.channel)
        channel.closeFuture.whenComplete { _ in accepted.listenerClosed() }
        let deadline = NIODeadline.now() + TimeAmount(ServerStream.quiesceLimit)
        @Sendable func closeOnceSetUp() {
            let busy = accepted.state.withLock { !$0.settingUp.isEmpty }
            let last = !busy || NIODeadline.now() >= deadline
            channel.eventLoop.scheduleTask(in: .milliseconds(1)) {
                last ? channel.close(promise: nil) : closeOnceSetUp()
            }
        }
        _ = accepted.quiesce()
        channel.eventLoop.execute { closeOnceSetUp() }
    }

    /// The longest a graceful shutdown waits for connections being set up before it closes
    /// the listening socket.
    static let quiesceLimit: Duration = .milliseconds(200)

    public struct AsyncIterator: AsyncIteratorProtocol {
        let server: ServerStream
        public mutating func next() async -> ClientStream? { await server.read() }
    }

    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(server: self) }
}
