import ArgumentParser
import Dispatch
import Logging
import StreamPorts
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// `portecho send`: a client for any line server, in any encoding.
struct Send: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Send lines to a line server and print its replies.",
        discussion: """
            Connects to ADDRESS (host:port, [::1]:port; all digits is a port on 127.0.0.1; a \
            host without a port uses 2020), sends each LINE, or each line of standard input \
            when there is none, encoded with --encoding and ended with --eol, and prints each \
            line received on standard output as UTF-8 (nothing else goes there). Lines are \
            sent as they come, while replies are read.

            Exits 0 once one line has come back per line sent. Exits 1, with a message on \
            standard error, when the connection is refused, the host is not found, the server \
            closes first, or no reply arrives within --timeout seconds of the last progress \
            (also the connect timeout). A LINE starting with "-" goes after "--".

            With --tls the connection speaks TLS: the server's certificate must chain to a CA \
            of --tls-ca (default: the system's) and name ADDRESS's host (or --tls-server-name). \
            A failed handshake exits 1 with the reason (untrusted issuer, name mismatch, \
            expired certificate, a client certificate required, ...); a missing or invalid \
            --tls-ca, --tls-cert or --tls-key file exits 64 naming it.
            """
    )

    @Argument(help: ArgumentHelp("The server: host:port, [::1]:port, or a port on 127.0.0.1.", valueName: "address"))
    var address: String

    @OptionGroup var transcoding: TranscoderOptions

    @Option(
        parsing: .unconditional,
        help: ArgumentHelp("How long to wait for the connection and for each reply.", valueName: "seconds"))
    var timeout: Double = 10

    @OptionGroup var logging: LoggingOptions

    @OptionGroup(title: "TLS") var tls: SendTLSOptions

    @Argument(help: ArgumentHelp("The lines to send (default: standard input's lines).", valueName: "line"))
    var lines: [String] = []

    func validate() throws {
        _ = try AddressArgument.parse(address, port: nil)
        _ = try Seconds.duration(timeout, option: "--timeout")
    }

    func run() async throws {
        _ = logging.bootstrap("portecho")
        let target = try AddressArgument.parse(address, port: nil)
        let limit = try Seconds.duration(timeout, option: "--timeout")
        let context = try tls.context(handshakeTimeout: limit)
        let client: ClientStream
        do {
            client = try await tls.connect(
                context, target.description, transcoder: transcoding.transcoder, connectTimeout: limit)
        } catch {
            try fail("cannot connect to \(target): \(error)")
        }
        // Reads wake up often to tell "no reply yet" from "nothing asked".
        client.readTimeout = min(limit, .milliseconds(200))
        client.writeTimeout = limit
        let progress = Progress()
        let reader = Task { try await Send.receive(client, progress: progress, limit: limit) }
        do {
            if lines.isEmpty {
                for await batch in Send.standardInputLines() {
                    try await Send.send(batch, on: client, progress: progress)
                }
            } else {
                try await Send.send(lines, on: client, progress: progress)
            }
            if progress.finishSending() { reader.cancel() }
            try await reader.value
        } catch {
            reader.cancel()
            await client.abort()
            let (sent, echoed) = progress.counts
            let reason: String =
                switch error {
                case let error as Failure: error.message
                case let error as StreamPortError where error.code == .timedOut:
                    "\(target) is not reading: nothing sent for \(Seconds.text(timeout)) s"
                default: "\(error)"
                }
            try fail("\(reason) (\(echoed) of \(sent) line(s) echoed)")
        }
        try? await client.close()
    }

    private func fail(_ message: String) throws -> Never {
        Output.error("Error: \(message)")
        throw ExitCode.failure
    }

    /// Sends `lines`, then flushes once.
    static func send(_ lines: [String], on client: ClientStream, progress: Progress) async throws {
        for line in lines {
            try client.showln(line)
            progress.sending()
        }
        try await client.flushWriter()
    }

    /// Prints each line received until one per line sent is back (and sending is over).
    static func receive(_ client: ClientStream, progress: Progress, limit: Duration) async throws {
        let server = client.remoteEndpoint
        var out = ""
        defer { if !out.isEmpty { Output.write(out, to: STDOUT_FILENO) } }
        while !progress.complete {
            let line: String?
            do {
                line = try await client.readLine()
            } catch let error as StreamPortError where error.code == .timedOut {
                if progress.overdue(limit) {
                    throw Failure(message: "no reply from \(server) within \(limit.seconds) s")
                }
                continue
            } catch is CancellationError {
                if progress.complete { return }
                throw CancellationError()
            }
            guard let line else {
                if progress.complete { return }
                throw Failure(message: "\(server) closed the connection")
            }
            // Batched: written when nothing more is buffered, so a waiting read never holds
            // back a line already received.
            out += line
            out += "\n"
            if out.utf8.count >= 32768 || client.bytesAvailable == 0 {
                Output.write(out, to: STDOUT_FILENO)
                out = ""
            }
            progress.echoed()
        }
    }

    /// Standard input's lines, in batches of what each `read(2)` brings (a typed line goes
    /// out at once, a piped file in large batches), read on a Dispatch thread, not the
    /// cooperative pool. Lines end with LF or CR LF; bytes are decoded as UTF-8.
    static func standardInputLines() -> AsyncStream<[String]> {
        let (stream, continuation) = AsyncStream<[String]>.makeStream(bufferingPolicy: .bufferingOldest(4))
        DispatchQueue.global().async {
            var pending: [UInt8] = []
            var chunk = [UInt8](repeating: 0, count: 65536)
            while true {
                let n = Output.read(STDIN_FILENO, into: &chunk)
                if n <= 0 { break }
                pending += chunk[0..<n]
                guard let last = pending.lastIndex(of: 0x0A) else { continue }
                let lines = pending[...last].split(separator: 0x0A, omittingEmptySubsequences: false).dropLast().map {
                    line in
                    String(decoding: line.last == 0x0D ? line.dropLast() : line, as: UTF8.self)
                }
                pending.removeSubrange(...last)
                // Wait while the consumer is behind (the buffer holds 4 batches).
                while case .dropped = continuation.yield(lines) { usleep(1000) }
            }
            if !pending.isEmpty {
                continuation.yield([
                    String(decoding: pending.last == 0x0D ? pending.dropLast() : pending[...], as: UTF8.self)
                ])
            }
            continuation.finish()
        }
        return stream
    }

    struct Failure: Error {
        let message: String
    }

    /// Lines sent and echoed, and when the exchange last moved.
    final class Progress: Sendable {
        private struct State {
            var sent = 0
            var echoed = 0
            var sendingDone = false
            var lastMove = ContinuousClock.now
        }
        private let state = Mutex(State())

        func sending() {
            state.withLock { s in
                if s.sent == s.echoed { s.lastMove = .now }
                s.sent += 1
            }
        }

        func echoed() {
            state.withLock { s in
                s.echoed += 1
                s.lastMove = .now
            }
        }

        /// Marks the end of sending; true if every line is already back.
        func finishSending() -> Bool {
            state.withLock { s in
                s.sendingDone = true
                return s.echoed >= s.sent
            }
        }

        var complete: Bool { state.withLock { $0.sendingDone && $0.echoed >= $0.sent } }

        /// True when a reply is owed and nothing moved for `limit`.
        func overdue(_ limit: Duration) -> Bool {
            state.withLock { $0.echoed < $0.sent && ContinuousClock.now - $0.lastMove >= limit }
        }

        var counts: (sent: Int, echoed: Int) { state.withLock { ($0.sent, $0.echoed) } }
    }
}

extension Duration {
    /// `10`, `0.5`.
    var seconds: String {
        let c = components
        return Seconds.text(Double(c.seconds) + Double(c.attoseconds) / 1e18)
    }
}
