import StreamPortsTestSupport
import Testing

@testable import StreamPorts

/// The accepted connections waiting for `read()` are bounded by the backlog: at the bound the
/// server stops accepting, and starts again as `read()` takes them.
@Suite("Accept limit", .timeLimit(.minutes(1)))
struct AcceptLimitTests {
    /// Connects `count` raw clients to 127.0.0.1:`port`, each sending its number and a LF once
    /// connected (the kernel completes handshakes the application has not accepted yet).
    func connectMany(_ count: Int, port: Int) async throws -> [TestClient] {
        var clients: [TestClient] = []
        for i in 0..<count {
            let client = try TestClient("127.0.0.1", port)
            try await client.send("\(i)\n")
            clients.append(client)
            try await Task.sleep(for: .milliseconds(20))  // one accept per readiness event, as in life
        }
        return clients
    }

    @Test("At `backlog` connections waiting for read(), the server stops accepting; read() resumes it")
    func boundedByBacklog() async throws {
        let backlog = 4
        let server = try await tcpServerStream("127.0.0.1:0", backlog: backlog, transcoder: Transcoder(eolStyle: .lf))
        // 9 connections: the server may hold `backlog` (+3 in one readiness event), the kernel
        // holds backlog + 1 more, so none is dropped and retried.
        let clients = try await connectMany(9, port: server.localPort)
        defer { for client in clients { client.close() } }
        try await Task.sleep(for: .milliseconds(200))
        let waiting = server.accepted.state.withLock { $0.waiting }
        #expect(
            waiting >= backlog && waiting <= backlog + 3,
            "\(waiting) accepted connections wait for read() with a backlog of \(backlog)")

        var seen: [Int] = []
        for _ in 0..<clients.count {
            guard let stream = await server.read(timeout: .seconds(10)) else { break }
            if let line = try await stream.readLine(), let n = Int(line) { seen.append(n) }
            await stream.abort()
        }
        #expect(seen.sorted() == Array(0..<clients.count), "read \(seen)")
        let after = server.accepted.state.withLock { (waiting: $0.waiting, full: $0.full) }
        #expect(after.waiting == 0 && !after.full)
        await server.close()
    }

    @Test("A server whose backlog is reached still accepts once read() drains it (TCPServer too)")
    func tcpServerResumes() async throws {
        let server = TCPServer(transcoder: Transcoder(eolStyle: .lf))
        try server.bind("127.0.0.1", 0)
        try await server.listen(2)
        let first = try await connectMany(5, port: server.localPort)
        try await Task.sleep(for: .milliseconds(200))
        for _ in first { #expect(try await server.accept(timeout: 10_000) != nil) }
        let second = try await connectMany(5, port: server.localPort)
        for _ in second { #expect(try await server.accept(timeout: 10_000) != nil) }
        for client in first + second { client.close() }
        await server.dispose()
    }
}
