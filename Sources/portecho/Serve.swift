import ArgumentParser
import Logging
import ServiceLifecycle
import StreamPorts
import StreamPortsService

/// `portecho serve`: the seed's echo server. Each line read is written back with `showln`.
struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Echo every line back to its sender (the default command).",
        discussion: """
            ADDRESS takes every form tcpServerStream takes: 127.0.0.1:7000, localhost:7000, \
            *:7000 (all interfaces: [::] dual stack where IPv6 exists, else 0.0.0.0), \
            [::1]:0, [::]:7000. All digits (7000) is a port on 127.0.0.1. A host without a port \
            (localhost, *, [::1]) uses --port, else 2020. An unbracketed IPv6 address (::1) is \
            a host only and needs --port: ::1:80 is refused, with [::1]:80 suggested. No \
            ADDRESS: 127.0.0.1, port --port or 2020. Port 0 picks a free port.

            Once listening, the first line on standard output is `listening on ADDRESS` with \
            the bound address and real port (127.0.0.1:41234, [::1]:41234, [::]:2020, \
            0.0.0.0:2020); nothing else goes to standard output. Logs go to standard error.

            Each connection is closed, alone, when it sends bytes that cannot be decoded in \
            --errors raise mode (logged with the byte offset), a line longer than \
            --max-line-length, or nothing for --idle-timeout seconds (or its echoes stall \
            unread that long). A last line without a \
            line end is echoed before the connection closes; a client that half-closes gets \
            all its echoes before the server closes.

            --reuse-port sets SO_REUSEPORT: several portecho processes started with it may \
            listen on the same address and port, the kernel spreading new connections among \
            them. A restart without refused connections: start the new process with \
            --reuse-port, wait for its `listening on` line, then send SIGTERM to the old one.

            Socket activation (systemd's LISTEN_FDS and LISTEN_PID, sd_listen_fds(3)): when \
            LISTEN_PID is this process and LISTEN_FDS is 1, portecho serves the listening \
            socket it inherited as descriptor 3 instead of binding one; `listening on` shows \
            that socket's address. ADDRESS, --port, --reuse-port and --no-reuse-address are \
            then usage errors (the socket unit sets them); more than one socket is too. A \
            LISTEN_PID naming another process is ignored. The variables are unset once read.

            SIGINT or SIGTERM: stop accepting and close the listening socket at once, close \
            idle connections at once, let busy ones echo the lines already received (whole \
            lines: a partial last line is dropped) and flush, and exit 0 once all are done; \
            after --grace seconds those still open are reset. A second signal resets them at \
            once. A busy connection, after its echoes, sends a FIN and reads and discards what \
            the client still sends until it closes (within --grace), so that no reset destroys \
            echoes the client has not read yet; one closed for a bad line does the same for up \
            to 1 s. --max-connections N: at N connections the server stops accepting; the next \
            ones wait in the listen backlog until one ends.

            TLS: with --tls-cert and --tls-key every connection speaks TLS (1.2 or 1.3), with \
            everything else unchanged. A connection is echoed only once its handshake is \
            complete; a failed handshake (plaintext, an untrusted client certificate, none \
            within --tls-handshake-timeout) closes that connection alone and is logged, \
            rate-limited. --tls-client-ca requires every client to present a certificate \
            signed by one of its CAs.

            PROXY protocol: with --proxy-protocol every connection must start with a PROXY \
            protocol header, version 1 or 2 (HAProxy's send-proxy or send-proxy-v2, nginx's \
            proxy_protocol), which gives the client's real address and port: the access log \
            names them. Bytes after the header are the connection's (lines, or the TLS \
            handshake with --tls-cert). A LOCAL header (HAProxy's health checks over \
            send-proxy-v2) or v1 UNKNOWN keeps the socket's addresses. A connection without a \
            valid header, whose peer is outside --proxy-trusted, or whose header is not \
            complete within --proxy-header-timeout is closed alone, unanswered, and logged \
            (rate-limited). A bad --proxy-trusted network is a usage error.

            --metrics ADDRESS serves GET /metrics there in Prometheus text format (the \
            library's streamports_* metrics and portecho_start_time_seconds), over plain \
            HTTP/1.1: ADDRESS takes the forms above (all digits: a port on 127.0.0.1; a host \
            without a port: port 9464). Its bound address is logged at info as `metrics on \
            HOST:PORT`; it closes after the connections, at shutdown. Without --metrics no \
            metrics are collected. At --log-level info (the default) each connection logs one \
            line when it opens and one when it closes (address, duration, lines and bytes each \
            way, the reason).

            Exit status: 64 for a bad option or value, and for a missing, unreadable or invalid \
            certificate, key or CA file, or a key that does not match its certificate (the \
            message names the file), and for a bad socket activation (see above); 1 when the address (or the --metrics address) cannot be \
            listened on (in use, host not found, permission denied).
            """
    )

    @Argument(help: ArgumentHelp("Where to listen (see below).", valueName: "address"))
    var address: String?

    @Option(
        parsing: .unconditional,
        help: ArgumentHelp("The port, when ADDRESS has none (must agree if it has one).", valueName: "n"))
    var port: Int?

    @OptionGroup var transcoding: TranscoderOptions

    @Option(parsing: .unconditional, help: ArgumentHelp("The listen backlog.", valueName: "n"))
    var backlog: Int = 128

    @Flag(name: .customLong("no-reuse-address"), help: "Do not set SO_REUSEADDR on the listening socket.")
    var noReuseAddress = false

    @Flag(
        name: .customLong("reuse-port"),
        help: "Set SO_REUSEPORT: other processes started with it may listen on the same port (restarts).")
    var reusePort = false

    @Option(
        parsing: .unconditional,
        help: ArgumentHelp(
            "The longest line accepted, in bytes on the wire, line end excluded (default: 1 MiB); a longer one closes its connection.",
            valueName: "n"))
    var maxLineLength: Int = StreamDefaults.maxLineLength

    @Option(
        parsing: .unconditional,
        help: ArgumentHelp(
            "Close a connection that sent nothing, or whose echoes stalled unread, for this long (fractions allowed; default: never).",
            valueName: "seconds"))
    var idleTimeout: Double?

    @Option(
        parsing: .unconditional,
        help: ArgumentHelp(
            "After SIGINT/SIGTERM, how long busy connections may take to flush their echoes.",
            valueName: "seconds"))
    var grace: Double = 10

    @Option(
        parsing: .unconditional,
        help: ArgumentHelp(
            "The most connections served at once (default: no limit); more wait in the listen backlog.",
            valueName: "n"))
    var maxConnections: Int?

    @Option(
        parsing: .unconditional,
        help: ArgumentHelp(
            "Serve GET /metrics (Prometheus text format) at this address (see below; default: no metrics).",
            valueName: "address"))
    var metrics: String?

    @OptionGroup var logging: LoggingOptions

    @OptionGroup(title: "TLS") var tls: ServeTLSOptions

    @OptionGroup(title: "PROXY protocol") var proxy: ServeProxyOptions

    func validate() throws {
        if let port, !(0...65535).contains(port) { throw ValidationError("--port \(port) is out of range 0–65535") }
        _ = try AddressArgument.parse(address, port: port)
        guard backlog >= 0 else { throw ValidationError("--backlog \(backlog) is negative; it must be 0 or more") }
        if let maxConnections, maxConnections < 1 {
            throw ValidationError("--max-connections \(maxConnections) must be 1 or more")
        }
        guard maxLineLength > 0 else {
            throw ValidationError("--max-line-length \(maxLineLength) must be a positive number of bytes")
        }
        if let idleTimeout { _ = try Seconds.duration(idleTimeout, option: "--idle-timeout") }
        _ = try Seconds.duration(grace, option: "--grace", allowZero: true)
        if let metrics { _ = try MetricsBackend.address(metrics) }
    }

    func run() async throws {
        let logger = logging.bootstrap("portecho")
        let target = try AddressArgument.parse(address, port: port)
        let idle = try idleTimeout.map { try Seconds.duration($0, option: "--idle-timeout") }
        let grace = try Seconds.duration(self.grace, option: "--grace", allowZero: true)
        let signals = SignalWatcher()
        let context = try tls.context()
        let proxyProtocol = try proxy.configuration()
        // Before the server opens, so that the library's metrics are made in its registry.
        let metricsBackend = try metrics.map(MetricsBackend.init)

        let inherited = try SocketActivation.listeningSocket(logger: logger)
        if inherited != nil {
            try SocketActivation.checkNoAddress(
                address: address, port: port, reusePort: reusePort, noReuseAddress: noReuseAddress)
        }
        let server: ServerStream
        do {
            if let inherited {
                server = try await tls.adopt(
                    context, listeningSocket: inherited, backlog: backlog, transcoder: transcoding.transcoder,
                    maxLineLength: maxLineLength, logger: logger, proxyProtocol: proxyProtocol)
            } else {
                server = try await tls.listen(
                    context, target.description, backlog: backlog, reuseAddress: !noReuseAddress,
                    reusePort: reusePort, transcoder: transcoding.transcoder, maxLineLength: maxLineLength,
                    logger: logger, proxyProtocol: proxyProtocol)
            }
        } catch let error as StreamPortError where error.code == .invalidAddress || error.code == .invalidArgument {
            throw ValidationError(error.message)
        } catch {
            Output.error(
                "Error: cannot listen on \(inherited.map { "inherited socket \($0)" } ?? "\(target)"): \(error)")
            throw ExitCode.failure
        }
        Output.line("listening on \(server.localEndpoint)")
        logger.info("listening on \(server.localEndpoint) (\(transcoding.transcoder))")
        let metricsEndpoint: MetricsEndpoint?
        do {
            metricsEndpoint = try await metricsBackend?.serve(logger: logger)
        } catch {
            await server.close()
            throw error
        }

        let service = StreamService(
            server: server, maxConnections: maxConnections, gracePeriod: grace, logger: logger
        ) { client in
            await Serve.echo(client, idleTimeout: idle, grace: grace, logger: logger)
        }
        var services: [any Service] = [service]
        // The metrics endpoint first: the group stops it last, after the grace period.
        if let metricsEndpoint { services.insert(metricsEndpoint, at: 0) }
        // The watcher turns the first SIGINT or SIGTERM into the group's graceful shutdown and
        // a second one into resetting every connection. (Not the group's own
        // `gracefulShutdownSignals`: it registers them asynchronously inside `run()`, after
        // `listening on` is printed, and a signal sent right after that line would be lost;
        // the watcher's sources are registered before.)
        let group = ServiceGroup(
            services: services, logger: Logger(label: "portecho.lifecycle", factory: { _ in SwiftLogNoOpLogHandler() }))
        let watching = Task {
            var received = signals.signals.makeAsyncIterator()
            guard let first = await received.next() else { return }
            logger.notice("\(SignalWatcher.name(first)): shutting down; grace \(Seconds.text(self.grace)) s")
            await group.triggerGracefulShutdown()
            if let again = await received.next() {
                logger.notice("\(SignalWatcher.name(again)) again: resetting every connection")
                await service.resetConnections()
            }
        }
        defer { watching.cancel() }
        do {
            try await group.run()
        } catch {
            Output.error("Error: serving \(server.localEndpoint): \(error)")
            throw ExitCode.failure
        }
        logger.info("stopped")
    }

    /// How a connection's echo loop ended, which decides how it is closed.
    enum Ending {
        /// The peer closed its side (or reset): close, after the last echoes.
        case endOfStream
        /// Nothing came for --idle-timeout: close.
        case idle
        /// A bad line or byte sequence: the peer may still be sending.
        case fault
        /// The grace period ended, or a second signal came: the connection is reset.
        case shutdown
    }

    /// The seed's echo loop for one connection, then a close that loses no echo.
    ///
    /// At SIGINT/SIGTERM the stream's input ends where it stands (``StreamService``): the lines
    /// already received are echoed, then the loop sees end of stream; a peer still sending
    /// then gets its echoes and a FIN, and the connection reads and drops what still comes
    /// until the peer closes, for at most `grace`, so no reset destroys echoes in flight.
    static func echo(_ client: ClientStream, idleTimeout: Duration?, grace: Duration, logger: Logger) async {
        logConnected(client, logger)
        client.readTimeout = idleTimeout
        client.writeTimeout = idleTimeout  // a peer that stops reading its echoes is idle too
        let failure = await echoLines(client)
        await close(client, after: failure, grace: grace, logger: logger)
    }

    @inline(never)
    static func logConnected(_ client: ClientStream, _ logger: Logger) {
        logger.debug("\(client.remoteEndpoint): connected")
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
    static func close(_ client: ClientStream, after failure: (any Error)?, grace: Duration, logger: Logger) async {
        // The peer's address is formatted only when a message needs it (and kept for the last
        // debug line, which comes after the close).
        let debugPeer = logger.logLevel <= .debug ? client.remoteEndpoint : nil
        var peer: String { debugPeer ?? client.remoteEndpoint }
        let ending: Ending
        do {
            if let failure { throw failure }
            logger.debug("\(peer): end of stream")
            ending = .endOfStream
        } catch let error as StreamPortError {
            switch error.code {
            case .decoding:
                let offset = error.transcoderError?.byteOffset.map { "\($0)" } ?? "?"
                peerWarnings.log(
                    logger, .warning, "\(peer): closing: \(error.message)", metadata: ["byte-offset": "\(offset)"])
                ending = .fault
            case .timedOut:
                logger.info("\(peer): closing: \(error.message)")
                ending = .idle
            case .connectionReset, .closed:
                logger.debug("\(peer): \(error.message)")
                ending = .endOfStream
            default:  // lineTooLong, encoding
                peerWarnings.log(logger, .warning, "\(peer): closing: \(error.message)")
                ending = .fault
            }
        } catch is CancellationError {
            logger.debug("\(peer): closing: shutting down")
            ending = .shutdown
        } catch {
            peerWarnings.log(logger, .warning, "\(peer): closing: \(error)")
            ending = .fault
        }
        switch ending {
        case .endOfStream:
            // At once when the peer has finished; after a shutdown ended the input, lingering
            // for what the peer still sends (the grace period bounds it).
            await client.closeLingering(upTo: grace)
        case .idle:
            try? await client.close()
        case .fault:
            await client.closeLingering(upTo: linger)
        case .shutdown:
            await client.abort()
        }
        logger.debug("\(peer): closed")
    }

    /// Warnings a peer can trigger at will (bad bytes, over-long lines): at most 5 a second,
    /// the rest counted and summed up in the next one let through.
    static let peerWarnings = LogRateLimiter(limit: 5, per: .seconds(1))

    /// How long a connection closed for a bad line keeps reading (and dropping) what its peer
    /// still sends, so that a reset does not destroy the echoes before it.
    static let linger: Duration = .seconds(1)
}
