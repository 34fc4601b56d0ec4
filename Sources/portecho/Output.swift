import StreamPorts

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// Unbuffered writes to the standard streams: what is written is out at once (the
/// `listening on` line must reach a script before any client connects), and Swift 6 forbids
/// touching C's global `stdout` / `stderr` from concurrent code.
enum Output {
    /// Writes `text` and a newline to standard output in one system call.
    static func line(_ text: String) {
        write(text + "\n", to: STDOUT_FILENO)
    }

    /// Writes `text` and a newline to standard error.
    static func error(_ text: String) {
        write(text + "\n", to: STDERR_FILENO)
    }

    /// Writes every byte of `text` to `fd`, retrying short writes (`Syscalls.write` retries
    /// EINTR); gives up quietly on other errors (a closed pipe is not worth dying for).
    static func write(_ text: String, to fd: Int32) {
        var text = text
        text.withUTF8 { bytes in
            var rest = UnsafeRawBufferPointer(bytes)
            while !rest.isEmpty {
                guard let count = try? Syscalls.write(fd, from: rest, what: "descriptor \(fd)"), count > 0 else {
                    return
                }
                rest = UnsafeRawBufferPointer(rebasing: rest[count...])
            }
        }
    }
}

extension Output {
    /// One `read(2)` into `buffer` (`Syscalls.read` retries EINTR); the count, 0 at end of
    /// file, -1 on error.
    static func read(_ fd: Int32, into buffer: inout [UInt8]) -> Int {
        buffer.withUnsafeMutableBytes { (try? Syscalls.read(fd, into: $0, what: "descriptor \(fd)")) ?? -1 }
    }
}
