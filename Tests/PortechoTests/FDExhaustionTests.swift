import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

extension Faults {
    /// The server runs out of file descriptors: it must log, back off, keep its listener, not
    /// spin, and accept again once descriptors are free.
    @Suite("File descriptors")
    struct FileDescriptors {
        @Test("ulimit -n 64 and more clients than that: logs, backs off without spinning, serves again")
        func exhaustion() async throws {
            let limit = 64
            let server = try await FaultServer(["--log-level", "info"], fdLimit: limit)
            defer { server.process.kill() }
            try await server.warmUp()
            let baseline = try await server.stats.settledFDs()
            let room = limit - baseline
            #expect(room > 10, "portecho uses \(baseline) fds before any connection")

            // room + 20 clients: the kernel completes every handshake (backlog 128); the server
            // can accept only `room` of them.
            let swarm = try await Swarm(port: server.port, count: room + 20)
            try await swarm.send { i in Array("client \(i)\n".utf8) }
            let first = try await swarm.receive(timeout: 3) { Array("client \($0)\n".utf8) }
            // About `room` are served (an fd this process held when the child was spawned may
            // sit above the limit, and one may close late): some, not all.
            #expect(
                first.count > 0 && first.count < swarm.count,
                "\(first.count) of \(swarm.count) served with room for \(room)")
            #expect(
                try await server.process.stderrContains("Too many open files (errno 24); not accepting for 1 s"),
                "stderr: \(server.process.stderr.text)")
            let exhausted = try server.stats.openFDs()

            // Exhausted: it must neither exit nor spin.
            let cpuBefore = try server.stats.cpuSeconds()
            let logBefore = server.process.stderr.data.count
            try await Task.sleep(for: .seconds(2))
            let cpu = try server.stats.cpuSeconds() - cpuBefore
            let logGrowth = server.process.stderr.data.count - logBefore
            #expect(server.process.process.isRunning)
            #expect(cpu < 0.5, "\(cpu) s of CPU in 2 s while out of fds")
            #expect(logGrowth < 4096, "\(logGrowth) bytes logged in 2 s while out of fds")

            // Free the served ones: the waiting clients are accepted and served.
            swarm.close(first, reset: true)
            let rest = swarm.all.filter { !first.contains($0) }
            let freed = ContinuousClock.now
            let second = try await swarm.receive(rest, timeout: 20) { Array("client \($0)\n".utf8) }
            let recovery = seconds(since: freed)
            #expect(second == rest, "after freeing fds, \(second.count) of \(rest.count) waiting clients served")
            #expect(try await server.process.stderrContains("accepting again"), "stderr: \(server.process.stderr.text)")
            let acceptLog = server.process.stderr.text.split(separator: "\n").filter { $0.contains("accept") }
            #expect(acceptLog.count == 2, "accept log: \(acceptLog)")
            for line in acceptLog { print("[faults] fd exhaustion log: \(line)") }
            let late = try server.client()
            try await expectEcho(late, "after exhaustion")
            late.close()
            print(
                "[faults] fd exhaustion: ulimit -n \(limit), \(baseline) fds at rest, \(first.count) of \(swarm.count) clients served, server at \(exhausted) fds; while exhausted \(String(format: "%.2f", cpu)) s CPU and \(logGrowth) log bytes in 2 s; the \(rest.count) waiting clients all served \(recovery) s after \(first.count) were freed"
            )
            swarm.close(reset: true)
            try await server.stop()
        }
    }
}
