import NIOCore
import NIOSSL
import StreamPorts

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// Reads certificates and keys, reporting every problem as `.tlsInvalidUserData` naming the
/// file.
enum PEMLoader {
    /// The largest PEM file read (a system CA bundle is a few hundred KiB).
    static let maxFileSize = 16 * 1024 * 1024

    /// The bytes of the file at `path`.
    static func read(_ path: String, what: String) throws(StreamPortError) -> [UInt8] {
        guard let file = fopen(path, "rb") else {
            let number = errno
            throw StreamPortError(
                .tlsInvalidUserData, errno: number,
                "cannot read \(what) file \"\(path)\": \(String(cString: strerror(number)))")
        }
        defer { fclose(file) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = chunk.withUnsafeMutableBytes { fread($0.baseAddress, 1, $0.count, file) }
            if n > 0 { bytes += chunk[0..<n] }
            if bytes.count > maxFileSize {
                throw StreamPortError(
                    .tlsInvalidUserData, "\(what) file \"\(path)\" is larger than \(maxFileSize / 1024 / 1024) MiB")
            }
            if n < chunk.count {
                if ferror(file) != 0 {
                    let number = errno
                    throw StreamPortError(
                        .tlsInvalidUserData, errno: number,
                        "cannot read \(what) file \"\(path)\": \(String(cString: strerror(number)))")
                }
                return bytes
            }
        }
    }

    /// The certificates in PEM `bytes` (at least one).
    static func certificates(_ bytes: [UInt8], from source: String) throws(StreamPortError) -> [NIOSSLCertificate] {
        guard containsPEM(bytes, label: "CERTIFICATE") else {
            throw StreamPortError(
                .tlsInvalidUserData, "\(source) holds no PEM certificate (no \"-----BEGIN CERTIFICATE-----\" line)")
        }
        let certificates: [NIOSSLCertificate]
        do {
            certificates = try NIOSSLCertificate.fromPEMBytes(bytes)
        } catch {
            throw StreamPortError(
                .tlsInvalidUserData,
                "\(source) is not valid PEM: a certificate in it cannot be decoded (\(TLSErrorMapping.libraryReason(error)))"
            )
        }
        guard !certificates.isEmpty else {
            throw StreamPortError(.tlsInvalidUserData, "\(source) holds no certificate that can be decoded")
        }
        return certificates
    }

    /// The private key in PEM `bytes`.
    static func privateKey(_ bytes: [UInt8], from source: String) throws(StreamPortError) -> NIOSSLPrivateKey {
        guard containsPEM(bytes, label: "PRIVATE KEY") else {
            throw StreamPortError(
                .tlsInvalidUserData, "\(source) holds no PEM private key (no \"-----BEGIN ... PRIVATE KEY-----\" line)")
        }
        if containsPEM(bytes, label: "ENCRYPTED PRIVATE KEY")
            || String(decoding: bytes, as: UTF8.self).contains("Proc-Type: 4,ENCRYPTED")
        {
            throw StreamPortError(
                .tlsInvalidUserData, "\(source) holds an encrypted private key; an unencrypted one is needed")
        }
        do {
            return try NIOSSLPrivateKey(bytes: bytes, format: .pem)
        } catch {
            throw StreamPortError(
                .tlsInvalidUserData,
                "\(source) is not valid PEM: its private key cannot be decoded (\(TLSErrorMapping.libraryReason(error)))"
            )
        }
    }

    /// True when `bytes` has a `-----BEGIN ...LABEL-----` line.
    private static func containsPEM(_ bytes: [UInt8], label: String) -> Bool {
        let text = String(decoding: bytes, as: UTF8.self)
        var rest = text[...]
        while let begin = rest.firstRange(of: "-----BEGIN ") {
            let after = rest[begin.upperBound...]
            guard let end = after.firstRange(of: "-----") else { return false }
            if after[..<end.lowerBound].hasSuffix(label) { return true }
            rest = after[end.upperBound...]
        }
        return false
    }
}

