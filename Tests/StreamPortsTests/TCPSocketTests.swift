import Glibc
import Testing

@testable import StreamPorts

/// Collects events until `last` arrives (bounded by a timeout).
func collect(
    _ socket: TCPSocket, until last: TCPSocket.Event, timeout: Duration = .seconds(5)
) async -> [TCPSocket.Event] {
    await withTaskGroup(of: [TCPSocket.Event].self) { group in
        group.addTask {
            var seen: [TCPSocket.Event] = []
            for await event in socket.events {
                seen.append(event)
                if event == last { break }
            }
            return seen
        }
        group.addTask {
            try? await Task.sleep(for: timeout)
            return []
        }
        let first = await group.next() ?? []
        group.cancelAll()
        return first
    }
}

@Suite("Seed 004: TcpSocket states and events", .timeLimit(.minutes(1)))
struct TCPSocketTests {
    @Test func connectEventsAndRemoteClose() async throws {
        try await withServer { server in
            let socket = TCPSocket(transcoder: Transcoder(eolStyle: .lf))
            #expect(socket.state == .unconnected)
            #expect(socket.remotePort == 0)
            try await socket.connect("127.0.0.1", server.localPort)
            #expect(socket.state == .connected)
            #expect(socket.isValid)
            #expect(socket.remotePort == server.localPort)
            // Seeds 003/004: the address alone, the port apart; the endpoint has both.
            #expect(socket.remoteAddress == "127.0.0.1")
            #expect(socket.localAddress == "127.0.0.1")
            #expect(socket.localPort > 0)
            #expect(socket.remoteEndpoint == "127.0.0.1:\(server.localPort)")
            #expect(socket.localEndpoint == "127.0.0.1:\(socket.localPort)")
            let accepted = try #require(await server.read(timeout: .seconds(5)))
            try accepted.showln("hello")
            try await accepted.flushWriter()
            let untilRead = await collect(socket, until: .readyRead(bytesAvailable: 6))
            #expect(
                untilRead == [
                    .stateChanged(.hostLookup), .hostFound, .stateChanged(.connecting), .stateChanged(.connected),
                    .connected, .readyRead(bytesAvailable: 6),
                ])
            #expect(socket.bytesAvailable == 6)
            #expect(try await socket.readLine() == "hello")
            try await accepted.close()
            let afterClose = await collect(socket, until: .disconnected)
            #expect(afterClose == [.error(.remoteHostClosed), .stateChanged(.unconnected), .disconnected])
            #expect(socket.error == .remoteHostClosed)
            #expect(!socket.errorString.isEmpty)
        }
    }

    @Test func bindWriteDisconnect() async throws {
        try await withServer { server in
            let socket = TCPSocket()
            try socket.bind(0)
            #expect(socket.state == .bound)
            try await socket.connect("localhost", server.localPort)
            let accepted = try #require(await server.read(timeout: .seconds(5)))
            #expect(accepted.remotePort == socket.localPort)
            try await socket.write([1, 2, 3])
            await socket.disconnect()
            let events = await collect(socket, until: .disconnected)
            // Pending output is written (bytesWritten) before the socket leaves closing.
            let tail = events.filter { $0 != .stateChanged(.hostLookup) && $0 != .stateChanged(.connecting) }
            let closing = try #require(tail.firstIndex(of: .stateChanged(.closing)))
            let written = try #require(tail.firstIndex(of: .bytesWritten(3)))
            let unconnected = try #require(tail.firstIndex(of: .stateChanged(.unconnected)))
            #expect(closing < unconnected && written < unconnected)
            #expect(tail.last == .disconnected)
            #expect(try await accepted.readAllBytes() == [1, 2, 3])
            #expect(socket.state == .unconnected)
            await #expect(throws: StreamPortError.self) { try await socket.write([4]) }
            #expect(socket.error == .operation)
        }
    }

    @Test func abortAndRefused() async throws {
        let server = try await tcpServerStream(0)
        let socket = TCPSocket()
        try await socket.connect("127.0.0.1", server.localPort)
        await socket.abort()
        #expect(socket.state == .unconnected)
        let port = server.localPort
        await server.close()
        let refused = TCPSocket()
        await #expect(throws: StreamPortError.self) { try await refused.connect("127.0.0.1", port) }
        #expect(refused.error == .connectionRefused)
        #expect(refused.state == .unconnected)
        let unknown = TCPSocket()
        await #expect(throws: StreamPortError.self) { try await unknown.connect("no-such-host.invalid", 80) }
        #expect(unknown.error == .hostNotFound)
        #expect(TCPSocket.ErrorKind(StreamPortError(.system, errno: EMFILE, "x")) == .socketResource)
    }

    @Test("IPv6: addresses alone in RFC 5952 form, endpoints bracketed")
    func ipv6Addresses() async throws {
        guard StreamAddress.ipv6Available, let server = try? await tcpServerStream("[::1]:0") else { return }
        #expect(server.localAddress == "::1")
        #expect(server.localEndpoint == "[::1]:\(server.localPort)")
        let socket = TCPSocket()
        try await socket.connect("::1", server.localPort)
        #expect(socket.remoteAddress == "::1")
        #expect(socket.localAddress == "::1")
        #expect(socket.remoteEndpoint == "[::1]:\(server.localPort)")
        #expect(socket.localEndpoint == "[::1]:\(socket.localPort)")
        await socket.abort()
        await server.close()
    }
}
