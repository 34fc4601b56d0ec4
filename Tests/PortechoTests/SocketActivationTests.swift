import Foundation
import StreamPortsTestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// `portecho` started as a service manager starts a socket-activated service: `listening` as
/// descriptor 3, `LISTEN_FDS` set, and `LISTEN_PID` set by the shell to its own pid, which
/// `exec` keeps (or to `listenPID` when given). Foundation's `Process` closes every inherited
/// descriptor above 2, hence posix_spawn.
final class ActivatedPortecho: @unchecked Sendable {
    let pid: pid_t
    let stdout = Collected()
    let stderr = Collected()
    private let outPipe = Pipe(), errPipe = Pipe()

    init(listening: Int32, arguments: [String], listenFDs: String = "1", listenPID: String? = nil) throws {
        let pidAssignment = listenPID.map { "LISTEN_PID=\($0)" } ?? "LISTEN_PID=$$"
        let argv =
            ["/bin/sh", "-c", "export \(pidAssignment); exec \"$0\" \"$@\"", portechoURL.path, "serve"] + arguments
        let environment =
            ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("LISTEN_") }.map { "\($0.key)=\($0.value)" }
            + ["LISTEN_FDS=\(listenFDs)"]
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, listening, 3)
        posix_spawn_file_actions_adddup2(&actions, outPipe.fileHandleForWriting.fileDescriptor, 1)
        posix_spawn_file_actions_adddup2(&actions, errPipe.fileHandleForWriting.fileDescriptor, 2)
        // Nothing else leaks into the child (other tests' pipes, say): glibc 2.34's
        // posix_spawn_file_actions_addclosefrom_np, which Swift's Glibc module does not show.
        if let closeFrom = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "posix_spawn_file_actions_addclosefrom_np") {
            typealias CloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32
            _ = unsafeBitCast(closeFrom, to: CloseFrom.self)(&actions, 4)
        }
        let cArgv = argv.map { strdup($0) } + [nil]
        let cEnv = environment.map { strdup($0) } + [nil]
        defer { for p in cArgv + cEnv { free(p) } }
        var child: pid_t = 0
        let status = posix_spawn(&child, "/bin/sh", &actions, nil, cArgv, cEnv)
        guard status == 0 else { throw TestFailure("posix_spawn: \(status)") }
        pid = child
        try outPipe.fileHandleForWriting.close()
        try errPipe.fileHandleForWriting.close()
        stdout.attach(outPipe)
        stderr.attach(errPipe)
    }

    deinit { _ = kill(pid, SIGKILL); waitpid(pid, nil, 0) }

    /// The first line of standard output, within `timeout` seconds.
    func firstLine(timeout: Double = 20) async throws -> String {
        try await offPool { [self] in
            let deadline = Date().addingTimeInterval(timeout)
            while Date() < deadline {
                if let newline = stdout.data.firstIndex(of: 0x0A) {
                    return String(decoding: stdout.data[..<newline], as: UTF8.self)
                }
                if stdout.isEnded { break }
                usleep(5_000)
            }
            throw TestFailure("no first line within \(timeout) s; stdout: \(stdout.text); stderr: \(stderr.text)")
        }
    }

    /// SIGTERM, then the exit status within `timeout` seconds.
    func terminate(timeout: Double = 20) async throws -> Int32 {
        _ = kill(pid, SIGTERM)
        return try await exitStatus(timeout: timeout)
    }

    /// The exit status within `timeout` seconds.
    func exitStatus(timeout: Double = 20) async throws -> Int32 {
        try await offPool { [self] in
            let deadline = Date().addingTimeInterval(timeout)
            var status: Int32 = 0
            while waitpid(pid, &status, WNOHANG) == 0 {
                guard Date() < deadline else { throw TestFailure("portecho still running; stderr: \(stderr.text)") }
                usleep(5_000)
            }
            return (status >> 8) & 0xFF
        }
    }
}

@Suite("portecho serve: socket activation (LISTEN_FDS, LISTEN_PID)", .timeLimit(.minutes(2)))
struct SocketActivationTests {
    /// A listening socket on 127.0.0.1 made with raw system calls, as a service manager does.
    private static func listeningSocket() throws -> (fd: Int32, port: Int) {
        let listener = try RawListener("127.0.0.1", backlog: 16)
        let fd = dup(listener.fd)  // the listener closes its own descriptor when released
        guard fd >= 0 else { throw TestFailure("dup: errno \(errno)") }
        return (fd, listener.port)
    }

    private static func echo(_ line: String, port: Int) async throws -> String {
        let client = try TestClient("127.0.0.1", port)
        defer { client.close() }
        try await client.send(line + "\n")
        return String(decoding: try await client.read(line.utf8.count + 2), as: UTF8.self)
    }

    @Test func servesTheInheritedSocket() async throws {
        let (fd, port) = try Self.listeningSocket()
        defer { close(fd) }
        let portecho = try ActivatedPortecho(listening: fd, arguments: [])
        #expect(try await portecho.firstLine() == "listening on 127.0.0.1:\(port)")
        #expect(try await Self.echo("activated", port: port) == "activated\r\n")
        #expect(try await portecho.terminate() == 0)
    }

    @Test func aListenPIDOfAnotherProcessIsIgnored() async throws {
        let (fd, port) = try Self.listeningSocket()
        defer { close(fd) }
        let portecho = try ActivatedPortecho(listening: fd, arguments: ["127.0.0.1:0"], listenPID: "1")
        let line = try await portecho.firstLine()
        #expect(line.hasPrefix("listening on 127.0.0.1:") && line != "listening on 127.0.0.1:\(port)")
        let own = try #require(Int(line.dropFirst("listening on 127.0.0.1:".count)))
        #expect(try await Self.echo("bound", port: own) == "bound\r\n")
        #expect(try await portecho.terminate() == 0)
        #expect(portecho.stderr.text.contains("LISTEN_PID=1 is not this process"))
    }

    @Test(arguments: [
        (["127.0.0.1:0"], "1", "ADDRESS 127.0.0.1:0 cannot be used with socket activation"),
        (["--reuse-port"], "1", "--reuse-port cannot be used with socket activation"),
        ([], "2", "LISTEN_FDS=2: portecho serves exactly one socket"),
        ([], "x", "LISTEN_FDS=x is not a number"),
    ])
    func usageErrors(arguments: [String], listenFDs: String, message: String) async throws {
        let (fd, _) = try Self.listeningSocket()
        defer { close(fd) }
        let portecho = try ActivatedPortecho(listening: fd, arguments: arguments, listenFDs: listenFDs)
        #expect(try await portecho.exitStatus() == 64)
        #expect(portecho.stderr.text.contains(message), "\(portecho.stderr.text)")
    }

    @Test func descriptorThreeNotListeningIsAUsageError() async throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        let portecho = try ActivatedPortecho(listening: fd, arguments: [])
        #expect(try await portecho.exitStatus() == 64)
        #expect(portecho.stderr.text.contains("listeningSocket 3: it is not listening"), "\(portecho.stderr.text)")
    }
}