/// Turns swift-nio-ssl's and BoringSSL's errors into ``StreamPortError``s that say why.
enum TLSErrorMapping {
    /// The reasons BoringSSL gave (`CERTIFICATE_VERIFY_FAILED`, ...), or a synthetic
    /// description (`EOF during handshake`).
    static func reasons(_ error: BoringSSLError) -> [String] {
        let stack: NIOBoringSSLErrorStack
        switch error {
        case .sslError(let s), .unknownError(let s), .invalidSNIName(let s), .failedToSetALPN(let s): stack = s
        case .zeroReturn: return ["close_notify received"]
        case .syscallError: return ["system call failed"]
        default: return ["\(error)"]
        }
        return stack.map { reason(of: "\($0)") }
    }

    /// The reason field of a BoringSSL error description,
    /// `Error: 268435581 error:1000007d:SSL routines:OPENSSL_internal:CERTIFICATE_VERIFY_FAILED at file:line`.
    static func reason(of description: String) -> String {
        guard let start = description.firstRange(of: "error:") else {
            return description.hasPrefix("Error: ") ? String(description.dropFirst(7)).trimmed : description
        }
        var text = description[start.upperBound...]
        if let at = text.firstRange(of: " at ") { text = text[..<at.lowerBound] }
        return text.split(separator: ":", omittingEmptySubsequences: false).last.map(String.init) ?? String(text)
    }

    /// A short reason for any TLS library error.
    static func libraryReason(_ error: any Error) -> String {
        switch error {
        case let e as BoringSSLError: reasons(e).joined(separator: ", ")
        case let e as NIOSSLError:
            switch e {
            case .handshakeFailed(let inner), .shutdownFailed(let inner): reasons(inner).joined(separator: ", ")
            default: "\(e)"
            }
        default: "\(error)"
        }
    }

    /// The error of a handshake that failed.
    /// - Parameters:
    ///   - error: what swift-nio-ssl or the socket reported.
    ///   - peer: the peer's address.
    ///   - peerCertificate: the certificate the peer presented, if it got that far (used to
    ///     tell an expired certificate from an untrusted one).
    static func handshakeError(_ error: any Error, peer: String, peerCertificate: NIOSSLCertificate?) -> StreamPortError
    {
        if let error = error as? StreamPortError { return error }
        let why: String
        switch error {
        case let e as NIOSSLError:
            switch e {
            case .handshakeFailed(let inner):
                why = explain(reasons(inner), peerCertificate: peerCertificate)
            case .uncleanShutdown:
                why = "the peer closed the connection during the handshake"
            case .noCertificateToValidate:
                why = "the peer presented no certificate"
            default:
                why = "\(e)"
            }
        case let e as NIOSSLExtraError where e == .failedToValidateHostname:
            let subject = peerCertificate.map { " (certificate subject: \(TLSInfo.subject(of: $0)))" } ?? ""
            why =
                "name mismatch: \(e.description.replacing("Couldn't find ", with: "").replacing(" in certificate from peer", with: "")) is not a name of the peer's certificate\(subject)"
        case let e as BoringSSLError:
            why = explain(reasons(e), peerCertificate: peerCertificate)
        case let e as IOError:
            why = "\(String(cString: strerror(e.errnoCode))) (errno \(e.errnoCode))"
        case let e as ChannelError where e == .eof || e == .ioOnClosedChannel || e == .alreadyClosed:
            why = "the connection closed during the handshake"
        default:
            why = "\(error)"
        }
        return StreamPortError(
            .tlsHandshakeFailed, errno: (error as? IOError)?.errnoCode, "TLS handshake with \(peer) failed: \(why)")
    }

