import Logging
import NIOCore

/// What a connection did, for its access-log line and its metrics.
package struct ConnectionStatistics: Sendable {
    /// How long the connection lasted (so far).
    package var duration: Duration
    /// Bytes received from the socket.
    package var bytesIn: Int
    /// Bytes handed to the socket.
    package var bytesOut: Int
    /// Lines read (`readLine`), as of the reader's last wait or close.
    package var linesIn: Int
    /// Lines written (`showln`, `writeLine`).
    package var linesOut: Int
    /// Why it ended: `eof`, `shutdown`, `idle_timeout`, an error code, or nil when unknown
    /// (closed by the application).
    package var ending: String?
}

extension ClientStream {
    /// The connection's figures so far.
    package var statistics: ConnectionStatistics {
        let (bytesIn, linesIn, ending) = shared.state.withLock { ($0.bytesIn, $0.linesIn, $0.ending) }
        let (bytesOut, linesOut) = output.withLock { ($0.bytesHandedOff, $0.linesWritten) }
        return ConnectionStatistics(
            duration: ContinuousClock.now - shared.openedAt, bytesIn: bytesIn, bytesOut: bytesOut, linesIn: linesIn,
            linesOut: linesOut, ending: ending)
    }

    /// Adds the lines read since the reader last reported them to the shared figures (from the
    /// reading task: closing does it, as waiting does).
    func reportLinesRead() {
        let lines = input.linesRead &- input.linesReported
        guard lines > 0 else { return }
        input.linesReported = input.linesRead
        shared.state.withLock { $0.linesIn &+= lines }
        shared.metrics?.linesIn.increment(by: lines)
    }
}

/// The access log and the connection metrics of a server's accepted streams: one `.info` line
/// when a connection opens and one when it closes, with the client's `HOST:PORT`, the
/// duration, lines and bytes each way, and why it closed.
///
/// ```
/// 127.0.0.1:50312: connected
/// 127.0.0.1:50312: closed (eof) after 0.412 s; in 3 lines, 57 bytes; out 3 lines, 63 bytes
/// ```
enum ConnectionLog {
    /// Logs and counts `stream`'s opening, and arranges for its closing to be (on its event
    /// loop, as it sets up the connection).
    static func opened(_ stream: ClientStream, metrics: ServerMetrics?, logger: Logger) {
        let logs = logger.logLevel <= .info
        guard logs || metrics != nil else { return }
        metrics?.accepted.increment()
        metrics?.active.increment()
        let peer = logs ? stream.remoteEndpoint : ""  // the address is gone once closed
        if logs { logger.info("\(peer): connected") }
        stream.channel.closeFuture.whenComplete { _ in
            let figures = stream.statistics
            if let metrics {
                metrics.active.decrement()
                metrics.duration.recordNanoseconds(TimeAmount(figures.duration).nanoseconds)
                metrics.closed(figures.ending ?? "closed")
            }
            if logs { logger.info("\(peer): \(line(figures))") }
        }
    }

    /// `closed (eof) after 0.412 s; in 3 lines, 57 bytes; out 3 lines, 63 bytes`.
    static func line(_ f: ConnectionStatistics) -> String {
        let millis = TimeAmount(f.duration).nanoseconds / 1_000_000
        let seconds =
            "\(millis / 1000).\(String(repeating: "0", count: 3 - String(millis % 1000).count))\(millis % 1000)"
        return "closed (\(f.ending ?? "closed")) after \(seconds) s; in \(f.linesIn) lines, \(f.bytesIn) bytes; "
            + "out \(f.linesOut) lines, \(f.bytesOut) bytes"
    }
}
