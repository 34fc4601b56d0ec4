import Glibc
import Testing

@testable import StreamPorts

@Suite("Seed 000: Falcon TCPServer", .timeLimit(.minutes(1)))
struct FalconTCPServerTests {
    @Test func bindAcceptTimeoutsDispose() async throws {
        let server = TCPServer(transcoder: Transcoder(eolStyle: .lf))
        #expect(server.lastError == 0)
        try server.bind("127.0.0.1", "0")
        let port = server.localPort
        #expect(port > 0)
        #expect(try await server.accept(timeout: 0) == nil)  // poll: nothing pending
        #expect(try await server.accept(timeout: 50) == nil)  // short wait
        let peer = try await tcpClientStream("127.0.0.1:\(port)")
        let accepted = try await server.accept()  // no timeout: waits
        #expect(accepted != nil)
        try peer.showln("hi")
        try await peer.flushWriter()
        #expect(try await accepted?.readLine() == "hi")
        await peer.abort()
        await accepted?.abort()
        await server.dispose()
        await server.dispose()
        #expect(try await server.accept(timeout: 0) == nil)
    }

    @Test func serviceNamesAndErrors() async throws {
        #expect(try servicePort("http") == 80)
        #expect(try servicePort("8080") == 8080)
        #expect(throws: StreamPortError.self) { try servicePort("no-such-service") }
        let first = TCPServer()
        try first.bind("127.0.0.1", 0)
        let second = TCPServer()
        try second.setOption(.reuseAddress, false)
        #expect(throws: StreamPortError.self) { try second.bind("127.0.0.1", first.localPort) }
        #expect(second.lastError == EADDRINUSE)
        await first.dispose()
        await second.dispose()
    }
}

@Suite("Seed 001: Lua SocketLib server", .timeLimit(.minutes(1)))
struct LuaServerTests {
    @Test func tcpSetoptionBindListen() async throws {
        let server = TCPServer()
        try server.setOption("reuseaddr", true)
        #expect(throws: StreamPortError.self) { try server.setOption("nosuchoption", true) }
        try server.bind("localhost", 0)
        #expect(server.localAddress == "127.0.0.1")  // localhost: loopback only; the host alone (seed 003)
        #expect(server.localPort > 0)
        #expect(server.localEndpoint == "127.0.0.1:\(server.localPort)")
        try await server.listen(8)
        await #expect(throws: StreamPortError.self) { try await server.listen(8) }
        #expect(throws: StreamPortError.self) { try server.setOption(.reuseAddress, true) }
        let peer = try await tcpClientStream("127.0.0.1:\(server.localPort)")
        #expect(try await server.accept(timeout: 2000) != nil)
        await peer.abort()
        await server.dispose()
    }

    @Test func starListensOnAllInterfaces() async throws {
        let server = TCPServer()
        try server.bind("*", 0)
        try await server.listen()
        let port = server.localPort
        for address in ["127.0.0.1:\(port)", "[::1]:\(port)"] {
            let peer = try await tcpClientStream(address)
            #expect(try await server.accept(timeout: 2000) != nil)
            await peer.abort()
        }
        await server.dispose()
    }

    @Test func listenBeforeBindThrows() async {
        await #expect(throws: StreamPortError.self) { try await TCPServer().listen() }
    }
}

@Suite("Seed 003: Alore socket module", .timeLimit(.minutes(1)))
struct AloreSocketTests {
    @Test func hostLookups() throws {
        #expect(try hostByName("localhost") == "127.0.0.1")
        #expect(try hostByName("127.0.0.1") == "127.0.0.1")
        #expect(try hostByName("::1") == "::1")
        #expect(throws: StreamPortError.self) { try hostByName("no-such-host.invalid") }
        #expect(try hostByAddress("127.0.0.1") == "localhost")
        #expect(throws: StreamPortError.self) { try hostByAddress("not an address") }
        #expect(!hostName().isEmpty)
    }

    /// Observes when bytes reach the peer under each buffering mode.
    @Test(arguments: [ClientStream.Buffering.unbuffered, .line, .buffered])
    func bufferingModes(mode: ClientStream.Buffering) async throws {
        try await withPair(server: Transcoder(eolStyle: .lf)) { server, peer in
            server.buffering = mode
            // Bytes expected now get seconds to arrive (sanitizers and a loaded machine slow
            // everything down); bytes not expected get 150 ms to show up early.
            func window(_ expected: Bool) -> Duration { expected ? .seconds(10) : .milliseconds(150) }
            try server.write("ab")
            peer.readTimeout = window(mode == .unbuffered)
            let afterWrite = try? await peer.readAvailableBytes()
            #expect((afterWrite != nil) == (mode == .unbuffered))
            try server.write("c\n")
            peer.readTimeout = window(mode != .buffered)
            let afterNewline = try? await peer.readAvailableBytes()
            #expect((afterNewline != nil) == (mode != .buffered))
            try await server.flushWriter()
            peer.readTimeout = nil
            var all = (afterWrite ?? []) + (afterNewline ?? [])
            while all.count < 4, let more = try await peer.readAvailableBytes() { all += more }
            #expect(all == Array("abc\n".utf8))
        }
    }

    @Test func readLinesWriteLineEof() async throws {
        try await withPair(server: Transcoder(eolStyle: .lf), client: Transcoder(eolStyle: .lf)) { server, peer in
            try peer.writeLine("one")
            try peer.writeLine("two")
            try await peer.closeWriter()
            #expect(try await server.readLines() == ["one", "two"])
            #expect(server.eof)
            #expect(server.remotePort == peer.localPort)
            #expect(server.localPort == peer.remotePort)
        }
    }
}
