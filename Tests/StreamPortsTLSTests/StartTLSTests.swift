import Foundation
import StreamPorts
import StreamPortsTLS
import Synchronization
import Testing

/// A tiny SMTP-shaped server on StreamPorts: greeting `220`, `EHLO` → `250-…`/`250 STARTTLS`
/// (then `250 …` only, once secured), `STARTTLS` → `220 ready`, then ``ClientStream/startTLS(_:serverName:)``;
/// `QUIT` → `221`. It records the commands it executed and how STARTTLS went.
final class MiniSMTP: Sendable {
    let server: ServerStream
    let executed = Mutex<[String]>([])
    let startTLSErrors = Mutex<[StreamPortError]>([])
    let secured = Mutex<[TLSInfo]>([])
    private let task = Mutex<Task<Void, Never>?>(nil)

    init(tls: TLSContext = serverTLS) async throws {
        server = try await tcpServerStream("127.0.0.1:0", transcoder: Transcoder(eolStyle: .crlf))
        let started = Task { [self] in
            await withTaskGroup(of: Void.self) { group in
                while let client = await server.read() {
                    group.addTask { await self.session(client, tls: tls) }
                }
            }
        }
        task.withLock { $0 = started }
    }

    var port: Int { server.localPort }

    private func session(_ c: ClientStream, tls: TLSContext) async {
        c.readTimeout = .seconds(20)
        do {
            try c.showln("220 mini.example ESMTP")
            while let line = try await c.readLine() {
                executed.withLock { $0.append(line) }
                switch line.uppercased() {
                case let l where l.hasPrefix("EHLO"):
                    if c.tls == nil {
                        try c.showln("250-mini.example")
                        try c.showln("250 STARTTLS")
                    } else {
                        try c.showln("250 mini.example (secured \(c.tls!.protocolVersion))")
                    }
                case "STARTTLS":
                    try c.showln("220 ready to start TLS")
                    do {
                        try await c.startTLS(tls)
                        secured.withLock { $0.append(c.tls!) }
                    } catch let error as StreamPortError {
                        startTLSErrors.withLock { $0.append(error) }
                        if error.code == .operation {
                            try? c.showln("554 5.5.1 pipelined commands after STARTTLS refused")
                        }
                        try? await c.close()
                        return
                    }
                case "QUIT":
                    try c.showln("221 bye")
                    try await c.close()
                    return
                default:
                    try c.showln("250 ok: \(line)")
                }
            }
        } catch {}
        try? await c.close()
    }

    func stop() async {
        await server.close()
        task.withLock { $0 }?.cancel()
    }
}

@Suite("STARTTLS") struct StartTLSTests {
    @Test("an SMTP-shaped dialogue upgrades in place: same stream, same transcoder, TLS after")
    func dialogue() async throws {
        let smtp = try await MiniSMTP()
        defer { Task { await smtp.stop() } }
        let c = try await tcpClientStream("127.0.0.1:\(smtp.port)", transcoder: Transcoder(eolStyle: .crlf))
        #expect(try await c.readLine() == "220 mini.example ESMTP")
        try c.showln("EHLO me")
        #expect(try await c.readLine() == "250-mini.example")
        #expect(try await c.readLine() == "250 STARTTLS")
        try c.showln("STARTTLS")
        #expect(try await c.readLine() == "220 ready to start TLS")
        #expect(c.tls == nil)
        try await c.startTLS(clientTLS, serverName: "localhost")
        #expect(c.tls?.protocolVersion == "TLSv1.3")
        #expect(c.tls?.peerCertificateSubject == "CN=localhost")
        try c.showln("EHLO me again")
        #expect(try await c.readLine() == "250 mini.example (secured TLSv1.3)")
        try c.showln("MAIL FROM:<ü@example>")
        #expect(try await c.readLine() == "250 ok: MAIL FROM:<ü@example>")
        try c.showln("QUIT")
        #expect(try await c.readLine() == "221 bye")
        #expect(try await c.readLine() == nil)
        #expect(c.tlsInputEnding == .closeNotify)
        try await c.close()
        #expect(smtp.secured.withLock { $0.count } == 1)
        #expect(smtp.startTLSErrors.withLock { $0.isEmpty })
    }

    @Test("commands pipelined after STARTTLS in plaintext are refused (.operation), never executed")
    func injection() async throws {
        let smtp = try await MiniSMTP()
        defer { Task { await smtp.stop() } }
        let c = try await tcpClientStream("127.0.0.1:\(smtp.port)", transcoder: Transcoder(eolStyle: .crlf))
        #expect(try await c.readLine() == "220 mini.example ESMTP")
        try c.write("STARTTLS\nRCPT TO:<victim@example>\n")  // one segment
        try await c.flushWriter()
        #expect(try await c.readLine() == "220 ready to start TLS")
        #expect(try await c.readLine() == "554 5.5.1 pipelined commands after STARTTLS refused")
        #expect(try await c.readLine() == nil)
        #expect(smtp.executed.withLock { $0 } == ["STARTTLS"])
        let errors = smtp.startTLSErrors.withLock { $0 }
        #expect(errors.map(\.code) == [.operation])
        #expect(errors.first?.message.contains("buffered and unread") == true, "\(errors)")
        await c.abort()
    }

