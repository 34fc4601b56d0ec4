import ArgumentParser
import Logging
import StreamPorts

/// `portecho serve`: the seed's echo server. Each line read is written back with `showln`.
struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Echo every line back to its sender (the default command).",
        discussion: """
            ADDRESS takes every form tcpServerStream takes: 127.0.0.1:7000, localhost:7000, \
            *:7000 (all interfaces: [::] dual stack where IPv6 exists, else 0.0.0.0), \
            [::1]:0, [::]:7000. All digits (7000) is a port on 127.0.0.1. A host without a port \
            (localhost, *, [::1], or an unbracketed IPv6 address such as ::1, which is always a \
            host only) uses --port, else 2020. No ADDRESS: 127.0.0.1, port --port or 2020. Port \
            0 picks a free port.

            Once listening, the first line on standard output is `listening on ADDRESS` with \
            the bound address and real port (127.0.0.1:41234, [::1]:41234, [::]:2020, \
            0.0.0.0:2020); nothing else goes to standard output. Logs go to standard error.

            Each connection is closed, alone, when it sends bytes that cannot be decoded in \
            --errors raise mode (logged with the byte offset), a line longer than \
            --max-line-length, or nothing for --idle-timeout seconds (or its echoes stall \
            unread that long). A last line without a \
            line end is echoed before the connection closes; a client that half-closes gets \
            all its echoes before the server closes.

            SIGINT or SIGTERM: stop accepting, close idle connections at once, let busy ones \
            echo the lines already received and flush for at most --grace seconds (then they \
            are reset), and exit 0. A second signal resets the busy connections at once. A \
            connection closed with unread input (busy at shutdown, or a bad line) first sends \
            its echoes and a FIN, then reads and discards for up to 1 s until the client \
            closes, so that no reset destroys echoes the client has not read yet.

            TLS: with --tls-cert and --tls-key every connection speaks TLS (1.2 or 1.3), with \
            everything else unchanged. A connection is echoed only once its handshake is \
            complete; a failed handshake (plaintext, an untrusted client certificate, none \
            within --tls-handshake-timeout) closes that connection alone and is logged, \
            rate-limited. --tls-client-ca requires every client to present a certificate \
            signed by one of its CAs.

            Exit status: 64 for a bad option or value, and for a missing, unreadable or invalid \
            certificate, key or CA file, or a key that does not match its certificate (the \
            message names the file); 1 when the address cannot be listened on (in use, host \
            not found, permission denied).
            """
    )

    @Argument(help: ArgumentHelp("Where to listen (see below).", valueName: "address"))
    var address: String?

    @Option(parsing: .unconditional, help: ArgumentHelp("The port, when ADDRESS has none (must agree if it has one).", valueName: "n"))
    var port: Int?

    @OptionGroup var transcoding: TranscoderOptions

    @Option(parsing: .unconditional, help: ArgumentHelp("The listen backlog.", valueName: "n"))
    var backlog: Int = 128

    @Flag(name: .customLong("no-reuse-address"), help: "Do not set SO_REUSEADDR on the listening socket.")
    var noReuseAddress = false

    @Option(parsing: .unconditional, help: ArgumentHelp(
        "The longest line accepted, in bytes on the wire, line end excluded (default: 1 MiB); a longer one closes its connection.",
        valueName: "n"))
    var maxLineLength: Int = StreamDefaults.maxLineLength

    @Option(parsing: .unconditional, help: ArgumentHelp(
        "Close a connection that sent nothing, or whose echoes stalled unread, for this long (fractions allowed; default: never).",
        valueName: "seconds"))
    var idleTimeout: Double?

    @Option(parsing: .unconditional, help: ArgumentHelp(
        "After SIGINT/SIGTERM, how long busy connections may take to flush their echoes.",
        valueName: "seconds"))
    var grace: Double = 10

    @OptionGroup var logging: LoggingOptions

    @OptionGroup(title: "TLS") var tls: ServeTLSOptions

    func validate() throws {
        if let port, !(0...65535).contains(port) { throw ValidationError("--port \(port) is out of range 0–65535") }
        _ = try AddressArgument.parse(address, port: port)
        guard backlog >= 0 else { throw ValidationError("--backlog \(backlog) is negative; it must be 0 or more") }
        guard maxLineLength > 0 else { throw ValidationError("--max-line-length \(maxLineLength) must be a positive number of bytes") }
        if let idleTimeout { _ = try Seconds.duration(idleTimeout, option: "--idle-timeout") }
        _ = try Seconds.duration(grace, option: "--grace", allowZero: true)
    }

    func run() async throws {
        let logger = logging.bootstrap("portecho")
        let target = try AddressArgument.parse(address, port: port)
        let idle = try idleTimeout.map { try Seconds.duration($0, option: "--idle-timeout") }
        let grace = try Seconds.duration(self.grace, option: "--grace", allowZero: true)
        let signals = SignalWatcher()
        let context = try tls.context()

        let server: ServerStream
        do {
            server = try await tls.listen(
                context, target.description, backlog: backlog, reuseAddress: !noReuseAddress,
                transcoder: transcoding.transcoder, maxLineLength: maxLineLength, logger: logger)
        } catch let error as StreamPortError where error.code == .invalidAddress {
            throw ValidationError(error.message)
        } catch {
            Output.error("Error: cannot listen on \(target): \(error)")
            throw ExitCode.failure
        }
        Output.line("listening on \(server.localAddress)")
        logger.info("listening on \(server.localAddress) (\(transcoding.transcoder))")

        let connections = Connections()
        let accepting = Task(executorPreference: server.executor) {
            await Serve.accept(server, connections: connections, idleTimeout: idle, logger: logger)
        }

        var received = signals.signals.makeAsyncIterator()
        let first = await received.next() ?? SignalWatcher.terminate
        logger.notice("\(SignalWatcher.name(first)): shutting down; \(connections.count) connection(s) open, grace \(Seconds.text(self.grace)) s")
        await server.close()
        accepting.cancel()   // idle connections close at once, busy ones finish and flush

        let impatient = Task {
            var more = signals.signals.makeAsyncIterator()
            if let again = await more.next() {
                logger.notice("\(SignalWatcher.name(again)) again: resetting \(connections.count) connection(s)")
                await connections.abortAll()
            }
        }
        if await !finished(accepting, by: .now + grace) {
            logger.warning("grace period over: resetting \(connections.count) busy connection(s)")
            await connections.abortAll()
            await accepting.value
        }
        impatient.cancel()
        logger.info("stopped")
    }

    /// Accepts connections until the server closes, serving each in its own task on its
    /// connection's event loop; returns once every connection is done.
    static func accept(_ server: ServerStream, connections: Connections, idleTimeout: Duration?, logger: Logger) async {
        await withDiscardingTaskGroup { group in
            while let client = await server.read() {
                let key = connections.add(client)
                group.addTask(executorPreference: client.executor) {
                    await echo(client, idleTimeout: idleTimeout, logger: logger)
                    connections.remove(key)
                }
            }
        }
    }

    /// How a connection's echo loop ended, which decides how it is closed.
    enum Ending {
        /// The peer closed its side (or reset): close, after the last echoes.
        case endOfStream
        /// Nothing came for --idle-timeout: close.
        case idle
        /// A bad line or byte sequence: the peer may still be sending.
        case fault
        /// SIGINT/SIGTERM: the peer may still be sending.
        case shutdown
    }

    /// The seed's echo loop for one connection, then a close that loses no echo.
    static func echo(_ client: ClientStream, idleTimeout: Duration?, logger: Logger) async {
        logConnected(client, logger)
        client.readTimeout = idleTimeout
        client.writeTimeout = idleTimeout   // a peer that stops reading its echoes is idle too
        let failure = await echoLines(client)
        await close(client, after: failure, idleTimeout: idleTimeout, logger: logger)
    }

    @inline(never)
    static func logConnected(_ client: ClientStream, _ logger: Logger) {
        logger.debug("\(client.remoteAddress): connected")
    }

    /// Echoes lines until the stream ends (nil) or fails (the error). Kept apart from the
    /// logging and closing around it: an idle connection's suspended task then holds small
    /// async frames only (about 1 KiB in all instead of 5).
    @inline(never)
    static func echoLines(_ client: ClientStream) async -> (any Error)? {
        do {
            while let line = try await client.readLine() {
                try client.showln(line)
            }
            return nil
        } catch {
            return error
        }
    }

    /// Logs how a connection's echo loop ended and closes it accordingly.
    @inline(never)
    static func close(_ client: ClientStream, after failure: (any Error)?, idleTimeout: Duration?, logger: Logger) async {
        // The peer's address is formatted only when a message needs it (and kept for the last
        // debug line, which comes after the close).
        let debugPeer = logger.logLevel <= .debug ? client.remoteAddress : nil
        var peer: String { debugPeer ?? client.remoteAddress }
        let ending: Ending
        do {
            if let failure { throw failure }
            logger.debug("\(peer): end of stream")
            ending = .endOfStream
        } catch let error as StreamPortError {
            switch error.code {
            case .decoding:
                let offset = error.transcoderError?.byteOffset.map { "\($0)" } ?? "?"
                logger.warning("\(peer): closing: \(error.message)", metadata: ["byte-offset": "\(offset)"])
                ending = .fault
            case .timedOut:
                logger.info("\(peer): closing: \(error.message)")
                ending = .idle
            case .connectionReset, .closed:
                logger.debug("\(peer): \(error.message)")
                ending = .endOfStream
            default:   // lineTooLong, encoding
                logger.warning("\(peer): closing: \(error.message)")
                ending = .fault
            }
        } catch is CancellationError {
            logger.debug("\(peer): closing: shutting down")
            ending = .shutdown
        } catch {
            logger.warning("\(peer): closing: \(error)")
            ending = .fault
        }
        switch ending {
        case .endOfStream, .idle:
            try? await client.close()
        case .fault:
            await lingeringClose(client)
        case .shutdown:
            // Out of the cancelled task, whose every wait would throw at once; the shutdown's
            // grace period bounds it (the connection is reset when it ends). An idle
            // connection (no unread input) closes at once; a busy one lingers.
            await Task {
                if client.bytesAvailable == 0 {
                    try? await client.close()
                } else {
                    await lingeringClose(client)
                }
            }.value
        }
        logger.debug("\(peer): closed")
    }

    /// How long a closing connection keeps reading (and discarding) after its last echo.
    static let linger: Duration = .seconds(1)

    /// Sends the pending echoes and a FIN, then reads and discards what the peer still sends
    /// until it closes (at most ``linger``), then closes. Closing a socket with unread input
    /// sends a reset, which makes the peer's kernel drop echoes it has not yet read.
    static func lingeringClose(_ client: ClientStream) async {
        try? await client.closeWriter()
        client.readTimeout = linger
        let deadline = ContinuousClock.now + linger
        while ContinuousClock.now < deadline {
            guard let bytes = try? await client.readAvailableBytes() else { break }
            _ = bytes
        }
        try? await client.close()
    }
}
