import StreamPorts
import StreamPortsTLS
import Testing

/// TLS on the step-wise seed surfaces: TCPServer (seeds 000/001) and TCPSocket (seed 004).
@Suite("TLS on TCPServer and TCPSocket") struct TLSSocketAPITests {
    @Test("TCPServer.listen(tls:) accepts only secured connections; TCPSocket.connect(tls:) reads and writes over TLS")
    func tcpServerAndTCPSocket() async throws {
        let server = TCPServer()
        try server.bind("localhost", 0)
        try await server.listen(tls: patientServer)
        let port = server.localPort
        let accepted = Task { try await server.accept(timeout: 10_000) }
        let socket = TCPSocket()
        try await socket.connect("localhost", port, tls: patientClient)
        #expect(socket.state == .connected)
        let serverSide = try #require(try await accepted.value)
        #expect(serverSide.tls?.protocolVersion == "TLSv1.3")
        try await socket.write("secured\n")
        #expect(try await serverSide.readLine() == "secured")
        try serverSide.showln("back")
        try await serverSide.flushWriter()
        #expect(try await socket.readLine() == "back")
        await socket.abort()
        await serverSide.abort()
        await server.dispose()
    }

    @Test("A TCPSocket handshake with an untrusted server fails as sslHandshakeFailed")
    func untrustedServer() async throws {
        let server = TCPServer()
        try server.bind("localhost", 0)
        try await server.listen(tls: patientServer)
        let socket = TCPSocket()
        // The system's trust roots do not know the test CA.
        await #expect(throws: StreamPortError.self) {
            try await socket.connect("localhost", server.localPort, tls: try TLSContext.client())
        }
        #expect(socket.error == .sslHandshakeFailed)
        #expect(socket.state == .unconnected)
        await server.dispose()
    }

    @Test("Contexts of the wrong role are refused as tlsInvalidUserData")
    func wrongRoles() async throws {
        let server = TCPServer()
        try server.bind("localhost", 0)
        do {
            try await server.listen(tls: patientClient)
            Issue.record("a client context served")
        } catch let error as StreamPortError {
            #expect(error.code == .tlsInvalidUserData)
        }
        await server.dispose()
        do {
            try await TCPSocket().connect("localhost", 1, tls: patientServer)
            Issue.record("a server context connected")
        } catch let error as StreamPortError {
            #expect(error.code == .tlsInvalidUserData)
        }
    }
}
