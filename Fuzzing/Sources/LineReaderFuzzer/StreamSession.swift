import FuzzSupport
import NIOCore
import NIOEmbedded
import StreamPortsTestSupport

@testable import StreamPorts

/// Where the reader task leaves its results.
private final class EventBox: @unchecked Sendable {
    // Written by the reader task, read after it finished; both on the fuzzer's thread.
    var events: [ReadEvent]?
}

/// Reads a stream that delivers `pieces` one after another, then the end of input: a real
/// ``ClientStream`` (with its ``StreamShared`` and ``StreamHandler``) on an `EmbeddedChannel`.
/// The reader task runs on an ``InlineExecutor``; each piece is delivered as one channel read
/// once the reader has consumed what came before and waits for more.
/// - Returns: the results of the reads, or nil when no stream can use `transcoder` (its
///   codec cannot encode the EOL style's line end, which streams write).
func readStream(
    _ pieces: [[UInt8]], transcoder: Transcoder, ops: [ReadOp], maxLength: Int?, inputSize: Int, label: String
) -> [ReadEvent]? {
    let shared = StreamShared()
    let channel = EmbeddedChannel(handler: StreamHandler(shared: shared))
    // Closing breaks the channel's reference cycle with its pipeline.
    defer { _ = try? channel.finish(acceptAlreadyClosed: true) }
    let stream: ClientStream
    do {
        stream = try ClientStream(
            channel: channel, shared: shared, transcoder: transcoder, maxLineLength: StreamDefaults.maxLineLength)
    } catch  where error.code == .encoding {
        return nil
    } catch {
        fail("\(label): cannot create the stream: \(error)")
    }
    let executor = InlineExecutor()
    let box = EventBox()
    Task(executorPreference: executor) {
        box.events = await runReads(ops, on: stream, maxLength: maxLength, inputSize: inputSize, label: label)
    }
    executor.drain()
    for piece in pieces where !piece.isEmpty {  // a socket never delivers an empty read
        do {
            try channel.writeInbound(channel.allocator.buffer(bytes: piece))
        } catch {
            fail("\(label): delivering \(hex(piece)) failed: \(error)")
        }
        executor.drain()
    }
    channel.pipeline.syncOperations.fireUserInboundEventTriggered(ChannelEvent.inputClosed)
    executor.drain()
    guard let events = box.events else { fail("\(label): the reader still waits after the end of input") }
    return events
}
