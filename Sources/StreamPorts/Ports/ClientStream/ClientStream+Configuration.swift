extension ClientStream {
    /// Buffering of output (seed 003's Alore modes).
    public enum Buffering: Sendable, Hashable {
        /// Every write goes out at once.
        case unbuffered
        /// Output is flushed at each newline.
        case line
        /// Explicit ``ClientStream/flushWriter()``, plus the automatic flush before a read
        /// waits, and a hand-off to the socket whenever 256 KiB are pending.
        case buffered
    }

    /// A stream's settings, as one value.
    ///
    /// Settings are plain values, not synchronized (the per-line path reads them without a
    /// lock): set each from the task that uses it, or before the stream is shared between
    /// tasks. ``maxLineLength`` and ``readTimeout`` are used by the reading task,
    /// ``buffering`` by the writing task, and ``writeTimeout`` by both
    /// (``ClientStream/flushWriter()``, the automatic flush before a read waits, and closing):
    /// set it before a second task uses the stream. Setting one while another task uses it
    /// is a data race.
    public struct Configuration: Sendable, Hashable {
        /// The longest line ``ClientStream/readLine(separator:includeSeparator:maxLength:)``
        /// accepts, in bytes on the wire, line end excluded (default 1 MiB). A longer line
        /// throws `.lineTooLong`; the stream then skips the rest of that line and continues
        /// with the next one.
        public var maxLineLength: Int
        /// How long a read may wait for the network before throwing `.timedOut` (nil:
        /// forever). The stream stays usable after a timeout.
        public var readTimeout: Duration?
        /// How long ``ClientStream/flushWriter()`` (and the flush before a read waits, and
        /// closing) may wait for a peer that does not read (nil: forever).
        public var writeTimeout: Duration?
        /// When output goes to the socket.
        public var buffering: Buffering

        /// Settings; the defaults are a new stream's.
        /// - Parameters:
        ///   - maxLineLength: the longest line, in bytes (default 1 MiB).
        ///   - readTimeout: how long a read may wait (nil: forever).
        ///   - writeTimeout: how long a flush may wait (nil: forever).
        ///   - buffering: when output goes to the socket.
        public init(
            maxLineLength: Int = StreamDefaults.maxLineLength, readTimeout: Duration? = nil,
            writeTimeout: Duration? = nil, buffering: Buffering = .buffered
        ) {
            self.maxLineLength = maxLineLength
            self.readTimeout = readTimeout
            self.writeTimeout = writeTimeout
            self.buffering = buffering
        }
    }

    /// All the settings at once. Set it before the stream is shared between tasks (see
    /// ``Configuration``).
    public var configuration: Configuration {
        get { settings }
        set { settings = newValue }
    }

    /// The longest line ``readLine(separator:includeSeparator:maxLength:)`` accepts, in bytes on
    /// the wire, line end excluded (default 1 MiB). A longer line throws `.lineTooLong`; the
    /// stream then skips the rest of that line and continues with the next one. Set it from
    /// the reading task (or before the stream is shared).
    public var maxLineLength: Int {
        get { settings.maxLineLength }
        set { settings.maxLineLength = newValue }
    }

    /// How long a read may wait for the network before throwing `.timedOut` (nil: forever).
    /// The stream stays usable after a timeout. Set it from the reading task (or before the
    /// stream is shared).
    public var readTimeout: Duration? {
        get { settings.readTimeout }
        set { settings.readTimeout = newValue }
    }

    /// How long ``flushWriter()`` may wait for a peer that does not read (nil: forever); also
    /// bounds the automatic flush before a read waits, and the flush on close. Set it before
    /// the stream is shared between tasks: both the reading and the writing task use it.
    public var writeTimeout: Duration? {
        get { settings.writeTimeout }
        set { settings.writeTimeout = newValue }
    }

    /// When output goes to the socket. Set it from the writing task (or before the stream is
    /// shared).
    public var buffering: Buffering {
        get { settings.buffering }
        set { settings.buffering = newValue }
    }
}
