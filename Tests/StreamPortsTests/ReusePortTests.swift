import Glibc
import StreamPortsTestSupport
import Testing

@testable import StreamPorts

/// A raw IPv4 TCP socket on 127.0.0.1 (port 0: any), bound, and listening unless `listening`
/// is false; the caller owns it.
func rawTCPSocket(listening: Bool = true, type: Int32 = Int32(SOCK_STREAM.rawValue)) throws -> Int32 {
    let fd = socket(AF_INET, type, 0)
    guard fd >= 0 else { throw TestFailure("socket: errno \(errno)") }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
    let bound = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard bound == 0, !listening || listen(fd, 16) == 0 else {
        let e = errno
        close(fd)
        throw TestFailure("bind/listen: errno \(e)")
    }
    return fd
}

/// Sends `line` and returns the echoed line (LF line ends).
func echo(_ line: String, port: Int) async throws -> String {
    let client = try TestClient("127.0.0.1", port)
    defer { client.close() }
    try await client.send(line + "\n")
    return String(decoding: try await client.read(line.utf8.count + 1, timeout: 30), as: UTF8.self)
}

@Suite("SO_REUSEPORT and adopted listening sockets", .timeLimit(.minutes(1)))
struct ReusePortTests {
    @Test func twoServersShareAPortWithReusePort() async throws {
        let first = try await tcpServerStream("127.0.0.1:0", reusePort: true, transcoder: Transcoder(eolStyle: .lf))
        defer { Task { await first.close() } }
        let second = try await tcpServerStream(
            "127.0.0.1:\(first.localPort)", reusePort: true, transcoder: Transcoder(eolStyle: .lf))
        defer { Task { await second.close() } }
        #expect(second.localPort == first.localPort)
        let echoes = [startEcho(first), startEcho(second)]
        defer { for task in echoes { task.cancel() } }
        for i in 0..<8 { #expect(try await echo("line \(i)", port: first.localPort) == "line \(i)\n") }
        // Either still serves alone once the other has closed.
        await first.close()
        #expect(try await echo("after", port: second.localPort) == "after\n")
    }

    @Test(arguments: [(true, false), (false, true), (false, false)])
    func withoutReusePortOnBothTheSecondIsInUse(firstReuses: Bool, secondReuses: Bool) async throws {
        let first = try await tcpServerStream("127.0.0.1:0", reusePort: firstReuses)
        defer { Task { await first.close() } }
        let error = await #expect(throws: StreamPortError.self) {
            try await tcpServerStream("127.0.0.1:\(first.localPort)", reusePort: secondReuses)
        }
        #expect(error?.code == .addressInUse)
    }

    @Test func tcpServerSetOptionReusePort() async throws {
        let first = TCPServer(transcoder: Transcoder(eolStyle: .lf))
        try first.setOption("reuseport", true)
        try first.bind("127.0.0.1", 0)
        try await first.listen(16)
        let second = TCPServer()
        try second.setOption(.reusePort, true)
        try second.bind("127.0.0.1", first.localPort)
        try await second.listen(16)
        #expect(second.localPort == first.localPort)
        let third = TCPServer()
        #expect(throws: StreamPortError.self) { try third.bind("127.0.0.1", first.localPort) }
        #expect(third.lastError == EADDRINUSE)
        for server in [first, second, third] { await server.dispose() }
    }

    @Test func adoptsAListeningSocket() async throws {
        let fd = try rawTCPSocket()
        let port = try Syscalls.boundPort(fd, what: "test")
        let server = try await tcpServerStream(listeningSocket: fd, transcoder: Transcoder(eolStyle: .lf))
        #expect(server.localEndpoint == "127.0.0.1:\(port)")
        let echoing = startEcho(server)
        #expect(try await echo("adopted", port: port) == "adopted\n")
        echoing.cancel()
        await server.close()
        // The stream owned the descriptor: it is closed now, and nothing listens there any more.
        // (Not checked by descriptor number: a test running alongside may have reused it.)
        #expect(throws: TestFailure.self) { _ = try RawSocket.connect("127.0.0.1", port, timeout: 2) }
    }

    @Test func refusesWhatIsNotAListeningTCPSocket() async throws {
        var pipeFDs: [Int32] = [0, 0]
        #expect(pipe(&pipeFDs) == 0)
        let notListening = try rawTCPSocket(listening: false)
        let datagram = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        let unix = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        defer { for fd in pipeFDs + [notListening, datagram, unix] { close(fd) } }
        let cases: [(Int32, String)] = [
            (-1, "it is not a file descriptor"), (9999, "it is not an open file descriptor"),
            (pipeFDs[0], "it is not a socket"), (datagram, "it is not a stream socket"),
            (unix, "it is not a TCP socket"), (notListening, "it is not listening"),
        ]
        for (fd, reason) in cases {
            let error = await #expect(throws: StreamPortError.self) { try await tcpServerStream(listeningSocket: fd) }
            #expect(error?.code == .invalidArgument)
            #expect(error?.message.contains("listeningSocket \(fd): \(reason)") == true, "\(String(describing: error))")
        }
        // Still open: refused descriptors stay the caller's.
        #expect(fcntl(notListening, F_GETFD) != -1)
    }
}
