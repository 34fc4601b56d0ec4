@testable import StreamPorts

/// Runs `body` with a server on `address`, closing it afterwards whatever happens.
func withServer<R>(
    _ address: String = "127.0.0.1:0", transcoder: Transcoder = Transcoder(eolStyle: .lf),
    maxLineLength: Int = StreamDefaults.maxLineLength,
    _ body: (ServerStream) async throws -> R
) async throws -> R {
    let server = try await tcpServerStream(address, transcoder: transcoder, maxLineLength: maxLineLength)
    do {
        let result = try await body(server)
        await server.close()
        return result
    } catch {
        await server.close()
        throw error
    }
}

/// Serves the seed's echo loop on every accepted connection until the server closes.
func startEcho(_ server: ServerStream) -> Task<Void, Never> {
    Task {
        await withTaskGroup(of: Void.self) { group in
            while let client = await server.read() {
                group.addTask(executorPreference: client.executor) {
                    _ = try? await callWithStream(client) { s in
                        while let line = try await readLine(s) { try showln(stream: s, line) }
                    }
                }
            }
        }
    }
}

/// Connects to `server` on loopback.
func connect(
    to server: ServerStream, transcoder: Transcoder = Transcoder(eolStyle: .lf), coalesce: Bool = false
) async throws -> ClientStream {
    let host = server.localAddress.contains(":") ? "[::1]" : "127.0.0.1"
    return try await tcpClientStream("\(host):\(server.localPort)", coalesce: coalesce, transcoder: transcoder)
}
