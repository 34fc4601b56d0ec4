import StreamPorts
import StreamPortsTLS
import Testing

/// Contexts whose close timeout (30 s) is far above what a working close takes: a test that
/// finishes well under it shows that closing did not wait for the timeout, even on a loaded machine.
let patientServer = try! TLSContext.server(
    certificateChain: TestPKI.shared.cert("server"), privateKey: TestPKI.shared.key("server"),
    closeTimeout: .seconds(30))
let patientClient = try! TLSContext.client(trustRoots: TestPKI.shared.cert("ca"), closeTimeout: .seconds(30))

@Suite("TLS echo") struct TLSEchoTests {
    @Test(
        "a line echoes over TLS 1.3 on 127.0.0.1 and ::1; tls is set on both sides; close sends close_notify",
        arguments: ["127.0.0.1:0", "[::1]:0"])
    func echo(address: String) async throws {
        try await withTLSServer(address, tls: patientServer) { server in
            let accepted = Task { await server.read() }
            let client = try await tcpClientStream(loopback(server), tls: patientClient)
            let serverSide = try #require(await accepted.value)
            #expect(client.tls?.protocolVersion == "TLSv1.3")
            #expect(client.tls?.peerCertificateSubject == "CN=localhost")
            #expect(serverSide.tls?.protocolVersion == "TLSv1.3")
            #expect(serverSide.tls?.peerCertificateSubject == nil)
            try client.showln("héllo wörld ✓")
            try await client.flushWriter()
            #expect(try await serverSide.readLine() == "héllo wörld ✓")
            try serverSide.showln("back")
            try await serverSide.flushWriter()
            #expect(try await client.readLine() == "back")
            #expect(client.tlsInputEnding == nil)
            let start = ContinuousClock.now
            let closing = Task {
                try await client.close(); return ContinuousClock.now - start
            }
            #expect(try await serverSide.readLine() == nil)
            let eof = ContinuousClock.now - start
            #expect(serverSide.tlsInputEnding == .closeNotify)
            try await serverSide.close()
            let serverClosed = ContinuousClock.now - start
            let clientClosed = try await closing.value
            // Both close_notify were exchanged: no wait for the close timeout.
            #expect(
                clientClosed < .seconds(10) && serverClosed < .seconds(10),
                "EOF after \(eof), server closed after \(serverClosed), client after \(clientClosed)")
        }
    }

    @Test("a plaintext stream has no tls")
    func plaintext() async throws {
        let server = try await tcpServerStream("127.0.0.1:0")
        let client = try await tcpClientStream("127.0.0.1:\(server.localPort)")
        #expect(client.tls == nil && client.tlsInputEnding == nil)
        #expect(server.tlsHandshakeFailures == 0)
        await client.abort()
        await server.close()
    }

    @Test("Shift_JIS lines echo byte-exact, with a character split across two TLS records")
    func shiftJIS() async throws {
        let sjis = Transcoder(codec: .shiftJIS, eolStyle: .crlf, errorMode: .raise)
        try await withTLSServer(transcoder: sjis) { server in
            let echo = startEcho(server)
            defer { echo.cancel() }
            let client = try await tcpClientStream(loopback(server), tls: clientTLS, transcoder: sjis)
            let lines = ["日本語のテキスト", "ｱｲｳｴｵ 半角カナ", "表示 ソ 能 (0x5C trail bytes)", "ascii only"]
            for line in lines { try client.showln(line) }
            try await client.flushWriter()
            for line in lines { #expect(try await client.readLine() == line) }
            // あ is 0x82 0xA0: send 0x82 in one record, the rest in the next.
            try client.write(bytes: [0x82])
            try await client.flushWriter()
            try await Task.sleep(for: .milliseconds(50))
            try client.write(bytes: [0xA0, 0x82, 0xA2, 0x0D, 0x0A])
            try await client.flushWriter()
            #expect(try await client.readLine() == "あい")
            // Byte-exact on the wire: raw bytes back are the transcoder's encoding.
            try client.showln("テスト")
            try await client.flushWriter()
            #expect(try await client.readBytes(8) == [0x83, 0x65, 0x83, 0x58, 0x83, 0x67, 0x0D, 0x0A])
            try await client.close()
        }
    }

    @Test("100 concurrent clients × 1,000 lines each echo byte-exact over TLS (UTF-8)")
    func manyClients() async throws {
        try await withTLSServer { server in
            let echo = startEcho(server)
            defer { echo.cancel() }
            let address = loopback(server)
            let mismatches = try await withThrowingTaskGroup(of: Int.self) { group in
                for n in 0..<100 {
                    group.addTask {
                        let client = try await tcpClientStream(address, tls: clientTLS)
                        client.readTimeout = .seconds(60)
                        let writer = Task {
                            for i in 0..<1000 { try client.showln("client \(n) line \(i) ✓ ünïcödé") }
                            try await client.flushWriter()
                        }
                        var bad = 0
                        for i in 0..<1000 where try await client.readLine() != "client \(n) line \(i) ✓ ünïcödé" {
                            bad += 1
                        }
                        try await writer.value
                        try await client.close()
                        return bad
                    }
                }
                return try await group.reduce(0, +)
            }
            #expect(mismatches == 0)
            #expect(server.tlsHandshakeFailures == 0)
        }
    }

    @Test("half-close over TLS: the client closes its writer, the server reads EOF (close_notify) and still answers")
    func halfClose() async throws {
        try await withTLSServer { server in
            let accepted = Task { await server.read() }
            let client = try await tcpClientStream(loopback(server), tls: clientTLS)
            let serverSide = try #require(await accepted.value)
            try client.showln("last words")
            try await client.closeWriter()
            #expect(try await serverSide.readLines() == ["last words"])
            #expect(serverSide.tlsInputEnding == .closeNotify)
            try serverSide.showln("heard you")
            try await serverSide.close()
            #expect(try await client.readLines() == ["heard you"])
            #expect(client.tlsInputEnding == .closeNotify)
            try await client.close()
        }
    }

    @Test("abort resets at once (no TLS shutdown); the peer sees a reset or an unclean end, never a clean one")
    func abortMidRecord() async throws {
        try await withTLSServer(tls: patientServer) { server in
            let accepted = Task { await server.read() }
            let client = try await tcpClientStream(loopback(server), tls: patientClient)
            let serverSide = try #require(await accepted.value)
            try client.write(bytes: [UInt8](repeating: 0x41, count: 200_000))
            client.buffering = .buffered
            _ = Task { try? await client.flushWriter() }
            let start = ContinuousClock.now
            await client.abort()
            #expect(ContinuousClock.now - start < .seconds(10))  // not the 30 s of a TLS shutdown
            serverSide.readTimeout = .seconds(10)
            do {
                _ = try await serverSide.readAllBytes()
                #expect(serverSide.tlsInputEnding == .uncleanShutdown)
            } catch let error as StreamPortError {
                #expect(error.code == .connectionReset, "\(error)")
            }
            await serverSide.abort()
        }
    }
}
