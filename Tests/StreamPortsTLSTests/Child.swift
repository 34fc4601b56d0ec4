import Dispatch
import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// A child process (portecho, openssl, python3) with its output collected as it comes; killed
/// by its PID when released or on ``kill()``. Every wait has a deadline.
final class Child: @unchecked Sendable {
    let process = Process()
    let arguments: [String]
    private let input = Pipe()
    private let out = Sink()
    private let err = Sink()

    /// Starts `executable arguments` (a bare name is looked up in /usr/bin, /usr/local/bin and PATH).
    init(_ executable: String, _ arguments: [String], environment: [String: String]? = nil) throws {
        self.arguments = [executable] + arguments
        process.executableURL = URL(fileURLWithPath: Child.resolve(executable))
        process.arguments = arguments
        if let environment { process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 } }
        let stdout = Pipe(), stderr = Pipe()
        process.standardOutput = stdout
        process.standardError = stderr
        process.standardInput = input
        Child.collect(stdout, into: out)
        Child.collect(stderr, into: err)
        try process.run()
    }

    deinit { kill() }

    static func resolve(_ name: String) -> String {
        if name.hasPrefix("/") { return name }
        let path = (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":").map(String.init)
        for dir in ["/usr/bin", "/usr/local/bin"] + path
        where FileManager.default.isExecutableFile(atPath: "\(dir)/\(name)") {
            return "\(dir)/\(name)"
        }
        return "/usr/bin/\(name)"
    }

    final class Sink: Sendable {
        let bytes = Mutex<[UInt8]>([])
        var text: String { String(decoding: bytes.withLock { $0 }, as: UTF8.self) }
    }

    private static func collect(_ pipe: Pipe, into sink: Sink) {
        pipe.fileHandleForReading.readabilityHandler = { handle in
            let data = handle.availableData
            if data.isEmpty {
                handle.readabilityHandler = nil
            } else {
                sink.bytes.withLock { $0.append(contentsOf: data) }
            }
        }
    }

    var stdout: String { out.text }
    var stderr: String { err.text }
    var pid: Int32 { process.processIdentifier }

    /// SIGKILL by PID, if still running.
    func kill() {
        if process.isRunning { _ = Glibc.kill(process.processIdentifier, SIGKILL) }
    }

    func write(_ text: String) { input.fileHandleForWriting.write(Data(text.utf8)) }
    func closeInput() { try? input.fileHandleForWriting.close() }

    /// Waits until `condition` holds for (stdout, stderr), at most `timeout` seconds.
    func wait(
        for what: String, timeout: Double = 20, _ condition: @escaping @Sendable (String, String) -> Bool
    ) async throws {
        let deadline = ContinuousClock.now + .milliseconds(Int(timeout * 1000))
        while !condition(stdout, stderr) {
            if ContinuousClock.now > deadline {
                throw TestFailure(
                    "\(arguments.joined(separator: " ")): no \(what) within \(timeout) s\nstdout: \(stdout)\nstderr: \(stderr)"
                )
            }
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    /// Waits for the process to exit (at most `timeout` seconds, then kills it); its status.
    func exitStatus(timeout: Double = 30) async throws -> Int32 {
        let deadline = ContinuousClock.now + .milliseconds(Int(timeout * 1000))
        while process.isRunning {
            if ContinuousClock.now > deadline {
                kill()
                throw TestFailure(
                    "\(arguments.joined(separator: " ")) did not exit within \(timeout) s\nstdout: \(stdout)\nstderr: \(stderr)"
                )
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        try await Task.sleep(for: .milliseconds(50))  // the last output
        return process.terminationStatus
    }
}

/// The `portecho` product: `$PORTECHO_BIN`, else `.build/debug/portecho` from this file.
let portechoPath: String = {
    if let path = ProcessInfo.processInfo.environment["PORTECHO_BIN"] { return path }
    let here = URL(fileURLWithPath: #filePath)  // Tests/StreamPortsTLSTests/Child.swift
    let root = here.deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    for candidate in [".build/debug/portecho", ".build/release/portecho"] {
        let path = root.appendingPathComponent(candidate).path
        if FileManager.default.isExecutableFile(atPath: path) { return path }
    }
    return root.appendingPathComponent(".build/debug/portecho").path
}()

/// Starts `portecho serve ARGS` on 127.0.0.1:0 and returns it with its port.
func startPortecho(_ arguments: [String], host: String = "127.0.0.1") async throws -> (Child, Int) {
    let child = try Child(portechoPath, ["serve", "\(host.hasPrefix("[") ? host : host):0"] + arguments)
    try await child.wait(for: "listening line") { out, _ in out.contains("\n") }
    let first = child.stdout.split(separator: "\n", omittingEmptySubsequences: false)[0]
    let prefix = "listening on \(host):"
    guard first.hasPrefix(prefix), let port = Int(first.dropFirst(prefix.count)) else {
        throw TestFailure("expected \"\(prefix)PORT\", got \"\(first)\"; stderr: \(child.stderr)")
    }
    return (child, port)
}

/// Starts `openssl s_server` on 127.0.0.1 with ARGS; returns it with its port.
func startSServer(_ arguments: [String]) async throws -> (Child, Int) {
    let child = try Child("openssl", ["s_server", "-accept", "127.0.0.1:0"] + arguments)
    try await child.wait(for: "ACCEPT line") { out, _ in out.contains("ACCEPT 127.0.0.1:") }
    let line = child.stdout.split(separator: "\n").first { $0.hasPrefix("ACCEPT 127.0.0.1:") }!
    return (child, Int(line.dropFirst("ACCEPT 127.0.0.1:".count))!)
}
