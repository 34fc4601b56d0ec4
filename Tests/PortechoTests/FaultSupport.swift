import Foundation
import StreamPortsTestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// The fault tests: a `portecho serve` child process on loopback, attacked by clients of this
/// process; its file descriptors, memory and CPU time read from /proc. One at a time (they
/// measure the child, and some use thousands of sockets). Figures are printed, prefixed
/// `[faults]`, so a run shows them.
@Suite("Faults", .serialized, .timeLimit(.minutes(3)))
struct Faults {}

/// A served `portecho` with its /proc view.
struct FaultServer {
    let process: Portecho
    let port: Int
    var stats: ProcStats { ProcStats(pid: process.process.processIdentifier) }

    /// Starts `portecho serve 127.0.0.1:0 --eol lf ARGUMENTS` (through `ulimit -n` when
    /// `fdLimit` is given) and waits for its port.
    init(_ arguments: [String] = [], fdLimit: Int? = nil) async throws {
        process = try Portecho(["serve", "127.0.0.1:0", "--eol", "lf"] + arguments, fdLimit: fdLimit)
        do {
            port = try await process.listeningPort(host: "127.0.0.1")
        } catch {
            process.kill()
            throw error
        }
    }

    /// Connects a blocking test client.
    func client(receiveBuffer: Int32? = nil) throws -> TestClient {
        try TestClient("127.0.0.1", port, receiveBuffer: receiveBuffer)
    }

    /// One connection that sends a line, checks its echo and closes: afterwards the server has
    /// created whatever it creates lazily, so fd counts taken now are a fair baseline.
    func warmUp() async throws {
        let c = try client()
        try await expectEcho(c, "warm-up")
        c.close()
    }

    /// SIGTERM, then exit status 0 (bounded), and nothing but printable text, tabs and
    /// newlines in its standard error: no peer byte reached the log raw.
    func stop() async throws {
        process.send(signal: SIGTERM)
        #expect(try await process.exitStatus() == 0, "stderr: \(process.stderr.text.suffix(2000))")
        let raw = process.stderr.data.filter { ($0 < 0x20 && $0 != 0x0A && $0 != 0x09) || $0 == 0x7F }
        #expect(raw.isEmpty, "control bytes \(preview(raw)) in portecho's stderr")
    }
}

/// Sends `text` and a LF on `client` and expects exactly that back within `timeout` seconds.
func expectEcho(_ client: TestClient, _ text: String, timeout: Double = 10) async throws {
    let line = Array((text + "\n").utf8)
    try await client.send(line)
    let echoed = try await client.read(line.count, timeout: timeout)
    #expect(echoed == line, "echo of \"\(text)\"")
}

/// Seconds since `start`, with millisecond precision, for reports.
func seconds(since start: ContinuousClock.Instant) -> String {
    let d = ContinuousClock.now - start
    return String(format: "%.3f", Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18)
}
