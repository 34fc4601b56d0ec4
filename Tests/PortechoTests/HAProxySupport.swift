import Foundation
import StreamPortsTestSupport
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

// HAProxy in front of portecho backends: the configuration, the process, and blocking load
// clients that check every echo they receive.

/// The `haproxy` executable: on PATH, else Debian's /usr/sbin/haproxy; nil when not installed.
let haproxyPath: String? = {
    let path = ProcessInfo.processInfo.environment["PATH"] ?? ""
    let candidates =
        path.split(separator: ":").map { "\($0)/haproxy" } + ["/usr/sbin/haproxy", "/usr/local/sbin/haproxy"]
    return candidates.first { FileManager.default.isExecutableFile(atPath: $0) }
}()

/// The health check interval of the test configuration, in milliseconds, and how many failed
/// checks mark a server down.
let haproxyCheckInterval = 250
let haproxyFall = 2

/// A TCP-mode HAProxy configuration: a frontend on 127.0.0.1:`frontend`, `balance leastconn`
/// over `backends` (ports on 127.0.0.1), each sent the PROXY protocol (`send-proxy-v2` or
/// `send-proxy`) and health-checked with a line our echo answers.
func haproxyConfiguration(frontend: Int, backends: [Int], sendProxy: String) -> String {
    let servers = backends.enumerated().map { "    server b\($0.offset) 127.0.0.1:\($0.element)" }
    return """
        global
            maxconn 4096

        defaults
            mode tcp
            timeout connect 2s
            timeout client 30s
            timeout server 30s
            retries 2
            option redispatch

        frontend echo
            bind 127.0.0.1:\(frontend)
            maxconn 2000
            default_backend portecho

        backend portecho
            balance leastconn
            option tcp-check
            tcp-check send "ping\\r\\n"
            tcp-check expect string ping
            default-server \(sendProxy) check inter \(haproxyCheckInterval)ms fall \(haproxyFall) rise 2
        \(servers.joined(separator: "\n"))

        """
}

/// A running `haproxy -db -f FILE` (foreground, logs on standard error), killed by its
/// process id when released.
final class HAProxy: @unchecked Sendable {
    let process = Process()
    let stderr = Collected()
    let configFile: String

    init(configuration: String) throws {
        guard let haproxyPath else { throw TestFailure("haproxy is not installed") }
        configFile = NSTemporaryDirectory() + "portecho-haproxy-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).cfg"
        try configuration.write(toFile: configFile, atomically: true, encoding: .utf8)
        process.executableURL = URL(fileURLWithPath: haproxyPath)
        process.arguments = ["-db", "-f", configFile]
        let err = Pipe()
        process.standardError = err
        process.standardOutput = err
        process.standardInput = FileHandle.nullDevice
        stderr.attach(err)
        try process.run()
    }

    deinit {
        kill()
        try? FileManager.default.removeItem(atPath: configFile)
    }

    /// SIGKILL, if still running, then a bounded wait for it to exit.
    func kill() {
        guard process.isRunning else { return }
        _ = Glibc.kill(process.processIdentifier, SIGKILL)
        let deadline = Date().addingTimeInterval(5)
        while process.isRunning && Date() < deadline { usleep(5_000) }
    }

    /// Waits until a connection to `port` on loopback is accepted.
    func waitListening(port: Int, timeout: Double = 10) async throws {
        try await offPool { [self] in
            let deadline = Date().addingTimeInterval(timeout)
            while Date() < deadline {
                if let (fd, _) = try? RawSocket.connect("127.0.0.1", port, timeout: 1) {
                    Glibc.close(fd)
                    return
                }
                guard process.isRunning else { break }
                usleep(20_000)
            }
            throw TestFailure("haproxy not listening on \(port) within \(timeout) s: \(stderr.text)")
        }
    }
}

/// The local port of a connected socket.
func localPort(of fd: Int32) -> Int {
    var address = sockaddr_in()
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
    }
    return Int(UInt16(bigEndian: address.sin_port))
}

