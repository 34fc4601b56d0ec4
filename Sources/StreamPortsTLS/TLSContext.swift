import NIOCore
import NIOSSL
import StreamPorts

/// The TLS settings of a server or a client (Gambit's tls-context): certificates, keys, trust
/// roots, protocol versions and timeouts, built once and shared by every connection that uses
/// it.
///
/// Building a context reads and checks its files (and, for a client that trusts the system's
/// roots, the system's CA bundle): do it once, at startup, not per connection and not on an
/// event loop. Every problem with the files is reported here, naming the file.
///
/// ```swift
/// let server = try TLSContext.server(certificateChain: "server.pem", privateKey: "server.key")
/// let client = try TLSContext.client(trustRoots: "ca.pem")
/// ```
public final class TLSContext: Sendable {
    /// Which side of the handshake a context plays.
    public enum Role: String, Sendable, Hashable {
        /// Accepts handshakes and presents its certificate.
        case server
        /// Starts handshakes and verifies the server's certificate.
        case client
    }

    /// The oldest TLS version a context accepts.
    public enum ProtocolVersion: String, Sendable, Hashable {
        /// TLS 1.2 (the default).
        case tls12 = "TLSv1.2"
        /// TLS 1.3 only.
        case tls13 = "TLSv1.3"
    }

    /// Which side of the handshake this context plays.
    public let role: Role
    /// How long a handshake may take before the connection is closed.
    public let handshakeTimeout: Duration
    /// How long closing waits for the peer's close_notify after sending ours.
    public let closeTimeout: Duration
    /// A client's name for SNI and certificate verification, overriding the host of the
    /// address (nil: that host).
    public let serverName: String?
    /// The ALPN protocols offered or accepted, in order of preference.
    public let applicationProtocols: [String]
    /// True when a server requires and verifies client certificates (mutual TLS).
    public let requiresClientCertificate: Bool

    let ssl: NIOSSLContext

    private init(
        role: Role, configuration: TLSConfiguration, handshakeTimeout: Duration, closeTimeout: Duration,
        serverName: String?, describing files: String
    ) throws(StreamPortError) {
        guard handshakeTimeout > .zero, closeTimeout >= .zero else {
            throw StreamPortError(
                .tlsInvalidUserData,
                "TLS context: the handshake timeout must be positive and the close timeout not negative")
        }
        do {
            self.ssl = try NIOSSLContext(configuration: configuration)
        } catch {
            throw TLSErrorMapping.contextError(error, files: files)
        }
        self.role = role
        self.handshakeTimeout = handshakeTimeout
        self.closeTimeout = closeTimeout
        self.serverName = serverName
        self.applicationProtocols = configuration.applicationProtocols
        self.requiresClientCertificate =
            switch configuration.certificateVerification {
            case .fullVerification, .noHostnameVerification: role == .server
            case .none: false
            }
    }

    /// A server context from PEM files.
    ///
    /// - Parameters:
    ///   - certificateChain: path of a PEM file: the server's certificate, then any
    ///     intermediate certificates.
    ///   - privateKey: path of the PEM file of the certificate's private key (unencrypted).
    ///   - clientCA: path of a PEM file of CA certificates; when given, every client must
    ///     present a certificate one of them signed (mutual TLS), and its subject is visible in
    ///     ``TLSInfo/peerCertificateSubject``.
    ///   - applicationProtocols: ALPN protocols accepted, in order of preference.
    ///   - minimumVersion: the oldest TLS version accepted (default TLS 1.2).
    ///   - handshakeTimeout: how long a client may take to complete its handshake before its
    ///     connection is closed (default 10 s).
    ///   - closeTimeout: how long closing a stream waits for the peer's close_notify (default
    ///     3 s).
    /// - Returns: the context.
    /// - Throws: ``StreamPortError`` `.tlsInvalidUserData` naming the file and the reason: a
    ///   missing or unreadable file, no PEM certificate or key in it, a key that does not
    ///   match the certificate.
    public static func server(
        certificateChain: String, privateKey: String, clientCA: String? = nil, applicationProtocols: [String] = [],
        minimumVersion: ProtocolVersion = .tls12, handshakeTimeout: Duration = .seconds(10),
        closeTimeout: Duration = .seconds(3)
    ) throws(StreamPortError) -> TLSContext {
        let chain = try PEMLoader.certificates(
            PEMLoader.read(certificateChain, what: "certificate"), from: "certificate file \"\(certificateChain)\"")
        let key = try PEMLoader.privateKey(
            PEMLoader.read(privateKey, what: "private key"), from: "private key file \"\(privateKey)\"")
        let roots = try clientCA.map { path throws(StreamPortError) in
            try PEMLoader.certificates(PEMLoader.read(path, what: "client CA"), from: "client CA file \"\(path)\"")
        }
        return try makeServer(
            chain: chain, key: key, clientCA: roots, applicationProtocols: applicationProtocols,
            minimumVersion: minimumVersion,
            handshakeTimeout: handshakeTimeout, closeTimeout: closeTimeout,
            files: "certificate file \"\(certificateChain)\" and private key file \"\(privateKey)\"")
    }

