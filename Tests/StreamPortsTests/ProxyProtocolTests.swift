import NIOCore
import Testing

@testable import StreamPorts

/// The PROXY protocol version 1 (text) parser, on bytes: the specification's examples and
/// limits, strict fields, and chunking that never changes the outcome.
@Suite("PROXY protocol v1")
struct ProxyProtocolV1Tests {
    typealias Endpoint = ProxyHeader.Endpoint

    @Test func specificationExampleBeforeAnHTTPRequest() {
        let line = "PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n"
        let request = "GET / HTTP/1.1\r\nHost: 192.168.0.11\r\n\r\n"
        let header = expectProxyHeader(Array((line + request).utf8), trailing: request.utf8.count)
        #expect(
            header
                == ProxyHeader(
                    version: 1, command: .proxy, family: .inet, transport: .stream,
                    source: .ip(address: "192.168.0.1", port: 56324),
                    destination: .ip(address: "192.168.0.11", port: 443)))
        #expect(header?.source?.description == "192.168.0.1:56324")
    }

    @Test(arguments: [
        ("PROXY TCP4 255.255.255.255 255.255.255.255 65535 65535\r\n", 56),
        (
            "PROXY TCP6 ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n",
            104
        ),
        ("PROXY UNKNOWN\r\n", 15),
        (
            "PROXY UNKNOWN ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n",
            107
        ),
    ])
    func specificationMaximumLengths(line: String, length: Int) {
        #expect(line.utf8.count == length)
        #expect(expectProxyHeader(Array(line.utf8)) != nil)
    }

    @Test func oneByteOverTheLimitIsRejected() {
        let line =
            "PROXY UNKNOWN ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 655350\r\n"
        #expect(line.utf8.count == 108)
        expectProxyError(Array(line.utf8), "no CRLF within the first 107 bytes")
        // Without any CRLF the error comes at the 107th byte, whatever follows.
        expectProxyError(
            Array(("PROXY TCP4 " + String(repeating: "1", count: 96)).utf8), "no CRLF within the first 107 bytes")
        #expect(proxyParse(Array(("PROXY TCP4 " + String(repeating: "1", count: 95)).utf8)) == .needMoreData)
    }

    @Test func unknownIgnoresTheRestOfTheLine() {
        let unknown = ProxyHeader(version: 1, command: .proxy, family: .unspecified, transport: .unspecified)
        #expect(expectProxyHeader(Array("PROXY UNKNOWN\r\nhello\n".utf8), trailing: 6) == unknown)
        #expect(expectProxyHeader(Array("PROXY UNKNOWN whatever \u{1}\u{FF} 1 2\r\n".utf8)) == unknown)
        expectProxyError(Array("PROXY UNKNOWNX\r\n".utf8), "the protocol is not TCP4, TCP6 or UNKNOWN")
    }

    @Test func tcp6AddressesComeOutInRFC5952Form() {
        let header = expectProxyHeader(Array("PROXY TCP6 2001:0DB8:0:0:0:0:0:1 ::FFFF:10.0.0.1 1 0\r\n".utf8))
        #expect(header?.family == .inet6)
        #expect(header?.source == .ip(address: "2001:db8::1", port: 1))
        #expect(header?.destination == .ip(address: "::ffff:10.0.0.1", port: 0))
        #expect(header?.destination?.description == "[::ffff:10.0.0.1]:0")
        let compressed = expectProxyHeader(Array("PROXY TCP6 1:0:0:2:0:0:0:3 fe80:: 80 443\r\n".utf8))
        #expect(compressed?.source == .ip(address: "1:0:0:2::3", port: 80))
        #expect(compressed?.destination == .ip(address: "fe80::", port: 443))
    }

    @Test(arguments: [
        ("PROXY TCP4 192.168.000.1 10.0.0.1 1 2\r\n", "the source address is not a dotted-decimal IPv4 address"),
        ("PROXY TCP4 192.168.0.1 10.0.0.01 1 2\r\n", "the destination address is not"),
        ("PROXY TCP4 192.168.0.256 10.0.0.1 1 2\r\n", "the source address"),
        ("PROXY TCP4 1.2.3 10.0.0.1 1 2\r\n", "the source address"),
        ("PROXY TCP4 ::1 10.0.0.1 1 2\r\n", "the source address"),
        ("PROXY TCP6 10.0.0.1 ::1 1 2\r\n", "the source address is not an IPv6 address"),
        ("PROXY TCP6 ::1 fe80::1%eth0 1 2\r\n", "the destination address is not an IPv6 address"),
        ("PROXY TCP6 ::1 1::2::3 1 2\r\n", "the destination address"),
        ("PROXY TCP6 ::1 12345::1 1 2\r\n", "the destination address"),
        ("PROXY TCP4 1.2.3.4 5.6.7.8 0443 2\r\n", "the source port is not a decimal number"),
        ("PROXY TCP4 1.2.3.4 5.6.7.8 1 65536\r\n", "the destination port"),
        ("PROXY TCP4 1.2.3.4 5.6.7.8 1 -2\r\n", "the destination port"),
        ("PROXY TCP4 1.2.3.4 5.6.7.8 1 +2\r\n", "the destination port"),
        ("PROXY TCP4 1.2.3.4  5.6.7.8 1 2\r\n", "with single spaces"),
        ("PROXY TCP4 1.2.3.4 5.6.7.8 1 2 \r\n", "with single spaces"),
        ("PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n", "with single spaces"),
        ("PROXY TCP4\t1.2.3.4 5.6.7.8 1 2\r\n", "the protocol is not TCP4"),
        ("PROXY tcp4 1.2.3.4 5.6.7.8 1 2\r\n", "the protocol is not TCP4"),
        ("PROXY TCP5 1.2.3.4 5.6.7.8 1 2\r\n", "the protocol is not TCP4"),
        ("PROXY \r\n", "the protocol is not TCP4"),
        ("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n", "a line feed without a carriage return"),
        ("PROXY TCP4 1.2.3.4\r5.6.7.8 1 2\r\n", "a carriage return not followed by a line feed"),
        ("PROXY UNKNOWN\r\r\n", "a carriage return not followed by a line feed"),
        ("PROXY\r\n", "starts neither with \"PROXY \""),
        ("proxy TCP4 1.2.3.4 5.6.7.8 1 2\r\n", "starts neither"),
    ])
    func malformedLinesAreRejected(line: String, reason: String) {
        expectProxyError(Array(line.utf8), reason)
    }

    @Test func messagesShowAtMost32BytesInHexAndNothingRaw() {
        let line = Array("PROXY TCP4 \u{1B}[31m.2.3.4 5.6.7.8 1 2\r\n".utf8)
        let message = proxyParse(line).message ?? ""
        #expect(message.contains("[" + proxyHex(line.prefix(32)) + " … (\(line.count) bytes)]"), "\(message)")
        #expect(!message.contains("\u{1B}") && !message.contains("[31m"), "\(message.debugDescription)")
    }
}

