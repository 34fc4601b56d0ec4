import Dispatch
import Foundation
import Synchronization
import Testing
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

// End-to-end helpers: the built `portecho` binary run with Foundation's Process (as
// swift-argument-parser's example tests do) and a raw POSIX TCP client, so that bytes on the
// wire are checked exactly and nothing of the library is trusted. Every blocking call runs on
// a Dispatch thread, not Swift's cooperative pool, and has a deadline.

struct TestFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// The `portecho` product: `$PORTECHO_BIN`, else next to the test bundle in `.build/debug`.
let portechoURL: URL = {
    if let path = ProcessInfo.processInfo.environment["PORTECHO_BIN"] { return URL(fileURLWithPath: path) }
    let candidates = [
        Bundle.main.bundleURL,
        Bundle.main.executableURL ?? Bundle.main.bundleURL,
        URL(fileURLWithPath: CommandLine.arguments[0]),
    ] + Bundle.allBundles.map(\.bundleURL)
    for url in candidates where url.pathExtension == "xctest" || url.path.contains(".xctest") {
        var dir = url
        while dir.path != "/" && !dir.lastPathComponent.hasSuffix(".xctest") { dir.deleteLastPathComponent() }
        let binary = dir.deletingLastPathComponent().appendingPathComponent("portecho")
        if FileManager.default.isExecutableFile(atPath: binary.path) { return binary }
    }
    // swift build's layout, from this file: Tests/PortechoTests/Support.swift
    return URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent(".build/debug/portecho")
}()

/// Runs `body` on a Dispatch thread (blocking calls must not hold a cooperative thread).
func offPool<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        DispatchQueue.global().async { continuation.resume(with: Result { try body() }) }
    }
}

/// Bytes collected from a pipe as they come.
final class Collected: Sendable {
    private let bytes = Mutex<[UInt8]>([])
    private let ended = Mutex(false)

    func attach(_ pipe: Pipe) {
        pipe.fileHandleForReading.readabilityHandler = { [self] handle in
            let data = handle.availableData
            if data.isEmpty {
                handle.readabilityHandler = nil
                ended.withLock { $0 = true }
            } else {
                bytes.withLock { $0.append(contentsOf: data) }
            }
        }
    }

    var data: [UInt8] { bytes.withLock { $0 } }
    var text: String { String(decoding: data, as: UTF8.self) }
    var isEnded: Bool { ended.withLock { $0 } }
}

/// A running `portecho`, killed if still running when released.
final class Portecho: @unchecked Sendable {
    let process = Process()
    let stdout = Collected()
    let stderr = Collected()
    let arguments: [String]
    private let input = Pipe()

    /// Starts `portecho ARGUMENTS`; with `fdLimit`, through `sh -c 'ulimit -n N; exec portecho …'`
    /// (same process id, a lower open-file limit).
    init(_ arguments: [String], fdLimit: Int? = nil) throws {
        self.arguments = arguments
        if let fdLimit {
            process.executableURL = URL(fileURLWithPath: "/bin/sh")
            process.arguments = ["-c", "ulimit -n \(fdLimit) && exec \"$0\" \"$@\"", portechoURL.path] + arguments
        } else {
            process.executableURL = portechoURL
            process.arguments = arguments
        }
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = input
        stdout.attach(out)
        stderr.attach(err)
        try process.run()
    }

    deinit { kill() }

    /// SIGKILL, if still running.
    func kill() {
        if process.isRunning { _ = Glibc.kill(process.processIdentifier, SIGKILL) }
    }

    func send(signal: Int32) {
        if process.isRunning { _ = Glibc.kill(process.processIdentifier, signal) }
    }

    /// Writes `text` to its standard input, then closes it.
    func finishInput(_ text: String) {
        input.fileHandleForWriting.write(Data(text.utf8))
        try? input.fileHandleForWriting.close()
    }

