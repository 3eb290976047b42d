// The element types SciZoo reads and writes, and how they map to HDF5 types.
import CHDF5

/// An HDF5 dataset's or attribute's element type, as `scizoo inspect` reports it.
public enum HDF5DataType: Equatable, Sendable, CustomStringConvertible {
    case float16, float32, float64
    case int8, int16, int32, int64
    case uint8, uint16, uint32, uint64
    /// h5py's boolean: an enum over int8 with members FALSE = 0 and TRUE = 1.
    case bool
    /// Variable-length string; `utf8` is the character set flag.
    case variableString(utf8: Bool)
    /// Fixed-length string of `size` bytes.
    case fixedString(size: Int, utf8: Bool)
    /// Anything else (compound, opaque, references…), described by its class.
    case other(String)

    public var description: String {
        switch self {
        case .float16: "float16"
        case .float32: "float32"
        case .float64: "float64"
        case .int8: "int8"
        case .int16: "int16"
        case .int32: "int32"
        case .int64: "int64"
        case .uint8: "uint8"
        case .uint16: "uint16"
        case .uint32: "uint32"
        case .uint64: "uint64"
        case .bool: "bool"
        case .variableString(let utf8): utf8 ? "string (variable, UTF-8)" : "string (variable, ASCII)"
        case .fixedString(let size, let utf8): "string (fixed \(size) bytes, \(utf8 ? "UTF-8" : "ASCII"))"
        case .other(let name): name
        }
    }

    public var isNumeric: Bool {
        switch self {
        case .variableString, .fixedString, .other: false
        default: true
        }
    }

    public var isString: Bool {
        switch self {
        case .variableString, .fixedString: true
        default: false
        }
    }

    /// Classifies an HDF5 datatype id (not closed here).
    static func classify(_ type: hid_t) -> HDF5DataType {
        let size = H5Tget_size(type)
        switch H5Tget_class(type) {
        case H5T_FLOAT:
            switch size {
            case 2: return .float16
            case 4: return .float32
            case 8: return .float64
            default: return .other("float\(size * 8)")
            }
        case H5T_INTEGER:
            let signed = H5Tget_sign(type) == H5T_SGN_2
            switch (size, signed) {
            case (1, true): return .int8
            case (2, true): return .int16
            case (4, true): return .int32
            case (8, true): return .int64
            case (1, false): return .uint8
            case (2, false): return .uint16
            case (4, false): return .uint32
            case (8, false): return .uint64
            default: return .other("int\(size * 8)")
            }
        case H5T_STRING:
            let utf8 = H5Tget_cset(type) == H5T_CSET_UTF8
            if H5Tis_variable_str(type) > 0 { return .variableString(utf8: utf8) }
            return .fixedString(size: size, utf8: utf8)
        case H5T_ENUM:
            return isBoolEnum(type) ? .bool : .other("enum")
        case H5T_COMPOUND: return .other("compound")
        case H5T_OPAQUE: return .other("opaque")
        case H5T_REFERENCE: return .other("reference")
        case H5T_ARRAY: return .other("array")
        case H5T_VLEN: return .other("vlen sequence")
        case H5T_BITFIELD: return .other("bitfield")
        case H5T_TIME: return .other("time")
        default: return .other("unknown")
        }
    }

    private static func isBoolEnum(_ type: hid_t) -> Bool {
        guard H5Tget_nmembers(type) == 2, H5Tget_size(type) == 1 else { return false }
        var names: [String] = []
        for index in 0..<2 {
            guard let name = H5Tget_member_name(type, UInt32(index)) else { return false }
            names.append(String(cString: name))
            H5free_memory(name)
        }
        return names == ["FALSE", "TRUE"]
    }
}

/// A Swift type stored as numbers in HDF5 datasets and attributes.
public protocol HDF5Element: Sendable {
    /// The dtype SciZoo writes for this type.
    static var hdf5DataType: HDF5DataType { get }
}

