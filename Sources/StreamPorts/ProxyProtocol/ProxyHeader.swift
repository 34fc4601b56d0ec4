import NIOCore

/// A PROXY protocol header (HAProxy's `doc/proxy-protocol.txt`, versions 1 and 2), as sent by
/// a load balancer in front of a connection to tell the original client's and server's
/// addresses. ``ProxyHeaderParser`` makes it from the first bytes of a connection.
///
/// Version 1 (text) maps onto the version 2 vocabulary: `TCP4` is `.inet`/`.stream`, `TCP6`
/// is `.inet6`/`.stream`, `UNKNOWN` is `.unspecified`/`.unspecified`; its command is always
/// `.proxy` and it has no TLVs.
///
/// ```swift
/// if header.command == .proxy, case .ip(let address, let port)? = header.source {
///     print("client \(address) port \(port)")   // else: keep the socket's real endpoints
/// }
/// ```
public struct ProxyHeader: Sendable, Hashable {
    /// Whether the connection is relayed for a client or made by the proxy itself.
    public enum Command: Sendable, Hashable {
        /// The proxy's own connection (a health check): use the socket's real endpoints.
        case local
        /// A relayed connection: the header's endpoints are the original ones.
        case proxy
    }

    /// The original connection's address family.
    public enum Family: Sendable, Hashable {
        /// IPv4 (v1 `TCP4`).
        case inet
        /// IPv6 (v1 `TCP6`).
        case inet6
        /// A UNIX domain socket (v2 only).
        case unix
        /// Unknown or not told (v1 `UNKNOWN`, v2 `AF_UNSPEC`): use the socket's real endpoints.
        case unspecified
    }

    /// The original connection's transport.
    public enum Transport: Sendable, Hashable {
        /// `SOCK_STREAM`: TCP, or a UNIX stream socket.
        case stream
        /// `SOCK_DGRAM`: UDP, or a UNIX datagram socket.
        case datagram
        /// Unknown or not told.
        case unspecified
    }

    /// One end of the original connection.
    public enum Endpoint: Sendable, Hashable, CustomStringConvertible {
        /// An IP address (dotted decimal for IPv4, RFC 5952 text for IPv6, IPv4-mapped IPv6 as
        /// `::ffff:a.b.c.d`) and a port, 0–65535.
        case ip(address: String, port: Int)
        /// A UNIX socket path: the bytes before the first NUL as UTF-8 (invalid sequences as
        /// U+FFFD); an abstract socket (leading NUL) is written `@name`.
        case unix(path: String)

        /// `192.0.2.1:56324`, `[2001:db8::1]:443`, `unix:/run/app.sock`.
        public var description: String {
            switch self {
            case .ip(let address, let port): address.contains(":") ? "[\(address)]:\(port)" : "\(address):\(port)"
            case .unix(let path): "unix:\(path)"
            }
        }

        /// The endpoint as a NIO socket address (nil for an abstract UNIX socket or a path
        /// too long for `sockaddr_un`).
        public var socketAddress: SocketAddress? {
            switch self {
            case .ip(let address, let port): try? SocketAddress(ipAddress: address, port: port)
            case .unix(let path): path.hasPrefix("@") ? nil : try? SocketAddress(unixDomainSocketPath: path)
            }
        }
    }

    /// A version 2 type-length-value field, as sent.
    public struct TLV: Sendable, Hashable {
        /// The type byte (see ``ProxyHeader/TLVType``).
        public var type: UInt8
        /// The value (at most 65,535 bytes; in practice far less).
        public var value: [UInt8]

        /// Creates a field.
        /// - Parameters:
        ///   - type: the type byte.
        ///   - value: the value.
        public init(type: UInt8, value: [UInt8]) {
            self.type = type
            self.value = value
        }
    }

    /// The registered TLV types and SSL subtypes.
    public enum TLVType {
        /// Application-Layer Protocol Negotiation: the protocol in use (as in TLS's ALPN).
        public static let alpn: UInt8 = 0x01
        /// The host name the client asked for (TLS SNI), UTF-8.
        public static let authority: UInt8 = 0x02
        /// A CRC32C of the whole header with this field's value zeroed; verified by the parser.
        public static let crc32c: UInt8 = 0x03
        /// Padding, ignored.
        public static let noop: UInt8 = 0x04
        /// An opaque connection identifier, at most 128 bytes.
        public static let uniqueID: UInt8 = 0x05
        /// TLS information with sub-TLVs (``ProxyHeader/SSL``).
        public static let ssl: UInt8 = 0x20
        /// SSL sub-TLV: the TLS version, US-ASCII (`TLSv1.3`).
        public static let sslVersion: UInt8 = 0x21
        /// SSL sub-TLV: the client certificate's Common Name, UTF-8.
        public static let sslCommonName: UInt8 = 0x22
        /// SSL sub-TLV: the cipher, US-ASCII (`ECDHE-RSA-AES128-GCM-SHA256`).
        public static let sslCipher: UInt8 = 0x23
        /// SSL sub-TLV: the frontend certificate's signature algorithm (`RSA-SHA256`).
        public static let sslSignatureAlgorithm: UInt8 = 0x24
        /// SSL sub-TLV: the frontend certificate's key algorithm (`RSA2048`).
        public static let sslKeyAlgorithm: UInt8 = 0x25
        /// The network namespace's name, US-ASCII.
        public static let netns: UInt8 = 0x30
    }

