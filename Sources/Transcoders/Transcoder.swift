/// R6RS's transcoder: a codec, an end-of-line style and an error-handling mode
/// (Slogan's `transcoder(codec, eol_style, error_handling_mode)`).
///
/// A transcoder is a value: it describes a conversion. ``makeDecoder()`` and ``makeEncoder()``
/// create the streaming state that performs it.
///
/// ```swift
/// let t = Transcoder(codec: .shiftJIS, eolStyle: .crlf, errorMode: .raise)
/// let bytes = try t.encode("日本語\n")          // 93 FA 96 7B 8C EA 0D 0A
/// let text = try t.decode(bytes)                // "日本語\n"
/// ```
public struct Transcoder: Sendable, Hashable, CustomStringConvertible {
    /// The character encoding.
    public var codec: Codec
    /// How line ends are read and written.
    public var eolStyle: EOLStyle
    /// What to do with bytes or characters that cannot be converted.
    public var errorMode: ErrorMode

    /// Creates a transcoder.
    /// - Parameters:
    ///   - codec: the encoding; UTF-8 by default.
    ///   - eolStyle: the line-end style; `.crlf` by default (Slogan's default for TCP streams).
    ///   - errorMode: the error-handling mode; `.replace` by default.
    public init(codec: Codec = .utf8, eolStyle: EOLStyle = .crlf, errorMode: ErrorMode = .replace) {
        self.codec = codec
        self.eolStyle = eolStyle
        self.errorMode = errorMode
    }

    /// UTF-8, CRLF, replace.
    public static let `default` = Transcoder()

    public var description: String { "\(codec.name)/\(eolStyle.rawValue)/\(errorMode.rawValue)" }

    /// A streaming decoder (bytes to characters).
    /// - Throws: ``TranscoderError`` when ICU cannot open the codec.
    public func makeDecoder() throws(TranscoderError) -> TextDecoder { try TextDecoder(self) }

    /// A streaming encoder (characters to bytes).
    /// - Throws: ``TranscoderError`` when ICU cannot open the codec.
    public func makeEncoder() throws(TranscoderError) -> TextEncoder { try TextEncoder(self) }

    /// Decodes a complete input in one go.
    /// - Parameter bytes: the whole input.
    /// - Throws: ``TranscoderError`` (`.decoding`) in `.raise` mode.
    public func decode(_ bytes: some Sequence<UInt8>) throws(TranscoderError) -> String {
        let decoder = try makeDecoder()
        var text = ""
        try decoder.decode(Array(bytes), into: &text)
        try decoder.finish(into: &text)
        return text
    }

    /// Encodes a complete text in one go (ending a stateful encoding's stream).
    /// - Parameter text: the whole text; each `"\n"` is written in the EOL style.
    /// - Throws: ``TranscoderError`` (`.encoding`) in `.raise` mode.
    public func encode(_ text: some StringProtocol) throws(TranscoderError) -> [UInt8] {
        let encoder = try makeEncoder()
        var bytes: [UInt8] = []
        try encoder.encode(text, into: &bytes)
        try encoder.finish(into: &bytes)
        return bytes
    }
}