    /// The first line of standard output, waiting up to `timeout` seconds.
    func firstLine(timeout: Double = 20) async throws -> String {
        try await offPool { [self] in
            let deadline = Date().addingTimeInterval(timeout)
            while Date() < deadline {
                let data = stdout.data
                if let newline = data.firstIndex(of: 0x0A) { return String(decoding: data[..<newline], as: UTF8.self) }
                if stdout.isEnded && !process.isRunning { break }
                usleep(5_000)
            }
            throw TestFailure("no first line from portecho \(arguments) within \(timeout) s; stdout: \(stdout.text); stderr: \(stderr.text)")
        }
    }

    /// Waits for `listening on HOST:PORT` and returns the port (checking the whole line
    /// against `host`, e.g. "127.0.0.1" or "[::1]").
    func listeningPort(host: String, timeout: Double = 20) async throws -> Int {
        let line = try await firstLine(timeout: timeout)
        let prefix = "listening on \(host):"
        guard line.hasPrefix(prefix), let port = Int(line.dropFirst(prefix.count)), port > 0, port < 65536 else {
            throw TestFailure("expected \"\(prefix)PORT\", got \"\(line)\"")
        }
        return port
    }

    /// Whether standard error comes to contain `text` within `timeout` seconds.
    func stderrContains(_ text: String, timeout: Double = 10) async throws -> Bool {
        try await offPool { [self] in
            let deadline = Date().addingTimeInterval(timeout)
            while !stderr.text.contains(text) {
                if Date() >= deadline || stderr.isEnded { return stderr.text.contains(text) }
                usleep(5_000)
            }
            return true
        }
    }

    /// The exit status, waiting up to `timeout` seconds (then SIGKILL and a failure).
    func exitStatus(timeout: Double = 20) async throws -> Int32 {
        try await offPool { [self] in
            let deadline = Date().addingTimeInterval(timeout)
            while process.isRunning {
                if Date() >= deadline {
                    kill()
                    throw TestFailure("portecho \(arguments) still running after \(timeout) s; stderr: \(stderr.text)")
                }
                usleep(5_000)
            }
            // Let the pipes drain.
            let drained = Date().addingTimeInterval(2)
            while !(stdout.isEnded && stderr.isEnded) && Date() < drained { usleep(2_000) }
            return process.terminationStatus
        }
    }

    /// Runs `portecho arguments` to completion.
    static func run(_ arguments: [String], input: String? = nil, timeout: Double = 20) async throws -> (status: Int32, stdout: String, stderr: String) {
        let command = try Portecho(arguments)
        command.finishInput(input ?? "")
        let status = try await command.exitStatus(timeout: timeout)
        return (status, command.stdout.text, command.stderr.text)
    }
}

/// A blocking TCP client on a raw socket, every call bounded.
final class TestClient: @unchecked Sendable {
    let fd: Int32
    private let isClosed = Mutex(false)

