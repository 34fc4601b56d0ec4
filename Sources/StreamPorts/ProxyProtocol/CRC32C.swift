/// CRC-32C (Castagnoli; RFC 4960 appendix B, iSCSI), as the PROXY protocol's `PP2_TYPE_CRC32C`
/// uses it: reflected polynomial 0x82F63B78, initial value and final XOR 0xFFFFFFFF.
/// `"123456789"` gives 0xE3069283.
///
/// Table-driven, one byte per step: a header is checked once per connection and is at most
/// 64 KiB, so slice-by-8 would not be noticed.
enum CRC32C {
    /// The 256-entry table, built once on first use (thread-safe lazy global initialization).
    static let table: [UInt32] = (0..<256).map { index in
        var crc = UInt32(index)
        for _ in 0..<8 { crc = crc & 1 == 1 ? (crc >> 1) ^ 0x82F6_3B78 : crc >> 1 }
        return crc
    }

    /// The running register after `bytes` (start with 0xFFFFFFFF; XOR the end result with
    /// 0xFFFFFFFF).
    static func update(_ crc: UInt32, _ bytes: UnsafeRawBufferPointer) -> UInt32 {
        table.withUnsafeBufferPointer { table in
            var crc = crc
            for byte in bytes { crc = table[Int(UInt8(truncatingIfNeeded: crc) ^ byte)] ^ (crc >> 8) }
            return crc
        }
    }

    /// The checksum of `bytes`.
    static func checksum(_ bytes: UnsafeRawBufferPointer) -> UInt32 {
        update(0xFFFF_FFFF, bytes) ^ 0xFFFF_FFFF
    }

    /// The checksum of `bytes` with the 4 bytes at `offset` read as zeros (the PROXY header's
    /// own checksum field), without copying the header.
    static func checksum(_ bytes: UnsafeRawBufferPointer, zeroing offset: Int) -> UInt32 {
        let zeros: UInt32 = 0
        var crc = update(0xFFFF_FFFF, UnsafeRawBufferPointer(rebasing: bytes[..<offset]))
        crc = withUnsafeBytes(of: zeros) { update(crc, $0) }
        crc = update(crc, UnsafeRawBufferPointer(rebasing: bytes[(offset + 4)...]))
        return crc ^ 0xFFFF_FFFF
    }
}
