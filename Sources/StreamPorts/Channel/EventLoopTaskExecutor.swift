import NIOCore
import Synchronization

/// Runs Swift tasks on a NIO event loop, so a task that prefers it talks to its channel
/// without hopping threads.
final class EventLoopTaskExecutor: TaskExecutor, Sendable {
    let eventLoop: any EventLoop

    private init(_ eventLoop: any EventLoop) { self.eventLoop = eventLoop }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        eventLoop.execute {
            job.runSynchronously(on: self.asUnownedTaskExecutor())
        }
    }

    private static let executors = Mutex<[ObjectIdentifier: EventLoopTaskExecutor]>([:])

    /// The (shared) executor of `eventLoop`.
    static func `for`(_ eventLoop: any EventLoop) -> EventLoopTaskExecutor {
        let key = ObjectIdentifier(eventLoop as AnyObject)
        return executors.withLock { table in
            if let existing = table[key] { return existing }
            let created = EventLoopTaskExecutor(eventLoop)
            table[key] = created
            return created
        }
    }
}
