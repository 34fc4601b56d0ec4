import FuzzSupport
import NIOCore
import StreamPortsTestSupport

@testable import StreamPorts

/// ProxyHeaderParser on any bytes and any chunking, and CIDR parsing. Header byte 0: with its
/// high bit set, the rest is a CIDR text; otherwise it picks the parser's limit (0: the
/// default 65,551 bytes; n: 232 + 8n) and the next three bytes the chunking (FuzzSupport's
/// `Chunking`); the rest is what a peer sends.
@_cdecl("LLVMFuzzerTestOneInput")
public func proxyHeaderFuzzer(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    var input = FuzzInput(data, size)
    let mode = input.byte()
    if mode & 0x80 != 0 {
        checkCIDR(String(decoding: input.rest, as: UTF8.self))
        return 0
    }
    let limit = mode == 0 ? ProxyHeaderParser.maximumV2Length : ProxyHeaderParser.minimumLimit + Int(mode) * 8
    let chunking = Chunking(&input)
    checkParse(input.rest, limit: limit, chunking: chunking)
    return 0
}

/// What feeding some chunks gave; `consumed` counts from the start of all the bytes.
private enum Outcome: Equatable {
    case header(ProxyHeader, consumed: Int)
    case needMoreData
    case error(String)
}

private func run(_ chunks: [[UInt8]], limit: Int, label: String) -> Outcome {
    var parser = ProxyHeaderParser(maximumLength: limit)
    var offset = 0
    for chunk in chunks {
        do {
            switch try chunk.withUnsafeBytes({ try parser.parse($0) }) {
            case .needMoreData:
                offset += chunk.count
            case .header(let header, let consumed):
                require(
                    consumed >= 0 && consumed <= chunk.count,
                    "\(label): consumed \(consumed) of a \(chunk.count)-byte chunk")
                return .header(header, consumed: offset + consumed)
            }
        } catch let error as StreamPortError {
            require(error.code == .proxyHeader, "\(label) threw \(error.code): \(error)")
            return .error(error.message)
        } catch {
            fail("\(label) threw \(error)")
        }
    }
    return .needMoreData
}

/// At once, byte by byte and in the fuzzer's chunks, the same outcome (the same header and
/// length, or the same error message); a header re-parses alone and is not complete one byte
/// short; its fields keep their invariants; errors show no raw bytes.
private func checkParse(_ bytes: [UInt8], limit: Int, chunking: Chunking) {
    let label = "parse([\(hex(bytes.prefix(64)))\(bytes.count > 64 ? " … \(bytes.count) bytes" : "")], limit \(limit))"
    let once = run([bytes], limit: limit, label: label)
    let byByte = run(bytes.map { [$0] }, limit: limit, label: label + " byte by byte")
    require(byByte == once, "\(label): byte by byte \(byByte), at once \(once)")
    let chunked = run(chunking.split(bytes), limit: limit, label: label + " in \(chunking)")
    require(chunked == once, "\(label): in \(chunking) \(chunked), at once \(once)")
    switch once {
    case .needMoreData:
        require(
            bytes.count < max(limit, ProxyHeaderParser.maximumV1Length),
            "\(label): still needs data after \(bytes.count) bytes")
    case .error(let message):
        require(message.utf8.starts(with: "invalid PROXY protocol header: ".utf8), "\(label): \(message)")
        require(
            !message.unicodeScalars.contains { $0.value < 0x20 || $0.value == 0x7F },
            "\(label): raw control in \(message.debugDescription)")
        require(
            message.contains("[" + hex(bytes.prefix(1))), "\(label): the message does not show the bytes: \(message)")
    case .header(let header, let consumed):
        require(consumed <= bytes.count, "\(label): consumed \(consumed)")
        let alone = Array(bytes[..<consumed])
        require(run([alone], limit: limit, label: label) == once, "\(label): the header alone parses differently")
        require(
            run([Array(alone.dropLast())], limit: limit, label: label) == .needMoreData,
            "\(label): complete one byte short")
        checkHeader(header, alone, limit: limit, label: label)
    }
}

