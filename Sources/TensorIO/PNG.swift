// A minimal PNG writer (8-bit RGB, no interlace, zlib through CZlib), written atomically.
import CZlib
import Foundation

public enum PNG {
    /// Encodes `pixels` (row-major RGB, 3 bytes per pixel) of `width` × `height`.
    public static func encode(width: Int, height: Int, rgb pixels: [UInt8]) -> Data {
        precondition(pixels.count == width * height * 3, "PNG: \(pixels.count) bytes for \(width)×\(height) RGB")
        // Each row starts with filter type 0 (none).
        var raw = [UInt8]()
        raw.reserveCapacity((width * 3 + 1) * height)
        for row in 0..<height {
            raw.append(0)
            raw += pixels[(row * width * 3)..<((row + 1) * width * 3)]
        }
        var compressedLength = compressBound(uLong(raw.count))
        var compressed = [UInt8](repeating: 0, count: Int(compressedLength))
        let status = compress2(&compressed, &compressedLength, raw, uLong(raw.count), 6)
        precondition(status == Z_OK, "PNG: zlib compress2 failed (\(status))")
        var data = Data([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
        func bigEndian(_ value: UInt32) -> [UInt8] { [UInt8(value >> 24), UInt8((value >> 16) & 0xFF), UInt8((value >> 8) & 0xFF), UInt8(value & 0xFF)] }
        func chunk(_ type: String, _ body: [UInt8]) {
            let typeBytes = Array(type.utf8)
            data.append(contentsOf: bigEndian(UInt32(body.count)))
            data.append(contentsOf: typeBytes)
            data.append(contentsOf: body)
            let crc = (typeBytes + body).withUnsafeBufferPointer { crc32(0, $0.baseAddress, uInt($0.count)) }
            data.append(contentsOf: bigEndian(UInt32(crc)))
        }
        // IHDR: width, height, bit depth 8, colour type 2 (RGB), compression, filter, interlace 0.
        chunk("IHDR", bigEndian(UInt32(width)) + bigEndian(UInt32(height)) + [8, 2, 0, 0, 0])
        chunk("IDAT", Array(compressed[0..<Int(compressedLength)]))
        chunk("IEND", [])
        return data
    }

    /// Writes the image to `path` through a temporary name and a rename.
    public static func write(width: Int, height: Int, rgb pixels: [UInt8], to path: String) throws {
        try encode(width: width, height: height, rgb: pixels).write(to: URL(fileURLWithPath: path), options: .atomic)
    }
}
