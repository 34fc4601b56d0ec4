import NIOCore
import StreamPortsTestSupport
import Synchronization
import Testing

@testable import StreamPorts

/// What a served connection saw of its addresses.
struct SeenEndpoints: Sendable, Equatable {
    var remote: String
    var remoteAddress: String
    var remotePort: Int
    var local: String
    var socketRemote: String
    var socketLocal: String
    var header: ProxyHeader?
}

/// What each served connection saw, in order.
final class SeenLog: Sendable {
    let entries = Mutex<[SeenEndpoints]>([])
}

/// An echo server reading the PROXY protocol, recording each connection's endpoints.
final class ProxyEchoServer: Sendable {
    let server: ServerStream
    private let seen = SeenLog()
    private let serving: Task<Void, any Error>

    init(_ configuration: ProxyProtocolConfiguration, address: String = "127.0.0.1:0") async throws {
        let server = try await tcpServerStream(
            address, transcoder: Transcoder(eolStyle: .lf), proxyProtocol: configuration)
        self.server = server
        self.port = server.localPort
        let seen = self.seen
        serving = Task {
            try await server.serve { client in
                let endpoints = SeenEndpoints(
                    remote: client.remoteEndpoint, remoteAddress: client.remoteAddress, remotePort: client.remotePort,
                    local: client.localEndpoint, socketRemote: client.socketRemoteEndpoint,
                    socketLocal: client.socketLocalEndpoint, header: client.proxyHeader)
                seen.entries.withLock { $0.append(endpoints) }
                while let line = try await client.readLine() { try client.showln(line) }
            }
        }
    }

    var connections: [SeenEndpoints] { seen.entries.withLock { $0 } }

    let port: Int

    func stop() async {
        serving.cancel()
        _ = try? await serving.value
    }
}

/// `PROXY TCP4 …` for a client at `source`:`sourcePort`.
func proxyV1(
    _ source: String = "192.0.2.1", _ sourcePort: Int = 56324, to destination: String = "198.51.100.2"
)
    -> String
{
    "PROXY TCP4 \(source) \(destination) \(sourcePort) 7001\r\n"
}

/// A v2 PROXY header for an IPv6 client `2001:db8::1` port 40000 to `[2001:db8::2]:7001`, with
/// an authority TLV and a CRC32C.
let proxyV2IPv6Header: [UInt8] = proxyV2(
    family: 0x21,
    [0x20, 0x01, 0x0D, 0xB8] + Array(repeating: 0, count: 11) + [1] + [0x20, 0x01, 0x0D, 0xB8]
        + Array(repeating: 0, count: 11) + [2] + [0x9C, 0x40, 0x1B, 0x59] + proxyTLV(0x02, "echo.example"),
    crc: true)

@Suite("PROXY protocol on a server", .timeLimit(.minutes(1)))
struct ProxyProtocolServerTests {
    @Test func v1HeaderThenPipelinedLinesInOneSegment() async throws {
        let echo = try await ProxyEchoServer(.init())
        let client = try TestClient("127.0.0.1", echo.port)
        try await client.send(proxyV1() + "hello\nworld\n")
        #expect(try await client.read(12) == Array("hello\nworld\n".utf8))
        client.close()
        await echo.stop()
        let seen = try #require(echo.connections.first)
        #expect(seen.remote == "192.0.2.1:56324")
        #expect(seen.remoteAddress == "192.0.2.1" && seen.remotePort == 56324)
        #expect(seen.local == "198.51.100.2:7001")
        #expect(seen.socketRemote.hasPrefix("127.0.0.1:") && seen.socketRemote != seen.remote)
        #expect(seen.socketLocal == "127.0.0.1:\(echo.port)")
        #expect(seen.header?.version == 1)
    }

    @Test func v2HeaderWithTLVsThenPipelinedLines() async throws {
        let echo = try await ProxyEchoServer(.init())
        let client = try TestClient("127.0.0.1", echo.port)
        try await client.send(proxyV2IPv6Header + Array("one\ntwo\n".utf8))
        #expect(try await client.read(8) == Array("one\ntwo\n".utf8))
        client.close()
        await echo.stop()
        let seen = try #require(echo.connections.first)
        #expect(seen.remote == "[2001:db8::1]:40000")
        #expect(seen.remoteAddress == "2001:db8::1" && seen.remotePort == 40000)
        #expect(seen.local == "[2001:db8::2]:7001")
        #expect(seen.header?.version == 2)
        #expect(seen.header?.authority == "echo.example")
        #expect(seen.header?.crc32c != nil)
    }

    @Test(arguments: [1, 2, 5])
    func headerSplitOverSeveralSegments(chunk: Int) async throws {
        // A generous header timeout: on a loaded machine the pauses between pieces stretch.
        let echo = try await ProxyEchoServer(.init(headerTimeout: .seconds(60)))
        let client = try TestClient("127.0.0.1", echo.port)
        var bytes = proxyV2IPv6Header + Array("split\n".utf8)
        // Every piece its own segment (a pause between sends), the line's first bytes included.
        while !bytes.isEmpty {
            try await client.send(Array(bytes.prefix(chunk * 7)))
            bytes.removeFirst(min(chunk * 7, bytes.count))
            try await Task.sleep(for: .milliseconds(3))
        }
        #expect(try await client.read(6) == Array("split\n".utf8))
        client.close()
        await echo.stop()
        #expect(echo.connections.first?.remote == "[2001:db8::1]:40000")
    }

