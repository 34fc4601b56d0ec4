import Foundation
import StreamPortsTestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// `portecho send`, `portecho encodings`, bad options.
@Suite("portecho send, encodings, usage", .serialized, .timeLimit(.minutes(1)))
struct CommandTests {
    func server(_ arguments: [String]) async throws -> (Portecho, Int) {
        let server = try Portecho(["serve", "127.0.0.1:0"] + arguments)
        do {
            return (server, try await server.listeningPort(host: "127.0.0.1"))
        } catch {
            server.kill()
            throw error
        }
    }

    @Test("send LINE…: each echo on stdout as UTF-8, nothing else, exit 0")
    func sendLines() async throws {
        let (server, port) = try await server(["--encoding", "Shift_JIS"])
        defer { server.kill() }
        let result = try await Portecho.run(["send", "127.0.0.1:\(port)", "--encoding", "sjis", "hello", "日本語", "表ソ"])
        #expect(result.status == 0, "stderr: \(result.stderr)")
        #expect(result.stdout == "hello\n日本語\n表ソ\n")
        server.send(signal: SIGTERM)
        #expect(try await server.exitStatus() == 0)
    }

    @Test("send reads standard input's lines when no LINE is given")
    func sendStdin() async throws {
        let (server, port) = try await server(["--encoding", "UTF-16LE", "--eol", "lf"])
        defer { server.kill() }
        let lines = (1...500).map { "line \($0) é😀" }
        let result = try await Portecho.run(
            ["send", "\(port)", "--encoding", "UTF-16LE", "--eol", "lf"], input: lines.joined(separator: "\n") + "\n")
        #expect(result.status == 0, "stderr: \(result.stderr)")
        #expect(result.stdout == lines.joined(separator: "\n") + "\n")
        server.send(signal: SIGTERM)
        #expect(try await server.exitStatus() == 0)
    }

    @Test("send streams a large standard input while reading the echoes (both sides push back)")
    func sendLarge() async throws {
        let (server, port) = try await server(["--eol", "lf"])
        defer { server.kill() }
        let line = String(repeating: "ストリーム", count: 20)  // 300 bytes
        let input = (0..<15_000).map { "\($0) \(line)\n" }.joined()  // 4.5 MB
        let result = try await Portecho.run(["send", "127.0.0.1:\(port)", "--eol", "lf"], input: input, timeout: 50)
        #expect(result.status == 0, "stderr: \(result.stderr)")
        #expect(result.stdout == input)
        server.send(signal: SIGTERM)
        #expect(try await server.exitStatus() == 0)
    }

    @Test("send with no lines at all connects and exits 0")
    func sendNothing() async throws {
        let (server, port) = try await server([])
        defer { server.kill() }
        let result = try await Portecho.run(["send", "127.0.0.1:\(port)"], input: "")
        #expect(result.status == 0 && result.stdout.isEmpty, "stderr: \(result.stderr)")
        server.send(signal: SIGTERM)
        #expect(try await server.exitStatus() == 0)
    }

    @Test("send: connection refused, unknown host, no echo in time: non-zero with a message")
    func sendFailures() async throws {
        // A port just freed: nothing listens there.
        let (server, port) = try await server([])
        server.send(signal: SIGTERM)
        #expect(try await server.exitStatus() == 0)
        let refused = try await Portecho.run(["send", "127.0.0.1:\(port)", "x"])
        #expect(refused.status == 1 && refused.stdout.isEmpty)
        #expect(refused.stderr.contains("127.0.0.1:\(port)") && refused.stderr.contains("refused"), "\(refused.stderr)")

        let unknown = try await Portecho.run(["send", "no-such-host.invalid:7", "x"])
        #expect(unknown.status == 1)
        #expect(unknown.stderr.contains("no-such-host.invalid"), "\(unknown.stderr)")

        // A server that accepts and never answers.
        let listener = try RawListener("127.0.0.1")
        defer { withExtendedLifetime(listener) {} }  // listening until the end
        let silentPort = listener.port
        let start = ContinuousClock.now
        let silent = try await Portecho.run(["send", "127.0.0.1:\(silentPort)", "--timeout", "0.5", "x"])
        #expect(silent.status == 1)
        #expect(silent.stderr.contains("no reply") && silent.stderr.contains("0.5 s"), "\(silent.stderr)")
        #expect(ContinuousClock.now - start < .seconds(5))
    }

