import Foundation
import StreamPortsTestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

extension Faults {
    /// Clients that go away badly: resets mid-line, closes while the server is writing a large
    /// reply, half-closes. Another client keeps talking throughout, and the server's fd count
    /// returns to where it was.
    @Suite("Abrupt clients")
    struct AbruptClients {
        @Test("Resets mid-line, closes during a large reply, half-closes: others unaffected, no fd leak")
        func abruptClients() async throws {
            let server = try await FaultServer()
            defer { server.process.kill() }
            try await server.warmUp()
            let baseline = try await server.stats.settledFDs()
            let witness = try server.client()
            try await expectEcho(witness, "witness before")

            // 20 clients send half a line, then reset (SO_LINGER 0).
            for i in 0..<20 {
                let c = try server.client()
                try await c.send("a partial line \(i) that never ends")
                if i % 2 == 0 { try await Task.sleep(for: .milliseconds(5)) }  // some reset before the server read it
                c.reset()
            }
            try await expectEcho(witness, "witness after resets")

            // 5 clients with a 4 KiB receive buffer send 2 MB of lines, read 1,000 bytes of the
            // echo and close with the rest unread (a reset) while the server is still writing.
            let line = Array((String(repeating: "0123456789", count: 9) + "abcdefghi\n").utf8)
            let payload = Array((0..<20_000).lazy.flatMap { _ in line })
            let closers = try (0..<5).map { _ in try server.client(receiveBuffer: 4096) }
            let accepted = try await withThrowingTaskGroup(of: Int.self) { group in
                for c in closers { group.addTask { try await c.sendWhileAccepted(payload, seconds: 1) } }
                return try await group.reduce(into: [Int]()) { $0.append($1) }
            }
            for c in closers {
                #expect(try await c.read(1000) == Array(payload[..<1000]))
                c.close()
            }
            try await expectEcho(witness, "witness after closes during replies")

            // 10 clients half-close after a line: 5 read their echo and the end of stream, 5 never
            // read and keep their socket open (the server must close its side all the same).
            var lingering: [TestClient] = []
            for i in 0..<10 {
                let c = try server.client()
                try await c.send("half \(i)\n")
                c.shutdownWrite()
                if i % 2 == 0 {
                    #expect(try await c.readToEnd() == Array("half \(i)\n".utf8))
                    c.close()
                } else {
                    lingering.append(c)
                }
            }
            try await expectEcho(witness, "witness after half-closes")
            let fresh = try server.client()
            try await expectEcho(fresh, "a new client")
            fresh.close()

            let withWitness = try await server.stats.waitForFDs(baseline + 1)
            print(
                "[faults] abrupt clients: server fds \(baseline) before, \(withWitness) after 20 resets, 5 closes during 2 MB replies (\(accepted.map { "\($0 / 1024)" }.joined(separator: ", ")) KiB of 1,953 taken in 1 s), 10 half-closes (+1 witness still open)"
            )
            #expect(
                withWitness == baseline + 1,
                "server fds: \(baseline) at start, \(withWitness) with only the witness open")
            witness.close()
            for c in lingering { c.close() }
            #expect(try await server.stats.waitForFDs(baseline) == baseline)
            try await server.stop()
        }
    }
}
