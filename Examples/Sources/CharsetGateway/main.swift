// CharsetGateway: a line gateway between two charsets.
//
//     CharsetGateway LISTEN-ADDRESS LISTEN-CODEC UPSTREAM-ADDRESS UPSTREAM-CODEC
//     CharsetGateway 127.0.0.1:7000 Shift_JIS 127.0.0.1:2020 UTF-8
//
// Clients connect to LISTEN-ADDRESS and speak LISTEN-CODEC. For each client the gateway opens
// a connection of its own to UPSTREAM-ADDRESS, which speaks UPSTREAM-CODEC, and forwards lines
// both ways, re-encoding each one: Shift_JIS bytes in, UTF-8 bytes out, and back. A codec is
// any ICU name or alias ("Shift_JIS", "cp932", "EUC-JP", "latin1", "UTF-16", ...).
//
// - Line ends are CRLF on both sides (a line may arrive ending in LF, CR or CRLF).
// - Bytes that do not decode become U+FFFD, and characters the other charset lacks become its
//   replacement character ("?" in Shift_JIS): the `.replace` error mode, so that one bad byte
//   never costs a connection.
// - When one side ends its output, the gateway ends its output to the other side (a
//   half-close) and keeps delivering what still comes the other way; the pair is closed
//   when both directions are done, or at once when either connection fails.
// - If the upstream cannot be reached, the client is told so in its charset and closed.
//
// The first line on standard output is `listening on HOST:PORT`.

import Foundation
import StreamPorts

/// Writes one line to standard output at once (`print` is block-buffered into a pipe).
func announce(_ line: String) {
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
}

/// Writes `message` to standard error and exits with `status`.
func fail(_ message: String, status: Int32) -> Never {
    FileHandle.standardError.write(Data("CharsetGateway: \(message)\n".utf8))
    exit(status)
}

/// Accepts clients until the server closes, bridging each one to its own upstream connection.
/// Not isolated to the main actor (as top-level code is), so each task runs on its client's
/// event loop.
func serve(_ server: ServerStream, upstream: String, transcoder: Transcoder) async {
    while let client = await server.read() {
        Task(executorPreference: client.executor) {
            await bridge(client, upstream: upstream, transcoder: transcoder)
        }
    }
}

/// Connects `client` to a new upstream connection and forwards lines both ways until both
/// directions end.
func bridge(_ client: ClientStream, upstream address: String, transcoder: Transcoder) async {
    let upstream: ClientStream
    do {
        upstream = try await tcpClientStream(address, transcoder: transcoder)
    } catch {
        // The message names the address and the reason ("connection to 127.0.0.1:2020
        // refused ..."); the client reads it in its own charset.
        try? client.showln("gateway: upstream unavailable: \(error)")
        try? await client.close()
        return
    }
    // One task per direction: each stream then has exactly one reading task and one writing
    // task, which is what a ClientStream allows at the same time.
    await withTaskGroup(of: Void.self) { group in
        group.addTask { await forward(from: client, to: upstream) }
        group.addTask { await forward(from: upstream, to: client) }
    }
    try? await client.close()
    try? await upstream.close()
}

/// Copies lines from `source` to `destination` until `source` ends, then ends `destination`'s
/// output, so that its peer sees the end of stream too.
func forward(from source: ClientStream, to destination: ClientStream) async {
    do {
        while true {
            let line: String?
            do {
                line = try await source.readLine()
            } catch let error as StreamPortError where error.code == .lineTooLong {
                continue  // that line is skipped; the stream goes on with the next one
            }
            guard let line else { break }
            // Decoded from the source's charset; showln encodes it into the destination's.
            try destination.showln(line)
            // A read flushes only its own stream's output before it waits, so the other
            // stream is flushed here. flushWriter also waits while the destination's peer is
            // not reading: a slow reader slows the sender down through TCP instead of
            // letting the gateway buffer without bound.
            try await destination.flushWriter()
        }
        try await destination.closeWriter()
    } catch {
        // A reset or a timeout on either side: nothing more can be delivered either way.
        await source.abort()
        await destination.abort()
    }
}

let arguments = Array(CommandLine.arguments.dropFirst())
guard arguments.count == 4 else {
    fail("usage: CharsetGateway LISTEN-ADDRESS LISTEN-CODEC UPSTREAM-ADDRESS UPSTREAM-CODEC", status: 64)
}
let listenTranscoder: Transcoder
let upstreamTranscoder: Transcoder
do {
    // An unknown name throws a TranscoderError that suggests the closest names.
    listenTranscoder = Transcoder(codec: try Codec(arguments[1]))
    upstreamTranscoder = Transcoder(codec: try Codec(arguments[3]))
    // The upstream address is checked now, not at the first client's connection; it is
    // resolved and connected to once per client.
    _ = try StreamAddress.parse(arguments[2])
} catch {
    fail("\(error)", status: 64)
}
let server: ServerStream
do {
    server = try await tcpServerStream(arguments[0], transcoder: listenTranscoder)
} catch {
    fail("\(error)", status: 1)
}
var bound = server.requestedAddress
bound.port = server.localPort  // the real port when 0 was asked
announce("listening on \(bound)")
await serve(server, upstream: arguments[2], transcoder: upstreamTranscoder)
