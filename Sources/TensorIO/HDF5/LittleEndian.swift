// HDF5's on-disk integers are little-endian, of 1–8 bytes; the structure checks read them from raw bytes.

extension Array where Element == UInt8 {
    /// The unsigned little-endian integer of `width` bytes (1–8) at `offset`; the caller checks the bounds.
    func littleEndian(at offset: Int, width: Int = 8) -> UInt64 {
        (0..<width).reduce(UInt64(0)) { $0 | UInt64(self[offset + $1]) << (8 * UInt64($1)) }
    }
}
