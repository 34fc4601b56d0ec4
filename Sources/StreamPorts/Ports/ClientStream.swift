#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import NIOCore
import NIOPosix
import Synchronization

/// A connected TCP stream port: characters (through a ``Transcoder``) and bytes, in and out.
///
/// Accepted connections come from ``ServerStream/read()``; outgoing ones from
/// ``tcpClientStream(_:keepAlive:coalesce:transcoder:connectTimeout:)``.
///
/// Reading methods must not run concurrently with each other, nor writing methods with each
/// other; one task may read while another writes. Output is buffered and handed to the socket
/// by ``flushWriter()``, automatically before a read has to wait for the network, and on close.
///
/// ```swift
/// while let line = try await client.readLine() {
///     try client.showln(line)      // flushed before the next read waits
/// }
/// try await client.close()
/// ```
public final class ClientStream: @unchecked Sendable {
    /// Buffering of output (seed 003's Alore modes).
    public enum Buffering: Sendable, Hashable {
        /// Every write goes out at once.
        case unbuffered
        /// Output is flushed at each newline.
        case line
        /// Explicit ``flushWriter()``, plus the automatic flush before a read waits, and a
        /// hand-off to the socket whenever 256 KiB are pending.
        case buffered
    }

    /// The transcoder characters go through.
    public let transcoder: Transcoder
    /// The longest line ``readLine(separator:includeSeparator:maxLength:)`` accepts, in bytes on
    /// the wire, line end excluded (default 1 MiB). A longer line throws `.lineTooLong`; the
    /// stream then skips the rest of that line and continues with the next one.
    @exclusivity(unchecked) public var maxLineLength: Int
    /// How long a read may wait for the network before throwing `.timedOut` (nil: forever).
    /// The stream stays usable after a timeout.
    @exclusivity(unchecked) public var readTimeout: Duration?
    /// How long ``flushWriter()`` may wait for a peer that does not read (nil: forever).
    @exclusivity(unchecked) public var writeTimeout: Duration?
    /// When output goes to the socket.
    @exclusivity(unchecked) public var buffering: Buffering = .buffered

    let channel: any Channel
    let shared: StreamShared

    // Reader state (one reader at a time). Stored properties on the hot path skip Swift's
    // dynamic exclusivity checks: the one-reader/one-writer contract above is what keeps
    // their accesses apart, and the checks cost about 5 % of a line echo.
    @exclusivity(unchecked) private var buffer: ByteBuffer
    @exclusivity(unchecked) private var bufferBase = 0          // stream offset of buffer.readerIndex
    @exclusivity(unchecked) private var spare = CircularBuffer<ByteBuffer>(initialCapacity: 2)
    @exclusivity(unchecked) private var afterCR = false
    @exclusivity(unchecked) private var discardingLine = false
    @exclusivity(unchecked) private var scanFrom = 0            // bytes of the buffer already searched for a line end
    @exclusivity(unchecked) private var inputFinished = false   // no more bytes will arrive
    private let byteScan: Bool
    /// NEL or LS bytes may end lines (UTF-8 or Latin-1 with a Unicode EOL style).
    private let lineEndsNeedNonASCII: Bool
    private let lineDecoder: TextDecoder
    // Character mode
    @exclusivity(unchecked) private var charMode = false
    @exclusivity(unchecked) private var scalarDecoder: ScalarDecoder?
    @exclusivity(unchecked) private var scalars: [Unicode.Scalar] = []
    @exclusivity(unchecked) private var scalarOffsets: [Int] = []
    @exclusivity(unchecked) private var scalarIndex = 0
    @exclusivity(unchecked) private var fed = 0                 // buffer bytes given to the scalar decoder
    @exclusivity(unchecked) private var decoderFinished = false
    @exclusivity(unchecked) private var pendingDecodeError: (index: Int, error: StreamPortError)?

    // Writer state.
    private struct Writer {
        var out: ByteBuffer
        var encoder: TextEncoder
        var closed = false
    }
    private let writer: Mutex<Writer>
    private let lineEndBytes: [UInt8]?
    /// UTF-8 with `"\n"` written as LF: a string's bytes go out as they are.
    private let utf8PassThrough: Bool

    init(channel: any Channel, shared: StreamShared, transcoder: Transcoder, maxLineLength: Int) throws(TranscoderError) {
        self.channel = channel
        self.shared = shared
        self.transcoder = transcoder
        self.maxLineLength = maxLineLength
        self.buffer = ClientStream.emptyBuffer
        self.byteScan = transcoder.codec.lineEndsAreByteScannable(for: transcoder.eolStyle)
        self.lineEndsNeedNonASCII = transcoder.eolStyle.isUnicode && (transcoder.codec == .utf8 || transcoder.codec == .latin1)
        self.lineDecoder = try transcoder.makeDecoder()
        let encoder = try transcoder.makeEncoder()
        // Codecs without shift state get the line end's bytes once.
        let stateless = [Codec.utf8, .latin1, .ascii].contains(transcoder.codec)
        self.lineEndBytes = transcoder.codec == .utf8 ? Array(transcoder.eolStyle.lineEnd.utf8)
            : stateless ? try transcoder.encode("\n") : nil
        self.utf8PassThrough = transcoder.codec == .utf8 && transcoder.eolStyle.lineEnd == "\n"
        self.writer = Mutex(Writer(out: ClientStream.emptyBuffer, encoder: encoder))
    }

