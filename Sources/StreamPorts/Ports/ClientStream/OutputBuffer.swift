import NIOCore
import Transcoders

/// The writing side's state: encoded output not yet handed to the channel, the encoder (with
/// its shift state), and whether the writer is closed. A ``ClientStream`` keeps it under a
/// `Mutex`: the writing task fills it, the reading task hands it off before it waits, and
/// closing may come from either.
struct OutputBuffer {
    /// Encoded bytes not yet handed to the channel.
    private var out = ClientStream.emptyBuffer
    /// Text written and not yet encoded, as UTF-8 with `"\n"` line ends (``collectsText``).
    private var text = ClientStream.emptyBuffer
    private let encoder: TextEncoder
    /// ICU codecs outside `.raise` mode collect text as UTF-8 and encode it with one
    /// converter call per hand-off, instead of one per write. In `.raise` mode each write is
    /// encoded at once, so that an unencodable character is reported by the call that wrote it.
    private let collectsText: Bool
    /// Set by close, closeWriter and abort: later writes throw `.closed`.
    private(set) var isClosed = false
    /// The line end's bytes, for codecs without shift state (nil: encode `"\n"` each time).
    private let lineEndBytes: [UInt8]?
    /// UTF-8 with `"\n"` written as LF: a string's bytes go out as they are.
    private let utf8PassThrough: Bool
    /// Lines written (`showln`, `writeLine`), and bytes handed to the channel, in all.
    private(set) var linesWritten = 0
    private(set) var bytesHandedOff = 0
    /// `linesWritten` as of the last hand-off.
    private var linesHandedOff = 0

    /// Output for `transcoder`.
    /// - Throws: ``TranscoderError`` when its encoder cannot be opened, or cannot encode the
    ///   EOL style's line end.
    init(_ transcoder: Transcoder) throws(TranscoderError) {
        encoder = try transcoder.makeEncoder()
        // Codecs without shift state get the line end's bytes once.
        let stateless = [Codec.utf8, .latin1, .ascii].contains(transcoder.codec)
        lineEndBytes =
            transcoder.codec == .utf8
            ? Array(transcoder.eolStyle.lineEnd.utf8)
            : stateless ? try transcoder.encode("\n") : nil
        utf8PassThrough = transcoder.codec == .utf8 && transcoder.eolStyle.lineEnd == "\n"
        collectsText = transcoder.codec.convertsThroughICU && transcoder.errorMode != .raise
    }

    /// Bytes pending: encoded, and text not yet encoded.
    private var pendingBytes: Int { out.readableBytes + text.readableBytes }

    // MARK: Writing

    /// Appends `string` through the encoder (each `"\n"` as the EOL style's line end).
    /// - Returns: the bytes now pending.
    /// - Throws: ``TranscoderError`` `.encoding` (`.raise` mode).
    @inline(__always)
    mutating func write(_ string: String) throws(TranscoderError) -> Int {
        if collectsText {
            text.writeString(string)
            return pendingBytes
        }
        if utf8PassThrough {
            out.writeString(string)
        } else {
            try encoder.encode(string, into: &out)
        }
        return out.readableBytes
    }

    /// Appends `string` and a line end.
    /// - Returns: the bytes now pending.
    /// - Throws: ``TranscoderError`` `.encoding` (`.raise` mode; nothing of the line is
    ///   written after the unencodable character).
    @inline(__always)
    mutating func writeLine(_ string: String) throws(TranscoderError) -> Int {
        linesWritten &+= 1
        if collectsText {
            OutputBuffer.appendUTF8Line(string, to: &text)
            return pendingBytes
        }
        if utf8PassThrough {
            OutputBuffer.appendUTF8Line(string, to: &out)
            return out.readableBytes
        }
        try encoder.encode(string, into: &out)
        if let lineEndBytes { out.writeBytes(lineEndBytes) } else { try encoder.encode("\n", into: &out) }
        return out.readableBytes
    }

    /// Appends raw bytes.
    /// - Returns: the bytes now pending.
    mutating func write(bytes: some Sequence<UInt8>) -> Int {
        encodeText()  // the text written before these bytes goes first
        out.writeBytes(bytes)
        return out.readableBytes
    }

    /// Encodes the collected text into the output, with one converter call.
    ///
    /// Outside `.raise` mode an unencodable character becomes the codec's substitute, so
    /// this fails only if ICU itself does (no memory): the text is then dropped, as a write
    /// that threw would have been.
    @inline(__always)
    private mutating func encodeText() {
        guard text.readableBytes > 0 else { return }
        text.withUnsafeReadableBytes { utf8 in
            try? encoder.encodeUTF8(utf8, into: &out)
        }
        // A small buffer is kept for the next writes; a large one is let go.
        if text.capacity <= 1024 { text.clear() } else { text = ClientStream.emptyBuffer }
    }

    /// Appends `string`'s UTF-8 bytes and an LF in one step.
    @inline(__always)
    private static func appendUTF8Line(_ string: String, to out: inout ByteBuffer) {
        var string = string
        string.withUTF8 { utf8 in
            _ = out.writeWithUnsafeMutableBytes(minimumWritableBytes: utf8.count + 1) { raw in
                raw.copyMemory(from: UnsafeRawBufferPointer(utf8))
                raw[utf8.count] = 0x0A
                return utf8.count + 1
            }
        }
    }

    // MARK: Hand-off

    /// Takes the pending bytes, leaving an empty placeholder, with the count of lines written
    /// since the last hand-off; nil when none are pending.
    mutating func takePending() -> (bytes: ByteBuffer, lines: Int)? {
        encodeText()
        guard out.readableBytes > 0 else { return nil }
        var pending = ClientStream.emptyBuffer
        swap(&pending, &out)
        bytesHandedOff &+= pending.readableBytes
        defer { linesHandedOff = linesWritten }
        return (pending, linesWritten &- linesHandedOff)
    }

    /// Keeps a handed-off buffer (cleared by the caller) for the next writes, unless some
    /// were written meanwhile.
    mutating func recycle(_ buffer: ByteBuffer) {
        if out.readableBytes == 0 { out = buffer }
    }

    // MARK: Closing

    /// Appends a stateful encoding's reset sequence, unless closed.
    mutating func finishEncoding() {
        guard !isClosed else { return }
        encodeText()
        try? encoder.finish(into: &out)
    }

    /// Refuses later writes.
    mutating func close() {
        isClosed = true
    }

    /// Drops pending output and refuses later writes (``ClientStream/abort()``).
    mutating func discardAndClose() {
        out.clear()
        text = ClientStream.emptyBuffer
        isClosed = true
    }
}

@available(*, unavailable)
extension OutputBuffer: Sendable {}

extension ByteBuffer: EncodedByteSink {
    @inlinable
    package mutating func appendEncoded(_ bytes: UnsafeRawBufferPointer) { writeBytes(bytes) }

    @inlinable
    package mutating func appendEncoded(reservingCapacity capacity: Int, _ body: (UnsafeMutableRawBufferPointer) -> Int)
    {
        writeWithUnsafeMutableBytes(minimumWritableBytes: capacity, body)
    }
}
