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

    /// Writes every byte of `text` to `fd`, retrying short writes and EINTR; gives up quietly
    /// on other errors (a closed pipe is not worth dying for).
    static func write(_ text: String, to fd: Int32) {
        var text = text
        text.withUTF8 { bytes in
            var offset = 0
            while offset < bytes.count {
                let n = writeSome(fd, bytes.baseAddress! + offset, bytes.count - offset)
                if n > 0 {
                    offset += n
                } else if n < 0 && errno == EINTR {
                    continue
                } else {
                    return
                }
            }
        }
    }
}

extension Output {
    /// One `read(2)` into `buffer`, retrying EINTR; the count, 0 at end of file, -1 on error.
    static func read(_ fd: Int32, into buffer: inout [UInt8]) -> Int {
        while true {
            let n = buffer.withUnsafeMutableBytes { readSome(fd, $0.baseAddress!, $0.count) }
            if n < 0 && errno == EINTR { continue }
            return n
        }
    }
}

/// One `read(2)`.
private func readSome(_ fd: Int32, _ pointer: UnsafeMutableRawPointer, _ count: Int) -> Int {
    #if canImport(Glibc)
    Glibc.read(fd, pointer, count)
    #elseif canImport(Musl)
    Musl.read(fd, pointer, count)
    #else
    Darwin.read(fd, pointer, count)
    #endif
}

/// One `write(2)`.
private func writeSome(_ fd: Int32, _ pointer: UnsafeRawPointer, _ count: Int) -> Int {
    #if canImport(Glibc)
    Glibc.write(fd, pointer, count)
    #elseif canImport(Musl)
    Musl.write(fd, pointer, count)
    #else
    Darwin.write(fd, pointer, count)
    #endif
}