/// Bytes that are neither header: rejected at the first byte that rules both versions out.
@Suite("PROXY protocol detection")
struct ProxyProtocolDetectionTests {
    @Test(arguments: [
        ("GET / HTTP/1.1\r\n", 1), ("\u{16}\u{3}\u{1}\u{2}\u{0}", 1), ("\u{0}", 1), ("PROXI TCP4", 5),
        ("\r\n\r\nX", 5), ("\r\n\r\n\u{0}\r\nQUIT\r", 12), ("P", 0), ("", 0), ("\r\n\r\n\u{0}\r\nQUI", 0),
    ])
    func garbageIsRejectedAsSoonAsPossible(text: String, failingByte: Int) {
        let bytes = Array(text.utf8)
        if failingByte == 0 {
            #expect(proxyParseEveryWay(bytes) == .needMoreData)
            return
        }
        expectProxyError(bytes, "starts neither with \"PROXY \" (version 1) nor with the version 2 signature")
        // Byte by byte, it fails on that byte: the bytes before it were still a possible prefix.
        #expect(proxyParse(Array(bytes.prefix(failingByte - 1))) == .needMoreData)
        #expect(proxyParse(Array(bytes.prefix(failingByte))).message != nil)
    }

    @Test func theParserIsReusableAfterAHeaderAndAfterAnError() throws {
        var parser = ProxyHeaderParser()
        let first = Array("PROXY UNKNOWN\r\n".utf8) + proxyV2(command: 0, family: 0x00, [])
        let result = try first.withUnsafeBytes { try parser.parse($0) }
        guard case .header(let header, 15) = result else { Issue.record("\(result)"); return }
        #expect(header.version == 1)
        let second = try first[15...].withUnsafeBytes { try parser.parse($0) }
        #expect(
            second
                == .header(
                    ProxyHeader(version: 2, command: .local, family: .unspecified, transport: .unspecified),
                    consumed: 16))
        #expect(throws: StreamPortError.self) { try Array("XYZ".utf8).withUnsafeBytes { try parser.parse($0) } }
        let third = try Array("PROXY UNKNOWN\r\n".utf8).withUnsafeBytes { try parser.parse($0) }
        #expect(third.isHeader)
    }

    @Test func aByteBufferIsReadNotConsumed() throws {
        var parser = ProxyHeaderParser()
        var buffer = ByteBufferAllocator().buffer(capacity: 64)
        buffer.writeBytes(Array("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\nhello".utf8))
        guard case .header(_, let consumed) = try parser.parse(buffer) else { Issue.record("no header"); return }
        #expect(consumed == 32 && buffer.readableBytes == 37)
        buffer.moveReaderIndex(forwardBy: consumed)
        #expect(buffer.readString(length: buffer.readableBytes) == "hello")
    }
}

extension ProxyHeaderParser.Result {
    var isHeader: Bool { if case .header = self { true } else { false } }
}
