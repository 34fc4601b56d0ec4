import Testing
import Transcoders

@testable import StreamPorts

#if canImport(Glibc)
    import Glibc
#endif

/// One error vocabulary: transcoder errors wrapped code for code, one errno classifier behind
/// StreamPortError's codes, TCPSocket's kinds and the accept loop, and argument errors apart
/// from address errors.
@Suite("Error vocabulary")
struct ErrorVocabularyTests {
    @Test(
        "Each TranscoderError code wraps to its own StreamPortError code",
        arguments: [
            (TranscoderError.Code.unknownCodec, StreamPortError.Code.unknownCodec),
            (.decoding, .decoding),
            (.encoding, .encoding),
            (.internalFailure, .transcoderInternal),
        ])
    func wrapping(from: TranscoderError.Code, to: StreamPortError.Code) {
        let original = TranscoderError(code: from, message: "m", byteOffset: 7, bytes: [0xFF])
        let wrapped = StreamPortError.wrapping(original)
        #expect(wrapped.code == to)
        #expect(wrapped.message == "m")
        #expect(wrapped.transcoderError == original)
        #expect(wrapped.transcoderError?.byteOffset == 7)
        #expect(StreamPortError.from(original, "x") == wrapped)
    }

    @Test("An unknown codec is not a decoding error")
    func unknownCodec() throws {
        do throws(TranscoderError) {
            _ = try Codec("utf-9")
            Issue.record("utf-9 is a codec")
        } catch {
            #expect(StreamPortError.wrapping(error).code == .unknownCodec)
        }
    }

    @Test(
        "errno → code, and errno → TCPSocket kind, from one classifier",
        arguments: [
            (EADDRINUSE, StreamPortError.Code.addressInUse, TCPSocket.ErrorKind.addressInUse),
            (EACCES, .bindFailed, .socketAccess),
            (EPERM, .bindFailed, .socketAccess),
            (EADDRNOTAVAIL, .bindFailed, .addressNotAvailable),
            (ECONNREFUSED, .connectionRefused, .connectionRefused),
            (ECONNRESET, .connectionReset, .network),
            (EPIPE, .connectionReset, .network),
            (ECONNABORTED, .system, .network),
            (ENETUNREACH, .system, .network),
            (EHOSTUNREACH, .system, .network),
            (ENETDOWN, .system, .network),
            (ETIMEDOUT, .timedOut, .socketTimeout),
            (EMFILE, .system, .socketResource),
            (ENFILE, .system, .socketResource),
            (ENOBUFS, .system, .socketResource),
            (ENOMEM, .system, .socketResource),
            (EOPNOTSUPP, .system, .unsupportedSocketOperation),
            (EALREADY, .system, .unfinishedSocketOperation),
            (EINPROGRESS, .system, .unfinishedSocketOperation),
            (EAGAIN, .system, .temporary),
            (EINTR, .system, .temporary),
            (EBADF, .system, .unknown),
        ] as [(Int32, StreamPortError.Code, TCPSocket.ErrorKind)])
    func errno(number: Int32, code: StreamPortError.Code, kind: TCPSocket.ErrorKind) {
        let error = StreamPortError.fromErrno(number, "127.0.0.1:1")
        #expect(error.code == code)
        #expect(error.errno == number)
        #expect(error.message.hasSuffix("(errno \(number))"))
        #expect(TCPSocket.ErrorKind(error) == kind)
    }

    @Test(
        "Codes without an errno have their own TCPSocket kinds",
        arguments: [
            (StreamPortError.Code.invalidAddress, TCPSocket.ErrorKind.invalidAddress),
            (.invalidArgument, .invalidArgument),
            (.hostNotFound, .hostNotFound),
            (.addressInUse, .addressInUse),
            (.bindFailed, .socketAccess),
            (.connectionRefused, .connectionRefused),
            (.connectionReset, .network),
            (.timedOut, .socketTimeout),
            (.closed, .operation),
            (.lineTooLong, .lineTooLong),
            (.unknownCodec, .transcoding),
            (.decoding, .transcoding),
            (.encoding, .transcoding),
            (.transcoderInternal, .transcoding),
            (.operation, .operation),
            (.system, .unknown),
        ] as [(StreamPortError.Code, TCPSocket.ErrorKind)])
    func kinds(code: StreamPortError.Code, kind: TCPSocket.ErrorKind) {
        #expect(TCPSocket.ErrorKind(StreamPortError(code, "x")) == kind)
    }

    @Test("A bad backlog or maxLineLength is an invalid argument, not an invalid address")
    func invalidArguments() async throws {
        let backlog = await #expect(throws: StreamPortError.self) { _ = try await tcpServerStream(0, backlog: -2) }
        #expect(backlog?.code == .invalidArgument)
        let serverLines = await #expect(throws: StreamPortError.self) {
            _ = try await tcpServerStream("127.0.0.1:0", maxLineLength: 0)
        }
        #expect(serverLines?.code == .invalidArgument)
        #expect(serverLines?.message == "invalid argument maxLineLength 0: it must be 1 or more (bytes)")
        let clientLines = await #expect(throws: StreamPortError.self) {
            _ = try await tcpClientStream("127.0.0.1:1", maxLineLength: -1)
        }
        #expect(clientLines?.code == .invalidArgument)
        let server = TCPServer()
        try server.bind("127.0.0.1", 0)
        let listen = await #expect(throws: StreamPortError.self) { try await server.listen(-1) }
        #expect(listen?.code == .invalidArgument)
        await server.dispose()
        let lines = TCPServer(maxLineLength: 0)
        try lines.bind("127.0.0.1", 0)
        let listenLines = await #expect(throws: StreamPortError.self) { try await lines.listen(1) }
        #expect(listenLines?.code == .invalidArgument)
        await lines.dispose()
    }

    @Test("TCPSocket: a malformed address is invalidAddress, not hostNotFound")
    func socketInvalidAddress() async {
        let socket = TCPSocket()
        let error = await #expect(throws: StreamPortError.self) { try await socket.connect("1:2:3", 80) }
        #expect(error?.code == .invalidAddress)
        #expect(socket.error == .invalidAddress)
        #expect(socket.state == .unconnected)
    }

    @Test("TCPServer: a port in use is addressInUse with its errno, kept in lastError")
    func serverAddressInUse() async throws {
        let first = TCPServer()
        try first.setOption(.reuseAddress, false)
        try first.bind("127.0.0.1", 0)
        try await first.listen(1)
        let second = TCPServer()
        try second.setOption(.reuseAddress, false)
        let error = #expect(throws: StreamPortError.self) { try second.bind("127.0.0.1", first.localPort) }
        #expect(error?.code == .addressInUse)
        #expect(error?.errno == EADDRINUSE)
        #expect(second.lastError == EADDRINUSE)
        #expect(second.localAddress == nil)
        await first.dispose()
        await second.dispose()
    }
}
