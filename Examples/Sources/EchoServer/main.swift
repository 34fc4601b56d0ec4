// EchoServer: the seed's echo server (seed 002, Slogan's `tcp_server_stream`), in Swift.
//
//     EchoServer [ADDRESS]
//
// ADDRESS is any form `tcpServerStream` takes ("127.0.0.1:2020", "[::1]:0", "*:7000", "2020");
// the default is 127.0.0.1:2020. Every client gets each of its lines back, in UTF-8 with CRLF
// line ends (the default transcoder; a line may arrive ending in LF, CR or CRLF). The first
// line on standard output is `listening on HOST:PORT`, with the real port when port 0 was
// asked, so that a script or a test knows where to connect. Runs until it is killed.

import Foundation
import StreamPorts

/// Writes one line to standard output at once: `print` is block-buffered when standard output
/// is a pipe, and the `listening on` line must reach a script before anything connects.
func announce(_ line: String) {
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
}

/// Accepts clients until the server closes and echoes each one's lines. A free function, so
/// not isolated to the main actor as top-level code is: the tasks it starts run where they
/// prefer, on their connections' event loops, instead of all queueing on the main thread.
func serve(_ server: ServerStream) async {
    while let client = await read(server) {
        Task(executorPreference: client.executor) {  // reads and writes never hop threads
            try await callWithStream(client) { s in  // closes s when the body returns or throws
                while let line = try await readLine(s) {
                    try showln(stream: s, line)  // flushed before the next read waits
                }
            }
            // A connection that fails (a reset) throws out of its own task only; the server
            // and the other connections go on.
        }
    }
}

let address = CommandLine.arguments.dropFirst().first ?? "127.0.0.1:2020"
let server: ServerStream
do {
    server = try await tcpServerStream(address)
} catch {
    // A StreamPortError's message names the input and the reason ("invalid address ...",
    // "address 127.0.0.1:2020 is already in use ..."): it is the whole diagnostic.
    FileHandle.standardError.write(Data("EchoServer: \(error)\n".utf8))
    exit(1)
}
// The address as it was asked for, with the port the OS chose when it was 0.
var bound = server.requestedAddress
bound.port = server.localPort
announce("listening on \(bound)")
await serve(server)
