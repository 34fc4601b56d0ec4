extension ClientStream {
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
    /// - Throws: ``StreamPortError``: `.lineTooLong` (the rest of that line is skipped),
    ///   `.decoding` (`.raise` mode; lines before the bad bytes were delivered first),
    ///   `.timedOut` (after ``readTimeout``), `.connectionReset`, `.invalidArgument` (a `separator`
    ///   of more than one Unicode scalar). A cancelled task gets `CancellationError`.
    public func readLine(
        separator: Character = "\n", includeSeparator: Bool = false, maxLength: Int? = nil
    ) async throws -> String? {
        let limit = maxLength ?? settings.maxLineLength
        if separator == "\n" && byteScan && !characters.isActive {
            while true {
                if let line = try scanLine(limit: limit, includeSeparator: includeSeparator) {
                    input.linesRead &+= 1
                    return line
                }
                if input.finished { return try finalLine(limit: limit) }
                if !(try await fill()) { return try finalLine(limit: limit) }
            }
        }
        return try await readLineDecoded(separator: separator, includeSeparator: includeSeparator, limit: limit)
    }

    /// The lines of the stream, until its end.
    public var lines: Lines { Lines(stream: self) }

    /// An `AsyncSequence` of a stream's lines.
    public struct Lines: AsyncSequence, Sendable {
        /// A line, as ``ClientStream/readLine(separator:includeSeparator:maxLength:)`` returns it.
        public typealias Element = String
        let stream: ClientStream

        /// Reads the lines one by one.
        public struct AsyncIterator: AsyncIteratorProtocol {
            let stream: ClientStream
            /// The next line, nil at end of stream.
            /// - Throws: as ``ClientStream/readLine(separator:includeSeparator:maxLength:)``.
            public mutating func next() async throws -> String? { try await stream.readLine() }
        }

        /// An iterator over the stream's lines.
        public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(stream: stream) }
    }

    /// Reads every remaining line (seed 003's `readLines`).
    /// - Throws: as ``readLine(separator:includeSeparator:maxLength:)``.
    public func readLines() async throws -> [String] {
        var all: [String] = []
        while let line = try await readLine() { all.append(line) }
        return all
    }

    // MARK: Lines framed on bytes

    // The synchronous steps of readLine are not inlined into it: its async frame, which a
    // waiting connection keeps, stays small (80 bytes instead of about 1 KiB, a task-allocator
    // slab more per connection).

    /// A complete buffered line, or nil when more input is needed.
    @inline(never)
    private func scanLine(limit: Int, includeSeparator: Bool) throws -> String? {
        do {
            return try input.nextLine(limit: limit, includeSeparator: includeSeparator, decoder: lineDecoder)
        } catch {
            throw lineFailure(error, limit: limit)
        }
    }

    /// The unterminated last line at end of stream, or nil.
    @inline(never)
    private func finalLine(limit: Int) throws -> String? {
        if input.cutShort { return nil }  // a shutdown, not the peer, ended the input
        do {
            let line = try input.finalLine(limit: limit, decoder: lineDecoder)
            if line != nil { input.linesRead &+= 1 }
            return line
        } catch {
            throw lineFailure(error, limit: limit)
        }
    }

    @inline(never)
    private func lineFailure(_ failure: InputBuffer.LineFailure, limit: Int) -> StreamPortError {
        let error =
            switch failure {
            case .tooLong: lineTooLong(limit)
            case .undecodable(let error): StreamPortError.wrapping(error)
            }
        shared.noteError(error)
        return error
    }

    /// The error for a line over `limit` bytes.
    @inline(never)
    func lineTooLong(_ limit: Int) -> StreamPortError {
        StreamPortError(
            .lineTooLong, "line from \(remoteEndpoint) is longer than \(limit) bytes; the rest of it is skipped")
    }
}
