import Dispatch
import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

// Helpers for running the examples as their users would: each example is the built executable
// started as a child process (killed by its PID when the test ends), and its clients and
// upstreams are plain POSIX sockets on 127.0.0.1, so every byte on the wire is checked and
// nothing of StreamPorts is trusted on the test's side. Blocking calls run on Dispatch
// threads, never on Swift's cooperative pool, and every wait has a deadline.

struct TestFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// The directory holding the example executables: `$EXAMPLES_BIN_DIR`, else the directory of
/// the test bundle (`swift test` builds both into one), else `.build-examples/debug` at the
/// repository's root, as scripts/examples.sh builds it.
let binDirectory: URL = {
    if let path = ProcessInfo.processInfo.environment["EXAMPLES_BIN_DIR"] { return URL(fileURLWithPath: path) }
    let candidates = [URL(fileURLWithPath: CommandLine.arguments[0])] + Bundle.allBundles.map(\.bundleURL)
    for url in candidates where url.path.contains(".xctest") {
        var dir = url
        while dir.path != "/" && !dir.lastPathComponent.hasSuffix(".xctest") { dir.deleteLastPathComponent() }
        let directory = dir.deletingLastPathComponent()
        if FileManager.default.isExecutableFile(atPath: directory.appendingPathComponent("EchoServer").path) {
            return directory
        }
    }
    // From this file: Examples/Tests/ExamplesTests/Support.swift
    return URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent(".build-examples/debug")
}()

/// Runs `body` on a Dispatch thread: blocking calls must not hold a cooperative thread.
func offPool<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        DispatchQueue.global().async { continuation.resume(with: Result { try body() }) }
    }
}

/// A running example executable. ``stop()`` (also run when it is released) kills it by PID.
final class Example: @unchecked Sendable {
    let name: String
    let arguments: [String]
    private let process = Process()
    private let output = Collected()
    private let errors = Collected()

    /// Starts the example `name` with `arguments`.
    init(_ name: String, _ arguments: [String]) throws {
        self.name = name
        self.arguments = arguments
        let binary = binDirectory.appendingPathComponent(name)
        guard FileManager.default.isExecutableFile(atPath: binary.path) else {
            throw TestFailure("\(binary.path) is not built (scripts/examples.sh builds it; EXAMPLES_BIN_DIR overrides)")
        }
        process.executableURL = binary
        process.arguments = arguments
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
        output.attach(out)
        errors.attach(err)
        try process.run()
    }

    deinit { stop() }

    /// Kills the process by its PID (SIGKILL) if it is still running, and reaps it.
    func stop() {
        guard process.isRunning else { return }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    var standardOutput: String { output.text }
    var standardError: String { errors.text }

    /// The first `count` lines of standard output, waiting up to `timeout` seconds.
    func firstLines(_ count: Int, timeout: Double = 30) async throws -> [String] {
        try await offPool { [self] in
            let deadline = Date().addingTimeInterval(timeout)
            while Date() < deadline {
                let lines = standardOutput.split(separator: "\n", omittingEmptySubsequences: false).dropLast()
                if lines.count >= count { return lines.prefix(count).map(String.init) }
                if !process.isRunning { break }
                usleep(5_000)
            }
            throw TestFailure(
                "\(name) \(arguments): no \(count) line(s) on standard output within \(timeout) s; stdout: \(standardOutput) stderr: \(standardError)"
            )
        }
    }

    /// The ports of the first `count` lines, each of which must read
    /// `listening on 127.0.0.1:PORT` followed by `suffixes[i]`.
    func listeningPorts(_ count: Int = 1, suffixes: [String]? = nil) async throws -> [Int] {
        let lines = try await firstLines(count)
        return try lines.enumerated().map { index, line in
            let suffix = suffixes?[index] ?? ""
            let prefix = "listening on 127.0.0.1:"
            guard line.hasPrefix(prefix), line.hasSuffix(suffix),
                let port = Int(line.dropFirst(prefix.count).dropLast(suffix.count)), port > 0, port < 65536
            else { throw TestFailure("expected \"\(prefix)PORT\(suffix)\", got \"\(line)\"") }
            return port
        }
    }

    /// The exit status, waiting up to `timeout` seconds.
    func exitStatus(timeout: Double = 30) async throws -> Int32 {
        try await offPool { [self] in
            let deadline = Date().addingTimeInterval(timeout)
            while process.isRunning {
                guard Date() < deadline else {
                    throw TestFailure("\(name) \(arguments) still running after \(timeout) s")
                }
                usleep(5_000)
            }
            usleep(50_000)  // lets the pipes drain
            return process.terminationStatus
        }
    }
}

/// The bytes a pipe has delivered so far.
final class Collected: Sendable {
    private let bytes = Mutex<[UInt8]>([])

