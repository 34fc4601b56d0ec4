import Foundation
import StreamPortsTestSupport
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
// swift-argument-parser's example tests do); its peers are StreamPortsTestSupport's raw POSIX
// clients, so that bytes on the wire are checked exactly and nothing of the library is trusted.
// Every blocking call runs on a Dispatch thread, not Swift's cooperative pool, and has a
// deadline.

/// The `portecho` product: `$PORTECHO_BIN`, else next to the test bundle in `.build/debug`.
let portechoURL: URL = {
    if let path = ProcessInfo.processInfo.environment["PORTECHO_BIN"] { return URL(fileURLWithPath: path) }
    let candidates =
        [
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
            throw TestFailure(
                "no first line from portecho \(arguments) within \(timeout) s; stdout: \(stdout.text); stderr: \(stderr.text)"
            )
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
    static func run(
        _ arguments: [String], input: String? = nil, timeout: Double = 20
    ) async throws -> (status: Int32, stdout: String, stderr: String) {
        let command = try Portecho(arguments)
        command.finishInput(input ?? "")
        let status = try await command.exitStatus(timeout: timeout)
        return (status, command.stdout.text, command.stderr.text)
    }
}
