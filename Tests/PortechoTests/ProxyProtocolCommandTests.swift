import Foundation
import StreamPortsTestSupport
import Testing

@Suite("portecho serve --proxy-protocol", .timeLimit(.minutes(1)))
struct ProxyProtocolCommandTests {
    @Test(
        "A bad --proxy-trusted network, or a PROXY option without --proxy-protocol, exits 64 naming it",
        arguments: [
            (["--proxy-protocol", "--proxy-trusted", "10.0.0.0/8,10.1.2.3/8"], "10.1.2.3/8"),
            (["--proxy-protocol", "--proxy-trusted", "300.1.1.1"], "300.1.1.1"),
            (["--proxy-protocol", "--proxy-trusted", "::1/129"], "::1/129"),
            (["--proxy-protocol", "--proxy-trusted", "10.0.0.0/8,"], "invalid CIDR \"\""),
            (["--proxy-protocol", "--proxy-header-timeout", "0"], "--proxy-header-timeout"),
            (["--proxy-trusted", "10.0.0.0/8"], "--proxy-trusted needs --proxy-protocol"),
            (["--proxy-header-timeout", "3"], "--proxy-header-timeout needs --proxy-protocol"),
        ])
    func usage(arguments: [String], named: String) async throws {
        let result = try await Portecho.run(["serve", "127.0.0.1:0"] + arguments)
        #expect(result.status == 64, "\(arguments): \(result.stderr)")
        #expect(result.stderr.contains(named), "\(arguments): \(result.stderr)")
        #expect(result.stdout.isEmpty)
    }

    @Test("serve --help describes the PROXY protocol options")
    func help() async throws {
        let result = try await Portecho.run(["serve", "--help"])
        #expect(result.status == 0)
        for option in ["--proxy-protocol", "--proxy-trusted", "--proxy-header-timeout", "PROXY protocol:"] {
            #expect(result.stdout.contains(option), "\(option) missing from --help")
        }
    }

    @Test("v1 and v2 headers from a trusted peer: the access log names the header's source; LOCAL keeps the socket's")
    func accessLogNamesTheHeaderSource() async throws {
        let server = try Portecho([
            "serve", "127.0.0.1:0", "--proxy-protocol", "--proxy-trusted", "127.0.0.0/8", "--log-level", "info",
        ])
        defer { server.kill() }
        let port = try await server.listeningPort(host: "127.0.0.1")
        let v1 = try TestClient("127.0.0.1", port)
        try await v1.send("PROXY TCP4 203.0.113.5 127.0.0.1 41000 \(port)\r\nhi\r\n")
        #expect(try await v1.read(4) == Array("hi\r\n".utf8))
        v1.close()
        let local = try TestClient("127.0.0.1", port)
        let localHeader: [UInt8] = [
            0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A, 0x20, 0, 0, 0,
        ]
        try await local.send(localHeader + Array("ping\r\n".utf8))
        #expect(try await local.read(6) == Array("ping\r\n".utf8))
        let localPort = localPort(of: local.fd)
        local.close()
        #expect(try await server.stderrContains("203.0.113.5:41000: connected"), "\(server.stderr.text)")
        #expect(try await server.stderrContains("203.0.113.5:41000: closed"), "\(server.stderr.text)")
        #expect(try await server.stderrContains("127.0.0.1:\(localPort): connected"), "\(server.stderr.text)")
        server.send(signal: SIGTERM)
        #expect(try await server.exitStatus() == 0)
    }
}
