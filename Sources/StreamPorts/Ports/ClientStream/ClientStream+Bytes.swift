// Reading bytes: exactly the bytes on the wire after whatever was read before, lines or
// characters.
extension ClientStream {
    /// Reads one byte, or nil at end of stream.
    /// - Throws: ``StreamPortError``: `.timedOut` (after ``readTimeout``), `.connectionReset`;
    ///   `CancellationError`.
    public func readByte() async throws -> UInt8? {
        try await ensureBytes(1)
        return input.readByte()
    }

    /// Reads exactly `count` bytes, waiting for them; fewer only at end of stream (nil if none).
    /// After ``readLine(separator:includeSeparator:maxLength:)`` these are exactly the bytes that
    /// followed that line on the wire.
    /// - Parameter count: how many bytes.
    /// - Throws: as ``readByte()``.
    public func readBytes(_ count: Int) async throws -> [UInt8]? {
        guard count > 0 else { return [] }
        try await ensureBytes(count)
        return input.readBytes(upTo: count)
    }

    /// The bytes already received (waiting only if there are none), or nil at end of stream.
    /// - Throws: as ``readByte()``.
    public func readAvailableBytes() async throws -> [UInt8]? {
        try await ensureBytes(1)
        return takeAvailableBytes()
    }

    /// Every byte until the end of stream.
    /// - Throws: as ``readByte()``.
    public func readAllBytes() async throws -> [UInt8] {
        var all: [UInt8] = []
        while let chunk = try await readAvailableBytes() { all += chunk }
        return all
    }

    /// Everything received so far (kept out of the async frames).
    @inline(never)
    private func takeAvailableBytes() -> [UInt8]? {
        _ = takeInbound()
        return input.readBytes(upTo: .max)
    }

    /// Waits until `count` bytes are buffered, or the input ends.
    private func ensureBytes(_ count: Int) async throws {
        leaveCharacters()
        input.swallowLineEndAfterCR()
        // Still after a CR with bytes buffered: they start a NEL that may be swallowed.
        while input.readableBytes < count || (input.framer.afterCR && input.readableBytes > 0) {
            if input.finished { return }
            if !(try await fill()) { return }
            input.swallowLineEndAfterCR()
        }
    }
}
