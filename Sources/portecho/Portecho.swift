import ArgumentParser

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// `portecho`: the seed's line echo server as a tool, and a client for any line server in any
/// charset. `portecho` alone is `portecho serve`.
@main
struct Portecho: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "portecho",
        abstract: "A line echo server and client over StreamPorts, in any character encoding.",
        discussion: """
            With no subcommand, runs `serve`: the echo server on 127.0.0.1:2020 (UTF-8, CRLF, \
            replace). Exit status: 0 on success (and after SIGINT/SIGTERM), 64 for a bad \
            option or value, 1 for a failure at run time.
            """,
        subcommands: [Serve.self, Send.self, Encodings.self],
        defaultSubcommand: Serve.self
    )

    static func main() async {
        // A peer that goes away must not kill the process; NIO and our own writes see EPIPE.
        signal(SIGPIPE, SIG_IGN)
        do {
            var command = try parseAsRoot()
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            exit(withError: error)
        }
    }
}
