// ChatRoom: a chat room whose members each speak their own charset.
//
//     ChatRoom ADDRESS=CODEC [ADDRESS=CODEC ...]
//     ChatRoom 127.0.0.1:7000=UTF-8 127.0.0.1:7001=Shift_JIS 127.0.0.1:7002=EUC-JP
//
// A client chooses its charset by the port it connects to: each ADDRESS=CODEC opens one
// listening port whose streams decode and encode CODEC, with CRLF line ends (a line may arrive
// ending in LF, CR or CRLF). The charset is not announced in-band (say, a first line
// `charset NAME`) because a stream's transcoder is fixed when the connection is accepted.
// The first lines on standard output are `listening on HOST:PORT CODEC`, one per port, in
// the order given.
//
// What members see, each in their own charset:
// - `#ID: LINE` for every line any member sends, the sender included (its own lines come back
//   as the room's acknowledgement); a character the member's charset lacks arrives as that
//   charset's replacement ("?" in Shift_JIS);
// - notices starting with `* `: `* welcome #ID (CODEC), N here` to a new member, and
//   `* #ID joined (CODEC)`, `* #ID left`, `* #ID dropped: not reading` to the others.
//
// Bounds, so that no member can stall the room or run it out of memory:
// - lines to a member wait in that member's own queue, at most 256 of them: a member that
//   stops reading fills its socket, then its queue, and is then disconnected, while the room
//   and the other members go on at their own pace;
// - a line is at most 4 KiB on the wire; a longer one is skipped (the sender is told) and
//   the stream goes on with the next line;
// - at most 100 members; the next one is told the room is full and closed.

import Foundation
import StreamPorts

/// The longest line a member may send, in bytes on the wire.
let maxLineLength = 4096
/// The most lines that wait for one member.
let queueLimit = 256
/// The most members at once.
let maxMembers = 100

/// The members and what they are sent. An actor: joins, lines and departures from every
/// connection are applied one at a time, and every member sees the room's lines in one order.
actor Room {
    private struct Member {
        let stream: ClientStream
        /// The member's queue; its writer task sends what comes out of it.
        let queue: AsyncStream<String>.Continuation
    }

    private var members: [Int: Member] = [:]
    private var nextID = 1

    /// Adds `stream` as a member speaking `charset`: its ID and its queue of lines to send,
    /// or nil when the room is full.
    func join(_ stream: ClientStream, charset: String) -> (id: Int, lines: AsyncStream<String>)? {
        guard members.count < maxMembers else { return nil }
        let id = nextID
        nextID += 1
        // `.bufferingOldest`: when the queue is full, a new line is not queued and `yield`
        // says so, which is how a member that stopped reading is found (see `deliver`).
        let (lines, queue) = AsyncStream.makeStream(of: String.self, bufferingPolicy: .bufferingOldest(queueLimit))
        broadcast("* #\(id) joined (\(charset))")
        members[id] = Member(stream: stream, queue: queue)
        deliver("* welcome #\(id) (\(charset)), \(members.count) here", to: id)
        return (id, lines)
    }

    /// Sends `line` from member `id` to every member.
    func say(_ line: String, from id: Int) {
        broadcast("#\(id): \(line)")
    }

    /// Sends a notice to member `id` alone.
    func tell(_ notice: String, to id: Int) {
        deliver(notice, to: id)
    }

    /// Removes member `id` (if still there); its writer sends what is queued, then ends.
    func leave(_ id: Int) {
        guard let member = members.removeValue(forKey: id) else { return }
        member.queue.finish()
        broadcast("* #\(id) left")
    }

    private func broadcast(_ line: String) {
        for id in members.keys.sorted() { deliver(line, to: id) }
    }

    /// Queues `line` for member `id` without waiting. A full queue means the member has read
    /// nothing while `queueLimit` lines came in after its socket filled up: it is disconnected
    /// rather than waited for, or kept in memory without bound.
    private func deliver(_ line: String, to id: Int) {
        guard let member = members[id] else { return }
        guard case .dropped = member.queue.yield(line) else { return }
        members[id] = nil
        member.queue.finish()
        let stream = member.stream
        // abort() resets the connection at once: the member's writer, waiting for the socket
        // to drain, wakes up, and its reader sees the end of the stream.
        Task { await stream.abort() }
        broadcast("* #\(id) dropped: not reading")
    }
}

/// Writes one line to standard output at once (`print` is block-buffered into a pipe).
func announce(_ line: String) {
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
}

/// Writes `message` to standard error and exits with `status`.
func fail(_ message: String, status: Int32) -> Never {
    FileHandle.standardError.write(Data("ChatRoom: \(message)\n".utf8))
    exit(status)
}

/// Accepts members on one port until it closes. Not isolated to the main actor (as top-level
/// code is), so each member's task runs on its connection's event loop.
func accept(_ server: ServerStream, charset: String, room: Room) async {
    while let client = await server.read() {
        Task(executorPreference: client.executor) {
            await session(client, charset: charset, room: room)
        }
    }
}

/// One member's life in the room: its lines go to the room, the room's lines come back.
func session(_ stream: ClientStream, charset: String, room: Room) async {
    guard let (id, lines) = await room.join(stream, charset: charset) else {
        try? stream.showln("* the room is full (\(maxMembers) members), try again later")
        try? await stream.close()
        return
    }
    // The writer runs beside the reader: a member whose socket is full waits in flushWriter
    // (which waits while its peer is not reading) and holds up nobody but itself.
    async let written: Void = send(lines, to: stream)
    while true {
        do {
            guard let line = try await stream.readLine() else { break }
            await room.say(line, from: id)
        } catch let error as StreamPortError where error.code == .lineTooLong {
            // The stream skips the rest of that line and goes on with the next one.
            await room.tell("* line too long (over \(maxLineLength) bytes), skipped", to: id)
        } catch {
            break  // a reset, or aborted by the room
        }
    }
    await room.leave(id)
    await written
    try? await stream.close()
}

/// Sends every line of `lines` to `stream`, until the room finishes the queue or the
/// connection fails.
func send(_ lines: AsyncStream<String>, to stream: ClientStream) async {
    for await line in lines {
        do {
            try stream.showln(line)
            try await stream.flushWriter()
        } catch {
            return  // closed or reset: the reader finds out too
        }
    }
}

let arguments = CommandLine.arguments.dropFirst()
guard !arguments.isEmpty else {
    fail("usage: ChatRoom ADDRESS=CODEC [ADDRESS=CODEC ...]", status: 64)
}
var ports: [(server: ServerStream, charset: String)] = []
for argument in arguments {
    // The last "=": an address never contains one, and a codec name never does either.
    guard let equals = argument.lastIndex(of: "=") else {
        fail("\"\(argument)\" is not ADDRESS=CODEC", status: 64)
    }
    let address = String(argument[..<equals])
    let charset = String(argument[argument.index(after: equals)...])
    let transcoder: Transcoder
    do {
        transcoder = Transcoder(codec: try Codec(charset))
    } catch {
        fail("\(error)", status: 64)
    }
    do {
        let server = try await tcpServerStream(address, transcoder: transcoder, maxLineLength: maxLineLength)
        var bound = server.requestedAddress
        bound.port = server.localPort  // the real port when 0 was asked
        announce("listening on \(bound) \(charset)")
        ports.append((server, charset))
    } catch {
        fail("\(error)", status: 1)
    }
}
let room = Room()
await withTaskGroup(of: Void.self) { group in
    for port in ports {
        group.addTask { await accept(port.server, charset: port.charset, room: room) }
    }
}