extension Float: HDF5Element { public static var hdf5DataType: HDF5DataType { .float32 } }
extension Double: HDF5Element { public static var hdf5DataType: HDF5DataType { .float64 } }
extension Int8: HDF5Element { public static var hdf5DataType: HDF5DataType { .int8 } }
extension Int16: HDF5Element { public static var hdf5DataType: HDF5DataType { .int16 } }
extension Int32: HDF5Element { public static var hdf5DataType: HDF5DataType { .int32 } }
extension Int64: HDF5Element { public static var hdf5DataType: HDF5DataType { .int64 } }
extension UInt8: HDF5Element { public static var hdf5DataType: HDF5DataType { .uint8 } }
extension Bool: HDF5Element { public static var hdf5DataType: HDF5DataType { .bool } }

/// An HDF5 type id that we may have to close (native types are library-owned).
struct TypeHandle: ~Copyable {
    let id: hid_t
    let owned: Bool

    consuming func close() {
        if owned { _ = HDF5Library.quietly { H5Tclose(id) } }
        discard self
    }

    deinit { if owned { _ = HDF5Library.quietly { H5Tclose(id) } } }
}

extension HDF5DataType {
    /// The in-memory (native) HDF5 type for a numeric dtype.
    func memoryType(file: String, object: String?) throws(HDF5Error) -> TypeHandle {
        switch self {
        case .float32: return TypeHandle(id: scizoo_H5T_NATIVE_FLOAT(), owned: false)
        case .float64: return TypeHandle(id: scizoo_H5T_NATIVE_DOUBLE(), owned: false)
        case .int8: return TypeHandle(id: scizoo_H5T_NATIVE_INT8(), owned: false)
        case .int16: return TypeHandle(id: scizoo_H5T_NATIVE_INT16(), owned: false)
        case .int32: return TypeHandle(id: scizoo_H5T_NATIVE_INT32(), owned: false)
        case .int64: return TypeHandle(id: scizoo_H5T_NATIVE_INT64(), owned: false)
        case .uint8: return TypeHandle(id: scizoo_H5T_NATIVE_UINT8(), owned: false)
        case .uint16: return TypeHandle(id: scizoo_H5T_NATIVE_UINT16(), owned: false)
        case .uint32: return TypeHandle(id: scizoo_H5T_NATIVE_UINT32(), owned: false)
        case .uint64: return TypeHandle(id: scizoo_H5T_NATIVE_UINT64(), owned: false)
        case .bool:
            // The same enum h5py writes, so h5py reads our booleans as numpy bool.
            let id = try HDF5Library.call("create boolean type", file: file, object: object) {
                H5Tenum_create(scizoo_H5T_NATIVE_INT8())
            }
            var falseValue: Int8 = 0, trueValue: Int8 = 1
            try HDF5Library.call("define boolean type", file: file, object: object) {
                H5Tenum_insert(id, "FALSE", &falseValue)
            }
            try HDF5Library.call("define boolean type", file: file, object: object) {
                H5Tenum_insert(id, "TRUE", &trueValue)
            }
            return TypeHandle(id: id, owned: true)
        case .variableString, .fixedString:
            let size: Int
            if case .fixedString(let fixed, _) = self { size = fixed } else { size = scizoo_H5T_VARIABLE() }
            let utf8: Bool
            switch self {
            case .variableString(let flag), .fixedString(_, let flag): utf8 = flag
            default: utf8 = true
            }
            let id = try HDF5Library.call("create string type", file: file, object: object) {
                H5Tcopy(scizoo_H5T_C_S1())
            }
            try HDF5Library.call("create string type", file: file, object: object) { H5Tset_size(id, size) }
            try HDF5Library.call("create string type", file: file, object: object) {
                H5Tset_cset(id, utf8 ? H5T_CSET_UTF8 : H5T_CSET_ASCII)
            }
            return TypeHandle(id: id, owned: true)
        case .float16, .other:
            throw HDF5Error(.typeMismatch, file: file, object: object, operation: "map \(self) to a Swift type",
                            messages: ["SciZoo reads float32, float64, int8/16/32/64, uint8/16/32/64, bool and strings"])
        }
    }
}
