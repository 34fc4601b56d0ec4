import ArgumentParser
import Logging
import StreamPorts

// Options shared by the subcommands, and the parsing of addresses and durations. Every bad
// value is reported by ArgumentParser (exit status 64) with a message naming it.

extension EOLStyle: ExpressibleByArgument {}
extension ErrorMode: ExpressibleByArgument {}
extension Logger.Level: @retroactive ExpressibleByArgument {}

/// `--encoding`, `--eol`, `--errors`: the transcoder of every stream.
struct TranscoderOptions: ParsableArguments {
    @Option(
        help: ArgumentHelp(
            "The character encoding: any ICU converter name or alias, case-insensitive (default: UTF-8; `portecho encodings` lists them).",
            valueName: "name"),
        transform: { name in try Codec(name) })
    var encoding: Codec = .utf8

    @Option(
        help: ArgumentHelp(
            "The line end written after each line; lf, cr and crlf all read LF, CR and CR LF, the Unicode styles nel, crnel and ls also read NEL and LS, none reads only LF.",
            valueName: "style"))
    var eol: EOLStyle = .crlf

    @Option(
        help: ArgumentHelp(
            "Bytes that cannot be decoded: raise (close that connection), replace (U+FFFD) or ignore.",
            valueName: "mode"))
    var errors: ErrorMode = .replace

    var transcoder: Transcoder { Transcoder(codec: encoding, eolStyle: eol, errorMode: errors) }
}

/// `--log-level`: swift-log's levels; logs go to standard error.
struct LoggingOptions: ParsableArguments {
    @Option(
        help: ArgumentHelp(
            "Log level on standard error: trace, debug, info, notice, warning, error or critical.", valueName: "level"))
    var logLevel: Logger.Level = .info

    /// Sends every logger to standard error at `logLevel`; returns the command's logger.
    func bootstrap(_ label: String) -> Logger {
        let level = logLevel
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        var logger = Logger(label: label)
        logger.logLevel = level
        return logger
    }
}

enum AddressArgument {
    /// The port used when ADDRESS names a host without one and `--port` is not given.
    static let defaultPort = 2020

    /// Parses ADDRESS as `portecho` takes it: all digits is a port on 127.0.0.1; a host
    /// without a port (`localhost`, `*`, `[::1]`) uses `port`, else `defaultPort` (2020); an
    /// unbracketed IPv6 address (`::1`) is a host only and needs `port`; anything else is
    /// StreamAddress's grammar. No socket is opened.
    /// - Throws: `ValidationError` naming the input and the reason (for `::1:80` without
    ///   `--port`, the bracketed form `[::1]:80` to write instead).
    static func parse(
        _ input: String?, port: Int?, defaultPort: Int = AddressArgument.defaultPort
    ) throws -> StreamAddress {
        do throws(StreamPortError) {
            guard let input else { return try StreamAddress.parse("127.0.0.1", port: port ?? defaultPort) }
            if let port { return try StreamAddress.parse(input, port: port) }
            do throws(StreamPortError) {
                return try StreamAddress.parse(input)
            } catch  where isUnbracketedIPv6(input) {
                // `::1:80` may mean [::1]:80 or [::1:80] on the default port: never guess. The
                // library's message offers both bracketed forms.
                throw error
            } catch {
                // A host without a port gets the default; any other fault recurs here (ports
                // are checked before the host), and this error is the one to show.
                return try StreamAddress.parse(input, port: defaultPort)
            }
        } catch {
            throw ValidationError(error.message)
        }
    }
}

extension AddressArgument {
    /// Whether `input` has the shape of an unbracketed IPv6 address: two colons or more, no
    /// leading `[` (StreamAddress's rule for a host that cannot carry a port).
    static func isUnbracketedIPv6(_ input: String) -> Bool {
        input.utf8.first != UInt8(ascii: "[") && input.utf8.count(where: { $0 == UInt8(ascii: ":") }) > 1
    }
}

enum Seconds {
    /// `seconds` as a Duration (fractions allowed), or a ValidationError naming `option`.
    static func duration(_ seconds: Double, option: String, allowZero: Bool = false) throws -> Duration {
        guard seconds.isFinite, allowZero ? seconds >= 0 : seconds > 0, seconds <= 1e9 else {
            throw ValidationError(
                "\(option) \(text(seconds)) must be a number of seconds \(allowZero ? ">= 0" : "> 0") (at most 1e9)")
        }
        return .nanoseconds(Int64((seconds * 1e9).rounded()))
    }

    /// `3`, `0.5`: how a user wrote it.
    static func text(_ seconds: Double) -> String {
        seconds == seconds.rounded() && abs(seconds) < 1e15 ? String(Int64(seconds)) : String(seconds)
    }
}
