import FuzzSupport
import StreamPortsTestSupport

@testable import StreamPorts

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// StreamAddress.parse and StreamAddress.raw. Header byte 0 picks the form: 0 `parse(text)`,
/// 1 `parse(text, port:)`, 2 `raw([UInt8], port:)`, 3 `raw([UInt16], port:)`; forms 1–3 read
/// a port (negative, in range or above 65535) from the next three bytes; the rest is the text
/// (as UTF-8, invalid bytes becoming U+FFFD) or the raw bytes.
@_cdecl("LLVMFuzzerTestOneInput")
public func addressFuzzer(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    var input = FuzzInput(data, size)
    let form = input.byte() % 4
    switch form {
    case 0:
        checkParse(String(decoding: input.rest, as: UTF8.self), port: nil)
    case 1:
        let port = fuzzPort(&input)
        checkParse(String(decoding: input.rest, as: UTF8.self), port: port)
    case 2:
        let port = fuzzPort(&input)
        checkRaw(input.rest, port: port)
    default:
        let port = fuzzPort(&input)
        let bytes = input.rest
        let groups = stride(from: 0, to: bytes.count - 1, by: 2).map { UInt16(bytes[$0]) << 8 | UInt16(bytes[$0 + 1]) }
        checkRawGroups(groups, port: port)
    }
    return 0
}

/// A port: negative, 0–65535 or above, chosen by the next three bytes.
private func fuzzPort(_ input: inout FuzzInput) -> Int {
    let kind = input.byte()
    let value = Int(input.uint16())
    switch kind % 4 {
    case 0: return -1 - value
    case 1: return 65536 + value
    default: return value
    }
}

/// Parsing either gives an address whose parts are valid, whose description parses back to
/// the same address (portecho hands `description` to the connecting and listening functions),
/// which agrees with its own port given separately and whose numeric hosts resolve without a
/// lookup; or it throws `.invalidAddress` with a message naming the input.
private func checkParse(_ text: String, port: Int?) {
    let label = "parse(\"\(text)\" [\(hex(text.utf8))], port: \(port.map(String.init) ?? "nil"))"
    let address: StreamAddress
    do {
        address = try StreamAddress.parse(text, port: port)
    } catch {
        require(error.code == .invalidAddress, "\(label) threw \(error.code): \(error)")
        require(
            error.message.hasPrefix("invalid address \"\(quoted(text))\": "),
            "\(label): the message does not name the input: \(error)")
        return
    }
    if let port { require(address.port == port, "\(label) gave port \(address.port)") }
    checkAddress(address, label: label)
    do {
        let again = try StreamAddress.parse(text, port: address.port)
        require(again == address, "\(label): with its own port \(address.port) it parses to \(again), not \(address)")
    } catch {
        fail("\(label): with its own port \(address.port) it throws \(error)")
    }
}

/// The invariants of every address, whichever function made it.
private func checkAddress(_ address: StreamAddress, label: String) {
    require((0...65535).contains(address.port), "\(label) gave port \(address.port)")
    switch address.host {
    case .name(let name):
        require(
            !name.isEmpty
                && name.utf8.allSatisfy { $0 > 0x20 && $0 < 0x7F && $0 != UInt8(ascii: "/") && $0 != UInt8(ascii: ":") },
            "\(label) gave the host name \"\(name)\"")
        require(!StreamAddress.isIPv4(name) && name != "*", "\(label) gave the numeric host \"\(name)\" as a name")
    case .ipv4(let text):
        require(StreamAddress.isIPv4(text), "\(label) gave the IPv4 host \"\(text)\"")
    case .ipv6(let text):
        require(StreamAddress.isIPv6(text), "\(label) gave the IPv6 host \"\(text)\"")
    case .anyInterface:
        break
    }
    do {
        let again = try StreamAddress.parse(address.description)
        require(
            again == address, "\(label): its description \"\(address.description)\" parses to \(again), not \(address)")
    } catch {
        fail("\(label): its description \"\(address.description)\" does not parse: \(error)")
    }
    if case .name = address.host { return }  // resolving a name would ask DNS
    do {
        let targets = try address.resolveForConnecting() + address.resolveForListening()
        require(
            !targets.isEmpty && targets.allSatisfy { $0.port == address.port },
            "\(label): resolves to \(targets.map(\.streamDescription))")
    } catch {
        fail("\(label): the numeric address \(address) does not resolve: \(error)")
    }
}