    /// The `PP2_TYPE_SSL` field: how the client reached the proxy over TLS.
    public struct SSL: Sendable, Hashable {
        /// Which TLS elements the client presented (`PP2_CLIENT_*`).
        public struct Client: OptionSet, Sendable, Hashable {
            public let rawValue: UInt8
            /// Creates flags from the field's byte (unknown bits are kept).
            /// - Parameter rawValue: the `client` byte.
            public init(rawValue: UInt8) { self.rawValue = rawValue }
            /// The client connected over TLS (`PP2_CLIENT_SSL`).
            public static let ssl = Client(rawValue: 0x01)
            /// The client presented a certificate on this connection (`PP2_CLIENT_CERT_CONN`).
            public static let certificateOnConnection = Client(rawValue: 0x02)
            /// The client presented a certificate in this TLS session (`PP2_CLIENT_CERT_SESS`).
            public static let certificateInSession = Client(rawValue: 0x04)
        }

        /// The `client` flags.
        public var client: Client
        /// The `verify` field: 0 when the client presented a certificate that verified,
        /// non-zero otherwise.
        public var verify: UInt32
        /// The sub-TLVs, as sent.
        public var subTLVs: [TLV]

        /// Creates the field's contents.
        /// - Parameters:
        ///   - client: the flags.
        ///   - verify: the verification result (0: verified).
        ///   - subTLVs: the sub-TLVs.
        public init(client: Client, verify: UInt32, subTLVs: [TLV]) {
            self.client = client
            self.verify = verify
            self.subTLVs = subTLVs
        }

        /// Whether the client presented a certificate that verified (`verify` is 0 and a
        /// certificate flag is set).
        public var hasVerifiedCertificate: Bool {
            verify == 0 && !client.isDisjoint(with: [.certificateOnConnection, .certificateInSession])
        }
        /// The TLS version (`TLSv1.3`), from sub-TLV 0x21.
        public var version: String? { text(TLVType.sslVersion) }
        /// The client certificate's Common Name, from sub-TLV 0x22.
        public var commonName: String? { text(TLVType.sslCommonName) }
        /// The cipher name, from sub-TLV 0x23.
        public var cipher: String? { text(TLVType.sslCipher) }
        /// The frontend certificate's signature algorithm, from sub-TLV 0x24.
        public var signatureAlgorithm: String? { text(TLVType.sslSignatureAlgorithm) }
        /// The frontend certificate's key algorithm, from sub-TLV 0x25.
        public var keyAlgorithm: String? { text(TLVType.sslKeyAlgorithm) }

        private func text(_ type: UInt8) -> String? {
            subTLVs.first { $0.type == type }.map { String(decoding: $0.value, as: UTF8.self) }
        }
    }

    /// 1 (text) or 2 (binary).
    public var version: Int
    /// LOCAL or PROXY (always `.proxy` in version 1).
    public var command: Command
    /// The original connection's address family.
    public var family: Family
    /// The original connection's transport.
    public var transport: Transport
    /// The original client; nil for LOCAL, v1 `UNKNOWN` and v2 `AF_UNSPEC`.
    public var source: Endpoint?
    /// The original server address the client connected to; nil when `source` is.
    public var destination: Endpoint?
    /// Every version 2 TLV in the order sent, NOOP and CRC32C included.
    public var tlvs: [TLV]

    /// Creates a header.
    /// - Parameters:
    ///   - version: 1 or 2.
    ///   - command: LOCAL or PROXY.
    ///   - family: the address family.
    ///   - transport: the transport.
    ///   - source: the original client, if told.
    ///   - destination: the original server address, if told.
    ///   - tlvs: the TLVs (version 2).
    public init(
        version: Int, command: Command, family: Family, transport: Transport,
        source: Endpoint? = nil, destination: Endpoint? = nil, tlvs: [TLV] = []
    ) {
        self.version = version
        self.command = command
        self.family = family
        self.transport = transport
        self.source = source
        self.destination = destination
        self.tlvs = tlvs
    }

    /// The value of the first TLV of `type`, if any.
    /// - Parameter type: a type byte (see ``TLVType``).
    public func value(ofType type: UInt8) -> [UInt8]? {
        tlvs.first { $0.type == type }?.value
    }

    /// The ALPN protocol (for example `h2`), as bytes.
    public var alpn: [UInt8]? { value(ofType: TLVType.alpn) }
    /// The authority (TLS SNI) as UTF-8 (invalid sequences as U+FFFD).
    public var authority: String? { value(ofType: TLVType.authority).map { String(decoding: $0, as: UTF8.self) } }
    /// The CRC32C the header carried (the parser has verified it).
    public var crc32c: UInt32? {
        value(ofType: TLVType.crc32c).flatMap { $0.count == 4 ? $0.reduce(0) { $0 << 8 | UInt32($1) } : nil }
    }
    /// The unique connection ID (at most 128 bytes).
    public var uniqueID: [UInt8]? { value(ofType: TLVType.uniqueID) }
    /// The TLS information, if the header has a well-formed SSL TLV.
    public var ssl: SSL? {
        value(ofType: TLVType.ssl).flatMap { value in value.withUnsafeBytes { try? ProxyHeaderParser.decodeSSL($0) } }
    }
    /// The network namespace's name.
    public var netns: String? { value(ofType: TLVType.netns).map { String(decoding: $0, as: UTF8.self) } }
}