    @Test func localHeaderAndV1UnknownKeepTheSocketEndpoints() async throws {
        let echo = try await ProxyEchoServer(.init())
        let local = proxyV2(command: 0, family: 0x00, [])
        for header in [local, Array("PROXY UNKNOWN\r\n".utf8)] {
            let client = try TestClient("127.0.0.1", echo.port)
            try await client.send(header + Array("ping\n".utf8))
            #expect(try await client.read(5) == Array("ping\n".utf8))
            client.close()
        }
        await echo.stop()
        let seen = echo.connections
        try #require(seen.count == 2)
        for connection in seen {
            #expect(connection.remote == connection.socketRemote && connection.remote.hasPrefix("127.0.0.1:"))
            #expect(connection.local == "127.0.0.1:\(echo.port)")
        }
        #expect(seen[0].header == nil, "LOCAL: no header reported")
        #expect(seen[1].header?.family == .unspecified, "v1 UNKNOWN: the header, without addresses")
    }

    /// A connection that sends `bytes` (then waits) is closed without an echo, while another
    /// connection with a valid header is served meanwhile.
    func expectRefused(
        _ bytes: [UInt8], configuration: ProxyProtocolConfiguration = .init(), endInput: Bool = false,
        sourceLocation: SourceLocation = #_sourceLocation
    ) async throws {
        let echo = try await ProxyEchoServer(configuration)
        let refused = try TestClient("127.0.0.1", echo.port)
        try await refused.send(bytes)
        if endInput { refused.shutdownWrite() }
        // Served meanwhile (unless the configuration refuses everyone from here).
        if configuration.trusts(try SocketAddress(ipAddress: "127.0.0.1", port: 0)) {
            let good = try TestClient("127.0.0.1", echo.port)
            try await good.send(proxyV1() + "fine\n")
            #expect(try await good.read(5) == Array("fine\n".utf8), sourceLocation: sourceLocation)
            good.close()
        }
        #expect(try await refused.closedByPeer(timeout: 10), "closed without an echo", sourceLocation: sourceLocation)
        #expect(echo.server.proxyHeaderFailures == 1, sourceLocation: sourceLocation)
        await echo.stop()
        #expect(echo.connections.allSatisfy { $0.remote == "192.0.2.1:56324" }, sourceLocation: sourceLocation)
    }

    @Test func missingHeaderClosesThatConnectionOnly() async throws {
        try await expectRefused(Array("hello\n".utf8))
    }

    @Test func garbageClosesThatConnectionOnly() async throws {
        try await expectRefused(Array("GET / HTTP/1.1\r\nHost: x\r\n\r\n".utf8))
        try await expectRefused([0x16, 0x03, 0x01, 0x00, 0x05, 1, 2, 3, 4, 5])  // a TLS record
    }

    @Test func overLongV1LineIsRefused() async throws {
        try await expectRefused(Array(("PROXY TCP4 " + String(repeating: "1", count: 120)).utf8))
    }

    @Test func truncatedHeaderIsRefusedAtEndOfInput() async throws {
        try await expectRefused(Array(proxyV2IPv6Header.prefix(20)), endInput: true)
    }

    @Test func untrustedSourceIsRefusedEvenWithAValidHeader() async throws {
        try await expectRefused(
            Array((proxyV1() + "hi\n").utf8), configuration: try .init(trustedSources: ["10.0.0.0/8", "::1"]))
    }

    @Test func incompleteHeaderTimesOut() async throws {
        let quick = ProxyProtocolConfiguration(headerTimeout: .milliseconds(300))
        let start = ContinuousClock.now
        try await expectRefused(Array("PROXY TCP4 192.0.2.1".utf8), configuration: quick)
        #expect(ContinuousClock.now - start < .seconds(5))
    }

    @Test func trustedSourcesAdmitAListedPeer() async throws {
        let echo = try await ProxyEchoServer(try .init(trustedSources: ["10.0.0.0/8", "127.0.0.0/8"]))
        let client = try TestClient("127.0.0.1", echo.port)
        try await client.send(proxyV1("203.0.113.7", 1234) + "ok\n")
        #expect(try await client.read(3) == Array("ok\n".utf8))
        client.close()
        await echo.stop()
        #expect(echo.connections.first?.remote == "203.0.113.7:1234")
    }

    @Test func anIPv4MappedPeerMatchesAnIPv4Network() async throws {
        guard ipv6Loopback else { return }  // no IPv6: no dual-stack listener
        let echo = try await ProxyEchoServer(try .init(trustedSources: ["127.0.0.1/32"]), address: "*:0")
        let client = try TestClient("127.0.0.1", echo.port)
        try await client.send(proxyV1() + "mapped\n")
        #expect(try await client.read(7) == Array("mapped\n".utf8))
        client.close()
        await echo.stop()
        let seen = try #require(echo.connections.first)
        #expect(seen.socketRemote.contains("127.0.0.1"), "\(seen.socketRemote)")
        #expect(seen.remote == "192.0.2.1:56324")
    }

    @Test func withoutTheProtocolAHeaderIsJustALine() async throws {
        try await withServer { server in
            let serving = startEcho(server)
            let client = try TestClient("127.0.0.1", server.localPort)
            try await client.send(proxyV1() + "x\n")
            let echoed = try await client.read(proxyV1().utf8.count - 1)
            #expect(String(decoding: echoed, as: UTF8.self).hasPrefix("PROXY TCP4 192.0.2.1 "), "\(echoed)")
            #expect(server.proxyProtocol == nil && server.proxyHeaderFailures == 0)
            client.close()
            await server.close()
            await serving.value
        }
    }
}
