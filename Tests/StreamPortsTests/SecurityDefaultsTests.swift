import NIOCore
import Testing

@testable import StreamPorts

/// The defaults a server gets without asking: loopback only, and a bound on every buffer a peer
/// can fill. Read from live objects, so a change of default shows here.
@Suite("Security defaults", .timeLimit(.minutes(1)))
struct SecurityDefaultsTests {
    @Test(arguments: ["0", "localhost:0", "127.0.0.1:0"])
    func serversListenOnLoopbackUnlessAsked(address: String) async throws {
        let server = try await tcpServerStream(address)
        #expect(server.localAddress == "127.0.0.1", "\(address) listens on \(server.localEndpoint)")
        await server.close()
        let byPort = try await tcpServerStream(0)
        #expect(byPort.localAddress == "127.0.0.1")
        await byPort.close()
    }

    @Test(
        "An accepted stream's bounds: 1 MiB lines, 256 KiB read ahead, 256 KiB buffered output, 32/64 KiB NIO watermarks, backlog-deep accept queue"
    )
    func acceptedStreamBounds() async throws {
        let server = try await tcpServerStream("127.0.0.1:0")
        #expect(server.accepted.limit == 128)
        let peer = try await tcpClientStream("127.0.0.1:\(server.localPort)")
        let accepted = try #require(await server.read(timeout: .seconds(10)))
        #expect(accepted.maxLineLength == 1 << 20)
        #expect(peer.maxLineLength == 1 << 20)
        #expect(StreamShared.inboundHighWater == 256 << 10)
        #expect(StreamShared.outputHandOff == 256 << 10)
        let marks = try await accepted.channel.getOption(.writeBufferWaterMark).get()
        #expect(marks.low == 32 << 10 && marks.high == 64 << 10)
        #expect(TCPSocket.eventBufferLimit == 4096)
        await peer.abort()
        await accepted.abort()
        await server.close()
    }
}