/// Echo lines in an encoding, with characters beyond ASCII: "日本語 表ソ能" (in Shift_JIS
/// the last three end with byte 0x5C, a backslash in ASCII).
enum EchoText {
    static let japaneseUTF8 = Array("日本語 表ソ能".utf8)
    static let japaneseShiftJIS: [UInt8] = [
        0x93, 0xFA, 0x96, 0x7B, 0x8C, 0xEA, 0x20, 0x95, 0x5C, 0x83, 0x5C, 0x94, 0x5C,
    ]

    /// Line `line` of client `client`, CRLF-terminated, in `encoding` (UTF-8 or Shift_JIS).
    static func line(_ client: Int, _ line: Int, encoding: String) -> [UInt8] {
        Array("c\(client) l\(line) ".utf8) + (encoding == "Shift_JIS" ? japaneseShiftJIS : japaneseUTF8) + [0x0D, 0x0A]
    }
}

/// What the load clients saw.
struct LoadTally: Sendable {
    var connections = 0
    var echoes = 0
    /// Connections closed before all their echoes came (the client then retried).
    var cut = 0
    /// Cut connections opened after the backend was marked down.
    var cutAfterDown = 0
    /// Echoes that were not what was sent: must stay empty.
    var wrong: [String] = []

    static func + (a: LoadTally, b: LoadTally) -> LoadTally {
        LoadTally(
            connections: a.connections + b.connections, echoes: a.echoes + b.echoes, cut: a.cut + b.cut,
            cutAfterDown: a.cutAfterDown + b.cutAfterDown, wrong: a.wrong + b.wrong)
    }
}

/// Shared by the load clients: when to stop, and when the killed backend was marked down.
final class LoadControl: Sendable {
    private let stopped = Atomic<Bool>(false)
    private let down = Mutex<ContinuousClock.Instant?>(nil)

    var isStopped: Bool { stopped.load(ordering: .relaxed) }
    func stop() { stopped.store(true, ordering: .relaxed) }
    var downAt: ContinuousClock.Instant? { down.withLock { $0 } }
    func markDown(at instant: ContinuousClock.Instant) { down.withLock { $0 = $0 ?? instant } }
}

/// One blocking load client: connects to `port` again and again (3 ms apart), sends `linesPerConnection`
/// lines one at a time and checks each echo byte for byte; a connection closed early is retried
/// with a new one. Runs on a Dispatch thread.
func runLoadClient(
    id: Int, port: Int, encoding: String, linesPerConnection: Int, control: LoadControl
) async throws -> LoadTally {
    try await offPool {
        var tally = LoadTally()
        var chunk = [UInt8](repeating: 0, count: 4096)
        while !control.isStopped {
            let opened = ContinuousClock.now
            guard let (fd, _) = try? RawSocket.connect("127.0.0.1", port, timeout: 5) else {
                tally.cut += 1
                usleep(10_000)
                continue
            }
            tally.connections += 1
            var complete = true
            lines: for k in 0..<linesPerConnection {
                let line = EchoText.line(id, tally.connections * 1000 + k, encoding: encoding)
                let sent = line.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
                var got: [UInt8] = []
                while sent == line.count && got.count < line.count {
                    let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, line.count - got.count, 0) }
                    if n <= 0 { break }
                    got += chunk[0..<n]
                }
                if got != Array(line.prefix(got.count)) {
                    tally.wrong.append("client \(id): sent \(preview(line)), got \(preview(got))")
                }
                guard got.count == line.count else {
                    complete = false
                    break lines
                }
                tally.echoes += 1
            }
            Glibc.close(fd)
            // A pause between connections: steady load without using up the ephemeral ports
            // (every connection leaves a TIME_WAIT behind on loopback).
            usleep(3_000)
            if !complete {
                tally.cut += 1
                if let down = control.downAt, opened > down { tally.cutAfterDown += 1 }
            }
        }
        return tally
    }
}