/// 4 or 16 bytes and a valid port give the address those bytes spell (checked against
/// `inet_pton`); anything else throws `.invalidAddress`.
private func checkRaw(_ bytes: [UInt8], port: Int) {
    let label = "raw([\(hex(bytes))], port: \(port))"
    let valid = (bytes.count == 4 || bytes.count == 16) && (0...65535).contains(port)
    let address: StreamAddress
    do {
        address = try StreamAddress.raw(bytes, port: port)
    } catch {
        require(!valid, "\(label) threw \(error)")
        require(error.code == .invalidAddress, "\(label) threw \(error.code): \(error)")
        return
    }
    require(valid, "\(label) gave \(address)")
    require(address.port == port, "\(label) gave port \(address.port)")
    switch address.host {
    case .ipv4(let text):
        require(bytes.count == 4 && text == bytes.map(String.init).joined(separator: "."), "\(label) gave \(text)")
    case .ipv6(let text):
        require(bytes.count == 16 && networkBytes(ipv6: text) == bytes, "\(label) gave \(text)")
    default:
        fail("\(label) gave \(address)")
    }
    checkAddress(address, label: label)
}

/// Eight groups equal their 16 bytes in network order; other counts throw `.invalidAddress`.
private func checkRawGroups(_ groups: [UInt16], port: Int) {
    let label = "raw(\(groups), port: \(port))"
    let bytes = groups.flatMap { [UInt8($0 >> 8), UInt8($0 & 0xFF)] }
    let fromGroups = Result { () throws(StreamPortError) in try StreamAddress.raw(groups, port: port) }
    if groups.count == 8 {
        let fromBytes = Result { () throws(StreamPortError) in try StreamAddress.raw(bytes, port: port) }
        switch (fromGroups, fromBytes) {
        case (.success(let a), .success(let b)): require(a == b, "\(label) gave \(a), its bytes \(b)")
        case (.failure(let a), .failure(let b)):
            require(a.code == .invalidAddress && b.code == .invalidAddress, "\(label): \(a), \(b)")
        default: fail("\(label) gave \(fromGroups), its bytes \(fromBytes)")
        }
    } else {
        guard case .failure(let error) = fromGroups, error.code == .invalidAddress else {
            fail("\(label) gave \(fromGroups)")
        }
    }
}

/// The 16 bytes `inet_pton` reads from an IPv6 literal, or nil.
private func networkBytes(ipv6 text: String) -> [UInt8]? {
    var address = in6_addr()
    guard inet_pton(AF_INET6, text, &address) == 1 else { return nil }
    return withUnsafeBytes(of: &address) { Array($0) }
}

/// `text` as error messages quote it, by the documented rule (written here independently of
/// the library's code): C0 and C1 controls and DEL as `\xNN`; other format characters, line
/// and paragraph separators and unassigned code points as `\u{NNNN}` (at least 4 hex digits).
private func quoted(_ text: String) -> String {
    var out = ""
    for scalar in text.unicodeScalars {
        let v = scalar.value
        if v < 0x20 || (0x7F...0x9F).contains(v) {
            out += "\\x" + (v < 0x10 ? "0" : "") + String(v, radix: 16, uppercase: true)
        } else if v >= 0x80,
            [.format, .lineSeparator, .paragraphSeparator, .unassigned, .control].contains(
                scalar.properties.generalCategory)
        {
            let hex = String(v, radix: 16, uppercase: true)
            out += "\\u{" + String(repeating: "0", count: max(0, 4 - hex.count)) + hex + "}"
        } else {
            out.unicodeScalars.append(scalar)
        }
    }
    return out
}