    @Test("the client side refuses too: bytes after the server's 220 are not upgraded over")
    func clientSideInjection() async throws {
        let plain = try await tcpServerStream("127.0.0.1:0", transcoder: Transcoder(eolStyle: .crlf))
        defer { Task { await plain.close() } }
        let evil = Task {
            guard let s = await plain.read() else { return }
            try? s.write("220 ready\n250 injected response\n")  // each \n goes out as CRLF
            try? await s.flushWriter()
            _ = try? await s.readAllBytes()
        }
        let c = try await tcpClientStream("127.0.0.1:\(plain.localPort)", transcoder: Transcoder(eolStyle: .crlf))
        #expect(try await c.readLine() == "220 ready")
        // The second line came in the same segment: it is buffered, unread.
        for _ in 0..<500 where c.bytesAvailable == 0 { try await Task.sleep(for: .milliseconds(10)) }
        #expect(c.bytesAvailable == 23)
        let error = await expectError(.operation) { try await c.startTLS(clientTLS, serverName: "localhost") }
        #expect(error?.message.contains("refusing to upgrade") == true)
        #expect(c.tls == nil)
        let after = try await c.readLine()
        #expect(after == "250 injected response", "\(String(describing: after))")  // the stream is unchanged
        await c.abort()
        evil.cancel()
    }

    @Test("startTLS twice is refused")
    func twice() async throws {
        try await withTLSServer { server in
            let echo = startEcho(server)
            defer { echo.cancel() }
            let c = try await tcpClientStream(loopback(server), tls: clientTLS)
            await expectError(.operation) { try await c.startTLS(clientTLS) }
            await c.abort()
        }
    }
}

@Suite("Mutual TLS") struct MutualTLSTests {
    let pki = TestPKI.shared

    var mutualServer: TLSContext {
        get throws {
            try TLSContext.server(
                certificateChain: pki.cert("server"), privateKey: pki.key("server"), clientCA: pki.cert("ca"))
        }
    }

    /// Connects and reads once; the error, if the connection or the read failed.
    func attempt(_ server: ServerStream, _ tls: TLSContext) async -> StreamPortError? {
        do {
            let c = try await tcpClientStream(loopback(server), tls: tls)
            c.readTimeout = .seconds(10)
            try c.showln("hello")
            _ = try await c.readLine()
            await c.abort()
            return nil
        } catch let error as StreamPortError {
            return error
        } catch {
            return StreamPortError(.system, "\(error)")
        }
    }

    @Test("no client certificate → rejected; another CA's → rejected; the right one → accepted, subject visible")
    func mutual() async throws {
        let log = CapturedLog()
        try await withTLSServer(tls: try mutualServer, logger: log.logger) { server in
            #expect(server.tlsHandshakeFailures == 0)
            let accepted = Mutex<[String?]>([])
            let serving = Task {
                while let c = await server.read() {
                    accepted.withLock { $0.append(c.tls?.peerCertificateSubject) }
                    Task {
                        _ = try? await callWithStream(c) { s in while let l = try await s.readLine() { try s.showln(l) }
                        }
                    }
                }
            }
            defer { serving.cancel() }

            let none = await attempt(server, clientTLS)
            #expect(none?.code == .tlsHandshakeFailed, "\(String(describing: none))")
            #expect(none?.message.contains("requires a client certificate") == true, "\(String(describing: none))")

            let other = try TLSContext.client(
                trustRoots: pki.cert("ca"), certificateChain: pki.cert("other-client"),
                privateKey: pki.key("other-client"))
            let stranger = await attempt(server, other)
            #expect(stranger?.code == .tlsHandshakeFailed, "\(String(describing: stranger))")
            #expect(
                stranger?.message.contains("does not trust our certificate") == true, "\(String(describing: stranger))")

            let right = try TLSContext.client(
                trustRoots: pki.cert("ca"), certificateChain: pki.cert("client"), privateKey: pki.key("client"))
            let c = try await tcpClientStream(loopback(server), tls: right)
            try c.showln("mutual")
            #expect(try await c.readLine() == "mutual")
            try await c.close()

            #expect(accepted.withLock { $0 } == ["O=StreamPorts Tests, CN=portecho client"])
            for _ in 0..<200 where server.tlsHandshakeFailures < 2 { try await Task.sleep(for: .milliseconds(10)) }
            #expect(server.tlsHandshakeFailures == 2)
            #expect(log.text.contains("sent no certificate"), "\(log.text)")
            #expect(
                log.text.contains(
                    "(O=Elsewhere, CN=stranger) is not trusted: untrusted issuer O=StreamPorts Tests, CN=Some Other CA"),
                "\(log.text)")
        }
    }
}
