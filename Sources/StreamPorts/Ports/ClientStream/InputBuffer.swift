import NIOCore
import Transcoders

/// The reading side's bytes: what was received and not yet read, the stream offset it starts
/// at, and the ``LineFramer`` that finds lines in it. Only the reading task touches it (see
/// ``ClientStream``'s concurrency note).
///
/// Every byte leaving the front goes through ``drop(_:)``, which keeps ``base`` and the
/// framer's search position in step with the buffer.
struct InputBuffer {
    /// Received bytes not yet read.
    private(set) var bytes = ClientStream.emptyBuffer
    /// The stream offset of `bytes.readerIndex`.
    private(set) var base = 0
    /// The other half of a swap with the handler's queue (no allocation per take).
    private var spare = CircularBuffer<ByteBuffer>(initialCapacity: 2)
    /// No more bytes will arrive (end of input, or ``ClientStream/closeReader()``).
    private(set) var finished = false
    /// Lines returned by `readLine`, and how many of them the shared state has been told of.
    var linesRead = 0
    var linesReported = 0
    /// The input was ended by a server's shutdown (``ClientStream/stopReading()``), not by the
    /// peer: an unterminated last line is not a line yet, and stays unread.
    private(set) var cutShort = false
    /// Line ends on bytes, and the over-long-line rule shared with the character path.
    var framer: LineFramer
    /// The decoded text of the complete lines at the front, for ICU codecs (nil otherwise).
    let decoded: DecodedLines?

    /// - Parameters:
    ///   - framer: the stream's line framer.
    ///   - batchDecoding: decode runs of complete lines with one converter call
    ///     (``DecodedLines``): for ICU codecs whose line ends are byte-scannable.
    init(framer: LineFramer, batchDecoding: DecodedLines? = nil) {
        self.framer = framer
        self.decoded = batchDecoding
    }

    /// Unread bytes held here.
    var readableBytes: Int { bytes.readableBytes }

    // MARK: Taking input

    /// Moves everything the handler received into the buffer.
    /// - Parameters:
    ///   - shared: the connection's shared state.
    ///   - mayReplace: an empty buffer may be replaced by the first chunk instead of copied
    ///     into (not while decoding characters, whose offsets count from the buffer).
    /// - Returns: nil when nothing was taken (nothing arrived, or the peer is not taking our
    ///   output); otherwise whether the channel should be asked for another read.
    mutating func take(from shared: StreamShared, mayReplace: Bool) -> Bool? {
        let needRead = shared.state.withLock { s -> Bool? in
            // Nothing while the peer is not taking our output: the reader then flushes and
            // waits for writability in fill() instead of reading on and piling up replies.
            guard !s.inbound.isEmpty, s.writable else { return nil }
            s.readerDrained = false
            swap(&s.inbound, &spare)
            s.inboundBytes = 0
            let request = !s.readInFlight && !s.inputEnded
            if request { s.readInFlight = true }
            return request
        }
        guard let needRead else { return nil }
        for chunk in spare {
            if bytes.readableBytes == 0 && mayReplace {
                bytes = chunk
            } else {
                if bytes.readerIndex > 65536 && bytes.readerIndex > bytes.readableBytes {
                    bytes.discardReadBytes()
                }
                var chunk = chunk
                bytes.writeBuffer(&chunk)
            }
        }
        spare.removeAll(keepingCapacity: true)
        return needRead
    }

    /// Lets go of a consumed receive buffer, so the channel reads into it again instead of
    /// allocating another, and an idle connection holds none.
    mutating func releaseIfEmpty() {
        guard bytes.readableBytes == 0 else { return }
        bytes = ClientStream.emptyBuffer
        framer.rescan()
        decoded?.release()
    }

    /// No more bytes will arrive; `cutShort` when the peer has not finished sending.
    mutating func finish(cutShort: Bool = false) {
        finished = true
        self.cutShort = cutShort
    }

    /// Forgets the unread bytes and takes no more (``ClientStream/closeReader()``).
    mutating func close() {
        finished = true
        drop(bytes.readableBytes)
    }

    // MARK: Reading

