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

/// Logs failed server-side handshakes without letting a port scanner flood the log: the first
/// ``burst`` of each ``window`` are logged one by one, the rest summed up when the next
/// failure comes after the window. Every failure is counted.
final class HandshakeFailureLog: Sendable {
    static let burst = 5
    static let window: Duration = .seconds(10)

    private struct State {
        var windowStart = ContinuousClock.now
        var inWindow = 0
        var suppressed = 0
        var total = 0
    }

    private let logger: Logger
    private let state = Mutex(State())

    init(logger: Logger) { self.logger = logger }

    /// Failed handshakes so far.
    var count: Int { state.withLock { $0.total } }

    func record(_ error: any Error, peer: String) {
        let now = ContinuousClock.now
        let (log, summary) = state.withLock { s -> (Bool, Int) in
            s.total += 1
            var summary = 0
            if now - s.windowStart >= HandshakeFailureLog.window {
                summary = s.suppressed
                s.windowStart = now
                s.inWindow = 0
                s.suppressed = 0
            }
            s.inWindow += 1
            if s.inWindow > HandshakeFailureLog.burst {
                s.suppressed += 1
                return (false, summary)
            }
            return (true, summary)
        }
        if summary > 0 {
            logger.warning(
                "\(summary) more TLS handshake failure(s) were not logged in the last \(HandshakeFailureLog.window)")
        }
        if log {
            let message = (error as? StreamPortError)?.message ?? "TLS handshake with \(peer) failed: \(error)"
            logger.warning("\(message); connection closed")
        }
    }
}
