import Synchronization

/// The connections a serve loop is running, so that a shutdown can end their input or reset
/// them.
package final class ServedConnections: Sendable {
    private struct State {
        var next = 0
        var streams: [Int: ClientStream] = [:]
        var stopping = false
    }

    private let state = Mutex(State())

    package init() {}

    /// Records `stream`; returns its key for ``remove(_:)``. Once ``stopReadingAll()`` has run,
    /// a stream added later has its input ended at once.
    func add(_ stream: ClientStream) -> Int {
        let (key, stopping) = state.withLock { s in
            s.next += 1
            s.streams[s.next] = stream
            return (s.next, s.stopping)
        }
        if stopping { stream.stopReading() }
        return key
    }

    func remove(_ key: Int) {
        _ = state.withLock { $0.streams.removeValue(forKey: key) }
    }

    /// How many connections are being served.
    package var count: Int { state.withLock { $0.streams.count } }

    /// A graceful shutdown: every connection's input ends where it stands (see
    /// ``ClientStream/stopReading()``), so idle handlers end at once and busy ones after the
    /// lines they have already received.
    package func stopReadingAll() {
        let streams = state.withLock { s in
            s.stopping = true
            return Array(s.streams.values)
        }
        for stream in streams { stream.stopReading() }
    }

    /// Resets every connection still open (their pending output is dropped).
    package func abortAll() async {
        let streams = state.withLock { Array($0.streams.values) }
        for stream in streams { await stream.abort() }
    }
}
