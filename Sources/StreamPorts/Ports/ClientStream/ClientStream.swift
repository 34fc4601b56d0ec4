import NIOCore
import NIOPosix
import Synchronization

/// A connected TCP stream port: characters (through a `Transcoder`) and bytes, in and out.
///
/// Accepted connections come from ``ServerStream/read()``; outgoing ones from
/// ``tcpClientStream(_:keepAlive:coalesce:transcoder:connectTimeout:maxLineLength:)``.
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
    // Why `@unchecked Sendable`: one task reads while another writes, and whoever holds the
    // stream may close it. What guards what:
    // - `shared`: everything the connection's event loop also touches (received buffers,
    //   waiters, writability, end of input) is under its `Mutex`.
    // - `output`: the writer's state (pending bytes, the encoder, closed) is under its own
    //   `Mutex`: the writing task fills it, the reading task hands it off before it waits,
    //   close and abort come from either task.
    // - `input` and `characters`: the reader's state, touched only by the one reading task (the
    //   contract above; closeReader, bytesAvailable and eof count as reads), so the per-line
    //   path takes no lock for it. They are `@exclusivity(unchecked)`: the contract, not a
    //   dynamic check (about 5 % of a line echo), keeps their accesses apart.
    // - `settings`: plain values, set by the task that uses them or before the stream is shared
    //   (Configuration says which for each).
    // - The rest is immutable; `lineDecoder` (mutable inside) is used by the reading task only.
    //
    // One file per facet: lines (ClientStream+Lines; framed on bytes by LineFramer), characters
    // (+Characters; ScalarReader), bytes (+Bytes), waiting for input (+Input; InputBuffer),
    // output (+Output; OutputBuffer), closing (+Closing), settings (+Configuration), addresses
    // (+Addresses).

    /// The transcoder characters go through.
    public let transcoder: Transcoder

    let channel: any Channel
    let shared: StreamShared

    /// The settings (``configuration``); reading and writing take them from here.
    @exclusivity(unchecked) var settings: Configuration
    /// The reader's bytes and line framing.
    @exclusivity(unchecked) var input: InputBuffer
    /// The reader's decoded characters (only once a character is read, or for codecs whose
    /// line ends cannot be found on bytes).
    @exclusivity(unchecked) var characters = ScalarReader()
    /// Lines whose ends are found on the raw bytes (`Codec.lineEndsAreByteScannable(for:)`).
    let byteScan: Bool
    /// Decodes the lines framed on bytes.
    let lineDecoder: TextDecoder
    /// The writer's state.
    let output: Mutex<OutputBuffer>

    init(channel: any Channel, shared: StreamShared, transcoder: Transcoder, maxLineLength: Int) throws(TranscoderError)
    {
        self.channel = channel
        self.shared = shared
        self.transcoder = transcoder
        self.settings = Configuration(maxLineLength: maxLineLength)
        let byteScan = transcoder.codec.lineEndsAreByteScannable(for: transcoder.eolStyle)
        // ICU codecs (not the one UTF-8 the tests force through ICU, whose BOM rule is per
        // line) decode the complete lines of a read in one run.
        let batches = byteScan && transcoder.codec.convertsThroughICU && transcoder.codec.name != "UTF-8"
        self.input = InputBuffer(
            framer: LineFramer(codec: transcoder.codec, eolStyle: transcoder.eolStyle),
            batchDecoding: batches ? DecodedLines(crEndsLines: transcoder.eolStyle != .none) : nil)
        self.byteScan = byteScan
        self.lineDecoder = try transcoder.makeDecoder()
        self.output = Mutex(try OutputBuffer(transcoder))
    }

    /// A task executor that runs on this connection's event loop: a task preferring it reads
    /// and writes without hopping threads.
    ///
    /// ```swift
    /// Task(executorPreference: client.executor) { try await echo(client) }
    /// ```
    public var executor: any TaskExecutor { EventLoopTaskExecutor.for(channel.eventLoop) }

    // MARK: State

    /// Bytes received and not yet read. Ask from the reading task, as for a read.
    public var bytesAvailable: Int {
        let inbound = shared.state.withLock { $0.inboundBytes }
        return input.readableBytes + inbound
    }

    /// True once the peer has closed its side and everything it sent has been read. Ask from
    /// the reading task, as for a read.
    public var eof: Bool {
        let (ended, pending) = shared.state.withLock { ($0.inputEnded, $0.inboundBytes) }
        return ended && pending == 0 && input.readableBytes == 0 && characters.available <= 0
    }

    /// True when the stream holds received bytes not yet read: buffered, or decoded into
    /// characters not yet read (STARTTLS refuses to upgrade over them). Ask from the reading
    /// task.
    var holdsUnreadInput: Bool {
        characters.isActive ? characters.holdsUnread(input) : input.readableBytes > 0
    }

    /// A shared empty buffer: a placeholder that allocates only when written to.
    static let emptyBuffer = ByteBufferAllocator().buffer(capacity: 0)

    /// The largest output buffer kept for the next writes once handed off.
    static let recycledOutputCapacity = 1024 * 1024
}
