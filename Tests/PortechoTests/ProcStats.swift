import Foundation
import StreamPortsTestSupport

#if canImport(Glibc)
    import Glibc
#endif

/// What Linux's /proc says about a process: open file descriptors, memory, CPU time.
struct ProcStats {
    let pid: Int32

    /// The number of open file descriptors (entries of /proc/PID/fd).
    func openFDs() throws -> Int {
        let entries = try FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd")
        return entries.count
    }

    /// Resident memory now and its peak since the start or the last ``resetPeak()``, in KiB
    /// (VmRSS and VmHWM of /proc/PID/status).
    func memory() throws -> (rss: Int, peak: Int) {
        let status = try String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)
        func field(_ name: String) throws -> Int {
            guard let line = status.split(separator: "\n").first(where: { $0.hasPrefix(name + ":") }),
                let kib = Int(
                    line.dropFirst(name.count + 1).trimmingCharacters(in: .whitespaces).split(separator: " ").first
                        ?? "")
            else { throw TestFailure("no \(name) in /proc/\(pid)/status") }
            return kib
        }
        return (try field("VmRSS"), try field("VmHWM"))
    }

    /// Resets VmHWM to the current VmRSS (writes 5 to /proc/PID/clear_refs); false if the
    /// kernel refuses, and then the peak counts from the process's start.
    @discardableResult
    func resetPeak() -> Bool {
        let fd = open("/proc/\(pid)/clear_refs", O_WRONLY)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        return write(fd, "5", 1) == 1
    }

    /// User plus system CPU time, in seconds (fields 14 and 15 of /proc/PID/stat).
    func cpuSeconds() throws -> Double {
        let stat = try String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)
        // The command name (field 2) is in parentheses and may hold spaces: count after it.
        guard let close = stat.lastIndex(of: ")") else { throw TestFailure("unreadable /proc/\(pid)/stat") }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        // fields[0] is field 3 (state), so field n is fields[n - 3].
        guard fields.count > 12, let user = Double(fields[11]), let system = Double(fields[12]) else {
            throw TestFailure("unreadable /proc/\(pid)/stat: \(stat)")
        }
        return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }

    /// Waits until the open fd count is `expected` (or at most it, when `orFewer`), polling for
    /// at most `timeout` seconds; returns the last count seen.
    func waitForFDs(_ expected: Int, orFewer: Bool = false, timeout: Double = 15) async throws -> Int {
        let deadline = ContinuousClock.now + .milliseconds(Int(timeout * 1000))
        while true {
            let count = try openFDs()
            if count == expected || (orFewer && count < expected) || ContinuousClock.now >= deadline { return count }
            try await Task.sleep(for: .milliseconds(50))
        }
    }

    /// The fd count once it has stayed the same for `quiet` seconds (at most `timeout`).
    func settledFDs(quiet: Double = 0.3, timeout: Double = 10) async throws -> Int {
        let deadline = ContinuousClock.now + .milliseconds(Int(timeout * 1000))
        var last = try openFDs()
        var since = ContinuousClock.now
        while ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(50))
            let count = try openFDs()
            if count != last {
                last = count
                since = ContinuousClock.now
            } else if ContinuousClock.now - since >= .milliseconds(Int(quiet * 1000)) {
                break
            }
        }
        return last
    }
}

/// A whole number of MiB with one decimal, for reports: `12.3`.
func mib(_ kib: Int) -> String { String(format: "%.1f", Double(kib) / 1024) }

/// Reads a positive integer from the environment (scale knobs of the fault tests), else `fallback`.
func environmentInt(_ name: String, _ fallback: Int) -> Int {
    guard let text = ProcessInfo.processInfo.environment[name], let value = Int(text), value > 0 else {
        return fallback
    }
    return value
}
