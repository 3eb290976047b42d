// NumPy's `.npy` arrays and `.npz` archives (a zip of `.npy` members), as AlphaFold ships its
// parameters and as the OpenFold fixtures hold DeepMind's reference features. Stored and
// deflated members are read; archives are written stored (as `np.savez` does), atomically.
import CZlib
import Foundation
import TensorCore

/// One array: its NumPy type string (`<i4`, `<f8`, `|b1`, …), shape and little-endian bytes.
public struct NumpyArray: Sendable {
    public let descr: String
    public let shape: [Int]
    public let bytes: [UInt8]

    public var count: Int { shape.reduce(1, *) }

    /// The array as a tensor: floats keep their width, integers of any width become int64 (int32
    /// stays int32), booleans bool.
    public func tensor() throws -> Tensor {
        switch descr {
        case "<f4": return Tensor(values(Float.self), shape: shape)
        case "<f8": return Tensor(values(Double.self), shape: shape)
        case "<i4": return Tensor(values(Int32.self), shape: shape)
        case "<i8": return Tensor(values(Int64.self), shape: shape)
        case "<i2": return Tensor(values(Int16.self).map(Int64.init), shape: shape)
        case "|i1": return Tensor(values(Int8.self).map(Int64.init), shape: shape)
        case "|u1": return Tensor(values(UInt8.self).map(Int64.init), shape: shape)
        case "<u2": return Tensor(values(UInt16.self).map(Int64.init), shape: shape)
        case "<u4": return Tensor(values(UInt32.self).map(Int64.init), shape: shape)
        case "|b1": return Tensor(values(UInt8.self).map { $0 != 0 }, shape: shape)
        default: throw FileError(file: "", message: "dtype \(descr) is not supported (expected <f4, <f8, integers or |b1)")
        }
    }

    /// Integer elements as Int, whatever their width.
    public func integers() throws -> [Int] {
        switch descr {
        case "<i4": return values(Int32.self).map(Int.init)
        case "<i8": return values(Int64.self).map(Int.init)
        case "<i2": return values(Int16.self).map(Int.init)
        case "|i1": return values(Int8.self).map(Int.init)
        case "|u1", "|b1": return values(UInt8.self).map(Int.init)
        case "<u2": return values(UInt16.self).map(Int.init)
        case "<u4": return values(UInt32.self).map(Int.init)
        default: throw FileError(file: "", message: "dtype \(descr) is not an integer type")
        }
    }

    func values<T>(_: T.Type) -> [T] {
        bytes.withUnsafeBytes { raw in
            (0..<count).map { raw.loadUnaligned(fromByteOffset: $0 * MemoryLayout<T>.size, as: T.self) }
        }
    }

    public init(descr: String, shape: [Int], bytes: [UInt8]) {
        self.descr = descr
        self.shape = shape
        self.bytes = bytes
    }

    /// A C-ordered array from a tensor (float32 `<f4`, float64 `<f8`, int32 `<i4`, int64 `<i8`, bool `|b1`).
    public init(_ tensor: Tensor) {
        shape = tensor.shape
        switch tensor.dtype {
        case .float32: descr = "<f4"; bytes = Self.bytes(of: tensor.scalars(as: Float.self))
        case .float64: descr = "<f8"; bytes = Self.bytes(of: tensor.scalars(as: Double.self))
        case .int32: descr = "<i4"; bytes = Self.bytes(of: tensor.scalars(as: Int32.self))
        case .int64: descr = "<i8"; bytes = Self.bytes(of: tensor.scalars(as: Int64.self))
        case .bool: descr = "|b1"; bytes = tensor.scalars(as: Bool.self).map { $0 ? 1 : 0 }
        }
    }

    static func bytes<T>(of values: [T]) -> [UInt8] { values.withUnsafeBytes { Array($0) } }

    static let itemSizes: [String: Int] = ["<f4": 4, "<f8": 8, "<i4": 4, "<i8": 8, "<i2": 2, "|i1": 1, "|u1": 1, "<u2": 2, "<u4": 4, "|b1": 1]

