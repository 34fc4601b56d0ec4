import StreamPorts
import StreamPortsTLS
import Testing

@Suite("TLS echo") struct TLSEchoTests {
    @Test("a line echoes over TLS 1.3 on 127.0.0.1 and ::1; tls is set on both sides", arguments: ["127.0.0.1:0", "[::1]:0"])
    func echo(address: String) async throws {
        try await withTLSServer(address) { server in
            let accepted = Task { await server.read() }
            let client = try await tcpClientStream(loopback(server), tls: clientTLS)
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
            try await client.close()
            #expect(try await serverSide.readLine() == nil)
            #expect(serverSide.tlsInputEnding == .closeNotify)
            try await serverSide.close()
        }
    }
}