    /// Drops `count` bytes from the front.
    @inline(__always)
    mutating func drop(_ count: Int) {
        bytes.moveReaderIndex(forwardBy: count)
        base += count
        framer.consumed(count)
    }

    /// Reads one byte, or nil if none is buffered.
    mutating func readByte() -> UInt8? {
        guard let byte = bytes.readInteger(as: UInt8.self) else { return nil }
        base += 1
        framer.consumed(1)
        return byte
    }

    /// Reads up to `count` buffered bytes, or nil if none is buffered.
    mutating func readBytes(upTo count: Int) -> [UInt8]? {
        let n = min(count, bytes.readableBytes)
        guard n > 0, let read = bytes.readBytes(length: n) else { return nil }
        base += n
        framer.consumed(n)
        return read
    }

    /// Drops an LF (or NEL) at the front that belongs to a line end begun by a CR.
    mutating func swallowLineEndAfterCR() {
        guard framer.afterCR, bytes.readableBytes > 0 else { return }
        let count = bytes.withUnsafeReadableBytes { framer.swallowAfterCR($0) }
        if count > 0 { drop(count) }
    }

    // MARK: Lines

    /// Why a line was not returned.
    enum LineFailure: Error {
        /// The line is longer than the limit; its bytes (what has arrived of them) are dropped.
        case tooLong
        /// The line cannot be decoded (`.raise` mode); its bytes are dropped.
        case undecodable(TranscoderError)
    }

    /// The next complete buffered line, or nil when more input is needed. Never suspends.
    /// - Parameters:
    ///   - limit: the longest line, bytes on the wire, line end excluded.
    ///   - includeSeparator: append `"\n"` to the line.
    ///   - decoder: decodes the line's bytes.
    /// - Throws: ``LineFailure``.
    mutating func nextLine(limit: Int, includeSeparator: Bool, decoder: TextDecoder) throws(LineFailure) -> String? {
        try line(limit: limit, includeSeparator: includeSeparator, decoder: decoder, atEnd: false)
    }

    /// The unterminated last line at end of input, or nil if there is none.
    /// - Throws: ``LineFailure``.
    mutating func finalLine(limit: Int, decoder: TextDecoder) throws(LineFailure) -> String? {
        try line(limit: limit, includeSeparator: false, decoder: decoder, atEnd: true)
    }

    /// Drops what the framer skips, and returns (or reports) the first line it frames.
    @inline(__always)
    private mutating func line(
        limit: Int, includeSeparator: Bool, decoder: TextDecoder, atEnd: Bool
    ) throws(LineFailure) -> String? {
        while true {
            let frame =
                atEnd
                ? framer.finish(bytes.readableBytes, limit: limit)
                : bytes.withUnsafeReadableBytes { p in
                    framer.next(p, atStreamStart: base == 0, inputFinished: finished, limit: limit)
                }
            switch frame {
            case .needMore:
                return nil
            case .skip(let count):
                drop(count)
            case .tooLong(let count):
                drop(count)
                throw .tooLong
            case .line(let contentEnd, let next):
                var line = try decode(contentEnd, then: next, decoder)
                if includeSeparator { line.append("\n") }
                return line
            }
        }
    }

    /// Decodes the first `count` bytes, then drops `next` bytes (decoded or not).
    @inline(__always)
    private mutating func decode(_ count: Int, then next: Int, _ decoder: TextDecoder) throws(LineFailure) -> String {
        if let decoded {
            let base = self.base
            let line = bytes.withUnsafeReadableBytes { p in
                decoded.line(in: p, base: base, contentEnd: count, next: next, decoder: decoder)
            }
            if let line {
                drop(next)
                return line
            }
        }
        do {
            let line = try bytes.withUnsafeReadableBytes { p throws(TranscoderError) in
                try decoder.decodeLine(UnsafeRawBufferPointer(rebasing: p[0..<count]), streamOffset: base)
            }
            drop(next)
            return line
        } catch {
            drop(next)
            throw .undecodable(error)
        }
    }
}

@available(*, unavailable)
extension InputBuffer: Sendable {}
