import Dispatch
import StreamPorts
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// SIGINT and SIGTERM as an async sequence (Dispatch signal sources; the signals' default
/// actions are turned off so the process survives them and can shut down gracefully).
final class SignalWatcher: @unchecked Sendable {
    /// The signals received, in order.
    let signals: AsyncStream<Int32>
    // Kept alive for the process's lifetime; immutable after init.
    private let sources: [any DispatchSourceSignal]

    init(_ numbers: [Int32] = [SIGINT, SIGTERM]) {
        let (stream, continuation) = AsyncStream<Int32>.makeStream()
        signals = stream
        // Dispatch registers a signal source asynchronously, and the signal is ignored until
        // then: wait for the registrations, so a signal sent right after `listening on` is
        // never lost.
        let registered = DispatchGroup()
        sources = numbers.map { number in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { continuation.yield(number) }
            registered.enter()
            source.setRegistrationHandler { registered.leave() }
            source.resume()
            return source
        }
        _ = registered.wait(timeout: .now() + .seconds(2))
    }

    /// SIGTERM's number.
    static let terminate = SIGTERM

    /// `SIGINT`, `SIGTERM`.
    static func name(_ number: Int32) -> String {
        switch number {
        case SIGINT: "SIGINT"
        case SIGTERM: "SIGTERM"
        default: "signal \(number)"
        }
    }
}
