import Foundation
import StreamPortsTestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// `portecho serve` without an address listens on loopback only.
@Suite("portecho security defaults", .timeLimit(.minutes(1)))
struct PortechoSecurityDefaultsTests {
    @Test("No ADDRESS: 127.0.0.1 (here with --port 0, since 2020 may be taken)")
    func loopbackByDefault() async throws {
        let server = try Portecho(["serve", "--port", "0", "--eol", "lf"])
        defer { server.kill() }
        let port = try await server.listeningPort(host: "127.0.0.1")
        let client = try TestClient("127.0.0.1", port)
        try await expectEcho(client, "loopback")
        client.close()
        server.send(signal: SIGTERM)
        #expect(try await server.exitStatus() == 0)
    }
}