    func attach(_ pipe: Pipe) {
        pipe.fileHandleForReading.readabilityHandler = { [self] handle in
            let data = handle.availableData
            if data.isEmpty { handle.readabilityHandler = nil } else { bytes.withLock { $0 += data } }
        }
    }

    var text: String { String(decoding: bytes.withLock { $0 }, as: UTF8.self) }
}

/// One end of a TCP connection on a plain blocking socket.
final class RawSocket: @unchecked Sendable {
    let fd: Int32
    /// Bytes received past what the last read returned.
    private let pending = Mutex<[UInt8]>([])

    init(fd: Int32) { self.fd = fd }

    /// Connects to 127.0.0.1:`port`; `receiveBuffer` sets SO_RCVBUF first (a small one makes
    /// a peer that writes to this socket fill it quickly).
    static func connect(port: Int, receiveBuffer: Int32? = nil) throws -> RawSocket {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw TestFailure("socket: errno \(errno)") }
        if var size = receiveBuffer {
            setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        }
        var address = loopback(port: port)
        let status = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard status == 0 else {
            let e = errno
            Glibc.close(fd)
            throw TestFailure("connect to 127.0.0.1:\(port): errno \(e)")
        }
        return RawSocket(fd: fd)
    }

    deinit { Glibc.close(fd) }

    /// Sends every byte of `bytes`.
    func send(_ bytes: [UInt8]) async throws {
        try await offPool { [self] in
            var offset = 0
            while offset < bytes.count {
                let n = bytes[offset...].withUnsafeBytes {
                    Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL))
                }
                if n < 0 {
                    if errno == EINTR { continue }
                    throw TestFailure("send: errno \(errno) after \(offset) of \(bytes.count) bytes")
                }
                offset += n
            }
        }
    }

    /// Ends this side's output (the peer reads end of stream); reading goes on.
    func shutdownOutput() { shutdown(fd, Int32(SHUT_WR)) }

    /// The bytes up to and including the `count`-th LF, waiting up to `timeout` seconds.
    func readLines(_ count: Int = 1, timeout: Double = 10) async throws -> [UInt8] {
        try await offPool { [self] in
            try read(timeout: timeout, description: "\(count) line(s)") { bytes in
                var seen = 0
                for (index, byte) in bytes.enumerated() where byte == 0x0A {
                    seen += 1
                    if seen == count { return index + 1 }
                }
                return nil
            }.bytes
        }
    }

    /// Everything until the peer closes (end of stream or reset), within `timeout` seconds.
    func readToEnd(timeout: Double = 10) async throws -> [UInt8] {
        try await offPool { [self] in
            let (bytes, ended) = try read(timeout: timeout, description: "end of stream") { _ in nil }
            guard ended else { throw TestFailure("no end of stream") }
            return bytes
        }
    }

    /// Reads until `complete` returns how many of the bytes so far make the result, or the
    /// stream ends; keeps the rest for the next read.
    private func read(
        timeout: Double, description: String, complete: ([UInt8]) -> Int?
    ) throws -> (bytes: [UInt8], ended: Bool) {
        let deadline = Date().addingTimeInterval(timeout)
        var bytes = pending.withLock { p in
            defer { p = [] }; return p
        }
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            if let end = complete(bytes) {
                pending.withLock { $0 = Array(bytes[end...]) }
                return (Array(bytes[..<end]), false)
            }
            guard Date() < deadline else {
                throw TestFailure("no \(description) within \(timeout) s; got \(bytes.count) bytes: \(preview(bytes))")
            }
            var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&pfd, 1, 50) > 0 else { continue }
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n > 0 {
                bytes += chunk[0..<n]
            } else if n == 0 || errno == ECONNRESET {
                return (bytes, true)
            } else if errno != EINTR && errno != EAGAIN {
                throw TestFailure("recv: errno \(errno)")
            }
        }
    }
}

