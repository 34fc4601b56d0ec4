import Dispatch

/// A failed check of a test helper, with what was expected and what happened.
public struct TestFailure: Error, CustomStringConvertible {
    public let description: String

    /// - Parameter description: what was expected and what happened.
    public init(_ description: String) { self.description = description }
}

/// Runs `body` on a Dispatch thread: blocking calls must not hold a thread of Swift's
/// cooperative pool, which the code under test needs.
/// - Parameter body: the blocking work.
/// - Returns: what `body` returns.
public func offPool<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        DispatchQueue.global().async { continuation.resume(with: Result { try body() }) }
    }
}
