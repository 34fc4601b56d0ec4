import Foundation
import StreamPortsTestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// portecho behind a real HAProxy (Debian's 2.6) with the PROXY protocol: three
/// `portecho serve --proxy-protocol` backends, `balance leastconn`, health checks over the
/// protocol (LOCAL with v2, UNKNOWN or the check's own addresses with v1).
@Suite(
    "HAProxy in front of portecho --proxy-protocol", .serialized, .timeLimit(.minutes(2)),
    .enabled(if: haproxyPath != nil, "haproxy is not installed (apt-get install -y haproxy)"))
struct HAProxyTests {
    @Test(
        "200 clients x 100 lines byte-exact through HAProxy; real client addresses in the access logs; a backend killed under load; no header refused",
        arguments: [("send-proxy-v2", "Shift_JIS"), ("send-proxy", "UTF-8")])
    func endToEnd(sendProxy: String, encoding: String) async throws {
        var backends: [Portecho] = []
        defer { for backend in backends { backend.kill() } }
        var ports: [Int] = []
        for _ in 0..<3 {
            let backend = try Portecho([
                "serve", "127.0.0.1:0", "--proxy-protocol", "--proxy-trusted", "127.0.0.1/32,::1",
                "--encoding", encoding, "--log-level", "info",
            ])
            backends.append(backend)
            ports.append(try await backend.listeningPort(host: "127.0.0.1"))
        }
        let frontend = try freePort()
        let haproxy = try HAProxy(
            configuration: haproxyConfiguration(frontend: frontend, backends: ports, sendProxy: sendProxy))
        defer { haproxy.kill() }
        try await haproxy.waitListening(port: frontend)
        // Health checks reach every backend (and are answered: no server goes down).
        for backend in backends {
            #expect(try await backend.stderrContains(": connected", timeout: 10), "\(backend.stderr.text)")
        }

        try await manyClients(frontend: frontend, backends: backends, encoding: encoding)
        try await noHeaderRefused(backends[2], port: ports[2])
        #expect(!haproxy.stderr.text.contains("is DOWN"), "\(haproxy.stderr.text)")
        try await killUnderLoad(frontend: frontend, victim: backends[1], haproxy: haproxy, encoding: encoding)
    }

    /// 200 clients x 100 lines through HAProxy, every echo byte-exact; each backend's access
    /// log names the clients' own ports (from their sockets), not HAProxy's.
    func manyClients(frontend: Int, backends: [Portecho], encoding: String) async throws {
        let clients = 200, lines = 100
        let swarm = try await Swarm(port: frontend, count: clients, batch: 50)
        defer { swarm.close(reset: true) }
        let payload: @Sendable (Int) -> [UInt8] = { i in
            (0..<lines).flatMap { EchoText.line(i, $0, encoding: encoding) }
        }
        try await swarm.send(nil, payload)
        let done = try await swarm.receive(nil, timeout: 60, payload)
        #expect(done.count == clients, "\(done.count) of \(clients) clients got all their echoes")
        let clientPorts = swarm.fds.map(localPort(of:))
        swarm.close(reset: false)

        // Each client's connection logs, on the backend that served it, one `connected` and one
        // `closed` line naming the client's own address and port, with its 100 lines.
        let deadline = Date().addingTimeInterval(15)
        var missing = clientPorts
        while !missing.isEmpty && Date() < deadline {
            let logs = backends.map(\.stderr.text).joined(separator: "\n").split(separator: "\n")
                .filter { $0.contains("in \(lines) lines") }.joined(separator: "\n")
            missing = missing.filter { !logs.contains("127.0.0.1:\($0): closed") }
            if !missing.isEmpty { try await Task.sleep(for: .milliseconds(50)) }
        }
        #expect(missing.isEmpty, "no access-log line for client ports \(missing.prefix(10))")
        // (A health check's LOCAL connection logs HAProxy's own port, which may equal a
        // client's: only the lines with the clients' 100 lines count.)
        var served: [Int] = []
        var seen: [Int: Int] = [:]
        for backend in backends {
            let closedLines = backend.stderr.text.split(separator: "\n").filter {
                $0.contains(": closed (") && $0.contains("in \(lines) lines") && $0.contains("out \(lines) lines")
            }
            let mine = clientPorts.filter { port in closedLines.contains { $0.contains("127.0.0.1:\(port): closed") } }
            served.append(mine.count)
            for port in mine { seen[port, default: 0] += 1 }
        }
        #expect(seen.count == clients && seen.values.allSatisfy { $0 == 1 }, "client ports logged: \(seen.count)")
        #expect(served.reduce(0, +) == clients, "clients per backend: \(served)")
        #expect(served.allSatisfy { $0 > 0 }, "leastconn spreads 200 concurrent clients: \(served)")
        print("HAProxy: clients per backend \(served)")
    }

    /// A client talking straight to a backend, without a header, is closed without an echo.
    func noHeaderRefused(_ backend: Portecho, port: Int) async throws {
        let direct = try TestClient("127.0.0.1", port)
        try await direct.send("hello\r\n")
        #expect(try await direct.closedByPeer(timeout: 10), "closed without an echo")
        #expect(
            try await backend.stderrContains("connection closed: invalid PROXY protocol header"),
            "\(backend.stderr.text)")
    }

    /// Kills `victim` while load clients run: HAProxy marks it down within its check interval
    /// (fall x inter, plus slack for a loaded machine), connections opened after that all
    /// succeed on the other two, and no client ever receives a wrong echo.
    func killUnderLoad(frontend: Int, victim: Portecho, haproxy: HAProxy, encoding: String) async throws {
        let control = LoadControl()
        let tallies = (0..<12).map { id in
            Task {
                try await runLoadClient(
                    id: id, port: frontend, encoding: encoding, linesPerConnection: 20, control: control)
            }
        }
        try await Task.sleep(for: .milliseconds(700))
        let killed = ContinuousClock.now
        victim.kill()
        let markedDown = try await offPool { () -> Bool in
            let deadline = Date().addingTimeInterval(10)
            while Date() < deadline {
                if haproxy.stderr.text.contains("portecho/b1 is DOWN") { return true }
                usleep(2_000)
            }
            return false
        }
        let downAt = ContinuousClock.now
        control.markDown(at: downAt)
        #expect(markedDown, "HAProxy did not mark b1 down: \(haproxy.stderr.text)")
        let took = downAt - killed
        let bound = Duration.milliseconds(haproxyCheckInterval * haproxyFall) + .seconds(3)
        #expect(took < bound, "marked down after \(took)")
        try await Task.sleep(for: .milliseconds(1500))  // load on the two survivors
        control.stop()
        var total = LoadTally()
        for task in tallies { total = total + (try await task.value) }
        #expect(total.wrong.isEmpty, "\(total.wrong.prefix(5))")
        #expect(total.cutAfterDown == 0, "connections cut after b1 was marked down: \(total.cutAfterDown)")
        #expect(total.echoes > 100, "echoes under load: \(total.echoes)")
        print(
            "HAProxy: b1 marked down \(took) after SIGKILL; \(total.connections) connections, \(total.echoes) echoes, \(total.cut) cut and retried"
        )
    }
}
