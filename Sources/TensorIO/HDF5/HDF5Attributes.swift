// Attributes on files (the root group), groups and datasets.
import CHDF5

#if canImport(Glibc)
import Glibc
#endif

/// An attribute's value: a number, a string, or a 1-D array of them.
public enum HDF5AttributeValue: Equatable, Sendable, CustomStringConvertible {
    case int(Int64)
    case double(Double)
    case string(String)
    case ints([Int64])
    case floats([Float])
    case doubles([Double])
    case strings([String])

    public var description: String {
        switch self {
        case .int(let value): "\(value)"
        case .double(let value): "\(value)"
        case .string(let value): "\"\(value)\""
        case .ints(let values): "\(values)"
        case .floats(let values): "\(values)"
        case .doubles(let values): "\(values)"
        case .strings(let values): "\(values)"
        }
    }

    public var intValue: Int64? { if case .int(let value) = self { value } else { nil } }
    public var doubleValue: Double? {
        switch self {
        case .double(let value): value
        case .int(let value): Double(value)
        default: nil
        }
    }
    public var stringValue: String? { if case .string(let value) = self { value } else { nil } }
}

extension HDF5Object {
    /// Names of this object's attributes, in creation order.
    public func attributeNames() throws(HDF5Error) -> [String] {
        var info = H5O_info_t()
        try call("list attributes") { H5Oget_info2(id, &info, UInt32(H5O_INFO_NUM_ATTRS)) }
        var names: [String] = []
        for index in 0..<info.num_attrs {
            let length = try call("list attributes") {
                H5Aget_name_by_idx(id, ".", H5_INDEX_CRT_ORDER, H5_ITER_INC, index, nil, 0, defaultProperties)
            }
            var buffer = [CChar](repeating: 0, count: length + 1)
            try call("list attributes") {
                H5Aget_name_by_idx(id, ".", H5_INDEX_CRT_ORDER, H5_ITER_INC, index, &buffer, buffer.count, defaultProperties)
            }
            names.append(String(decoding: buffer.prefix(length).map { UInt8(bitPattern: $0) }, as: UTF8.self))
        }
        return names
    }

    public func hasAttribute(_ name: String) -> Bool {
        HDF5Library.quietly { H5Aexists(id, name) } > 0
    }

    /// Sets (or replaces) an attribute.
    public func setAttribute(_ name: String, _ value: HDF5AttributeValue) throws(HDF5Error) {
        let operation = "write attribute '\(name)'"
        if hasAttribute(name) { try call(operation) { H5Adelete(id, name) } }
        let dtype: HDF5DataType
        let shape: [Int]?
        switch value {
        case .int: (dtype, shape) = (.int64, nil)
        case .double: (dtype, shape) = (.float64, nil)
        case .string: (dtype, shape) = (.variableString(utf8: true), nil)
        case .ints(let values): (dtype, shape) = (.int64, [values.count])
        case .floats(let values): (dtype, shape) = (.float32, [values.count])
        case .doubles(let values): (dtype, shape) = (.float64, [values.count])
        case .strings(let values): (dtype, shape) = (.variableString(utf8: true), [values.count])
        }
        let space: hid_t
        if let shape {
            space = try call(operation) { H5Screate_simple(1, [hsize_t(shape[0])], nil) }
        } else {
            space = try call(operation) { H5Screate(H5S_SCALAR) }
        }
        defer { _ = HDF5Library.quietly { H5Sclose(space) } }
        let type = try dtype.memoryType(file: file.path, object: path)
        let attribute = try call(operation) { H5Acreate2(id, name, type.id, space, defaultProperties, defaultProperties) }
        defer { _ = HDF5Library.quietly { H5Aclose(attribute) } }
        switch value {
        case .int(var number): try call(operation) { H5Awrite(attribute, type.id, &number) }
        case .double(var number): try call(operation) { H5Awrite(attribute, type.id, &number) }
        case .ints(let numbers): try call(operation) { H5Awrite(attribute, type.id, numbers) }
        case .floats(let numbers): try call(operation) { H5Awrite(attribute, type.id, numbers) }
        case .doubles(let numbers): try call(operation) { H5Awrite(attribute, type.id, numbers) }
        case .string(let text):
            let pointers = [strdup(text)]
            defer { free(pointers[0]) }
            try call(operation) { H5Awrite(attribute, type.id, pointers) }
        case .strings(let texts):
            let pointers = texts.map { strdup($0) }
            defer { pointers.forEach { free($0) } }
            try call(operation) { H5Awrite(attribute, type.id, pointers) }
        }
    }

