// safetensors files (Hugging Face): an 8-byte little-endian header length, a JSON header
// {name: {dtype, shape, data_offsets}, "__metadata__": {…}}, then the raw little-endian data.
// F16 and BF16 (how most checkpoints ship) are widened to float32 on reading.
import Foundation
import TensorCore

public enum Safetensors {
    /// Every tensor of the file, in header order (sorted by name), and the metadata strings.
    public static func read(from path: String) throws -> (tensors: [(String, Tensor)], metadata: [String: String]) {
        func fail(_ message: String) -> FileError { FileError(file: path, message: message) }
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: path), options: .alwaysMapped) } catch {
            throw fail("cannot read the file (\(error.localizedDescription))")
        }
        guard data.count >= 8 else { throw fail("too short for a safetensors header (\(data.count) bytes)") }
        let headerLength = data.prefix(8).enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) }
        guard headerLength <= UInt64(data.count - 8) else { throw fail("header length \(headerLength) exceeds the file") }
        let headerEnd = 8 + Int(headerLength)
        guard let header = try? JSONSerialization.jsonObject(with: data.subdata(in: 8..<headerEnd)) as? [String: Any] else {
            throw fail("the header is not a JSON object; not a safetensors file")
        }
        var metadata: [String: String] = [:]
        var tensors: [(String, Tensor)] = []
        for name in header.keys.sorted() {
            if name == "__metadata__" {
                for (key, value) in header[name] as? [String: Any] ?? [:] { metadata[key] = value as? String ?? "\(value)" }
                continue
            }
            guard let entry = header[name] as? [String: Any], let dtype = entry["dtype"] as? String,
                  let shape = entry["shape"] as? [Int], let offsets = entry["data_offsets"] as? [Int], offsets.count == 2 else {
                throw fail("tensor '\(name)': expected dtype, shape and data_offsets")
            }
            let count = shape.reduce(1, *)
            let begin = headerEnd + offsets[0], end = headerEnd + offsets[1]
            guard offsets[0] >= 0, offsets[0] <= offsets[1], end <= data.count else {
                throw fail("tensor '\(name)': data_offsets \(offsets) fall outside the file")
            }
            let bytes = data.subdata(in: begin..<end)
            func elements<T>(_: T.Type, size: Int) throws -> [T] {
                guard bytes.count == count * size else {
                    throw fail("tensor '\(name)': \(bytes.count) bytes for \(count) elements of \(dtype)")
                }
                return bytes.withUnsafeBytes { raw in (0..<count).map { raw.loadUnaligned(fromByteOffset: $0 * size, as: T.self) } }
            }
            let tensor: Tensor
            switch dtype {
            case "F32": tensor = Tensor(try elements(Float.self, size: 4), shape: shape)
            case "F64": tensor = Tensor(try elements(Double.self, size: 8), shape: shape)
            case "I64": tensor = Tensor(try elements(Int64.self, size: 8), shape: shape)
            case "I32": tensor = Tensor(try elements(Int32.self, size: 4), shape: shape)
            case "F16":
                let halves = try elements(UInt16.self, size: 2)
                tensor = Tensor(halves.map { Float(Float16(bitPattern: $0)) }, shape: shape)
            case "BF16":
                let halves = try elements(UInt16.self, size: 2)
                tensor = Tensor(halves.map { Float(bitPattern: UInt32($0) << 16) }, shape: shape)
            case "I8": tensor = Tensor(try elements(Int8.self, size: 1).map(Int32.init), shape: shape)
            case "U8": tensor = Tensor(try elements(UInt8.self, size: 1).map(Int32.init), shape: shape)
            case "BOOL": tensor = Tensor(try elements(UInt8.self, size: 1).map { $0 != 0 }, shape: shape)
            default: throw fail("tensor '\(name)': dtype \(dtype) is not supported")
            }
            tensors.append((name, tensor))
        }
        return (tensors, metadata)
    }

    /// Writes tensors (float32, float64, int32, int64, bool) atomically, sorted by name, with the
    /// header padded with spaces to 8 bytes as Hugging Face's writer does.
    public static func write(_ tensors: [(String, Tensor)], metadata: [String: String] = [:], to path: String) throws {
        var header: [String: Any] = [:]
        if !metadata.isEmpty { header["__metadata__"] = metadata }
        var payload = Data()
        for (name, tensor) in tensors.sorted(by: { $0.0 < $1.0 }) {
            let dtype: String
            var bytes = Data()
            switch tensor.dtype {
            case .float32: dtype = "F32"; bytes = tensor.scalars(as: Float.self).withUnsafeBytes { Data($0) }
            case .float64: dtype = "F64"; bytes = tensor.scalars(as: Double.self).withUnsafeBytes { Data($0) }
            case .int32: dtype = "I32"; bytes = tensor.scalars(as: Int32.self).withUnsafeBytes { Data($0) }
            case .int64: dtype = "I64"; bytes = tensor.scalars(as: Int64.self).withUnsafeBytes { Data($0) }
            case .bool: dtype = "BOOL"; bytes = Data(tensor.scalars(as: Bool.self).map { $0 ? 1 : 0 })
            }
            header[name] = ["dtype": dtype, "shape": tensor.shape, "data_offsets": [payload.count, payload.count + bytes.count]]
            payload.append(bytes)
        }
        var json = try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys, .withoutEscapingSlashes])
        while json.count % 8 != 0 { json.append(UInt8(ascii: " ")) }
        var file = Data()
        let length = UInt64(json.count)
        for index in 0..<8 { file.append(UInt8(truncatingIfNeeded: length >> (8 * UInt64(index)))) }
        file.append(json)
        file.append(payload)
        do { try file.write(to: URL(fileURLWithPath: path), options: .atomic) } catch {
            throw FileError(file: path, message: "cannot write (\(error.localizedDescription))")
        }
    }
}