    /// Parses one `.npy` file image (format versions 1–3; C order only).
    public static func parse(_ data: [UInt8], file: String) throws -> NumpyArray {
        func fail(_ message: String) -> FileError { FileError(file: file, message: message) }
        let magic: [UInt8] = [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59]
        guard data.count >= 10, Array(data[0..<6]) == magic else { throw fail("not a .npy array (no \\x93NUMPY magic)") }
        let major = data[6]
        let headerLength: Int, headerStart: Int
        switch major {
        case 1: headerLength = Int(data[8]) | Int(data[9]) << 8; headerStart = 10
        case 2, 3:
            guard data.count >= 12 else { throw fail("truncated .npy header") }
            headerLength = (0..<4).reduce(0) { $0 | Int(data[8 + $1]) << (8 * $1) }
            headerStart = 12
        default: throw fail(".npy format version \(major) is not supported (1–3 are)")
        }
        guard headerStart + headerLength <= data.count else { throw fail("truncated .npy header") }
        let header = String(decoding: data[headerStart..<headerStart + headerLength], as: UTF8.self)
        func field(_ key: String) -> Substring? {
            guard let range = header.range(of: "'\(key)':") else { return nil }
            return header[range.upperBound...].drop { $0 == " " }
        }
        guard let descrField = field("descr"), descrField.first == "'",
              let descrEnd = descrField.dropFirst().firstIndex(of: "'") else { throw fail("the .npy header has no 'descr': \(header)") }
        let descr = String(descrField.dropFirst()[..<descrEnd])
        guard let itemSize = itemSizes[descr] else { throw fail("dtype \(descr) is not supported (little-endian floats, integers and bools are)") }
        if let order = field("fortran_order"), order.hasPrefix("True") {
            throw fail("Fortran-ordered arrays are not supported; save with np.ascontiguousarray")
        }
        guard let shapeField = field("shape"), shapeField.first == "(", let close = shapeField.firstIndex(of: ")") else {
            throw fail("the .npy header has no 'shape': \(header)")
        }
        let shape = try shapeField[shapeField.index(after: shapeField.startIndex)..<close].split(separator: ",").compactMap { part -> Int? in
            let text = part.trimmingCharacters(in: .whitespaces)
            if text.isEmpty { return nil }
            guard let value = Int(text), value >= 0 else { throw fail("bad shape entry '\(text)' in \(header)") }
            return value
        }
        let start = headerStart + headerLength, size = shape.reduce(1, *) * itemSize
        guard data.count - start >= size else {
            throw fail("holds \(data.count - start) data bytes; shape \(shape) of \(descr) needs \(size)")
        }
        return NumpyArray(descr: descr, shape: shape, bytes: Array(data[start..<start + size]))
    }

    /// The `.npy` file image (format 1.0).
    public func encoded() -> [UInt8] {
        let shapeText = shape.count == 1 ? "(\(shape[0]),)" : "(" + shape.map(String.init).joined(separator: ", ") + ")"
        var header = "{'descr': '\(descr)', 'fortran_order': False, 'shape': \(shapeText), }"
        // Pad with spaces so that magic + lengths + header + newline is a multiple of 64.
        while (10 + header.utf8.count + 1) % 64 != 0 { header += " " }
        header += "\n"
        let length = header.utf8.count
        return [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59, 1, 0, UInt8(length & 0xFF), UInt8(length >> 8)] + Array(header.utf8) + bytes
    }
}

/// A `.npz` archive: its member arrays by name (without the `.npy` suffix).
public struct NumpyArchive {
    public let path: String
    public private(set) var names: [String] = []
    private var members: [String: (method: Int, compressedSize: Int, size: Int, dataOffset: Int)] = [:]
    private let data: [UInt8]

    /// Reads the archive's directory; members are decoded on request.
    public init(contentsOf path: String) throws {
        self.path = path
        guard let contents = FileManager.default.contents(atPath: path) else {
            throw FileError(file: path, message: "cannot read the file (missing or unreadable)")
        }
        data = [UInt8](contents)
        func fail(_ message: String) -> FileError { FileError(file: path, message: message) }
        func u16(_ at: Int) -> Int { Int(data[at]) | Int(data[at + 1]) << 8 }
        func u32(_ at: Int) -> Int { u16(at) | u16(at + 2) << 16 }
        // The end-of-central-directory record is in the last 22 + 65,535 bytes.
        var end = data.count - 22
        let lowest = Swift.max(0, data.count - 22 - 65_535)
        while end >= lowest, !(data[end] == 0x50 && data[end + 1] == 0x4B && data[end + 2] == 5 && data[end + 3] == 6) { end -= 1 }
        guard end >= lowest, data.count >= 22 else { throw fail("not a zip archive (no end-of-central-directory record)") }
        let entries = u16(end + 10)
        var at = u32(end + 16)
        if entries == 0xFFFF || at == 0xFFFF_FFFF { throw fail("zip64 archives are not supported") }
        for _ in 0..<entries {
            guard at + 46 <= data.count, u32(at) == 0x0201_4B50 else { throw fail("corrupt zip central directory at byte \(at)") }
            let method = u16(at + 10), compressed = u32(at + 20), size = u32(at + 24)
            let nameLength = u16(at + 28), extraLength = u16(at + 30), commentLength = u16(at + 32), local = u32(at + 42)
            guard at + 46 + nameLength <= data.count, local + 30 <= data.count, u32(local) == 0x0403_4B50 else {
                throw fail("corrupt zip entry at byte \(at)")
            }
            let name = String(decoding: data[at + 46..<at + 46 + nameLength], as: UTF8.self)
            let dataOffset = local + 30 + u16(local + 26) + u16(local + 28)
            guard dataOffset + compressed <= data.count else { throw fail("member \(name) is truncated") }
            let key = name.hasSuffix(".npy") ? String(name.dropLast(4)) : name
            names.append(key)
            members[key] = (method, compressed, size, dataOffset)
            at += 46 + nameLength + extraLength + commentLength
        }
    }