    /// Reads an attribute; integers widen to Int64, floats to Double (arrays keep float32).
    public func attribute(_ name: String) throws(HDF5Error) -> HDF5AttributeValue {
        let operation = "read attribute '\(name)'"
        guard hasAttribute(name) else { throw error(.objectNotFound, operation, "no attribute named '\(name)'") }
        let attribute = try call(operation) { H5Aopen(id, name, defaultProperties) }
        defer { _ = HDF5Library.quietly { H5Aclose(attribute) } }
        let space = try call(operation) { H5Aget_space(attribute) }
        defer { _ = HDF5Library.quietly { H5Sclose(space) } }
        let rank = try call(operation) { H5Sget_simple_extent_ndims(space) }
        let count = Int(try call(operation) { H5Sget_simple_extent_npoints(space) })
        // A damaged dataspace must not size the buffer: an attribute's values lie in the file.
        var fileSize: hsize_t = 0
        _ = HDF5Library.quietly { H5Fget_filesize(file.id, &fileSize) }
        let storage = H5Aget_storage_size(attribute)
        guard count >= 0, UInt64(count) <= storage, storage <= fileSize else {
            throw error(.shapeMismatch, operation, "its dataspace claims \(count) elements, \(storage) bytes, in a file of \(fileSize) (a damaged attribute)")
        }
        let fileType = try call(operation) { H5Aget_type(attribute) }
        defer { _ = HDF5Library.quietly { H5Tclose(fileType) } }
        let stored = HDF5Library.quietly { HDF5DataType.classify(fileType) }
        let scalar = rank == 0

        func readNumbers<T: BitwiseCopyable>(_ memory: HDF5DataType, _ zero: T) throws(HDF5Error) -> [T] {
            let type = try memory.memoryType(file: file.path, object: path)
            var values = [T](repeating: zero, count: count)
            try call(operation) { values.withUnsafeMutableBytes { H5Aread(attribute, type.id, $0.baseAddress) } }
            return values
        }

        switch stored {
        case .float32 where !scalar:
            return .floats(try readNumbers(.float32, Float(0)))
        case .float16, .float32, .float64:
            let values = try readNumbers(.float64, Double(0))
            return scalar ? .double(values[0]) : .doubles(values)
        case .bool:
            let values = try readNumbers(.bool, Int8(0)).map(Int64.init)
            return scalar ? .int(values[0]) : .ints(values)
        case .int8, .int16, .int32, .int64, .uint8, .uint16, .uint32, .uint64:
            let values = try readNumbers(.int64, Int64(0))
            return scalar ? .int(values[0]) : .ints(values)
        case .variableString:
            try file.checkVariableLengthAttribute(objectID: id, object: path, name: name, count: count)
            let type = try stored.memoryType(file: file.path, object: path)
            var pointers = [UnsafeMutablePointer<CChar>?](repeating: nil, count: count)
            try call(operation) { H5Aread(attribute, type.id, &pointers) }
            let strings = pointers.map { $0.map { String(cString: $0) } ?? "" }
            _ = HDF5Library.quietly { H5Dvlen_reclaim(type.id, space, defaultProperties, &pointers) }
            return scalar ? .string(strings[0]) : .strings(strings)
        case .fixedString(let size, _):
            // Read with the stored type itself: padding rules differ (numpy bytes are NULLPAD).
            var bytes = [UInt8](repeating: 0, count: count * size)
            try call(operation) { H5Aread(attribute, fileType, &bytes) }
            let strings = (0..<count).map { index in
                String(decoding: bytes[(index * size)..<((index + 1) * size)].prefix { $0 != 0 }, as: UTF8.self)
            }
            return scalar ? .string(strings[0]) : .strings(strings)
        case .other(let kind):
            throw error(.typeMismatch, operation, "attribute holds \(kind), which SciZoo does not read")
        }
    }

    /// An attribute's stored dtype and shape, without reading its value.
    public func attributeLayout(_ name: String) throws(HDF5Error) -> (dtype: HDF5DataType, shape: [Int]) {
        let operation = "describe attribute '\(name)'"
        let attribute = try call(operation) { H5Aopen(id, name, defaultProperties) }
        defer { _ = HDF5Library.quietly { H5Aclose(attribute) } }
        let space = try call(operation) { H5Aget_space(attribute) }
        defer { _ = HDF5Library.quietly { H5Sclose(space) } }
        let rank = try call(operation) { H5Sget_simple_extent_ndims(space) }
        var dims = [hsize_t](repeating: 0, count: Int(rank))
        if rank > 0 { try call(operation) { H5Sget_simple_extent_dims(space, &dims, nil) } }
        let type = try call(operation) { H5Aget_type(attribute) }
        defer { _ = HDF5Library.quietly { H5Tclose(type) } }
        return (HDF5Library.quietly { HDF5DataType.classify(type) }, dims.map { Int(clamping: $0) })
    }
}

extension HDF5File {
    /// Sets a file attribute (an attribute of the root group, as h5py's `File.attrs`).
    public func setAttribute(_ name: String, _ value: HDF5AttributeValue) throws(HDF5Error) {
        try root.setAttribute(name, value)
    }

    public func attribute(_ name: String) throws(HDF5Error) -> HDF5AttributeValue {
        try root.attribute(name)
    }

    public func hasAttribute(_ name: String) -> Bool {
        (try? root.hasAttribute(name)) ?? false
    }
}