    @Test("encodings: one codec per line, name then aliases; FILTER ignores case")
    func encodings() async throws {
        let all = try await Portecho.run(["encodings"])
        #expect(all.status == 0)
        let lines = all.stdout.split(separator: "\n")
        #expect(lines.count > 50)
        #expect(lines.contains { $0.hasPrefix("UTF-8 ") || $0 == "UTF-8" })
        let filtered = try await Portecho.run(["encodings", "SHIFT_jis"])
        #expect(filtered.status == 0)
        let kept = filtered.stdout.split(separator: "\n")
        #expect(!kept.isEmpty && kept.count < lines.count)
        #expect(kept.allSatisfy { $0.split(separator: " ").contains { $0.lowercased().contains("shift_jis") } })
        #expect(kept.contains { $0.split(separator: " ").contains("Shift_JIS") })
        let none = try await Portecho.run(["encodings", "no-such-codec-anywhere"])
        #expect(none.status == 0 && none.stdout.isEmpty)
    }

    @Test(
        "Bad options and values exit 64 with a message naming them",
        arguments: [
            (["serve", "--bogus"], "--bogus"),
            (["serve", "localhost:80x"], "localhost:80x"),
            (["serve", "127.0.0.1:65536"], "65536"),
            (["serve", "70000"], "70000"),
            (["serve", "--port", "99999"], "99999"),
            (["serve", "[::1"], "[::1"),
            (["serve", "::1:80"], "write [::1]:80 if 80 is the port"),
            (["serve", "::1"], "write [::1]:PORT or pass port:"),
            (["serve", "--backlog", "-1"], "-1"),
            (["serve", "--encoding", "shift-jsi"], "Shift_JIS"),
            (["serve", "--eol", "crlx"], "crlx"),
            (["serve", "--errors", "loud"], "loud"),
            (["serve", "--max-line-length", "0"], "--max-line-length"),
            (["serve", "--idle-timeout", "-1"], "--idle-timeout"),
            (["serve", "--log-level", "chatty"], "chatty"),
            (["send"], "address"),
            (["send", "host:+80", "x"], "host:+80"),
            (["send", "127.0.0.1:1", "--encoding", "nope-8", "x"], "nope-8"),
            (["--bogus"], "--bogus"),
        ])
    func usage(arguments: [String], named: String) async throws {
        let result = try await Portecho.run(arguments)
        #expect(result.status == 64, "\(arguments): \(result.stderr)")
        #expect(result.stderr.contains(named), "\(arguments): \(result.stderr)")
        #expect(result.stdout.isEmpty)
    }

    @Test("serve ::1:80 without --port is a usage error suggesting [::1]:80, and binds nothing")
    func unbracketedIPv6WithoutPort() async throws {
        let result = try await Portecho.run(["serve", "::1:80"])
        #expect(result.status == 64, "\(result.stderr)")
        #expect(result.stdout.isEmpty)
        #expect(
            result.stderr.contains(
                "invalid address \"::1:80\": an unbracketed IPv6 address is a host only and has no port here; write [::1]:80 if 80 is the port, [::1:80]:PORT if it is not, or pass port:"
            ),
            "\(result.stderr)")
        #expect(!result.stderr.contains("cannot listen"), "\(result.stderr)")
        #expect(!result.stderr.contains("0.1.0.128"), "\(result.stderr)")
    }

    @Test("--help on every command exits 0")
    func help() async throws {
        for command in [[], ["serve"], ["send"], ["encodings"]] {
            let result = try await Portecho.run(command + ["--help"])
            #expect(result.status == 0)
            #expect(result.stdout.contains("USAGE: portecho"))
        }
    }
}
