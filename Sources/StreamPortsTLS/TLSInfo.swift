import Logging
import NIOCore
import NIOSSL
import StreamPorts
import Synchronization

/// What a TLS handshake settled, as seen by one side (``ClientStream/tls``).
public struct TLSInfo: Sendable, Hashable {
    /// The protocol version: `"TLSv1.2"` or `"TLSv1.3"`.
    public let protocolVersion: String
    /// The subject of the certificate the peer presented (`"O=Example, CN=client"`, in the
    /// certificate's order), or nil when it presented none (a client without a certificate).
    /// Attributes other than C, ST, L, O, OU, CN, emailAddress and UID are left out.
    public let peerCertificateSubject: String?
    /// The ALPN protocol agreed, if any.
    public let negotiatedProtocol: String?

    init(version: TLSVersion?, peerCertificate: NIOSSLCertificate?, negotiatedProtocol: String?) {
        self.protocolVersion =
            switch version {
            case .tlsv1: "TLSv1"
            case .tlsv11: "TLSv1.1"
            case .tlsv12: "TLSv1.2"
            case .tlsv13: "TLSv1.3"
            case nil: "unknown"
            }
        self.peerCertificateSubject = peerCertificate.map(TLSInfo.subject(of:))
        self.negotiatedProtocol = negotiatedProtocol
    }

    /// A certificate's subject, `"O=Example, CN=client"`.
    static func subject(of certificate: NIOSSLCertificate) -> String {
        describe(certificate.subjectName)
    }

    /// A distinguished name, `"O=Example, CN=client"`.
    static func describe(_ name: [SSLCertificateName]) -> String {
        let parts = name.compactMap { part -> String? in
            let key: String? =
                switch part.type {
                case .country: "C"
                case .state: "ST"
                case .city: "L"
                case .organization: "O"
                case .organizationalUnit: "OU"
                case .commonName: "CN"
                case .emailAddress: "emailAddress"
                case .userId: "UID"
                default: nil
                }
            return key.map { "\($0)=\(part.value)" }
        }
        return parts.isEmpty ? "(empty)" : parts.joined(separator: ", ")
    }

    /// `127.0.0.1:443`, `[::1]:443`.
    static func describe(_ address: SocketAddress) -> String {
        guard let ip = address.ipAddress, let port = address.port else { return "\(address)" }
        return address.protocol == .inet6 ? "[\(ip)]:\(port)" : "\(ip):\(port)"
    }
}

/// How the peer ended its side of a TLS stream (``ClientStream/tlsInputEnding``).
///
/// Both end the stream the same way (`readLine()` returns nil, ``ClientStream/eof`` becomes
/// true); only this tells a complete message from one an attacker or a crash may have cut
/// short.
public enum TLSInputEnding: String, Sendable, Hashable {
    /// The peer sent close_notify: everything it sent arrived.
    case closeNotify
    /// The connection ended without close_notify (a FIN or reset alone): what arrived may be
    /// truncated.
    case uncleanShutdown
}

/// Logs failed server-side handshakes without letting a port scanner flood the log: at most 5
/// in each 10 s (``LogRateLimiter``: the rest are counted and reported with the next one
/// logged). Every failure is counted.
final class HandshakeFailureLog: Sendable {
    private let logger: Logger
    private let limiter = LogRateLimiter(limit: 5, per: .seconds(10))
    private let total = Atomic<Int>(0)

    init(logger: Logger) { self.logger = logger }

    /// Failed handshakes so far.
    var count: Int { total.load(ordering: .relaxed) }

    func record(_ error: any Error, peer: String) {
        total.add(1, ordering: .relaxed)
        limiter.log(
            logger, .warning,
            "\((error as? StreamPortError)?.message ?? "TLS handshake with \(peer) failed: \(error)"); connection closed"
        )
    }
}