    /// A server context from PEM text in memory (for certificates that do not live in files).
    ///
    /// - Parameters:
    ///   - certificateChainPEM: the server's certificate, then any intermediates, as PEM text.
    ///   - privateKeyPEM: the certificate's private key, as PEM text (unencrypted).
    ///   - clientCAPEM: CA certificates as PEM text; when given, clients must present a
    ///     certificate one of them signed (mutual TLS).
    ///   - applicationProtocols: ALPN protocols accepted, in order of preference.
    ///   - minimumVersion: the oldest TLS version accepted (default TLS 1.2).
    ///   - handshakeTimeout: how long a handshake may take (default 10 s).
    ///   - closeTimeout: how long closing waits for the peer's close_notify (default 3 s).
    /// - Returns: the context.
    /// - Throws: ``StreamPortError`` `.tlsInvalidUserData` naming which PEM text is wrong and
    ///   why.
    public static func server(
        certificateChainPEM: String, privateKeyPEM: String, clientCAPEM: String? = nil,
        applicationProtocols: [String] = [],
        minimumVersion: ProtocolVersion = .tls12, handshakeTimeout: Duration = .seconds(10),
        closeTimeout: Duration = .seconds(3)
    ) throws(StreamPortError) -> TLSContext {
        let chain = try PEMLoader.certificates(Array(certificateChainPEM.utf8), from: "certificate PEM text")
        let key = try PEMLoader.privateKey(Array(privateKeyPEM.utf8), from: "private key PEM text")
        let roots = try clientCAPEM.map { text throws(StreamPortError) in
            try PEMLoader.certificates(Array(text.utf8), from: "client CA PEM text")
        }
        return try makeServer(
            chain: chain, key: key, clientCA: roots, applicationProtocols: applicationProtocols,
            minimumVersion: minimumVersion,
            handshakeTimeout: handshakeTimeout, closeTimeout: closeTimeout,
            files: "certificate and private key PEM text")
    }

