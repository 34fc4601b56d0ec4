import StreamPorts
import StreamPortsTLS
import Testing

/// Reads until the peer ends the stream (EOF or reset); the time it took, or nil if it did not
/// end within `limit`.
func timeUntilClosed(_ stream: ClientStream, limit: Duration = .seconds(15)) async -> Duration? {
    let start = ContinuousClock.now
    stream.readTimeout = limit
    do {
        _ = try await stream.readAllBytes()
    } catch let error as StreamPortError where error.code == .timedOut {
        return nil
    } catch {}
    return ContinuousClock.now - start
}

/// Checks that a fresh TLS client is served by `server` (an echo).
func expectServed(_ server: ServerStream, sourceLocation: SourceLocation = #_sourceLocation) async throws {
    let client = try await tcpClientStream(loopback(server), tls: clientTLS)
    try client.showln("still serving")
    #expect(try await client.readLine() == "still serving", sourceLocation: sourceLocation)
    await client.abort()
}

@Suite("TLS failures") struct TLSFailureTests {
    func serverWith(_ name: String) throws -> TLSContext {
        let pki = TestPKI.shared
        return try TLSContext.server(certificateChain: pki.cert(name), privateKey: pki.key(name))
    }

    @Test("a certificate from an untrusted CA: tlsHandshakeFailed naming the untrusted issuer")
    func untrusted() async throws {
        try await withTLSServer(tls: try serverWith("untrusted")) { server in
            let echo = startEcho(server)
            defer { echo.cancel() }
            let error = await expectError(.tlsHandshakeFailed) {
                _ = try await tcpClientStream("localhost:\(server.localPort)", tls: clientTLS)
            }
            #expect(
                error?.message.contains("untrusted issuer O=StreamPorts Tests, CN=Some Other CA") == true,
                "\(error?.message ?? "")")
            #expect(error?.message.contains("CERTIFICATE_VERIFY_FAILED") == true)
        }
    }

    @Test("an expired certificate: tlsHandshakeFailed saying it expired")
    func expired() async throws {
        try await withTLSServer(tls: try serverWith("expired")) { server in
            let echo = startEcho(server)
            defer { echo.cancel() }
            let error = await expectError(.tlsHandshakeFailed) {
                _ = try await tcpClientStream("localhost:\(server.localPort)", tls: clientTLS)
            }
            #expect(error?.message.contains("expired on 2020-01-31 00:00:00 UTC") == true, "\(error?.message ?? "")")
        }
    }

    @Test(
        "a certificate for another name, by name and by IP: tlsHandshakeFailed saying name mismatch",
        arguments: ["localhost", "127.0.0.1"])
    func wrongName(host: String) async throws {
        try await withTLSServer(tls: try serverWith("wrong-name")) { server in
            let echo = startEcho(server)
            defer { echo.cancel() }
            let error = await expectError(.tlsHandshakeFailed) {
                _ = try await tcpClientStream("\(host):\(server.localPort)", tls: clientTLS)
            }
            #expect(error?.message.contains("name mismatch") == true, "\(error?.message ?? "")")
            #expect(error?.message.contains("CN=wrong.example") == true, "\(error?.message ?? "")")
        }
    }

    @Test("a name is verified against DNS names only: an IP name matching the address does not vouch for it")
    func nameNotVouchedByIP() async throws {
        try await withTLSServer(tls: try serverWith("wrong-name-ip")) { server in
            let echo = startEcho(server)
            defer { echo.cancel() }
            let error = await expectError(.tlsHandshakeFailed) {
                _ = try await tcpClientStream("localhost:\(server.localPort)", tls: clientTLS)
            }
            #expect(
                error?.message.contains("name mismatch: localhost is not a DNS name of the peer's certificate") == true,
                "\(error?.message ?? "")")
            // By IP, the IP name is what is verified.
            let byIP = try await tcpClientStream("127.0.0.1:\(server.localPort)", tls: clientTLS)
            try byIP.showln("by IP")
            #expect(try await byIP.readLine() == "by IP")
            await byIP.abort()
        }
    }

    @Test("the server name given in the context is the one verified")
    func serverNameOverride() async throws {
        try await withTLSServer(tls: try serverWith("wrong-name")) { server in
            let echo = startEcho(server)
            defer { echo.cancel() }
            let named = try TLSContext.client(trustRoots: TestPKI.shared.cert("ca"), serverName: "wrong.example")
            let client = try await tcpClientStream("127.0.0.1:\(server.localPort)", tls: named)
            try client.showln("ok")
            #expect(try await client.readLine() == "ok")
            await client.abort()
        }
    }

    @Test("plaintext and random bytes to a TLS port: that connection is closed and counted, others are served")
    func plaintextClient() async throws {
        let log = CapturedLog()
        try await withTLSServer(logger: log.logger) { server in
            let echo = startEcho(server)
            defer { echo.cancel() }
            let plain = try await tcpClientStream(loopback(server))
            try plain.showln("EHLO plaintext")
            try await plain.flushWriter()
            var garbage = SystemRandomNumberGenerator()
            let noise = try await tcpClientStream(loopback(server))
            try noise.write(bytes: (0..<4096).map { _ in UInt8.random(in: 0...255, using: &garbage) })
            try await noise.flushWriter()
            try await expectServed(server)
            #expect(await timeUntilClosed(plain) != nil)
            #expect(await timeUntilClosed(noise) != nil)
            try await expectServed(server)
            #expect(server.tlsHandshakeFailures == 2)
            #expect(log.text.contains("does not speak TLS"), "\(log.text)")
            await plain.abort()
            await noise.abort()
        }
    }

    @Test(
        "a client that connects and never handshakes is closed after the handshake timeout; others are served meanwhile"
    )
    func silentClient() async throws {
        try await withTLSServer(tls: quickServerTLS) { server in  // a 2 s handshake timeout
            let echo = startEcho(server)
            defer { echo.cancel() }
            let start = ContinuousClock.now  // before the server can accept: its timer starts later
            let silent = try await tcpClientStream(loopback(server))
            let closed = Task { await timeUntilClosed(silent).map { _ in ContinuousClock.now - start } }
            try await expectServed(server)
            let took = try #require(await closed.value, "the silent connection was not closed")
            #expect(took >= .seconds(2) && took < .seconds(12), "closed after \(took)")
            #expect(server.tlsHandshakeFailures == 1)
            try await expectServed(server)
            await silent.abort()
        }
    }

    @Test("a server that never answers the ClientHello: the client's handshake times out")
    func clientTimeout() async throws {
        let mute = try await tcpServerStream("127.0.0.1:0")
        defer { Task { await mute.close() } }
        let quick = try TLSContext.client(trustRoots: TestPKI.shared.cert("ca"), handshakeTimeout: .milliseconds(700))
        let start = ContinuousClock.now
        let error = await expectError(.tlsHandshakeFailed) {
            _ = try await tcpClientStream("127.0.0.1:\(mute.localPort)", tls: quick)
        }
        #expect(error?.message.contains("did not complete within") == true, "\(error?.message ?? "")")
        #expect(ContinuousClock.now - start < .seconds(5))
    }

    @Test("a server that closes mid-handshake: tlsHandshakeFailed saying so")
    func eofMidHandshake() async throws {
        let rude = try await tcpServerStream("127.0.0.1:0")
        defer { Task { await rude.close() } }
        let closer = Task {
            guard let c = await rude.read() else { return }
            _ = try? await c.readBytes(5)  // the start of the ClientHello
            try? await c.close()
        }
        let error = await expectError(.tlsHandshakeFailed) {
            _ = try await tcpClientStream("127.0.0.1:\(rude.localPort)", tls: clientTLS)
        }
        #expect(
            error?.message.contains("closed the connection during the handshake") == true, "\(error?.message ?? "")")
        await closer.value
    }

    @Test("a plaintext server: tlsHandshakeFailed saying the peer does not speak TLS")
    func plaintextServer() async throws {
        let plain = try await tcpServerStream("127.0.0.1:0")
        defer { Task { await plain.close() } }
        let greeter = Task {
            guard let c = await plain.read() else { return }
            try? c.showln("220 plaintext greeting, no TLS here")
            try? await c.flushWriter()
            _ = try? await c.readAllBytes()
            try? await c.close()
        }
        let error = await expectError(.tlsHandshakeFailed) {
            _ = try await tcpClientStream("127.0.0.1:\(plain.localPort)", tls: clientTLS)
        }
        #expect(error?.message.contains("does not speak TLS") == true, "\(error?.message ?? "")")
        await greeter.value
    }

    @Test("a refused connection is .connectionRefused, not a handshake failure (and leaks no promise)")
    func refused() async throws {
        let probe = try await tcpServerStream("127.0.0.1:0")
        let port = probe.localPort
        await probe.close()
        await expectError(.connectionRefused) { _ = try await tcpClientStream("127.0.0.1:\(port)", tls: clientTLS) }
    }

    @Test("a context of the wrong role is refused")
    func wrongRole() async throws {
        await expectError(.tlsInvalidUserData) { _ = try await tcpServerStream("127.0.0.1:0", tls: clientTLS) }
        await expectError(.tlsInvalidUserData) { _ = try await tcpClientStream("127.0.0.1:1", tls: serverTLS) }
    }
}

@Suite("TLS failure log") struct TLSFailureLogTests {
    @Test("a burst of 20 bad clients is counted in full but logged only 5 times per 10 s")
    func rateLimited() async throws {
        let log = CapturedLog()
        try await withTLSServer(logger: log.logger) { server in
            for _ in 0..<20 {
                let plain = try await tcpClientStream(loopback(server))
                try plain.showln("GET / HTTP/1.0")
                try await plain.flushWriter()
                #expect(await timeUntilClosed(plain) != nil)
                await plain.abort()
            }
            for _ in 0..<200 where server.tlsHandshakeFailures < 20 { try await Task.sleep(for: .milliseconds(10)) }
            #expect(server.tlsHandshakeFailures == 20)
            let logged = log.lines.withLock { $0.filter { $0.contains("TLS handshake with") } }
            // 5 in the first 10 s window; on a loaded machine the burst may reach a second one.
            #expect(logged.count >= 5 && logged.count <= 10, "\(logged)")
            #expect(
                logged.allSatisfy { $0.contains("plaintext HTTP request") || $0.contains("does not speak TLS") },
                "\(logged)")
        }
    }
}
