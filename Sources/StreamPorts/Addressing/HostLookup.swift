#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

// Host lookups, as Alore's socket module has them (seed 003). Failures throw a
// ``StreamPortError`` with code `.hostNotFound` (Alore's NameError). They are synchronous, as in
// the seed: each blocks its calling thread for as long as the resolver takes.

/// The first address of `name`, as text (dotted decimal, or IPv6 per RFC 5952), IPv4 first when the name has
/// both (Alore's `GetHostByName`).
///
/// ```swift
/// try hostByName("localhost")    // "127.0.0.1"
/// ```
///
/// Blocks the calling thread while the resolver works (DNS may take seconds). Do not call it
/// on an event loop (for example in a task on a stream's `executor`); from async code, run it
/// on a thread that may block, such as `NIOThreadPool.singleton.runIfActive { try hostByName(name) }`.
/// - Parameter name: a host name or a numeric address.
/// - Returns: the address text.
/// - Throws: ``StreamPortError`` `.hostNotFound`.
public func hostByName(_ name: String) throws -> String {
    let all = try StreamAddress.lookup(name, port: 0)
    let first = all.first { $0.protocol == .inet } ?? all[0]
    return first.streamHost
}

/// The primary host name of `address` by reverse lookup (Alore's `GetHostByAddress`).
///
/// Blocks the calling thread while the resolver works, as ``hostByName(_:)`` does.
/// - Parameter address: a numeric IPv4 or IPv6 address.
/// - Returns: the host name.
/// - Throws: ``StreamPortError`` `.invalidAddress` for a non-numeric input, `.hostNotFound`
///   when the address has no name.
public func hostByAddress(_ address: String) throws -> String {
    var storage = sockaddr_storage()
    let length: socklen_t
    if StreamAddress.isIPv4(address) {
        var sin = sockaddr_in()
        sin.sin_family = sa_family_t(AF_INET)
        inet_pton(AF_INET, address, &sin.sin_addr)
        withUnsafeMutableBytes(of: &storage) { dst in withUnsafeBytes(of: sin) { dst.copyMemory(from: $0) } }
        length = socklen_t(MemoryLayout<sockaddr_in>.size)
    } else if StreamAddress.isIPv6(address) {
        var sin6 = sockaddr_in6()
        sin6.sin6_family = sa_family_t(AF_INET6)
        inet_pton(AF_INET6, address, &sin6.sin6_addr)
        withUnsafeMutableBytes(of: &storage) { dst in withUnsafeBytes(of: sin6) { dst.copyMemory(from: $0) } }
        length = socklen_t(MemoryLayout<sockaddr_in6>.size)
    } else {
        throw StreamPortError.invalid(address, "not a numeric IPv4 or IPv6 address")
    }
    var host = [CChar](repeating: 0, count: Int(NI_MAXHOST))
    let status = withUnsafePointer(to: &storage) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            getnameinfo($0, length, &host, socklen_t(host.count), nil, 0, NI_NAMEREQD)
        }
    }
    guard status == 0 else {
        throw StreamPortError(
            .hostNotFound, "address \"\(address)\" has no host name: \(String(cString: gai_strerror(status)))")
    }
    return cString(host)
}

/// This machine's host name (Alore's `GetHostName`).
public func hostName() -> String {
    var name = [CChar](repeating: 0, count: 256)
    guard gethostname(&name, name.count) == 0 else { return "localhost" }
    return cString(name)
}

/// The port of a service name in the system's services database (`"http"` → 80), or of a
/// decimal port number. Reads `/etc/services` (or NSS) on the calling thread.
/// - Parameter service: a service name or a port number.
/// - Returns: the port.
/// - Throws: ``StreamPortError`` `.invalidAddress` for an unknown service or a bad number.
public func servicePort(_ service: String) throws -> Int {
    if !service.isEmpty, service.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) {
        guard service.count <= 5, let port = Int(service), port <= 65535 else {
            throw StreamPortError.invalid(service, "port \(service) is out of range 0–65535")
        }
        return port
    }
    guard let entry = getservbyname(service, "tcp") else {
        throw StreamPortError.invalid(service, "no TCP service of that name in the services database")
    }
    return Int(UInt16(bigEndian: UInt16(truncatingIfNeeded: entry.pointee.s_port)))
}
