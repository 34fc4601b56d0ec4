import ArgumentParser
import Logging
import StreamPorts

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// systemd's socket activation protocol as `sd_listen_fds(3)` reads it: the service manager
/// passes listening sockets from descriptor 3 on, `LISTEN_FDS` says how many, and `LISTEN_PID`
/// names the process they are meant for (a child that inherited the variables must ignore them).
enum SocketActivation {
    /// The first passed descriptor (`SD_LISTEN_FDS_START`).
    static let firstDescriptor: CInt = 3

    /// The variables of the protocol, unset once read.
    static let variables = ["LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"]

    /// The listening socket passed to this process, or nil when it was not socket-activated:
    /// no `LISTEN_PID` or `LISTEN_FDS`, `LISTEN_FDS=0`, or a `LISTEN_PID` that is not this
    /// process (logged at notice, then ignored). The variables are unset in every case, as
    /// `sd_listen_fds(1)` does, so that processes started later do not take them for theirs. The
    /// socket is made close-on-exec.
    /// - Throws: `ValidationError` (exit status 64) for a `LISTEN_PID` or `LISTEN_FDS` that is
    ///   not a number, or more than one socket passed.
    static func listeningSocket(logger: Logger) throws -> CInt? {
        let values = variables.map { name in getenv(name).map { String(cString: $0) } }
        for name in variables { unsetenv(name) }
        guard let pidText = values[0], let countText = values[1] else { return nil }
        guard let pid = pid_t(pidText), pid > 0 else {
            throw ValidationError("LISTEN_PID=\(pidText) is not a process id (socket activation)")
        }
        guard pid == getpid() else {
            logger.notice("LISTEN_PID=\(pid) is not this process (\(getpid())): ignoring LISTEN_FDS=\(countText)")
            return nil
        }
        guard let count = Int(countText), count >= 0 else {
            throw ValidationError("LISTEN_FDS=\(countText) is not a number of descriptors (socket activation)")
        }
        if count == 0 { return nil }
        guard count == 1 else {
            throw ValidationError(
                "LISTEN_FDS=\(count): portecho serves exactly one socket; give its .socket unit a single ListenStream=")
        }
        // Not open, or not a socket: tcpServerStream(listeningSocket:) says which.
        try? Syscalls.setCloseOnExec(firstDescriptor, what: "descriptor \(firstDescriptor)")
        return firstDescriptor
    }

    /// Refuses the options that choose or set up the socket when one is inherited: its address
    /// and options are the service manager's (`ListenStream=`, `ReusePort=`, `Backlog=`).
    /// - Throws: `ValidationError` (exit status 64) naming the first such option given.
    static func checkNoAddress(address: String?, port: Int?, reusePort: Bool, noReuseAddress: Bool) throws {
        let given: String? =
            if let address { "ADDRESS \(address)" } else if let port { "--port \(port)" } else if reusePort {
                "--reuse-port"
            } else if noReuseAddress { "--no-reuse-address" } else { nil }
        if let given {
            throw ValidationError(
                "\(given) cannot be used with socket activation (LISTEN_FDS): the inherited socket is already bound")
        }
    }
}