    /// An error after the handshake, for the stream; nil for errors the stream maps itself
    /// (the socket's).
    static func sessionError(_ error: any Error, peer: String) -> StreamPortError? {
        let found: [String]
        switch error {
        case let e as NIOSSLError:
            if case .handshakeFailed(let inner) = e {
                found = reasons(inner)
            } else if case .shutdownFailed(let inner) = e {
                found = reasons(inner)
            } else {
                found = ["\(e)"]
            }
        case let e as BoringSSLError:
            found = reasons(e)
        case is NIOSSLCloseTimedOutError:
            return nil  // closing gave up waiting for the peer's close_notify: not an error
        default:
            return nil
        }
        // In TLS 1.3 a client finishes its side of the handshake before the server has
        // checked the client's certificate: that rejection arrives as the first record.
        if found.contains(where: { certificateAlerts[$0] != nil }) {
            return StreamPortError(
                .tlsHandshakeFailed, "TLS handshake with \(peer) failed: \(explain(found, peerCertificate: nil))")
        }
        return StreamPortError(
            .tlsInternal, "TLS error on the connection with \(peer): \(explain(found, peerCertificate: nil))")
    }

    /// Alerts a peer sends when it rejects our certificate.
    static let certificateAlerts: [String: String] = [
        "TLSV1_ALERT_UNKNOWN_CA": "the peer does not trust our certificate's issuer (alert unknown_ca)",
        "SSLV3_ALERT_CERTIFICATE_EXPIRED": "the peer says our certificate has expired (alert certificate_expired)",
        "SSLV3_ALERT_BAD_CERTIFICATE": "the peer rejected our certificate (alert bad_certificate)",
        "SSLV3_ALERT_CERTIFICATE_UNKNOWN": "the peer rejected our certificate (alert certificate_unknown)",
        "SSLV3_ALERT_CERTIFICATE_REVOKED": "the peer says our certificate is revoked (alert certificate_revoked)",
        "TLSV1_ALERT_CERTIFICATE_REQUIRED":
            "the server requires a client certificate and none was sent (alert certificate_required)",
        "TLSV1_ALERT_ACCESS_DENIED": "the peer denied access (alert access_denied)",
    ]

    /// Other reasons, in words.
    static let explanations: [String: String] = [
        "PEER_DID_NOT_RETURN_A_CERTIFICATE":
            "the client sent no certificate, and this server requires one (mutual TLS)",
        "WRONG_VERSION_NUMBER": "the peer does not speak TLS (plaintext or garbage where a TLS record was expected)",
        "HTTP_REQUEST": "the peer sent a plaintext HTTP request",
        "HTTPS_PROXY_REQUEST": "the peer sent a plaintext HTTP proxy request",
        "UNSUPPORTED_PROTOCOL": "no protocol version in common: the peer's TLS version is outside the accepted range",
        "TLSV1_ALERT_PROTOCOL_VERSION": "no protocol version in common (alert protocol_version)",
        "NO_SHARED_CIPHER": "no cipher suite in common",
        "SSLV3_ALERT_HANDSHAKE_FAILURE":
            "the peer aborted the handshake (alert handshake_failure: no common parameters)",
        "NO_APPLICATION_PROTOCOL": "no ALPN protocol in common",
        "TLSV1_ALERT_NO_APPLICATION_PROTOCOL": "no ALPN protocol in common (alert no_application_protocol)",
        "EXCESSIVE_MESSAGE_SIZE": "the peer sent an oversized handshake message",
        "DECODE_ERROR": "the peer sent a malformed handshake message",
        "EOF during handshake": "the peer closed the connection during the handshake",
    ]

    /// The reasons in words; `CERTIFICATE_VERIFY_FAILED` is refined with the certificate.
    static func explain(_ found: [String], peerCertificate: NIOSSLCertificate?) -> String {
        let words = found.map { reason -> String in
            if reason == "CERTIFICATE_VERIFY_FAILED" { return certificateProblem(peerCertificate) }
            if let text = certificateAlerts[reason] ?? explanations[reason] { return text }
            return reason.lowercased().replacing("_", with: " ")
        }
        let raw = found.filter { $0.uppercased() == $0 }.joined(separator: ", ")
        return words.joined(separator: "; ") + (raw.isEmpty ? "" : " [\(raw)]")
    }

