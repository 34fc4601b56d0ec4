import ArgumentParser
import StreamPorts

/// `serve --proxy-protocol [--proxy-trusted CIDR[,CIDR...]] [--proxy-header-timeout SECONDS]`:
/// read a PROXY protocol header (v1 or v2) at the start of every connection. A network that
/// does not parse, or an option without --proxy-protocol, is a usage error (exit status 64)
/// naming it.
struct ServeProxyOptions: ParsableArguments {
    @Flag(
        name: .customLong("proxy-protocol"),
        help: ArgumentHelp(
            "Every connection starts with a PROXY protocol header (v1 or v2, as HAProxy's send-proxy or send-proxy-v2 send); its source is the client's address."
        ))
    var enabled = false

    @Option(
        name: .customLong("proxy-trusted"),
        parsing: .unconditionalSingleValue,
        help: ArgumentHelp(
            "Accept headers only from peers in these networks (comma-separated CIDRs such as 10.0.0.0/8,::1; repeatable; default: any peer).",
            valueName: "cidr,..."))
    var trusted: [String] = []

    @Option(
        name: .customLong("proxy-header-timeout"),
        parsing: .unconditional,
        help: ArgumentHelp(
            "Close a connection whose PROXY header is not complete after this long (default: 5).",
            valueName: "seconds"))
    var headerTimeout: Double?

    func validate() throws {
        if !enabled {
            if !trusted.isEmpty { throw ValidationError("--proxy-trusted needs --proxy-protocol") }
            if headerTimeout != nil { throw ValidationError("--proxy-header-timeout needs --proxy-protocol") }
        }
        _ = try configuration()
    }

    /// The library's configuration, or nil without --proxy-protocol.
    /// - Throws: `ValidationError` naming the network that does not parse, or a bad timeout.
    func configuration() throws -> ProxyProtocolConfiguration? {
        guard enabled else { return nil }
        let timeout =
            try headerTimeout.map { try Seconds.duration($0, option: "--proxy-header-timeout") } ?? .seconds(5)
        let networks = trusted.flatMap { $0.split(separator: ",", omittingEmptySubsequences: false) }
        do {
            return try ProxyProtocolConfiguration(
                trustedSources: networks.map { String($0).trimmingSpaces }, headerTimeout: timeout)
        } catch {
            throw ValidationError("--proxy-trusted: \(error.message)")
        }
    }
}

extension String {
    /// Without leading and trailing spaces (`10.0.0.0/8, ::1` lists both networks).
    fileprivate var trimmingSpaces: String {
        String(drop { $0 == " " }.reversed().drop { $0 == " " }.reversed())
    }
}
