// Free functions so the seed's Slogan echo server reads almost literally in Swift:
//
//     let server = try await tcpServerStream("127.0.0.1:2020")
//     while let client = await read(server) {
//         try await callWithStream(client) { s in
//             while let line = try await readLine(s) { try showln(stream: s, line) }
//         }
//     }

/// The next client stream of `server` (Slogan's `read` on a server stream), nil once closed.
/// - Parameter server: the listening server.
public func read(_ server: ServerStream) async -> ClientStream? {
    await server.read()
}

/// The next line of `stream` (Slogan's `read_line`), nil at end of stream.
/// - Parameter stream: the stream.
/// - Throws: as ``ClientStream/readLine(separator:includeSeparator:maxLength:)``.
public func readLine(_ stream: ClientStream) async throws -> String? {
    try await stream.readLine()
}

/// Writes the items to `stream` (Slogan's `show`).
/// - Parameters:
///   - stream: the stream.
///   - items: the values.
/// - Throws: ``StreamPortError`` `.encoding` (`.raise` mode) or `.closed`.
public func show(stream: ClientStream, _ items: Any...) throws {
    try stream.write(items.map { $0 as? String ?? String(describing: $0) }.joined())
}

/// Writes the items and a line end to `stream` (Slogan's `showln`).
/// - Parameters:
///   - stream: the stream.
///   - items: the values.
/// - Throws: ``StreamPortError`` `.encoding` (`.raise` mode) or `.closed`.
public func showln(stream: ClientStream, _ items: Any...) throws {
    try stream.showln(items.map { $0 as? String ?? String(describing: $0) }.joined())
}

/// Hands `stream`'s pending output to the socket (Slogan's `flush_writer`).
/// - Parameter stream: the stream.
/// - Throws: as ``ClientStream/flushWriter()``.
public func flushWriter(_ stream: ClientStream) async throws {
    try await stream.flushWriter()
}

/// Closes `stream` after flushing it (Slogan's `close_stream`).
/// - Parameter stream: the stream.
/// - Throws: as ``ClientStream/close()``.
public func closeStream(_ stream: ClientStream) async throws {
    try await stream.close()
}

/// Runs `body` with `stream` and closes the stream when it returns *or throws*, rethrowing
/// (Slogan's `call_with_stream`).
/// - Parameters:
///   - stream: the stream.
///   - isolation: the caller's actor, filled in by `#isolation`: `body` runs where the
///     caller runs, so it may touch the caller's state without being `Sendable`.
///   - body: what to do with it.
/// - Returns: what `body` returns.
/// - Throws: what `body` throws.
public func callWithStream<R>(
    _ stream: ClientStream, isolation: isolated (any Actor)? = #isolation,
    _ body: (ClientStream) async throws -> R
) async throws -> R {
    let result: R
    do {
        result = try await body(stream)
    } catch {
        try? await stream.close()
        throw error
    }
    try await stream.close()
    return result
}
