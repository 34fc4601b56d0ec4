import Foundation
import Logging
import StreamPorts
import StreamPortsTLS
import Synchronization
import Testing

/// The server context every test server uses unless it needs another. Handshakes get 15 s: a
/// hundred at once on a loaded 2-core machine can take seconds.
let serverTLS: TLSContext = {
    let pki = TestPKI.shared
    return try! TLSContext.server(
        certificateChain: pki.cert("server"), privateKey: pki.key("server"), handshakeTimeout: .seconds(15))
}()

/// A server context whose handshake timeout (2 s) a test waits out.
let quickServerTLS: TLSContext = {
    let pki = TestPKI.shared
    return try! TLSContext.server(
        certificateChain: pki.cert("server"), privateKey: pki.key("server"), handshakeTimeout: .seconds(2))
}()

/// A client context trusting the test CA.
let clientTLS: TLSContext = try! TLSContext.client(
    trustRoots: TestPKI.shared.cert("ca"), handshakeTimeout: .seconds(15))

/// Log lines captured from a server.
final class CapturedLog: Sendable {
    let lines = Mutex<[String]>([])
    var text: String { lines.withLock { $0.joined(separator: "\n") } }

    var logger: Logger {
        var logger = Logger(label: "test") { _ in CaptureHandler(log: self) }
        logger.logLevel = .debug
        return logger
    }
}

struct CaptureHandler: LogHandler {
    let log: CapturedLog
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .debug
    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }
    func log(event: LogEvent) {
        log.lines.withLock { $0.append("\(event.level): \(event.message)") }
    }
}

/// Runs `body` with a TLS server, closing it afterwards whatever happens.
func withTLSServer<R>(
    _ address: String = "127.0.0.1:0", tls: TLSContext = serverTLS, transcoder: Transcoder = Transcoder(eolStyle: .lf),
    logger: Logger = Logger(label: "test"), _ body: (ServerStream) async throws -> R
) async throws -> R {
    let server = try await tcpServerStream(address, tls: tls, transcoder: transcoder, logger: logger)
    do {
        let result = try await body(server)
        await server.close()
        return result
    } catch {
        await server.close()
        throw error
    }
}

/// Serves a line echo on every accepted connection until the server closes.
func startEcho(_ server: ServerStream) -> Task<Void, Never> {
    Task {
        await withTaskGroup(of: Void.self) { group in
            while let client = await server.read() {
                group.addTask(executorPreference: client.executor) {
                    _ = try? await callWithStream(client) { s in
                        while let line = try await s.readLine() { try s.showln(line) }
                    }
                }
            }
        }
    }
}

/// `127.0.0.1:PORT` or `[::1]:PORT` of a loopback server.
func loopback(_ server: ServerStream) -> String {
    "\(server.localAddress.contains(":") ? "[::1]" : "127.0.0.1"):\(server.localPort)"
}

/// Expects `body` to throw a ``StreamPortError`` with `code`; returns it.
@discardableResult
func expectError(
    _ code: StreamPortError.Code, sourceLocation: SourceLocation = #_sourceLocation, _ body: () async throws -> Void
) async -> StreamPortError? {
    do {
        try await body()
        Issue.record("expected a \(code) error, none was thrown", sourceLocation: sourceLocation)
        return nil
    } catch let error as StreamPortError {
        #expect(error.code == code, "\(error)", sourceLocation: sourceLocation)
        return error
    } catch {
        Issue.record("expected a StreamPortError \(code), got \(error)", sourceLocation: sourceLocation)
        return nil
    }
}
