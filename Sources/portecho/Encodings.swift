import ArgumentParser
import StreamPorts

/// `portecho encodings`: the codecs `--encoding` takes.
struct Encodings: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List the character encodings, one per line: ICU's name, then its aliases.",
        discussion: """
            Names and aliases are separated by spaces. FILTER keeps the codecs any of whose \
            names contains it, ignoring case (`portecho encodings jis`); no match prints \
            nothing and exits 0. Any name or alias works with --encoding.
            """
    )

    @Argument(
        help: ArgumentHelp("Keep codecs with a name or alias containing this, ignoring case.", valueName: "filter"))
    var filter: String?

    func run() {
        var text = ""
        for info in Codec.available(matching: filter ?? "") {
            text += ([info.name] + info.aliases).joined(separator: " ")
            text += "\n"
        }
        Output.write(text, to: 1)
    }
}
