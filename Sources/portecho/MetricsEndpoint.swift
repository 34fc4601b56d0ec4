import ArgumentParser
import Logging
import Metrics
import NIOCore
import NIOHTTP1
import NIOPosix
import Prometheus
import ServiceLifecycle
import StreamPorts
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

// `portecho serve --metrics ADDRESS`: swift-metrics' backend is a Prometheus registry, and a
// minimal HTTP/1 server (NIOHTTP1, no framework) answers `GET /metrics` with its text. Without
// --metrics nothing here runs: no backend is bootstrapped and the library's metrics are
// swift-metrics' no-op handlers.

/// The Prometheus registry bootstrapped as swift-metrics' backend, and where to serve it.
struct MetricsBackend: Sendable {
    /// Where a host without a port serves (OpenTelemetry's Prometheus exporter's port; 2020,
    /// the echo server's default, would collide with it).
    static let defaultPort = 9464

    /// Every metric of the process.
    let registry: PrometheusCollectorRegistry
    /// Where `GET /metrics` is served.
    let address: StreamAddress

    /// Parses `--metrics ADDRESS` as the serve ADDRESS (all digits is a port on 127.0.0.1; a
    /// host without a port uses ``defaultPort``). No socket is opened.
    /// - Throws: `ValidationError` naming the option, the input and the reason.
    static func address(_ input: String) throws -> StreamAddress {
        do {
            return try AddressArgument.parse(input, port: nil, defaultPort: defaultPort)
        } catch let error as ValidationError {
            throw ValidationError("--metrics: \(error.message)")
        }
    }

    /// Parses `input`, then bootstraps swift-metrics with a Prometheus registry (once per
    /// process; before the server opens, so that the library's metrics are made in it) and
    /// records `portecho_start_time_seconds`, portecho's own gauge.
    /// - Throws: `ValidationError` for a bad address, before anything is bootstrapped.
    init(_ input: String) throws {
        address = try Self.address(input)
        registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
        Gauge(label: "portecho_start_time_seconds").record(Self.now())
    }

    /// Starts serving `GET /metrics` and logs `metrics on HOST:PORT` at info.
    /// - Throws: `ValidationError` for an address the library refuses; after writing
    ///   `Error: cannot serve metrics on ADDRESS: …` to standard error, `ExitCode.failure` when
    ///   it cannot be listened on (in use, host not found, permission denied).
    func serve(logger: Logger) async throws -> MetricsEndpoint {
        do throws(StreamPortError) {
            let endpoint = try await MetricsEndpoint(address, registry: registry)
            logger.info("metrics on \(endpoint.localEndpoint)")
            return endpoint
        } catch  where error.code == .invalidAddress || error.code == .invalidArgument {
            throw ValidationError("--metrics: \(error.message)")
        } catch {
            Output.error("Error: cannot serve metrics on \(address): \(error)")
            throw ExitCode.failure
        }
    }

    /// Seconds since the Unix epoch, with fractions.
    static func now() -> Double {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return Double(now.tv_sec) + Double(now.tv_nsec) / 1e9
    }
}

/// The HTTP/1 server of `--metrics`, as a swift-service-lifecycle `Service`: it serves until
/// graceful shutdown (or cancellation), then closes its listening socket and its connections.
/// In a `ServiceGroup` before the echo service, it shuts down after it (the group stops its
/// services in reverse order), so metrics stay scrapeable through the grace period.
final class MetricsEndpoint: Service, Sendable {
    /// How large a request may be: its header block, and any body (a scrape has none).
    static let maxHeaderBytes = 8 * 1024
    /// The request decoder's bounds: a header block of ``maxHeaderBytes``, 100 fields.
    static let limits: NIOHTTPDecoderLimitConfiguration = {
        var limits = NIOHTTPDecoderLimitConfiguration()
        limits.maxHeaderFieldSize = maxHeaderBytes
        limits.maxHeaderListSize = maxHeaderBytes
        limits.maxHeaderFieldCount = 100
        return limits
    }()
    /// The longest body accepted; more gets 413 and the connection closes.
    static let maxBodyBytes = 8 * 1024
    /// A connection with no traffic either way for this long is closed (Prometheus keeps its
    /// connection between scrapes, typically 15 s to 1 min apart).
    static let idleTimeout: TimeAmount = .minutes(5)

    /// The listening socket.
    let channel: any Channel
    /// The bound address, `HOST:PORT` (the real port when 0 was asked).
    let localEndpoint: String
    private let connections: OpenConnections

    /// Binds `address` (as `tcpServerStream` binds: same lookup, dual stack and errors) and
    /// serves `registry` there.
    /// - Throws: ``StreamPortError`` naming the address.
    init(_ address: StreamAddress, registry: PrometheusCollectorRegistry) async throws(StreamPortError) {
        let connections = OpenConnections()
        self.connections = connections
        let bootstrap = ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.backlog, value: 16)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let pipeline = channel.pipeline.syncOperations
                    try pipeline.addHandler(IdleStateHandler(allTimeout: Self.idleTimeout))
                    try pipeline.configureHTTPServerPipeline(
                        withEncoderConfiguration: .init(), withDecoderLimitConfiguration: Self.limits)
                    try pipeline.addHandler(MetricsHTTPHandler(registry: registry, maxBodyBytes: Self.maxBodyBytes))
                    connections.insert(channel)
                }
            }
        channel = try await bootstrap.bind(listeningOn: address)
        localEndpoint = channel.streamLocalEndpoint
    }

    /// Serves until graceful shutdown or cancellation, then closes.
    func run() async throws {
        try? await gracefulShutdown()
        await close()
    }

    /// Closes the listening socket and every connection. Idempotent.
    func close() async {
        connections.closeAll()
        try? await channel.close()
    }
}

/// The endpoint's open connections, closed all at once at shutdown.
final class OpenConnections: Sendable {
    private struct State {
        var open: [ObjectIdentifier: any Channel] = [:]
        var closed = false
    }

    private let state = Mutex(State())

    /// Tracks `channel` until it closes; closes it at once after ``closeAll()``.
    func insert(_ channel: any Channel) {
        let id = ObjectIdentifier(channel)
        let tracked = state.withLock { state in
            guard !state.closed else { return false }
            state.open[id] = channel
            return true
        }
        guard tracked else {
            channel.close(promise: nil)
            return
        }
        channel.closeFuture.whenComplete { [self] _ in
            _ = state.withLock { $0.open.removeValue(forKey: id) }
        }
    }

    /// Closes every connection, and each one tracked from now on.
    func closeAll() {
        let open = state.withLock { state in
            state.closed = true
            return Array(state.open.values)
        }
        for channel in open { channel.close(promise: nil) }
    }
}
