/// The fuzzer's input read front to back: a few header bytes choose what to test (codec, error
/// mode, EOL style, chunking), the rest is the payload. Reading past the end yields zeros, so
/// every input, even an empty one, is a valid test case.
public struct FuzzInput {
    /// All of the input.
    public let bytes: [UInt8]
    /// How many bytes the header reads have taken.
    public private(set) var position = 0

    /// Wraps the buffer libFuzzer hands to `LLVMFuzzerTestOneInput`.
    /// - Parameters:
    ///   - data: the input (may be nil when `size` is 0).
    ///   - size: its length.
    public init(_ data: UnsafePointer<UInt8>?, _ size: Int) {
        bytes = data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? []
    }

    /// Wraps bytes (for replaying a case).
    /// - Parameter bytes: the input.
    public init(bytes: [UInt8]) { self.bytes = bytes }

    /// The next header byte, or 0 past the end.
    public mutating func byte() -> UInt8 {
        guard position < bytes.count else { return 0 }
        defer { position += 1 }
        return bytes[position]
    }

    /// The next two header bytes, little-endian.
    public mutating func uint16() -> UInt16 {
        UInt16(byte()) | UInt16(byte()) << 8
    }

    /// One of `options`, picked by the next header byte.
    /// - Parameter options: a non-empty list.
    public mutating func choose<T>(_ options: [T]) -> T {
        options[Int(byte()) % options.count]
    }

    /// Everything after the header bytes read so far.
    public var rest: [UInt8] { position < bytes.count ? Array(bytes[position...]) : [] }
}
