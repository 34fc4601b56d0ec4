import Testing

@testable import StreamPorts

@Suite("Client stream addresses and endpoints", .timeLimit(.minutes(1)))
struct ClientStreamEndpointTests {
    /// Seeds 003 and 004: an address is the host alone, the port is apart; an endpoint has both.
    @Test(arguments: ["127.0.0.1:0", "[::1]:0"])
    func addressesAreHostsAndEndpointsHavePorts(address: String) async throws {
        try await withServer(address) { server in
            let peer = try await connect(to: server)
            guard let accepted = await server.read(timeout: .seconds(10)) else {
                Issue.record("no connection accepted")
                return
            }
            let ipv6 = address.hasPrefix("[")
            let host = ipv6 ? "::1" : "127.0.0.1"
            let endpointHost = ipv6 ? "[::1]" : "127.0.0.1"
            #expect(accepted.localAddress == host)
            #expect(accepted.remoteAddress == host)
            #expect(peer.localAddress == host)
            #expect(peer.remoteAddress == host)
            #expect(accepted.localPort == server.localPort)
            #expect(peer.remotePort == server.localPort)
            #expect(accepted.remotePort == peer.localPort)
            #expect(accepted.localEndpoint == "\(endpointHost):\(server.localPort)")
            #expect(peer.remoteEndpoint == "\(endpointHost):\(server.localPort)")
            #expect(accepted.remoteEndpoint == "\(endpointHost):\(peer.localPort)")
            #expect(peer.localEndpoint == "\(endpointHost):\(peer.localPort)")

            // Messages name the peer by its endpoint.
            try await accepted.closeWriter()
            let error = #expect(throws: StreamPortError.self) { try accepted.write("late") }
            #expect(error?.code == .closed)
            #expect(error?.message == "write to \(endpointHost):\(peer.localPort): the writer is closed")
            await peer.abort()
            await accepted.abort()
        }
    }

    /// RFC 5952: lowercase, no leading zeros, the longest run (the first of equal ones) of two
    /// or more zero groups as "::", IPv4-mapped addresses in mixed notation.
    @Test(arguments: [
        ([UInt16](repeating: 0, count: 8), "::"),
        ([0, 0, 0, 0, 0, 0, 0, 1], "::1"),
        ([0, 0, 0, 0, 0, 0, 1, 0x80], "::1:80"),
        ([1, 0, 0, 0, 0, 0, 0, 0], "1::"),
        ([0x2001, 0xDB8, 0, 0, 0, 0, 0, 1], "2001:db8::1"),
        ([0x2001, 0xDB8, 0, 0, 1, 0, 0, 1], "2001:db8::1:0:0:1"),
        ([0x2001, 0xDB8, 0, 1, 1, 1, 1, 1], "2001:db8:0:1:1:1:1:1"),
        ([1, 0, 0, 2, 0, 0, 0, 3], "1:0:0:2::3"),
        ([0x2001, 0xDB8, 0xAB, 0xCDEF, 0, 0, 0, 0xA], "2001:db8:ab:cdef::a"),
        ([0xFE80, 0, 0, 0, 0x1FF, 0xFE23, 0x4567, 0x890A], "fe80::1ff:fe23:4567:890a"),
        ([0, 0, 0, 0, 0, 0xFFFF, 0xC000, 0x0201], "::ffff:192.0.2.1"),
    ])
    func rfc5952(groups: [UInt16], text: String) {
        let bytes = groups.flatMap { [UInt8($0 >> 8), UInt8($0 & 0xFF)] }
        #expect(ipv6Text(bytes) == text)
    }
}