    /// Why a certificate failed verification: expired, not yet valid, or untrusted.
    static func certificateProblem(_ certificate: NIOSSLCertificate?) -> String {
        guard let certificate else { return "the peer's certificate did not verify" }
        let now = time(nil)
        if now > certificate.notValidAfter {
            return
                "the peer's certificate (\(TLSInfo.subject(of: certificate))) expired on \(utc(certificate.notValidAfter))"
        }
        if now < certificate.notValidBefore {
            return
                "the peer's certificate (\(TLSInfo.subject(of: certificate))) is not valid before \(utc(certificate.notValidBefore))"
        }
        let issuer = TLSInfo.describe(certificate.issuerName)
        return
            "the peer's certificate (\(TLSInfo.subject(of: certificate))) is not trusted: untrusted issuer \(issuer) (not among the trust roots, or the chain is invalid)"
    }

    /// `2024-05-01 12:00:00 UTC`.
    static func utc(_ seconds: time_t) -> String {
        var t = seconds
        var parts = tm()
        gmtime_r(&t, &parts)
        var buffer = [CChar](repeating: 0, count: 64)
        let n = strftime(&buffer, buffer.count, "%Y-%m-%d %H:%M:%S UTC", &parts)
        return String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// The error of a context that could not be built from files already read.
    static func contextError(_ error: any Error, files: String) -> StreamPortError {
        let reason = libraryReason(error)
        var keyRejected = false
        if case .failedToLoadPrivateKey? = error as? NIOSSLError { keyRejected = true }
        if reason.contains("KEY_VALUES_MISMATCH") || keyRejected {
            return StreamPortError(
                .tlsInvalidUserData, "\(files): the private key does not match the certificate [\(reason)]")
        }
        return StreamPortError(.tlsInvalidUserData, "\(files): cannot build a TLS context: \(reason)")
    }
}

extension StringProtocol {
    var trimmed: String {
        String(drop(while: { $0 == " " }).reversed().drop(while: { $0 == " " }).reversed())
    }
}

/// The name check a client adds to swift-nio-ssl's: swift-nio-ssl accepts a certificate whose
/// DNS names match the server name *or* whose IP names match the address connected to; when a
/// name is verified, only DNS names (or, without any subject alternative name, the common
/// name, which swift-nio-ssl has checked) may vouch for it.
enum NameCheck {
    /// The certificate's DNS subject alternative names.
    static func dnsNames(_ certificate: NIOSSLCertificate) -> [String] {
        certificate._subjectAlternativeNames().compactMap { name in
            name.nameType == .dnsName ? String(decoding: Array(name.contents), as: UTF8.self) : nil
        }
    }

    /// True when `name` matches a DNS name of `certificate` (RFC 6125: case-insensitive, a
    /// wildcard only as the whole left-most label), or when it has no subject alternative
    /// names at all.
    static func matches(_ certificate: NIOSSLCertificate, name: String) -> Bool {
        if certificate._subjectAlternativeNames().isEmpty { return true }
        let host = normalized(name)
        return dnsNames(certificate).contains { pattern in
            let pattern = normalized(pattern)
            if pattern == host { return true }
            guard pattern.hasPrefix("*."), let dot = host.firstIndex(of: ".") else { return false }
            let suffix = pattern.dropFirst(2)
            return host[host.index(after: dot)...] == suffix && suffix.contains(".") && host[..<dot].count > 0
        }
    }

    private static func normalized(_ name: String) -> String {
        var lower = name.lowercased()
        if lower.hasSuffix(".") { lower.removeLast() }
        return lower
    }
}
