import CoreMetrics
import Synchronization

/// A listening port's swift-metrics handles, labelled `server="HOST:PORT"`.
///
/// Created only when a metrics backend is bootstrapped (``ifBootstrapped(server:)``): without
/// one, streams hold nil and pay nothing. With one, streams report per read batch and per
/// hand-off of output, never per line:
///
/// | name | type | what |
/// |---|---|---|
/// | `streamports_connections_accepted_total` | counter | connections accepted (after the PROXY header and the TLS handshake, if any) |
/// | `streamports_connections_active` | meter | connections open now |
/// | `streamports_connections_closed_total` | counter, `reason` | closed: `eof`, `shutdown`, `idle_timeout`, an error code (`decoding`, `lineTooLong`, `connectionReset`, …), `closed` |
/// | `streamports_connection_duration_seconds` | timer | how long each connection lasted |
/// | `streamports_bytes_in_total`, `streamports_bytes_out_total` | counter | bytes on the wire |
/// | `streamports_lines_in_total`, `streamports_lines_out_total` | counter | lines read (`readLine`), lines written (`showln`/`writeLine`) |
/// | `streamports_errors_total` | counter, `code` | `decoding`, `encoding`, `lineTooLong`, `timedOut` errors thrown to the reader or writer; `proxyHeader`: connections refused for their PROXY protocol header (never accepted) |
package final class ServerMetrics: Sendable {
    let accepted: Counter
    let active: Meter
    let duration: Timer
    let bytesIn: Counter
    let bytesOut: Counter
    let linesIn: Counter
    let linesOut: Counter
    private let server: String
    private let byReason = Mutex<[String: Counter]>([:])
    private let byError = Mutex<[StreamPortError.Code: Counter]>([:])

    private init(server: String) {
        self.server = server
        let dimensions = [("server", server)]
        accepted = Counter(label: "streamports_connections_accepted_total", dimensions: dimensions)
        active = Meter(label: "streamports_connections_active", dimensions: dimensions)
        duration = Timer(
            label: "streamports_connection_duration_seconds", dimensions: dimensions, preferredDisplayUnit: .seconds)
        bytesIn = Counter(label: "streamports_bytes_in_total", dimensions: dimensions)
        bytesOut = Counter(label: "streamports_bytes_out_total", dimensions: dimensions)
        linesIn = Counter(label: "streamports_lines_in_total", dimensions: dimensions)
        linesOut = Counter(label: "streamports_lines_out_total", dimensions: dimensions)
    }

    /// Where a server keeps its handles once it knows its bound address (its accepted
    /// connections read them as they are set up).
    final class Slot: Sendable {
        private let value = Mutex<ServerMetrics?>(nil)
        var metrics: ServerMetrics? { value.withLock { $0 } }
        /// Creates the handles for `server` if a metrics backend is bootstrapped.
        func open(server: String) { value.withLock { $0 = ServerMetrics.ifBootstrapped(server: server) } }
    }

    /// The handles for `server`, or nil when no metrics backend is bootstrapped.
    static func ifBootstrapped(server: String) -> ServerMetrics? {
        MetricsSystem.factory is NOOPMetricsHandler ? nil : ServerMetrics(server: server)
    }

    /// Counts a connection closed for `reason`.
    func closed(_ reason: String) {
        byReason.withLock { table in
            if let counter = table[reason] { return counter }
            let counter = Counter(
                label: "streamports_connections_closed_total", dimensions: [("server", server), ("reason", reason)])
            table[reason] = counter
            return counter
        }.increment()
    }

    /// Counts an error thrown to a stream's user.
    func error(_ code: StreamPortError.Code) {
        byError.withLock { table in
            if let counter = table[code] { return counter }
            let counter = Counter(
                label: "streamports_errors_total", dimensions: [("server", server), ("code", code.rawValue)])
            table[code] = counter
            return counter
        }.increment()
    }
}