    /// Connects to `host` (a numeric IPv4 or IPv6 address) on `port`; `receiveBuffer` sets
    /// SO_RCVBUF before connecting (a small one makes the peer's replies back up quickly).
    init(_ host: String, _ port: Int, timeout: Double = 10, receiveBuffer: Int32? = nil) throws {
        var v4 = sockaddr_in(), v6 = sockaddr_in6()
        let isV6 = inet_pton(AF_INET6, host, &v6.sin6_addr) == 1
        if !isV6 { guard inet_pton(AF_INET, host, &v4.sin_addr) == 1 else { throw TestFailure("bad address \(host)") } }
        fd = socket(isV6 ? AF_INET6 : AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw TestFailure("socket: errno \(errno)") }
        if var size = receiveBuffer {
            setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        }
        var tv = timeval(tv_sec: Int(timeout), tv_usec: __suseconds_t((timeout - timeout.rounded(.down)) * 1e6))
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        let status: Int32
        if isV6 {
            v6.sin6_family = sa_family_t(AF_INET6)
            v6.sin6_port = in_port_t(UInt16(port).bigEndian)
            status = withUnsafePointer(to: &v6) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in6>.size)) } }
        } else {
            v4.sin_family = sa_family_t(AF_INET)
            v4.sin_port = in_port_t(UInt16(port).bigEndian)
            status = withUnsafePointer(to: &v4) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        }
        guard status == 0 else {
            let e = errno
            close()   // once: a class whose init throws after initialising everything is deinitialised too
            throw TestFailure("connect to \(host):\(port): errno \(e)")
        }
    }

    deinit { close() }

    /// Closes the socket (once; later calls do nothing).
    func close() {
        let first = isClosed.withLock { closed -> Bool in
            defer { closed = true }
            return !closed
        }
        if first { Glibc.close(fd) }
    }

    /// Closes with SO_LINGER 0: the peer gets a reset (RST), whatever was in flight is dropped.
    func reset() {
        var hard = linger(l_onoff: 1, l_linger: 0)
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &hard, socklen_t(MemoryLayout<linger>.size))
        close()
    }

    func send(_ bytes: [UInt8]) async throws {
        try await offPool { [self] in try sendNow(bytes) }
    }

    func send(_ text: String) async throws { try await send(Array(text.utf8)) }

    private func sendNow(_ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n < 0 {
                if errno == EINTR { continue }
                throw TestFailure("send: errno \(errno) after \(offset) of \(bytes.count) bytes")
            }
            offset += n
        }
    }

    /// Sends what the peer takes within `seconds` without blocking longer; returns the count.
    func sendWhileAccepted(_ bytes: [UInt8], seconds: Double) async throws -> Int {
        try await offPool { [self] in
            let deadline = Date().addingTimeInterval(seconds)
            var offset = 0
            while offset < bytes.count && Date() < deadline {
                let n = bytes[offset...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL | MSG_DONTWAIT)) }
                if n > 0 { offset += n } else if n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) { usleep(10_000) } else { break }
            }
            return offset
        }
    }

    func shutdownWrite() { shutdown(fd, Int32(SHUT_WR)) }

    /// Exactly `count` bytes (fewer only at end of stream), within `timeout` seconds.
    func read(_ count: Int, timeout: Double = 10) async throws -> [UInt8] {
        try await offPool { [self] in try readNow(upTo: count, timeout: timeout, toEnd: false).bytes }
    }

    /// Everything until the peer closes, within `timeout` seconds.
    func readToEnd(timeout: Double = 10) async throws -> [UInt8] {
        try await offPool { [self] in try readNow(upTo: Int.max, timeout: timeout, toEnd: true).bytes }
    }

    /// True when the peer closes (EOF or reset) within `timeout` seconds with no more data.
    func closedByPeer(timeout: Double = 10) async throws -> Bool {
        try await offPool { [self] in
            let result = try readNow(upTo: Int.max, timeout: timeout, toEnd: true)
            return result.bytes.isEmpty
        }
    }

    private func readNow(upTo count: Int, timeout: Double, toEnd: Bool) throws -> (bytes: [UInt8], ended: Bool) {
        let deadline = Date().addingTimeInterval(timeout)
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while bytes.count < count {
            guard Date() < deadline else {
                throw TestFailure("read timed out after \(timeout) s with \(bytes.count) bytes: \(preview(bytes))")
            }
            var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let ready = poll(&pfd, 1, 50)
            if ready <= 0 { continue }
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, min($0.count, count - bytes.count), 0) }
            if n > 0 {
                bytes += chunk[0..<n]
            } else if n == 0 || errno == ECONNRESET {
                return (bytes, true)
            } else if errno != EINTR && errno != EAGAIN {
                throw TestFailure("recv: errno \(errno)")
            }
        }
        return (bytes, false)
    }
}

/// The first bytes, in hex, for failure messages.
func preview(_ bytes: [UInt8]) -> String {
    bytes.prefix(64).map { String(format: "%02X", $0) }.joined(separator: " ") + (bytes.count > 64 ? " …" : "")
}

/// Whether this machine has IPv6 loopback.
let ipv6Loopback: Bool = {
    let fd = socket(AF_INET6, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
    guard fd >= 0 else { return false }
    defer { close(fd) }
    var a = sockaddr_in6()
    a.sin6_family = sa_family_t(AF_INET6)
    inet_pton(AF_INET6, "::1", &a.sin6_addr)
    return withUnsafePointer(to: &a) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in6>.size)) } } == 0
}()
