/// Defaults shared by servers and clients.
public enum StreamDefaults {
    /// The default longest line, 1 MiB (bytes on the wire, line end excluded).
    public static let maxLineLength = 1 << 20
    /// The default connect timeout.
    public static let connectTimeout: Duration = .seconds(10)
}