private func checkHeader(_ header: ProxyHeader, _ bytes: [UInt8], limit: Int, label: String) {
    if header.version == 1 {
        require(
            bytes.count <= ProxyHeaderParser.maximumV1Length && bytes.starts(with: Array("PROXY ".utf8))
                && bytes.suffix(2) == [0x0D, 0x0A],
            "\(label): a v1 header of \(bytes.count) bytes")
        require(header.command == .proxy && header.tlvs.isEmpty, "\(label): \(header)")
    } else {
        require(
            header.version == 2 && bytes.count <= limit && bytes.count == 16 + (Int(bytes[14]) << 8 | Int(bytes[15])),
            "\(label): a v2 header of \(bytes.count) bytes: \(header)")
        if header.tlvs.contains(where: { $0.type == ProxyHeader.TLVType.ssl }) {
            require(header.ssl != nil, "\(label): SSL TLV not decoded")
        }
        if header.tlvs.contains(where: { $0.type == ProxyHeader.TLVType.crc32c }) {
            require(header.crc32c != nil, "\(label): CRC32C TLV")
        }
        require((header.uniqueID?.count ?? 0) <= 128, "\(label): unique ID too long")
    }
    require((header.source == nil) == (header.destination == nil), "\(label): one endpoint only: \(header)")
    if header.command == .local || header.family == .unspecified {
        require(header.source == nil, "\(label): endpoints in \(header)")
    } else {
        require(header.source != nil, "\(label): no endpoints in \(header)")
    }
    for endpoint in [header.source, header.destination].compactMap({ $0 }) {
        switch endpoint {
        case .ip(let address, let port):
            require((0...65535).contains(port), "\(label): port \(port)")
            if header.family == .inet {
                let parsed = ProxyIPText.parseIPv4(address.utf8)
                require(parsed.map(ProxyIPText.formatIPv4) == address, "\(label): IPv4 \(address) is not canonical")
            } else {
                let parsed = ProxyIPText.parseIPv6(address.utf8)
                require(
                    header.family == .inet6 && parsed.map(ProxyIPText.formatIPv6) == address,
                    "\(label): IPv6 \(address) is not canonical")
            }
            require(endpoint.socketAddress?.port == port, "\(label): \(endpoint) is not a socket address")
        case .unix:
            require(header.family == .unix, "\(label): a UNIX path in \(header)")
        }
    }
}

/// A CIDR either parses to a network whose description parses back to it and which contains
/// its own address, or throws `.invalidAddress` naming the input, with no raw controls.
private func checkCIDR(_ text: String) {
    let label = "CIDR(\"\(text)\" [\(hex(text.utf8))])"
    do {
        let cidr = try CIDR(text)
        require((try? CIDR(cidr.description)) == cidr, "\(label) gave \(cidr), which does not parse back")
        let address = String(cidr.description.prefix { $0 != "/" })
        guard let socket = try? SocketAddress(ipAddress: address, port: 1) else {
            fail("\(label): \(address) is not an address")
        }
        require(cidr.contains(socket), "\(label) does not contain its own address \(address)")
        require(cidr.prefixLength <= (cidr.family == .ipv4 ? 32 : 128), "\(label): prefix \(cidr.prefixLength)")
    } catch {
        require(error.code == .invalidAddress, "\(label) threw \(error.code): \(error)")
        // Compared in UTF-8: a combining mark at the start of the input joins the quote into one
        // Character, and String.hasPrefix compares Characters.
        require(error.message.utf8.starts(with: "invalid CIDR \"".utf8), "\(label): \(error.message)")
        require(
            !error.message.unicodeScalars.contains { $0.value < 0x20 || $0.value == 0x7F },
            "\(label): raw control in \(error.message.debugDescription)")
    }
}