/// A listening socket on 127.0.0.1 and a free port: the upstream a gateway connects to.
final class RawListener: @unchecked Sendable {
    let fd: Int32
    let port: Int

    /// A socket on a free loopback port; listening unless `listening` is false (then the port
    /// is held, so no other socket can take it, but connections to it are refused).
    init(listening: Bool = true) throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw TestFailure("socket: errno \(errno)") }
        var address = loopback(port: 0)
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, length) == 0 && (!listening || listen(fd, 16) == 0) && getsockname(fd, $0, &length) == 0
            }
        }
        guard bound else {
            let e = errno
            Glibc.close(fd)
            throw TestFailure("listen on 127.0.0.1:0: errno \(e)")
        }
        self.fd = fd
        port = Int(UInt16(bigEndian: address.sin_port))
    }

    deinit { Glibc.close(fd) }

    /// The next connection, waiting up to `timeout` seconds.
    func accept(timeout: Double = 10) async throws -> RawSocket {
        try await offPool { [self] in
            var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&pfd, 1, Int32(timeout * 1000)) > 0 else {
                throw TestFailure("no connection within \(timeout) s")
            }
            let client = Glibc.accept(fd, nil, nil)
            guard client >= 0 else { throw TestFailure("accept: errno \(errno)") }
            // Not inherited by examples started later: their copy would keep it open.
            _ = fcntl(client, F_SETFD, FD_CLOEXEC)
            return RawSocket(fd: client)
        }
    }
}

/// 127.0.0.1:`port`.
func loopback(port: Int) -> sockaddr_in {
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = in_port_t(UInt16(port).bigEndian)
    address.sin_addr.s_addr = in_addr_t(UInt32(0x7F00_0001).bigEndian)
    return address
}

/// The first bytes in hex and as text, for failure messages.
func preview(_ bytes: [UInt8]) -> String {
    bytes.prefix(48).map { String(format: "%02X", $0) }.joined(separator: " ") + (bytes.count > 48 ? " …" : "")
        + " \"\(String(decoding: bytes.prefix(200), as: UTF8.self))\""
}

/// `text`'s UTF-8 bytes.
func utf8(_ text: String) -> [UInt8] { Array(text.utf8) }

/// `text` in Shift_JIS, from a table of the characters the tests use, so that the expected
/// bytes do not come from the converter under test.
func sjis(_ text: String) -> [UInt8] {
    let table: [Character: [UInt8]] = [
        "日": [0x93, 0xFA], "本": [0x96, 0x7B], "語": [0x8C, 0xEA],
        "こ": [0x82, 0xB1], "ん": [0x82, 0xF1], "に": [0x82, 0xC9], "ち": [0x82, 0xBF], "は": [0x82, 0xCD],
        "ｶ": [0xB6], "ﾀ": [0xC0], "ﾅ": [0xC5],
    ]
    return text.flatMap { c -> [UInt8] in
        if let bytes = table[c] { return bytes }
        precondition(c.isASCII, "no Shift_JIS bytes for \(c) in the test table")
        return Array(c.utf8)
    }
}