    private static func makeServer(
        chain: [NIOSSLCertificate], key: NIOSSLPrivateKey, clientCA: [NIOSSLCertificate]?,
        applicationProtocols: [String],
        minimumVersion: ProtocolVersion, handshakeTimeout: Duration, closeTimeout: Duration, files: String
    ) throws(StreamPortError) -> TLSContext {
        var configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(key))
        configuration.minimumTLSVersion = minimumVersion.nio
        configuration.applicationProtocols = applicationProtocols
        configuration.shutdownTimeout = .nanoseconds(nanoseconds(closeTimeout))
        if let clientCA {
            configuration.certificateVerification = .noHostnameVerification
            configuration.trustRoots = .certificates(clientCA)
            configuration.sendCANameList = true
        }
        return try TLSContext(
            role: .server, configuration: configuration, handshakeTimeout: handshakeTimeout, closeTimeout: closeTimeout,
            serverName: nil, describing: files)
    }

    /// A client context.
    ///
    /// The server's certificate must chain to one of the trust roots and name the server:
    /// `serverName` if given, else the host of the address connected to. When that host is
    /// an IP literal (`127.0.0.1`, `[::1]`), no SNI is sent and the address is checked against
    /// the certificate's IP subject alternative names.
    /// - Parameters:
    ///   - trustRoots: path of a PEM file of CA certificates to trust; nil: the system's.
    ///   - serverName: the name to send (SNI) and to verify, instead of the address's host.
    ///   - certificateChain: path of a PEM file of the client's certificate (and
    ///     intermediates), for servers that require one; needs `privateKey`.
    ///   - privateKey: path of the PEM file of that certificate's private key.
    ///   - applicationProtocols: ALPN protocols offered, in order of preference.
    ///   - minimumVersion: the oldest TLS version accepted (default TLS 1.2).
    ///   - handshakeTimeout: how long the handshake may take (default 10 s).
    ///   - closeTimeout: how long closing waits for the peer's close_notify (default 3 s).
    /// - Returns: the context.
    /// - Throws: ``StreamPortError`` `.tlsInvalidUserData` naming the file and the reason (as
    ///   the server form), for a certificate without a key or a key without a certificate, and
    ///   for a `serverName` that cannot be sent as SNI (empty, longer than 255 bytes, or with
    ///   a NUL).
    public static func client(
        trustRoots: String? = nil, serverName: String? = nil, certificateChain: String? = nil,
        privateKey: String? = nil,
        applicationProtocols: [String] = [], minimumVersion: ProtocolVersion = .tls12,
        handshakeTimeout: Duration = .seconds(10), closeTimeout: Duration = .seconds(3)
    ) throws(StreamPortError) -> TLSContext {
        if let serverName, serverName.isEmpty || serverName.utf8.count > 255 || serverName.utf8.contains(0) {
            throw StreamPortError(
                .tlsInvalidUserData,
                "server name \"\(serverName)\" cannot be used for SNI: it must be 1 to 255 bytes without NUL")
        }
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.minimumTLSVersion = minimumVersion.nio
        configuration.applicationProtocols = applicationProtocols
        configuration.shutdownTimeout = .nanoseconds(nanoseconds(closeTimeout))
        var files = "the system's trust roots"
        if let trustRoots {
            configuration.trustRoots = .certificates(
                try PEMLoader.certificates(
                    PEMLoader.read(trustRoots, what: "trust roots"), from: "trust roots file \"\(trustRoots)\""))
            files = "trust roots file \"\(trustRoots)\""
        }
        switch (certificateChain, privateKey) {
        case (nil, nil):
            break
        case (let chainPath?, let keyPath?):
            let chain = try PEMLoader.certificates(
                PEMLoader.read(chainPath, what: "certificate"), from: "certificate file \"\(chainPath)\"")
            let key = try PEMLoader.privateKey(
                PEMLoader.read(keyPath, what: "private key"), from: "private key file \"\(keyPath)\"")
            files = "certificate file \"\(chainPath)\" and private key file \"\(keyPath)\""
            configuration.certificateChain = chain.map { .certificate($0) }
            configuration.privateKey = .privateKey(key)
        case (let chainPath?, nil):
            throw StreamPortError(
                .tlsInvalidUserData, "certificate file \"\(chainPath)\" given without its private key")
        case (nil, let keyPath?):
            throw StreamPortError(.tlsInvalidUserData, "private key file \"\(keyPath)\" given without its certificate")
        }
        return try TLSContext(
            role: .client, configuration: configuration, handshakeTimeout: handshakeTimeout, closeTimeout: closeTimeout,
            serverName: serverName, describing: files)
    }
}

extension TLSContext.ProtocolVersion {
    var nio: TLSVersion {
        switch self {
        case .tls12: .tlsv12
        case .tls13: .tlsv13
        }
    }
}

/// A duration in whole nanoseconds (negative: zero).
func nanoseconds(_ duration: Duration) -> Int64 {
    let c = duration.components
    return max(0, c.seconds * 1_000_000_000 + c.attoseconds / 1_000_000_000)
}
