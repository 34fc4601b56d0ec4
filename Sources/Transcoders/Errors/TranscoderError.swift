/// An error from a codec lookup, a decoding or an encoding.
///
/// The message names the input and the reason, for example
/// `cannot decode byte sequence CE 65 at byte offset 3 as UTF-8: invalid or incomplete sequence`.
/// Bytes are shown in hex and characters that could act on a terminal as escapes, never raw.
public struct TranscoderError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What went wrong.
    public enum Code: String, Sendable, Hashable {
        /// No codec has the requested name.
        case unknownCodec
        /// A byte sequence is invalid, unmappable or incomplete in the codec (`.raise` mode).
        case decoding
        /// A character cannot be represented in the codec (`.raise` mode).
        case encoding
        /// ICU reported a failure that is not about the data (out of memory, missing data).
        case internalFailure
    }

    /// The kind of error.
    public let code: Code
    /// A human-readable message naming the input and the reason.
    public let message: String
    /// For `.decoding`: the offset in the stream (bytes since the decoder started) of the
    /// first offending byte.
    public let byteOffset: Int?
    /// For `.decoding`: the offending bytes.
    public let bytes: [UInt8]
    /// For `.encoding`: the character that could not be encoded.
    public let character: Unicode.Scalar?
    /// For `.unknownCodec`: the closest known codec names.
    public let suggestions: [String]

    /// Creates an error. Library code uses the specific factory methods. Control and format
    /// characters in `message` (from quoted input) are written as `\xNN` or `\u{NNNN}`, so the
    /// message is safe to log.
    public init(
        code: Code, message: String, byteOffset: Int? = nil, bytes: [UInt8] = [],
        character: Unicode.Scalar? = nil, suggestions: [String] = []
    ) {
        self.code = code
        self.message = escapingControls(message)
        self.byteOffset = byteOffset
        self.bytes = bytes
        self.character = character
        self.suggestions = suggestions
    }

    public var description: String { message }

    static func decoding(codec: String, offset: Int, bytes: [UInt8], reason: String) -> TranscoderError {
        let hex = bytes.map { hexByte($0) }.joined(separator: " ")
        return TranscoderError(
            code: .decoding,
            message: "cannot decode byte sequence \(hex) at byte offset \(offset) as \(codec): \(reason)",
            byteOffset: offset, bytes: bytes)
    }

    static func encoding(codec: String, scalar: Unicode.Scalar) -> TranscoderError {
        TranscoderError(
            code: .encoding,
            message: "cannot encode character \(scalarName(scalar)) in \(codec): it has no mapping",
            character: scalar)
    }
}

/// `"CE"` for 0xCE.
@inlinable
func hexByte(_ byte: UInt8) -> String {
    let digits: [Character] = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "A", "B", "C", "D", "E", "F"]
    return String([digits[Int(byte >> 4)], digits[Int(byte & 0xF)]])
}

/// `U+0185 'ƅ'`, printable or not.
func scalarName(_ scalar: Unicode.Scalar) -> String {
    var hex = String(scalar.value, radix: 16, uppercase: true)
    while hex.count < 4 { hex = "0" + hex }
    let printable =
        scalar.properties.generalCategory != .control && scalar.properties.generalCategory != .format
        && !scalar.properties.isWhitespace
    return printable ? "U+\(hex) '\(Character(scalar))'" : "U+\(hex)"
}