    /// One member array.
    public func array(_ name: String) throws -> NumpyArray {
        guard let member = members[name] else {
            throw FileError(file: path, message: "no array '\(name)' (the archive holds \(names.joined(separator: ", ")))")
        }
        let raw = Array(data[member.dataOffset..<member.dataOffset + member.compressedSize])
        let image: [UInt8]
        switch member.method {
        case 0: image = raw
        case 8: image = try inflate(raw, size: member.size, member: name)
        default: throw FileError(file: path, message: "member \(name) uses zip method \(member.method) (stored and deflate are supported)")
        }
        return try NumpyArray.parse(image, file: "\(path)[\(name)]")
    }

    private func inflate(_ raw: [UInt8], size: Int, member: String) throws -> [UInt8] {
        var output = [UInt8](repeating: 0, count: size)
        var stream = z_stream()
        // Raw deflate (no zlib header): window bits −15.
        guard inflateInit2_(&stream, -15, zlibVersion(), Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            throw FileError(file: path, message: "zlib could not start inflating \(member)")
        }
        defer { inflateEnd(&stream) }
        let status: Int32 = raw.withUnsafeBufferPointer { input in
            output.withUnsafeMutableBufferPointer { out in
                stream.next_in = UnsafeMutablePointer(mutating: input.baseAddress)
                stream.avail_in = UInt32(input.count)
                stream.next_out = out.baseAddress
                stream.avail_out = UInt32(out.count)
                return CZlib.inflate(&stream, Z_FINISH)
            }
        }
        guard status == Z_STREAM_END, Int(stream.total_out) == size else {
            throw FileError(file: path, message: "member \(member) does not inflate to its \(size) bytes (zlib status \(status))")
        }
        return output
    }

    /// Writes arrays as an uncompressed `.npz` (what `np.savez` writes), under a temporary
    /// name renamed into place.
    public static func write(_ arrays: [(String, NumpyArray)], to path: String) throws {
        var body: [UInt8] = [], directory: [UInt8] = []
        func le16(_ value: Int) -> [UInt8] { [UInt8(value & 0xFF), UInt8(value >> 8 & 0xFF)] }
        func le32(_ value: Int) -> [UInt8] { le16(value & 0xFFFF) + le16(value >> 16 & 0xFFFF) }
        for (name, array) in arrays {
            let image = array.encoded(), fileName = Array((name + ".npy").utf8)
            guard body.count < 0xFFFF_FFFF - image.count else { throw FileError(file: path, message: "archive over 4 GiB (zip64) is not supported") }
            let crc = image.withUnsafeBufferPointer { UInt(crc32(0, $0.baseAddress, UInt32($0.count))) }
            let common = le16(20) + le16(0) + le16(0) + le16(0) + le16(0x21) + le32(Int(crc)) + le32(image.count) + le32(image.count)
                + le16(fileName.count) + le16(0)
            directory += [0x50, 0x4B, 1, 2] + le16(20) + common + le16(0) + le16(0) + le16(0) + le32(0) + le32(body.count) + fileName
            body += [0x50, 0x4B, 3, 4] + common + fileName + image
        }
        let end: [UInt8] = [0x50, 0x4B, 5, 6] + le16(0) + le16(0) + le16(arrays.count) + le16(arrays.count) + le32(directory.count)
            + le32(body.count) + le16(0)
        let url = URL(fileURLWithPath: path)
        do {
            try Data(body + directory + end).write(to: url, options: .atomic)
        } catch {
            throw FileError(file: path, message: "cannot write (\(error.localizedDescription))")
        }
    }
}
