/// A task executor that runs jobs only when asked, on the calling thread: the fuzzer's thread
/// drives a ``ClientStream`` reader task step by step, delivering input whenever the reader
/// waits for the network, with no other thread involved and no timing.
final class InlineExecutor: TaskExecutor, @unchecked Sendable {
    // Touched only by the fuzzer's thread: jobs are enqueued by task creation and by
    // continuations resumed from input delivery, both on that thread.
    private var jobs: [UnownedJob] = []

    func enqueue(_ job: consuming ExecutorJob) {
        jobs.append(UnownedJob(job))
    }

    /// Runs jobs until none is left: the reader has finished or waits for input.
    func drain() {
        var next = 0
        while next < jobs.count {
            let job = jobs[next]
            next += 1
            job.runSynchronously(on: asUnownedTaskExecutor())
        }
        jobs.removeAll(keepingCapacity: true)
    }
}
