import ArgumentParser
import Logging
import StreamPorts
import StreamPortsTLS

// TLS options of `serve` and `send`. A missing, unreadable or invalid certificate, key or CA
// file, a key that does not match its certificate, or one of --tls-cert/--tls-key without the
// other is a usage error (exit status 64) whose message names the file and the reason.

/// `serve --tls-cert PATH --tls-key PATH [--tls-client-ca PATH] [--tls-handshake-timeout SECONDS]`.
struct ServeTLSOptions: ParsableArguments {
    @Option(
        name: .customLong("tls-cert"),
        help: ArgumentHelp(
            "Serve TLS with this PEM certificate chain (the server's certificate first); needs --tls-key.",
            valueName: "path"))
    var cert: String?

    @Option(
        name: .customLong("tls-key"),
        help: ArgumentHelp(
            "The PEM private key of --tls-cert (unencrypted).", valueName: "path"))
    var key: String?

    @Option(
        name: .customLong("tls-client-ca"),
        help: ArgumentHelp(
            "Require client certificates signed by a CA in this PEM file (mutual TLS).", valueName: "path"))
    var clientCA: String?

    @Option(
        name: .customLong("tls-handshake-timeout"),
        help: ArgumentHelp(
            "Close a connection whose TLS handshake is not complete after this long (default: 10).",
            valueName: "seconds"))
    var handshakeTimeout: Double?

    func validate() throws {
        switch (cert, key) {
        case (nil, nil):
            if clientCA != nil { throw ValidationError("--tls-client-ca needs --tls-cert and --tls-key") }
            if handshakeTimeout != nil {
                throw ValidationError("--tls-handshake-timeout needs --tls-cert and --tls-key")
            }
        case (_?, nil): throw ValidationError("--tls-cert needs --tls-key (the certificate's private key)")
        case (nil, _?): throw ValidationError("--tls-key needs --tls-cert (the key's certificate)")
        case (_?, _?): _ = try context()  // reads and checks the files now, for exit status 64
        }
    }

    /// The server context, or nil without --tls-cert.
    /// - Throws: `ValidationError` naming the file and the reason.
    func context() throws -> TLSContext? {
        guard let cert, let key else { return nil }
        let timeout =
            try handshakeTimeout.map { try Seconds.duration($0, option: "--tls-handshake-timeout") } ?? .seconds(10)
        do {
            return try TLSContext.server(
                certificateChain: cert, privateKey: key, clientCA: clientCA, handshakeTimeout: timeout)
        } catch {
            throw ValidationError(error.message)
        }
    }

    /// Listens with TLS when `context` is given, in plaintext otherwise; with `proxyProtocol`,
    /// every connection starts with a PROXY header (before TLS).
    func listen(
        _ context: TLSContext?, _ address: String, backlog: Int, reuseAddress: Bool, reusePort: Bool = false,
        transcoder: Transcoder, maxLineLength: Int, logger: Logger, proxyProtocol: ProxyProtocolConfiguration? = nil
    ) async throws -> ServerStream {
        if let context {
            return try await tcpServerStream(
                address, tls: context, backlog: backlog, reuseAddress: reuseAddress, reusePort: reusePort,
                transcoder: transcoder, maxLineLength: maxLineLength, logger: logger, proxyProtocol: proxyProtocol)
        }
        return try await tcpServerStream(
            address, backlog: backlog, reuseAddress: reuseAddress, reusePort: reusePort, transcoder: transcoder,
            maxLineLength: maxLineLength, logger: logger, proxyProtocol: proxyProtocol)
    }

    /// Serves an inherited listening socket (socket activation), with TLS when `context` is
    /// given.
    func adopt(
        _ context: TLSContext?, listeningSocket fd: CInt, backlog: Int, transcoder: Transcoder, maxLineLength: Int,
        logger: Logger, proxyProtocol: ProxyProtocolConfiguration? = nil
    ) async throws -> ServerStream {
        if let context {
            return try await tcpServerStream(
                listeningSocket: fd, tls: context, backlog: backlog, transcoder: transcoder,
                maxLineLength: maxLineLength, logger: logger, proxyProtocol: proxyProtocol)
        }
        return try await tcpServerStream(
            listeningSocket: fd, backlog: backlog, transcoder: transcoder, maxLineLength: maxLineLength, logger: logger,
            proxyProtocol: proxyProtocol)
    }
}

/// `send --tls [--tls-ca PATH] [--tls-server-name NAME] [--tls-cert PATH --tls-key PATH]`.
struct SendTLSOptions: ParsableArguments {
    @Flag(name: .customLong("tls"), help: "Connect with TLS, verifying the server's certificate and name.")
    var enabled = false

    @Option(
        name: .customLong("tls-ca"),
        help: ArgumentHelp(
            "Trust the CA certificates in this PEM file instead of the system's.", valueName: "path"))
    var ca: String?

    @Option(
        name: .customLong("tls-server-name"),
        help: ArgumentHelp(
            "The name to send (SNI) and verify instead of ADDRESS's host (an IP address in ADDRESS is verified against the certificate's IP names).",
            valueName: "name"))
    var serverName: String?

    @Option(
        name: .customLong("tls-cert"),
        help: ArgumentHelp(
            "Present this PEM client certificate (for servers that require one); needs --tls-key.", valueName: "path"))
    var cert: String?

    @Option(name: .customLong("tls-key"), help: ArgumentHelp("The PEM private key of --tls-cert.", valueName: "path"))
    var key: String?

    func validate() throws {
        if !enabled {
            let given = [("--tls-ca", ca), ("--tls-server-name", serverName), ("--tls-cert", cert), ("--tls-key", key)]
            if let (option, _) = given.first(where: { $0.1 != nil }) { throw ValidationError("\(option) needs --tls") }
            return
        }
        if cert != nil && key == nil {
            throw ValidationError("--tls-cert needs --tls-key (the certificate's private key)")
        }
        if key != nil && cert == nil { throw ValidationError("--tls-key needs --tls-cert (the key's certificate)") }
        _ = try context()
    }

    /// The client context, or nil without --tls.
    /// - Throws: `ValidationError` naming the file and the reason.
    func context(handshakeTimeout: Duration = .seconds(10)) throws -> TLSContext? {
        guard enabled else { return nil }
        do {
            return try TLSContext.client(
                trustRoots: ca, serverName: serverName, certificateChain: cert, privateKey: key,
                handshakeTimeout: handshakeTimeout)
        } catch {
            throw ValidationError(error.message)
        }
    }

    /// Connects with TLS when `context` is given, in plaintext otherwise.
    func connect(
        _ context: TLSContext?, _ address: String, transcoder: Transcoder, connectTimeout: Duration
    ) async throws -> ClientStream {
        if let context {
            return try await tcpClientStream(
                address, tls: context, transcoder: transcoder, connectTimeout: connectTimeout)
        }
        return try await tcpClientStream(address, transcoder: transcoder, connectTimeout: connectTimeout)
    }
}
