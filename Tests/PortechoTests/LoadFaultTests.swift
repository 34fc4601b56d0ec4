import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

extension Faults {
    /// Many connections at once: slow ones and idle ones. The clients live in this process
    /// (``Swarm``), the server in a child, so both fit under the 20,000-fd limit.
    @Suite("Load")
    struct Load {
        /// Slowloris clients (`FAULTS_SLOWLORIS_CLIENTS`, default 1,000).
        static let slowClients = environmentInt("FAULTS_SLOWLORIS_CLIENTS", 1000)
        /// Idle connections (`FAULTS_IDLE_CONNECTIONS`, default 10,000; this process's fd
        /// limit must exceed it).
        static let idleConnections = environmentInt("FAULTS_IDLE_CONNECTIONS", 10_000)

        /// Slowloris client `i`'s line: `slow 0042 abc…789` (46 bytes, no line end).
        static func slowLine(_ i: Int) -> [UInt8] {
            Array(String(format: "slow %04d ", i).utf8) + Array("abcdefghijklmnopqrstuvwxyz0123456789".utf8)
        }

        @Test("Slowloris: 1,000 clients trickle a partial line a byte at a time; memory bounded, others served")
        func slowloris() async throws {
            let count = Load.slowClients
            let server = try await FaultServer(["--backlog", "1024"])
            defer { server.process.kill() }
            try await server.warmUp()
            let baseline = try await server.stats.settledFDs()
            let witness = try server.client()
            try await expectEcho(witness, "witness")
            server.stats.resetPeak()
            let before = try server.stats.memory()

            let swarm = try await Swarm(port: server.port, count: count)
            #expect(try await server.stats.waitForFDs(baseline + 1 + count) == baseline + 1 + count)
            let connected = try server.stats.memory()
            server.stats.resetPeak()

            // One byte per client per round, 20 ms apart; the witness's echo timed every 5 rounds.
            let rounds = Load.slowLine(0).count
            var slowestEcho: Duration = .zero
            var samples: [Int] = []
            let start = ContinuousClock.now
            for r in 0..<rounds {
                try await swarm.send { i in [Load.slowLine(i)[r]] }
                if r % 5 == 0 {
                    let t = ContinuousClock.now
                    try await expectEcho(witness, "witness round \(r)")
                    slowestEcho = max(slowestEcho, ContinuousClock.now - t)
                    samples.append(try server.stats.memory().rss)
                }
                try await Task.sleep(for: .milliseconds(20))
            }
            let trickled = try server.stats.memory()
            let trickleTime = seconds(since: start)

            // Each line ends; each client gets exactly its line back.
            try await swarm.send { _ in [0x0A] }
            let served = try await swarm.receive(timeout: 30) { Load.slowLine($0) + [0x0A] }
            print(
                "[faults] slowloris: \(count) clients × \(rounds) bytes, one byte per client every 20 ms for \(trickleTime) s; server RSS \(mib(before.rss)) MiB before, \(mib(connected.rss)) MiB connected (\((connected.rss - before.rss) * 1024 / count) B/conn), RSS while trickling \(samples.map { mib($0) }.joined(separator: " ")) MiB, peak \(mib(trickled.peak)) MiB; slowest witness echo \(slowestEcho); \(served.count) of \(count) lines echoed whole"
            )
            #expect(served.count == count)
            // Partial lines cost a small, fixed amount per connection: no more than 16 KiB each
            // at the peak, and nothing more as more bytes trickle in (the second half of the
            // rounds adds at most 2 MiB in all).
            #expect(
                trickled.peak - connected.rss < count * 16,
                "server memory grew by \(mib(trickled.peak - connected.rss)) MiB while \(count) clients trickled \(count * rounds) bytes"
            )
            #expect(
                samples.last! - samples[samples.count / 2] < 2 * 1024,
                "server memory kept growing while trickling: \(samples)")
            #expect(slowestEcho < .seconds(5), "witness echo took \(slowestEcho)")
            swarm.close(reset: true)
            witness.close()
            #expect(try await server.stats.waitForFDs(baseline) == baseline)
            try await server.stop()
        }

        @Test("10,000 concurrent idle connections: all served; RSS per connection reported; fds return")
        func idleConnections() async throws {
            let count = Load.idleConnections
            let server = try await FaultServer(["--backlog", "4096"])
            defer { server.process.kill() }
            try await server.warmUp()
            let baseline = try await server.stats.settledFDs()
            let before = try server.stats.memory()

            let start = ContinuousClock.now
            let swarm = try await Swarm(port: server.port, count: count, batch: 500)
            let connectTime = seconds(since: start)
            let open = try await server.stats.waitForFDs(baseline + count, timeout: 30)
            #expect(open == baseline + count, "server fds: \(open), expected \(baseline) + \(count)")
            let connected = try server.stats.memory()

            // Every connection is served: one line each, its echo back.
            let echoStart = ContinuousClock.now
            try await swarm.send { i in Array("idle \(i)\n".utf8) }
            let served = try await swarm.receive(timeout: 60) { Array("idle \($0)\n".utf8) }
            let echoTime = seconds(since: echoStart)
            let after = try server.stats.memory()
            let perConnection = (after.rss - before.rss) * 1024 / count
            print(
                "[faults] idle: \(count) connections in \(connectTime) s, \(served.count) echoed in \(echoTime) s; server fds \(baseline) → \(open); RSS \(mib(before.rss)) → \(mib(connected.rss)) MiB connected → \(mib(after.rss)) MiB after one echo each, peak \(mib(after.peak)) MiB; \(perConnection) B (\(String(format: "%.1f", Double(perConnection) / 1024)) KiB) per connection"
            )
            #expect(served.count == count)
            #expect(perConnection < 64 * 1024, "\(perConnection) bytes of RSS per idle connection")

            let witness = try server.client()
            try await expectEcho(witness, "one more")
            witness.close()
            swarm.close(reset: true)
            #expect(try await server.stats.waitForFDs(baseline, timeout: 30) == baseline)
            try await server.stop()
        }
    }
}