    // MARK: Addresses

    /// The local address, `127.0.0.1:41234` or `[::1]:41234`.
    public var localAddress: String { channel.localAddress?.streamDescription ?? "" }
    /// The local port.
    public var localPort: Int { channel.localAddress?.port ?? 0 }
    /// The peer's address, `127.0.0.1:50000` or `[::1]:50000`.
    public var remoteAddress: String { channel.remoteAddress?.streamDescription ?? "" }
    /// The peer's port.
    public var remotePort: Int { channel.remoteAddress?.port ?? 0 }

    /// A task executor that runs on this connection's event loop: a task preferring it reads
    /// and writes without hopping threads.
    ///
    /// ```swift
    /// Task(executorPreference: client.executor) { try await echo(client) }
    /// ```
    public var executor: any TaskExecutor { EventLoopTaskExecutor.for(channel.eventLoop) }

    // MARK: State

    /// Bytes received and not yet read.
    public var bytesAvailable: Int {
        let inbound = shared.state.withLock { $0.inboundBytes }
        return buffer.readableBytes + inbound
    }

    /// True once the peer has closed its side and everything it sent has been read.
    public var eof: Bool {
        let (ended, pending) = shared.state.withLock { ($0.inputEnded, $0.inboundBytes) }
        return ended && pending == 0 && buffer.readableBytes == 0 && scalarIndex >= scalars.count
    }

    // MARK: Lines

    /// Reads the next line.
    ///
    /// Line ends follow the transcoder's EOL style; `separator` other than `"\n"` splits on
    /// that character instead. A last unterminated line is returned before nil. A line already
    /// buffered is returned without suspending.
    /// - Parameters:
    ///   - separator: the line separator (one Unicode scalar); `"\n"` means the EOL style's
    ///     line ends.
    ///   - includeSeparator: append the separator to the line.
    ///   - maxLength: overrides ``maxLineLength`` for this call (bytes, line end excluded).
    /// - Returns: the line, or nil at end of stream.
    /// - Throws: ``StreamPortError``: `.lineTooLong`, `.decoding` (`.raise` mode; lines before the
    ///   bad bytes were delivered first), `.timedOut`, `.connectionReset`.
    public func readLine(separator: Character = "\n", includeSeparator: Bool = false, maxLength: Int? = nil) async throws -> String? {
        let limit = maxLength ?? maxLineLength
        if separator == "\n" && byteScan && !charMode {
            while true {
                if let line = try scanLine(limit: limit, includeSeparator: includeSeparator) { return line }
                if inputFinished { return try finalLine(limit: limit) }
                if !(try await fill()) { return try finalLine(limit: limit) }
            }
        }
        return try await readLineDecoded(separator: separator, includeSeparator: includeSeparator, limit: limit)
    }

    /// The lines of the stream, until its end.
    public var lines: Lines { Lines(stream: self) }

    /// An `AsyncSequence` of a stream's lines.
    public struct Lines: AsyncSequence, Sendable {
        public typealias Element = String
        let stream: ClientStream

        public struct AsyncIterator: AsyncIteratorProtocol {
            let stream: ClientStream
            public mutating func next() async throws -> String? { try await stream.readLine() }
        }

