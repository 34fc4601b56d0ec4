import Logging
import Synchronization

/// Lets through at most `limit` messages in each `window` (5 a second by default) and counts
/// the rest, which the next message let through reports as "N more suppressed". For warnings a peer can trigger at will
/// (bad bytes, over-long lines, failed handshakes): a hostile peer must not flood the log.
package final class LogRateLimiter: Sendable {
    private struct Window {
        var start: ContinuousClock.Instant
        var count = 0
        var suppressed = 0
    }

    /// The most messages let through in each window.
    package let limit: Int
    /// How long a window lasts.
    package let windowLength: Duration
    private let window: Mutex<Window>

    /// - Parameters:
    ///   - limit: the most messages let through in each window.
    ///   - window: how long a window lasts.
    package init(limit: Int = 5, per window: Duration = .seconds(1)) {
        self.limit = limit
        self.windowLength = window
        self.window = Mutex(Window(start: .now))
    }

    /// Logs `message` at `level` unless this window's quota is spent; then it is only counted.
    /// - Parameters:
    ///   - logger: where to log.
    ///   - level: the level.
    ///   - message: the message, built only when it is let through.
    ///   - metadata: the message's metadata.
    package func log(
        _ logger: Logger, _ level: Logger.Level, _ message: @autoclosure () -> String,
        metadata: @autoclosure () -> Logger.Metadata? = nil
    ) {
        guard logger.logLevel <= level else { return }
        let now = ContinuousClock.now
        let suppressed = window.withLock { w -> Int? in
            if now - w.start >= windowLength {
                w.start = now
                w.count = 0
            }
            guard w.count < limit else {
                w.suppressed += 1
                return nil
            }
            w.count += 1
            defer { w.suppressed = 0 }
            return w.suppressed
        }
        guard let suppressed else { return }
        let note = suppressed > 0 ? " (\(suppressed) more suppressed)" : ""
        logger.log(level: level, "\(message())\(note)", metadata: metadata())
    }
}
