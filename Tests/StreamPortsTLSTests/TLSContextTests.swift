import Foundation
import StreamPorts
import StreamPortsTLS
import Testing

@Suite("TLS contexts") struct TLSContextTests {
    let pki = TestPKI.shared

    func invalid(
        _ build: () throws -> TLSContext, naming needles: [String], sourceLocation: SourceLocation = #_sourceLocation
    ) {
        do {
            _ = try build()
            Issue.record("expected tlsInvalidUserData", sourceLocation: sourceLocation)
        } catch let error as StreamPortError {
            #expect(error.code == .tlsInvalidUserData, "\(error)", sourceLocation: sourceLocation)
            for needle in needles {
                #expect(
                    error.message.contains(needle), "\"\(error.message)\" lacks \"\(needle)\"",
                    sourceLocation: sourceLocation)
            }
        } catch {
            Issue.record("unexpected \(error)", sourceLocation: sourceLocation)
        }
    }

    @Test("a missing certificate, key or CA file is named, with the OS's reason")
    func missingFiles() {
        let missing = pki.path("nope.pem")
        invalid(
            { try TLSContext.server(certificateChain: missing, privateKey: pki.key("server")) },
            naming: ["certificate file \"\(missing)\"", "No such file or directory"])
        invalid(
            { try TLSContext.server(certificateChain: pki.cert("server"), privateKey: missing) },
            naming: ["private key file \"\(missing)\"", "No such file or directory"])
        invalid(
            {
                try TLSContext.server(
                    certificateChain: pki.cert("server"), privateKey: pki.key("server"), clientCA: missing)
            },
            naming: ["client CA file \"\(missing)\""])
        invalid({ try TLSContext.client(trustRoots: missing) }, naming: ["trust roots file \"\(missing)\""])
        invalid({ try TLSContext.client(trustRoots: pki.directory) }, naming: ["\(pki.directory)"])
    }

    @Test("a garbled PEM, a file of the wrong kind, an empty file: named, with the reason")
    func garbled() throws {
        invalid(
            { try TLSContext.server(certificateChain: pki.path("garbled.pem"), privateKey: pki.key("server")) },
            naming: ["certificate file \"\(pki.path("garbled.pem"))\"", "cannot be decoded"])
        invalid(
            { try TLSContext.server(certificateChain: pki.key("server"), privateKey: pki.key("server")) },
            naming: ["certificate file \"\(pki.key("server"))\"", "holds no PEM certificate"])
        invalid(
            { try TLSContext.server(certificateChain: pki.cert("server"), privateKey: pki.cert("server")) },
            naming: ["private key file \"\(pki.cert("server"))\"", "holds no PEM private key"])
        let empty = pki.path("empty.pem")
        _ = FileManager.default.createFile(atPath: empty, contents: Data())
        invalid(
            { try TLSContext.client(trustRoots: empty) },
            naming: ["trust roots file \"\(empty)\"", "holds no PEM certificate"])
        let badKey = pki.path("bad.key")
        try "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n".write(
            toFile: badKey, atomically: true, encoding: .utf8)
        invalid(
            { try TLSContext.server(certificateChain: pki.cert("server"), privateKey: badKey) },
            naming: ["private key file \"\(badKey)\"", "cannot be decoded"])
    }

    @Test("a key that does not match its certificate")
    func mismatchedKey() {
        invalid(
            { try TLSContext.server(certificateChain: pki.cert("mismatched"), privateKey: pki.key("mismatched")) },
            naming: ["\(pki.cert("mismatched"))", "\(pki.key("mismatched"))", "does not match the certificate"])
        invalid(
            {
                try TLSContext.client(
                    trustRoots: pki.cert("ca"), certificateChain: pki.cert("mismatched"),
                    privateKey: pki.key("mismatched"))
            },
            naming: ["does not match the certificate"])
    }

    @Test("a client certificate without its key, or a key without its certificate; an SNI name that cannot be sent")
    func halfPairs() {
        invalid(
            { try TLSContext.client(certificateChain: pki.cert("client")) },
            naming: ["\(pki.cert("client"))", "without its private key"])
        invalid(
            { try TLSContext.client(privateKey: pki.key("client")) },
            naming: ["\(pki.key("client"))", "without its certificate"])
        invalid(
            { try TLSContext.client(trustRoots: pki.cert("ca"), serverName: "") }, naming: ["cannot be used for SNI"])
        invalid(
            { try TLSContext.client(trustRoots: pki.cert("ca"), serverName: String(repeating: "a", count: 300)) },
            naming: ["cannot be used for SNI"])
    }

    @Test("an in-memory PEM server context serves; a bad in-memory PEM is named as such")
    func inMemory() async throws {
        let chain = try String(contentsOfFile: pki.cert("server"), encoding: .utf8)
        let key = try String(contentsOfFile: pki.key("server"), encoding: .utf8)
        let tls = try TLSContext.server(
            certificateChainPEM: chain, privateKeyPEM: key, applicationProtocols: ["line/1"])
        #expect(tls.role == .server && !tls.requiresClientCertificate)
        try await withTLSServer(tls: tls) { server in
            let echo = startEcho(server)
            defer { echo.cancel() }
            let alpn = try TLSContext.client(trustRoots: pki.cert("ca"), applicationProtocols: ["other", "line/1"])
            let client = try await tcpClientStream(loopback(server), tls: alpn)
            #expect(client.tls?.negotiatedProtocol == "line/1")
            try client.showln("in memory")
            #expect(try await client.readLine() == "in memory")
            try await client.close()
        }
        invalid(
            { try TLSContext.server(certificateChainPEM: "not pem", privateKeyPEM: key) },
            naming: ["certificate PEM text"])
    }

    @Test("a server with minimum version TLS 1.3 negotiates TLS 1.3")
    func versions() async throws {
        let tls13 = try TLSContext.server(
            certificateChain: pki.cert("server"), privateKey: pki.key("server"), minimumVersion: .tls13)
        try await withTLSServer(tls: tls13) { server in
            let echo = startEcho(server)
            defer { echo.cancel() }
            let client = try await tcpClientStream(loopback(server), tls: clientTLS)
            #expect(client.tls?.protocolVersion == "TLSv1.3")
            try await client.close()
        }
    }
}

@Test("TCPSocket.ErrorKind raises the ssl… kinds from the TLS codes")
func socketErrorKinds() {
    #expect(TCPSocket.ErrorKind(StreamPortError(.tlsHandshakeFailed, "x")) == .sslHandshakeFailed)
    #expect(TCPSocket.ErrorKind(StreamPortError(.tlsInvalidUserData, "x")) == .sslInvalidUserData)
    #expect(TCPSocket.ErrorKind(StreamPortError(.tlsInternal, "x")) == .sslInternal)
}