        public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(stream: stream) }
    }

    /// Reads every remaining line (seed 003's `readLines`).
    /// - Throws: as ``readLine(separator:includeSeparator:maxLength:)``.
    public func readLines() async throws -> [String] {
        var all: [String] = []
        while let line = try await readLine() { all.append(line) }
        return all
    }

    private func lineEndLength(_ p: UnsafeRawBufferPointer, _ i: Int) -> Int? {
        // Length of the line end starting at i, 0 if one may start here but more bytes are
        // needed, nil if none starts here.
        let b = p[i]
        let style = transcoder.eolStyle
        switch b {
        case 0x0A:
            return 1
        case 0x0D:
            return style == .none ? nil : 1
        case 0x85 where style.isUnicode && transcoder.codec == .latin1:
            return 1
        case 0xC2 where style.isUnicode && transcoder.codec == .utf8:
            if i + 1 >= p.count { return 0 }
            return p[i + 1] == 0x85 ? 2 : nil
        case 0xE2 where style.isUnicode && transcoder.codec == .utf8:
            if i + 2 >= p.count { return i + 1 < p.count && p[i + 1] != 0x80 ? nil : 0 }
            return p[i + 1] == 0x80 && p[i + 2] == 0xA8 ? 3 : nil
        default:
            return nil
        }
    }

    /// Length of a swallowed LF (or NEL) at `i` after a CR; 0 when more bytes are needed.
    private func swallowLength(_ p: UnsafeRawBufferPointer, _ i: Int) -> Int? {
        if p[i] == 0x0A { return 1 }
        guard transcoder.eolStyle.isUnicode else { return nil }
        if transcoder.codec == .latin1 { return p[i] == 0x85 ? 1 : nil }
        if transcoder.codec == .utf8 && p[i] == 0xC2 {
            if i + 1 >= p.count { return 0 }
            return p[i + 1] == 0x85 ? 2 : nil
        }
        return nil
    }

    /// A complete buffered line, or nil when more input is needed.
    private func scanLine(limit: Int, includeSeparator: Bool) throws -> String? {
        while true {
            let outcome: ScanOutcome = buffer.withUnsafeReadableBytes { p in
                let n = p.count
                if n == 0 { return .needMore }
                if afterCR {
                    guard let len = swallowLength(p, 0) else { afterCR = false; return .skip(0) }
                    if len == 0 { return .needMore }
                    afterCR = false
                    return .skip(len)
                }
                if bufferBase == 0 && transcoder.codec == .utf8 && !discardingLine {
                    // A UTF-8 BOM at stream start is dropped.
                    let bom: [UInt8] = [0xEF, 0xBB, 0xBF]
                    let k = min(3, n)
                    if (0..<k).allSatisfy({ p[$0] == bom[$0] }) {
                        if k < 3 && !inputFinished { return .needMore }
                        if k == 3 { return .skip(3) }
                    }
                }
                var i = scanFrom
                if !lineEndsNeedNonASCII, i < n, let base = p.baseAddress {
                    // Only LF and CR end lines here: jump to the first with memchr.
                    let lf = memchr(base + i, 0x0A, n - i).map { UnsafeRawPointer($0) - base } ?? n
                    let cr = transcoder.eolStyle == .none || lf == i ? nil : memchr(base + i, 0x0D, lf - i).map { UnsafeRawPointer($0) - base }
                    i = cr ?? lf
                }
                while i < n {
                    let b = p[i]
                    if b == 0x0A || b == 0x0D || b >= 0x80 {
                        if let len = lineEndLength(p, i) {
                            if len == 0 { break }
                            var end = i + len
                            if b == 0x0D {
                                if end < n {
                                    if let s = swallowLength(p, end) {
                                        if s == 0 { afterCR = true }   // half a NEL: settled when the rest comes
                                        end += s
                                    }
                                } else {
                                    afterCR = true
                                }
                            }
                            return .line(contentEnd: i, next: end)
                        }
                    }
                    i += 1
                }
                scanFrom = i
                return i > limit ? .tooLong(i) : .needMore
            }
            switch outcome {
            case .needMore:
                return nil
            case .skip(let k):
                consume(k)
            case .tooLong(let seen):
                consume(seen)
                if discardingLine { continue }   // more of the line already reported
                discardingLine = true
                throw lineTooLong(limit)
            case .line(let contentEnd, let next):
                if discardingLine {
                    discardingLine = false
                    consume(next)
                    continue
                }
                if contentEnd > limit {
                    consume(next)
                    throw lineTooLong(limit)
                }
                var line: String
                do {
                    line = try buffer.withUnsafeReadableBytes { p throws(TranscoderError) in
                        try lineDecoder.decodeLine(UnsafeRawBufferPointer(rebasing: p[0..<contentEnd]), streamOffset: bufferBase)
                    }
                } catch {
                    consume(next)
                    throw StreamPortError.wrapping(error)
                }
                consume(next)
                if includeSeparator { line.append("\n") }
                return line
            }
        }
    }

    private enum ScanOutcome {
        case needMore
        case skip(Int)
        case tooLong(Int)
        case line(contentEnd: Int, next: Int)
    }

    private func consume(_ count: Int) {
        buffer.moveReaderIndex(forwardBy: count)
        bufferBase += count
        scanFrom = max(0, scanFrom - count)
    }

    private func lineTooLong(_ limit: Int) -> StreamPortError {
        StreamPortError(.lineTooLong, "line from \(remoteAddress) is longer than \(limit) bytes; the rest of it is skipped")
    }

    /// The unterminated last line at end of stream, or nil.
    private func finalLine(limit: Int) throws -> String? {
        guard buffer.readableBytes > 0 else { return nil }
        if discardingLine {
            consume(buffer.readableBytes)
            discardingLine = false
            return nil
        }
        // An incomplete BOM or line end (C2 / E2 80 at the very end) is content now.
        let count = buffer.readableBytes
        if count > limit {
            consume(count)
            throw lineTooLong(limit)
        }
        do {
            let line = try buffer.withUnsafeReadableBytes { p throws(TranscoderError) in
                try lineDecoder.decodeLine(p, streamOffset: bufferBase)
            }
            consume(count)
            return line
        } catch {
            consume(count)
            throw StreamPortError.wrapping(error)
        }
    }

    // MARK: Input

    /// Moves received bytes into the buffer, waiting for the network if there are none.
    /// Returns false once no more bytes will come.
    ///
    /// The synchronous steps live in separate functions that are not inlined, so that the
    /// async frame a waiting connection keeps stays small.
    private func fill() async throws -> Bool {
        while true {
            if let more = try takeInboundOrEnd() { return more }
            if prepareToWait() { try await waitWritable() }
            try await waitForInput()
        }
    }

    /// True when bytes were taken, false at the end of input, nil when there are none yet.
    /// - Throws: the connection's failure (a reset), if it ended with one.
    @inline(never)
    private func takeInboundOrEnd() throws -> Bool? {
        if takeInbound() { return true }
        let (ended, failure) = shared.state.withLock { ($0.inputEnded && $0.inbound.isEmpty, $0.failure) }
        guard ended else { return nil }
        if let failure, failure.code != .closed {
            throw failure
        }
        inputFinished = true
        return false
    }

    /// Before waiting for the network: hands pending output to the socket and lets go of the
    /// consumed receive buffer (the channel then reads into it again instead of allocating
    /// another, and an idle connection holds none). True when the socket is not writable.
    @inline(never)
    private func prepareToWait() -> Bool {
        handOff()
        if buffer.readableBytes == 0 && !charMode {
            buffer = ClientStream.emptyBuffer
            scanFrom = 0
        }
        return shared.state.withLock { !$0.writable && !$0.closed }
    }

    /// Appends everything the handler received; true if anything was.
    private func takeInbound() -> Bool {
        let needRead = shared.state.withLock { s -> Bool? in
            // Nothing while the peer is not taking our output: the reader then flushes and
            // waits for writability in fill() instead of reading on and piling up replies.
            guard !s.inbound.isEmpty, s.writable else { return nil }
            swap(&s.inbound, &spare)
            s.inboundBytes = 0
            let request = !s.readInFlight && !s.inputEnded
            if request { s.readInFlight = true }
            return request
        }
        guard let needRead else { return false }
        for chunk in spare {
            if buffer.readableBytes == 0 && !charMode {
                buffer = chunk
            } else {
                if buffer.readerIndex > 65536 && buffer.readerIndex > buffer.readableBytes {
                    buffer.discardReadBytes()
                }
                var chunk = chunk
                buffer.writeBuffer(&chunk)
            }
        }
        spare.removeAll(keepingCapacity: true)
        if needRead { channel.read() }
        return true
    }

    /// Waits until input arrives, the input ends, ``readTimeout`` passes or the task is
    /// cancelled. The work is in synchronous helpers: the async frames a waiting connection
    /// keeps stay small (the whole chain of a waiting echo task fits one task-allocator slab).
    private func waitForInput() async throws {
        let timer = startReadTimer()
        await withTaskCancellationHandler {
            await withUnsafeContinuation { continuation in self.parkReader(continuation) }
        } onCancel: { [shared] in
            shared.interruptReader(timedOut: false)
        }
        try endWait(timer)
    }

    @inline(never)
    private func startReadTimer() -> Scheduled<Void>? {
        guard let timeout = readTimeout else { return nil }
        let shared = self.shared
        return channel.eventLoop.scheduleTask(in: TimeAmount(timeout)) {
            shared.interruptReader(timedOut: true)
        }
    }

    /// Stores the reader's continuation (or resumes it at once) and asks for a read if none is
    /// in flight.
    @inline(never)
    private func parkReader(_ continuation: UnsafeContinuation<Void, Never>) {
        let (ready, requestRead) = shared.state.withLock { s -> (Bool, Bool) in
            // Checked under the lock: a cancellation handler that ran before the waiter was
            // stored (an already-cancelled task) found nothing to resume.
            if !s.inbound.isEmpty || s.inputEnded || Task.isCancelled { return (true, false) }
            s.readWaiter = continuation
            let request = !s.readInFlight
            if request { s.readInFlight = true }
            return (false, request)
        }
        if ready { continuation.resume() }
        if requestRead { channel.read() }
    }

    @inline(never)
    private func endWait(_ timer: Scheduled<Void>?) throws {
        timer?.cancel()
        let timedOut = shared.state.withLock { s -> Bool in
            let t = s.waitTimedOut
            s.waitTimedOut = false
            return t
        }
        try Task.checkCancellation()
        if timedOut {
            throw StreamPortError(.timedOut, "read from \(remoteAddress) timed out after \(readTimeout.map { "\($0)" } ?? "its timeout")")
        }
    }

    // MARK: Characters

    private func enterCharMode() throws {
        guard !charMode else { return }
        if scalarDecoder == nil {
            do { scalarDecoder = try ScalarDecoder(transcoder) } catch { throw StreamPortError.wrapping(error) }
        }
        scalarDecoder!.reset()
        scalarDecoder!.translator.afterCR = afterCR
        afterCR = false
        charMode = true
        fed = 0
        decoderFinished = false
    }

    private func enterByteMode() {
        guard charMode, let decoder = scalarDecoder else { return }
        let position: Int
        if scalarIndex < scalars.count {
            position = scalarOffsets[scalarIndex]
            afterCR = false
        } else if let offset = pendingDecodeError?.error.transcoderError?.byteOffset {
            position = offset   // the decoder stopped at bytes it cannot decode: they are read as bytes
            afterCR = decoder.translator.afterCR
        } else {
            position = bufferBase + fed - decoder.pendingByteCount
            afterCR = decoder.translator.afterCR
        }
        let skip = max(0, min(position - bufferBase, buffer.readableBytes))
        consume(skip)
        scalars.removeAll(keepingCapacity: true)
        scalarOffsets.removeAll(keepingCapacity: true)
        scalarIndex = 0
        pendingDecodeError = nil
        charMode = false
        fed = 0
        scanFrom = 0
    }

    /// Ensures at least `count` unread scalars; false when fewer remain before the end of
    /// stream or before a pending decoding error.
    private func ensureScalars(_ count: Int) async throws -> Bool {
        try enterCharMode()
        while scalars.count - scalarIndex < count {
            if pendingDecodeError != nil { return false }
            compactScalars()
            if buffer.readableBytes > fed {
                decodeMore(final: false)
            } else if !inputFinished, try await fill() {
                continue
            } else if !decoderFinished {
                decoderFinished = true
                decodeMore(final: true)
            } else {
                return false
            }
        }
        return true
    }

    private func compactScalars() {
        guard scalarIndex > 0 && scalarIndex == scalars.count, let decoder = scalarDecoder else { return }
        scalars.removeAll(keepingCapacity: true)
        scalarOffsets.removeAll(keepingCapacity: true)
        scalarIndex = 0
        let drop = max(0, fed - decoder.pendingByteCount)
        buffer.moveReaderIndex(forwardBy: drop)
        bufferBase += drop
        fed -= drop
    }

    private func decodeMore(final: Bool) {
        guard let decoder = scalarDecoder else { return }
        let result = buffer.withUnsafeReadableBytes { p in
            decoder.decode(
                UnsafeRawBufferPointer(rebasing: p[fed...]), streamOffset: bufferBase + fed, final: final,
                scalars: &scalars, offsets: &scalarOffsets)
        }
        fed += result.consumed
        if let error = result.error {
            pendingDecodeError = (scalars.count, StreamPortError.wrapping(error))
        }
    }

    /// Throws a pending decoding error once every scalar before it has been read.
    private func throwPendingErrorIfDue() throws {
        if let pending = pendingDecodeError, pending.index <= scalarIndex {
            pendingDecodeError = nil
            throw pending.error
        }
    }

    private func readLineDecoded(separator: Character, includeSeparator: Bool, limit: Int) async throws -> String? {
        guard separator.unicodeScalars.count == 1, let sep = separator.unicodeScalars.first else {
            throw StreamPortError(.operation, "readLine separator \"\(separator)\" must be a single Unicode scalar")
        }
        var searched = 0
        while true {
            var i = scalarIndex + searched
            while i < scalars.count && scalars[i] != sep { i += 1 }
            if i < scalars.count {
                // As on the byte path: the limit counts bytes on the wire, line end excluded,
                // and the rest of a line found too long before its end arrived is skipped.
                if discardingLine || scalarOffsets[i] - scalarOffsets[scalarIndex] > limit {
                    let reported = discardingLine
                    discardingLine = false
                    scalarIndex = i + 1
                    searched = 0
                    if reported { continue }
                    throw lineTooLong(limit)
                }
                let line = takeScalars(i - scalarIndex, thenSkip: 1)
                return includeSeparator ? line + String(separator) : line
            }
            searched = i - scalarIndex
            if searched > 0 && (discardingLine || scalarOffsets[i - 1] - scalarOffsets[scalarIndex] >= limit) {
                scalarIndex = i
                searched = 0
                if !discardingLine {
                    discardingLine = true
                    throw lineTooLong(limit)
                }
            }
            if try await ensureScalars(searched + 1) { continue }
            if let pending = pendingDecodeError {
                // The partial line holding the bad bytes is dropped; complete lines came first.
                scalarIndex = min(pending.index, scalars.count)
                try throwPendingErrorIfDue()
            }
            if discardingLine {
                discardingLine = false
                scalarIndex = scalars.count
                return nil
            }
            if scalarIndex >= scalars.count { return nil }
            return takeScalars(scalars.count - scalarIndex, thenSkip: 0)
        }
    }

    private func takeScalars(_ count: Int, thenSkip skip: Int) -> String {
        var view = String.UnicodeScalarView()
        view.append(contentsOf: scalars[scalarIndex..<(scalarIndex + count)])
        scalarIndex += count + skip
        return String(view)
    }

    /// Reads one character (a Unicode scalar, as in Scheme), or nil at end of stream.
    /// - Throws: ``StreamPortError`` (`.decoding`, `.timedOut`, …).
    public func readChar() async throws -> Unicode.Scalar? {
        guard try await ensureScalars(1) else { try throwPendingErrorIfDue(); return nil }
        defer { scalarIndex += 1 }
        return scalars[scalarIndex]
    }

    /// The next character without consuming it, or nil at end of stream.
    /// - Throws: ``StreamPortError`` (`.decoding`, `.timedOut`, …).
    public func peekChar() async throws -> Unicode.Scalar? {
        guard try await ensureScalars(1) else { try throwPendingErrorIfDue(); return nil }
        return scalars[scalarIndex]
    }

    /// Reads `count` characters (fewer only at end of stream; nil if none remain).
    /// - Parameter count: how many Unicode scalars to read.
    /// - Throws: ``StreamPortError`` (`.decoding`, `.timedOut`, …).
    public func readChars(_ count: Int) async throws -> String? {
        guard count > 0 else { return "" }
        _ = try await ensureScalars(count)
        let n = min(count, scalars.count - scalarIndex)
        if n == 0 {
            try throwPendingErrorIfDue()
            return nil
        }
        return takeScalars(n, thenSkip: 0)
    }

    /// Reads every remaining character until the end of stream ("" at the end).
    /// - Throws: ``StreamPortError`` (`.decoding`, `.timedOut`, …).
    public func readAll() async throws -> String {
        var text = ""
        while let chunk = try await readChars(65536) { text += chunk }
        return text
    }

    // MARK: Bytes

    private func swallowPendingLF() {
        guard afterCR, buffer.readableBytes > 0 else { return }
        let len = buffer.withUnsafeReadableBytes { swallowLength($0, 0) }
        if let len, len > 0 { consume(len) }
        if len != 0 { afterCR = false }
    }

    private func ensureBytes(_ count: Int) async throws {
        enterByteMode()
        swallowPendingLF()
        // Still after a CR with bytes buffered: they start a NEL that may be swallowed.
        while buffer.readableBytes < count || (afterCR && buffer.readableBytes > 0) {
            if inputFinished { return }
            if !(try await fill()) { return }
            swallowPendingLF()
        }
    }

    /// Reads one byte, or nil at end of stream.
    /// - Throws: ``StreamPortError`` (`.timedOut`, `.connectionReset`).
    public func readByte() async throws -> UInt8? {
        try await ensureBytes(1)
        guard let byte = buffer.readInteger(as: UInt8.self) else { return nil }
        bufferBase += 1
        return byte
    }

    /// Reads exactly `count` bytes, waiting for them; fewer only at end of stream (nil if none).
    /// After ``readLine(separator:includeSeparator:maxLength:)`` these are exactly the bytes that
    /// followed that line on the wire.
    /// - Parameter count: how many bytes.
    /// - Throws: ``StreamPortError`` (`.timedOut`, `.connectionReset`).
    public func readBytes(_ count: Int) async throws -> [UInt8]? {
        guard count > 0 else { return [] }
        try await ensureBytes(count)
        let n = min(count, buffer.readableBytes)
        guard n > 0 else { return nil }
        bufferBase += n
        return buffer.readBytes(length: n)
    }

    /// The bytes already received (waiting only if there are none), or nil at end of stream.
    /// - Throws: ``StreamPortError`` (`.timedOut`, `.connectionReset`).
    public func readAvailableBytes() async throws -> [UInt8]? {
        try await ensureBytes(1)
        _ = takeInbound()
        let n = buffer.readableBytes
        guard n > 0 else { return nil }
        bufferBase += n
        return buffer.readBytes(length: n)
    }

    /// Every byte until the end of stream.
    /// - Throws: ``StreamPortError`` (`.timedOut`, `.connectionReset`).
    public func readAllBytes() async throws -> [UInt8] {
        var all: [UInt8] = []
        while let chunk = try await readAvailableBytes() { all += chunk }
        return all
    }

    // MARK: Output

    /// Writes `string` through the transcoder (each `"\n"` in the EOL style).
    /// - Parameter string: the text.
    /// - Throws: ``StreamPortError`` `.encoding` (`.raise` mode) or `.closed`.
    public func write(_ string: String) throws {
        let pending = try writer.withLock { (w: inout Writer) throws(StreamPortError) -> Int in
            guard !w.closed else { throw StreamPortError(.closed, "write to \(remoteAddress): the writer is closed") }
            if utf8PassThrough {
                w.out.writeString(string)
                return w.out.readableBytes
            }
            do throws(TranscoderError) { try w.encoder.encode(string, into: &w.out) } catch { throw StreamPortError.wrapping(error) }
            return w.out.readableBytes
        }
        afterWrite(newline: buffering == .line && string.utf8.contains(0x0A), pending: pending)
    }

    /// Writes raw bytes, bypassing the transcoder.
    /// - Parameter bytes: the bytes.
    /// - Throws: ``StreamPortError`` `.closed`.
    public func write(bytes: some Sequence<UInt8>) throws {
        let pending = try writer.withLock { (w: inout Writer) throws(StreamPortError) -> Int in
            guard !w.closed else { throw StreamPortError(.closed, "write to \(remoteAddress): the writer is closed") }
            w.out.writeBytes(bytes)
            return w.out.readableBytes
        }
        afterWrite(newline: buffering == .line, pending: pending)
    }

    /// Writes `string` then a line end, in one step (the hot path of a line server).
    /// - Parameter string: the line.
    /// - Throws: ``StreamPortError`` `.encoding` (`.raise` mode; nothing of the line is
    ///   written after the unencodable character) or `.closed`.
    public func showln(_ string: String) throws {
        let pending = try writer.withLock { (w: inout Writer) throws(StreamPortError) -> Int in
            guard !w.closed else { throw StreamPortError(.closed, "write to \(remoteAddress): the writer is closed") }
            if utf8PassThrough {
                ClientStream.writeUTF8Line(string, into: &w.out)
                return w.out.readableBytes
            }
            do throws(TranscoderError) {
                try w.encoder.encode(string, into: &w.out)
                if let lineEndBytes { w.out.writeBytes(lineEndBytes) } else { try w.encoder.encode("\n", into: &w.out) }
            } catch {
                throw StreamPortError.wrapping(error)
            }
            return w.out.readableBytes
        }
        afterWrite(newline: buffering == .line, pending: pending)
    }

    /// Appends `string`'s UTF-8 bytes and an LF in one step.
    @inline(__always)
    private static func writeUTF8Line(_ string: String, into out: inout ByteBuffer) {
        var string = string
        string.withUTF8 { utf8 in
            _ = out.writeWithUnsafeMutableBytes(minimumWritableBytes: utf8.count + 1) { raw in
                raw.copyMemory(from: UnsafeRawBufferPointer(utf8))
                raw[utf8.count] = 0x0A
                return utf8.count + 1
            }
        }
    }

    /// Writes the items' textual forms, one after another, like Slogan's `show`.
    /// - Parameter items: the values to show.
    /// - Throws: ``StreamPortError`` `.encoding` (`.raise` mode) or `.closed`.
    public func show(_ items: Any...) throws {
        try write(items.map { $0 as? String ?? String(describing: $0) }.joined())
    }

    /// ``show(_:)`` then a line end.
    /// - Parameter items: the values to show.
    /// - Throws: ``StreamPortError`` `.encoding` (`.raise` mode) or `.closed`.
    public func showln(_ items: Any...) throws {
        try showln(items.map { $0 as? String ?? String(describing: $0) }.joined())
    }

    /// Writes a line (seed 003's `writeLn`).
    /// - Parameter string: the line, without its end.
    /// - Throws: ``StreamPortError`` `.encoding` (`.raise` mode) or `.closed`.
    public func writeLine(_ string: String) throws {
        try showln(string)
    }

    private func afterWrite(newline: Bool, pending: Int) {
        if buffering == .unbuffered || newline || pending >= StreamShared.outputHandOff { handOff() }
    }

    /// Gives pending output to the socket without waiting.
    @discardableResult
    func handOff() -> Bool {
        guard var pending = writer.withLock({ (w: inout Writer) -> ByteBuffer? in
            guard w.out.readableBytes > 0 else { return nil }
            var out = ClientStream.emptyBuffer
            swap(&out, &w.out)
            return out
        }) else { return false }
        if let observer = shared.observer {
            let count = pending.readableBytes
            let promise = channel.eventLoop.makePromise(of: Void.self)
            promise.futureResult.whenSuccess { observer(.wrote(count)) }
            channel.writeAndFlush(pending, promise: promise)
        } else {
            channel.writeAndFlush(pending, promise: nil)
        }
        // On the event loop the socket usually takes it all at once and lets go of the
        // buffer: it becomes the next output buffer, without an allocation.
        // If the channel still holds it (a hand-off from off the event loop, a partial
        // write), `clear(minimumCapacity: 0)` starts an empty buffer instead of copying its
        // capacity.
        guard pending.capacity <= ClientStream.recycledOutputCapacity else { return true }
        pending.clear(minimumCapacity: 0)
        writer.withLock { (w: inout Writer) in
            if w.out.readableBytes == 0 { w.out = pending }
        }
        return true
    }

    /// A shared empty buffer: a placeholder that allocates only when written to.
    static let emptyBuffer = ByteBufferAllocator().buffer(capacity: 0)

    /// The largest output buffer kept for the next writes once handed off.
    static let recycledOutputCapacity = 1024 * 1024

    /// Hands pending output to the socket and waits while the peer is not reading (the
    /// channel's write buffer is over its high watermark).
    /// - Throws: ``StreamPortError`` `.timedOut` after ``writeTimeout``, `.closed`.
    public func flushWriter() async throws {
        handOff()
        try await waitWritable()
    }

    private func waitWritable() async throws {
        let shared = self.shared
        guard let ticket = shared.state.withLock({ s -> Int? in
            if s.writable || s.closed { return nil }
            s.writeTickets += 1
            return s.writeTickets
        }) else { return }
        let timeout = writeTimeout
        let scheduled: Scheduled<Void>? = timeout.map { t in
            channel.eventLoop.scheduleTask(in: TimeAmount(t)) {
                shared.interruptWriter(ticket)
            }
        }
        await withTaskCancellationHandler {
            await withUnsafeContinuation { (continuation: UnsafeContinuation<Void, Never>) in
                let ready = shared.state.withLock { s -> Bool in
                    if s.writable || s.closed || Task.isCancelled { return true }
                    s.writeWaiters[ticket] = continuation
                    return false
                }
                if ready { continuation.resume() }
            }
        } onCancel: {
            shared.interruptWriter(ticket)
        }
        scheduled?.cancel()
        try Task.checkCancellation()
        if !shared.state.withLock({ $0.writable || $0.closed }) {
            throw StreamPortError(.timedOut, "write to \(remoteAddress) timed out after \(timeout!): the peer is not reading")
        }
    }

    // MARK: Lifecycle

    /// Flushes pending output (and a stateful encoding's reset sequence), waits until the
    /// socket has taken all of it (at most ``writeTimeout``; ``abort()`` from another task also
    /// ends the wait), then closes both directions. Idempotent.
    /// - Throws: nothing in practice; a connection already gone is not an error.
    public func close() async throws {
        finishEncoding()
        handOff()
        writer.withLock { $0.closed = true }
        await drainWrites()
        try? await channel.close()
    }

    /// Waits until every write handed to the channel has reached the socket: NIO's
    /// `close()` fails writes still pending, and once the peer has half-closed so does
    /// `close(mode: .output)`.
    private func drainWrites() async {
        let channel = self.channel
        guard channel.isActive else { return }
        let written = channel.eventLoop.makePromise(of: Void.self)
        channel.writeAndFlush(channel.allocator.buffer(capacity: 0), promise: written)
        let timer = writeTimeout.map { t in
            channel.eventLoop.scheduleTask(in: TimeAmount(t)) {
                channel.close(promise: nil)
            }
        }
        try? await written.futureResult.get()
        timer?.cancel()
    }

    /// Closes the input side: later reads return end of stream. The peer may still read what
    /// this side writes.
    /// - Throws: nothing in practice.
    public func closeReader() async throws {
        inputFinished = true
        buffer.clear()
        try? await channel.close(mode: .input)
    }

    /// Flushes and waits as ``close()`` does, then closes the output side (the peer sees end
    /// of stream and may keep sending; this side keeps reading).
    /// - Throws: nothing in practice.
    public func closeWriter() async throws {
        finishEncoding()
        handOff()
        writer.withLock { $0.closed = true }
        await drainWrites()
        try? await channel.close(mode: .output)
    }

    /// Discards pending output and resets the connection (RST).
    public func abort() async {
        writer.withLock {
            $0.out.clear()
            $0.closed = true
        }
        if let provider = channel as? any SocketOptionProvider {
            try? await provider.setSoLinger(linger(l_onoff: 1, l_linger: 0)).get()
        }
        try? await channel.close()
    }

    /// True when the stream holds received bytes not yet read: buffered, or decoded into
    /// characters not yet read (STARTTLS refuses to upgrade over them).
    var holdsUnreadInput: Bool {
        if charMode {
            return scalarIndex < scalars.count || buffer.readableBytes > fed
                || (scalarDecoder?.pendingByteCount ?? 0) > 0 || pendingDecodeError != nil
        }
        return buffer.readableBytes > 0
    }

    private func finishEncoding() {
        writer.withLock { w in
            guard !w.closed else { return }
            try? w.encoder.finish(into: &w.out)
        }
    }
}

extension ByteBuffer: EncodedByteSink {
    @inlinable
    public mutating func appendEncoded(_ bytes: UnsafeRawBufferPointer) { writeBytes(bytes) }

    @inlinable
    public mutating func appendEncoded(reservingCapacity capacity: Int, _ body: (UnsafeMutableRawBufferPointer) -> Int) {
        writeWithUnsafeMutableBytes(minimumWritableBytes: capacity, body)
    }
}
