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

/// The open connections, so that a shutdown can abort those still busy when the grace
/// period ends.
final class Connections: Sendable {
    private let open = Mutex<(next: Int, streams: [Int: ClientStream])>((0, [:]))

    /// Records `stream`; returns its key for ``remove(_:)``.
    func add(_ stream: ClientStream) -> Int {
        open.withLock { state in
            state.next += 1
            state.streams[state.next] = stream
            return state.next
        }
    }

    func remove(_ key: Int) {
        _ = open.withLock { $0.streams.removeValue(forKey: key) }
    }

    var count: Int { open.withLock { $0.streams.count } }

    /// Resets every open connection (their pending output is dropped).
    func abortAll() async {
        let streams = open.withLock { Array($0.streams.values) }
        for stream in streams { await stream.abort() }
    }
}

/// Waits for `task` until `deadline`; true if it finished in time.
func finished(_ task: Task<Void, Never>, by deadline: ContinuousClock.Instant) async -> Bool {
    let done = OnceFlag()
    Task {
        await task.value
        done.set()
    }
    while !done.isSet {
        if ContinuousClock.now >= deadline { return false }
        try? await Task.sleep(for: .milliseconds(10))
    }
    return true
}

/// A flag set once, from any thread.
final class OnceFlag: Sendable {
    private let value = Mutex(false)
    func set() { value.withLock { $0 = true } }
    var isSet: Bool { value.withLock { $0 } }
}
