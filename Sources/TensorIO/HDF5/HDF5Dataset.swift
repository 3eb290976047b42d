// Datasets: creation with chunking and filters, whole and hyperslab reads and writes,
// extendible datasets that grow by rows, and variable-length UTF-8 strings.
import CHDF5

#if canImport(Glibc)
import Glibc
#endif

/// A filter in a dataset's pipeline.
public enum HDF5Filter: Equatable, Sendable, CustomStringConvertible {
    case gzip(level: Int)
    case shuffle
    case fletcher32
    case szip
    case nbit
    case scaleOffset
    case other(id: Int, name: String)

    public var description: String {
        switch self {
        case .gzip(let level): "gzip(\(level))"
        case .shuffle: "shuffle"
        case .fletcher32: "fletcher32"
        case .szip: "szip"
        case .nbit: "nbit"
        case .scaleOffset: "scaleoffset"
        case .other(let id, let name): "filter \(id) (\(name))"
        }
    }
}

/// How a new dataset is laid out on disk.
public struct HDF5DatasetOptions: Sendable {
    /// Chunk shape; chosen automatically when a filter or an unlimited axis needs chunks.
    public var chunks: [Int]?
    /// gzip (deflate) level 0–9, or nil for no compression.
    public var gzipLevel: Int?
    /// Byte-shuffle before compression (helps numeric data compress).
    public var shuffle: Bool
    /// Maximum shape; a nil entry is unlimited (the dataset can grow along that axis).
    public var maxShape: [Int?]?
    /// A Fletcher-32 checksum per chunk, which HDF5 verifies on every read.
    public var fletcher32: Bool

    public init(chunks: [Int]? = nil, gzipLevel: Int? = nil, shuffle: Bool = false, maxShape: [Int?]? = nil, fletcher32: Bool = false) {
        self.chunks = chunks
        self.gzipLevel = gzipLevel
        self.shuffle = shuffle
        self.maxShape = maxShape
        self.fletcher32 = fletcher32
    }

    /// Chunked with Fletcher-32 checksums (checkpoints: a value damaged at rest is an error on
    /// resume, not a silently different run); contiguous where HDF5 cannot chunk (a scalar, an
    /// empty axis).
    public static func checksummed(shape: [Int]) -> HDF5DatasetOptions {
        shape.isEmpty || shape.contains(0) ? .contiguous : HDF5DatasetOptions(fletcher32: true)
    }

    /// Contiguous, unfiltered.
    public static let contiguous = HDF5DatasetOptions()

    /// Chunked with shuffle and gzip, as GenSLM's and ClimaX's writers store their data.
    public static func compressed(level: Int = 6, shuffle: Bool = true, chunks: [Int]? = nil) -> HDF5DatasetOptions {
        HDF5DatasetOptions(chunks: chunks, gzipLevel: level, shuffle: shuffle)
    }

    /// Growable along axis 0 (rows appended as they come), chunked and optionally compressed.
    public static func extendible(gzipLevel: Int? = 6, chunks: [Int]? = nil) -> HDF5DatasetOptions {
        HDF5DatasetOptions(chunks: chunks, gzipLevel: gzipLevel, shuffle: gzipLevel != nil, maxShape: [nil])
    }

    var needsChunks: Bool { gzipLevel != nil || shuffle || fletcher32 || (maxShape?.contains(where: { $0 == nil }) ?? false) }
}

extension HDF5Group {
    /// Creates a dataset of `dtype` and `shape` (rank 0 is a scalar), with intermediate groups.
    ///
    /// For extendible options, `maxShape` may be shorter than `shape`: missing axes are fixed.
    @discardableResult
    public func createDataset(_ name: String, dtype: HDF5DataType, shape: [Int],
                              options: HDF5DatasetOptions = .contiguous) throws(HDF5Error) -> HDF5Dataset {
        let target = childPath(name)
        guard shape.allSatisfy({ $0 >= 0 }) else {
            throw error(.invalidArgument, "create dataset", object: target, "negative extent in shape \(shape)")
        }
        let rank = shape.count
        let space: hid_t
        if rank == 0 {
            guard !options.needsChunks else {
                throw error(.invalidArgument, "create dataset", object: target, "a scalar dataset cannot be chunked or filtered")
            }
            space = try call("create dataspace", object: target) { H5Screate(H5S_SCALAR) }
        } else {
            let current = shape.map { hsize_t($0) }
            var maximum = current
            if let maxShape = options.maxShape {
                guard maxShape.count <= rank else {
                    throw error(.invalidArgument, "create dataset", object: target,
                                "maxShape \(maxShape) has more axes than shape \(shape)")
                }
                for (axis, limit) in maxShape.enumerated() {
                    if let limit {
                        guard limit >= shape[axis] else {
                            throw error(.invalidArgument, "create dataset", object: target,
                                        "maxShape \(maxShape) is below shape \(shape) on axis \(axis)")
                        }
                        maximum[axis] = hsize_t(limit)
                    } else {
                        maximum[axis] = scizoo_H5S_UNLIMITED()
                    }
                }
            }
            space = try call("create dataspace", object: target) { H5Screate_simple(Int32(rank), current, maximum) }
        }
        defer { _ = HDF5Library.quietly { H5Sclose(space) } }

        let creation = try call("create dataset", object: target) { H5Pcreate(scizoo_H5P_DATASET_CREATE()) }
        defer { _ = HDF5Library.quietly { H5Pclose(creation) } }
        if rank > 0 && (options.needsChunks || options.chunks != nil) {
            let chunks: [Int]
            if let given = options.chunks {
                chunks = given
            } else {
                chunks = try Self.automaticChunks(shape: shape, elementSize: dtype.byteSize)
            }
            guard chunks.count == rank, chunks.allSatisfy({ $0 > 0 }) else {
                throw error(.invalidArgument, "create dataset", object: target,
                            "chunks \(chunks) must be \(rank) positive extents for shape \(shape)")
            }
            try call("set chunks", object: target) { H5Pset_chunk(creation, Int32(rank), chunks.map { hsize_t($0) }) }
            if options.shuffle { try call("set shuffle filter", object: target) { H5Pset_shuffle(creation) } }
            if let level = options.gzipLevel {
                guard (0...9).contains(level) else {
                    throw error(.invalidArgument, "create dataset", object: target, "gzip level \(level) is outside 0…9")
                }
                try call("set gzip filter", object: target) { H5Pset_deflate(creation, UInt32(level)) }
            }
            if options.fletcher32 { try call("set checksum filter", object: target) { H5Pset_fletcher32(creation) } }
        }
        let linkProperties = try call("create dataset", object: target) { H5Pcreate(scizoo_H5P_LINK_CREATE()) }
        defer { _ = HDF5Library.quietly { H5Pclose(linkProperties) } }
        try call("create dataset", object: target) { H5Pset_create_intermediate_group(linkProperties, 1) }

        let type = try dtype.fileType(file: file.path, object: target)
        let dataset = try call("create dataset", object: target) {
            H5Dcreate2(id, name, type.id, space, linkProperties, creation, defaultProperties)
        }
        return HDF5Dataset(file: file, path: target, id: dataset)
    }

    /// Creates a dataset of `T` and writes `values` (row-major, `shape`'s element count).
    @discardableResult
    public func write<T: HDF5Element>(_ name: String, _ values: [T], shape: [Int]? = nil,
                                      options: HDF5DatasetOptions = .contiguous) throws(HDF5Error) -> HDF5Dataset {
        let shape = shape ?? [values.count]
        let dataset = try createDataset(name, dtype: T.hdf5DataType, shape: shape, options: options)
        try dataset.write(values)
        return dataset
    }

    /// Creates a 1-D variable-length UTF-8 string dataset holding `values`.
    @discardableResult
    public func writeStrings(_ name: String, _ values: [String],
                             options: HDF5DatasetOptions = .contiguous) throws(HDF5Error) -> HDF5Dataset {
        let dataset = try createDataset(name, dtype: .variableString(utf8: true), shape: [values.count], options: options)
        try dataset.writeStrings(values)
        return dataset
    }

    /// A chunk of about 256 KiB: whole trailing axes, rows cut to fit (h5py uses a similar rule).
    static func automaticChunks(shape: [Int], elementSize: Int) throws(HDF5Error) -> [Int] {
        let target = 256 * 1024
        var chunks = shape.map { max(1, $0) }
        var bytes = chunks.reduce(elementSize, *)
        var axis = 0
        while bytes > target && axis < chunks.count {
            let others = bytes / chunks[axis]
            chunks[axis] = max(1, target / max(1, others))
            bytes = others * chunks[axis]
            axis += 1
        }
        // Unlimited axes that start empty still need a useful chunk length.
        if shape.first == 0 { chunks[0] = max(1, target / max(1, chunks.dropFirst().reduce(elementSize, *))) }
        return chunks
    }
}

extension HDF5DataType {
    var byteSize: Int {
        switch self {
        case .int8, .uint8, .bool: 1
        case .int16, .uint16, .float16: 2
        case .int32, .uint32, .float32: 4
        case .int64, .uint64, .float64: 8
        case .variableString: MemoryLayout<UnsafeRawPointer>.size
        case .fixedString(let size, _): size
        case .other: 8
        }
    }

    /// The type stored in new files: little-endian standard types, as h5py writes them on x86.
    func fileType(file: String, object: String?) throws(HDF5Error) -> TypeHandle {
        try memoryType(file: file, object: object)
    }
}

/// A dataset in an HDF5 file.
public final class HDF5Dataset: HDF5Object {
    /// The extent `checkStorage` last passed.
    private var checkedShape: [Int]?

    init(file: HDF5File, path: String, id: hid_t) {
        super.init(file: file, path: path, id: id, close: { H5Dclose($0) })
    }

    // MARK: Description

    /// Current extents (empty for a scalar).
    public var shape: [Int] {
        get throws(HDF5Error) { try extents().current }
    }

    /// Maximum extents; nil marks an unlimited axis.
    public var maxShape: [Int?] {
        get throws(HDF5Error) { try extents().maximum }
    }

    public var elementCount: Int {
        get throws(HDF5Error) { try shape.reduce(1, *) }
    }

    public var dtype: HDF5DataType {
        get throws(HDF5Error) {
            let type = try call("read datatype") { H5Dget_type(id) }
            defer { _ = HDF5Library.quietly { H5Tclose(type) } }
            return HDF5Library.quietly { HDF5DataType.classify(type) }
        }
    }

    /// Chunk shape, or nil for contiguous and compact layouts.
    public var chunks: [Int]? {
        get throws(HDF5Error) {
            let properties = try call("read creation properties") { H5Dget_create_plist(id) }
            defer { _ = HDF5Library.quietly { H5Pclose(properties) } }
            guard HDF5Library.quietly({ H5Pget_layout(properties) }) == H5D_CHUNKED else { return nil }
            var dims = [hsize_t](repeating: 0, count: 32)
            let rank = try call("read chunk shape") { H5Pget_chunk(properties, 32, &dims) }
            return dims.prefix(Int(rank)).map { Int(clamping: $0) }
        }
    }

    /// The filter pipeline, in application order.
    public var filters: [HDF5Filter] {
        get throws(HDF5Error) {
            let properties = try call("read creation properties") { H5Dget_create_plist(id) }
            defer { _ = HDF5Library.quietly { H5Pclose(properties) } }
            let count = try call("read filters") { H5Pget_nfilters(properties) }
            var result: [HDF5Filter] = []
            for index in 0..<UInt32(count) {
                var flags: UInt32 = 0, valueCount = 8
                var values = [UInt32](repeating: 0, count: 8)
                var name = [CChar](repeating: 0, count: 256)
                var config: UInt32 = 0
                let filter = try call("read filters") {
                    H5Pget_filter2(properties, index, &flags, &valueCount, &values, name.count, &name, &config)
                }
                switch filter {
                case H5Z_FILTER_DEFLATE: result.append(.gzip(level: valueCount > 0 ? Int(values[0]) : -1))
                case H5Z_FILTER_SHUFFLE: result.append(.shuffle)
                case H5Z_FILTER_FLETCHER32: result.append(.fletcher32)
                case H5Z_FILTER_SZIP: result.append(.szip)
                case H5Z_FILTER_NBIT: result.append(.nbit)
                case H5Z_FILTER_SCALEOFFSET: result.append(.scaleOffset)
                default:
                    let text = String(decoding: name.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
                    result.append(.other(id: Int(filter), name: text))
                }
            }
            return result
        }
    }

    /// HDF5 1.10 copies a compact dataset's bytes without checking that its layout holds them all, and
    /// reads a contiguous one from wherever its address points: a damaged layout message must not get
    /// that far (found by `scizoo fuzz checkpoint-h5`: a segfault in H5VM_memcpyvv).
    private func checkStorage(shape: [Int], operation: String) throws(HDF5Error) {
        guard checkedShape != shape else { return }  // once per open dataset and extent
        let type = try call(operation) { H5Dget_type(id) }
        let typeSize = H5Tget_size(type)
        // A variable-length element is stored as a global-heap reference, not at its memory size.
        let variableLength = H5Tget_class(type) == H5T_VLEN || H5Tis_variable_str(type) > 0
        _ = HDF5Library.quietly { H5Tclose(type) }
        let (elements, overflow) = shape.reduce((1, false)) { partial, size in
            let (product, over) = partial.0.multipliedReportingOverflow(by: size)
            return (product, partial.1 || over)
        }
        let (needed, tooLarge) = elements.multipliedReportingOverflow(by: typeSize)
        guard !overflow, !tooLarge else { throw error(.shapeMismatch, operation, "shape \(shape) of \(typeSize)-byte elements overflows (a damaged dataspace)") }
        let properties = try call(operation) { H5Dget_create_plist(id) }
        defer { _ = HDF5Library.quietly { H5Pclose(properties) } }
        let layout = H5Pget_layout(properties)
        if layout == H5D_CHUNKED {
            // HDF5's own rules for a chunk, which 1.10 does not check when it reads one back: every
            // side at least 1 and, along a fixed-size axis, at most the axis's maximum.
            var chunk = [hsize_t](repeating: 0, count: shape.count)
            let rank = HDF5Library.quietly { H5Pget_chunk(properties, Int32(shape.count), &chunk) }
            let maximum = try extents().maximum
            var chunkBytes = UInt64(typeSize)
            for axis in 0..<Swift.max(0, Int(rank)) where axis < shape.count {
                chunkBytes = chunkBytes.multipliedReportingOverflow(by: UInt64(chunk[axis])).overflow ? .max : chunkBytes * UInt64(chunk[axis])
                if chunk[axis] == 0 || maximum[axis].map({ chunk[axis] > UInt64($0) }) == true {
                    throw error(.shapeMismatch, operation, "chunk \(chunk) does not fit the dataset's shape \(shape) (a damaged layout)")
                }
            }
            // HDF5's limit is 4 GiB; writers use kilobytes to a few MiB (h5py ≤ 1 MiB). A larger chunk is
            // allocated whole on every read, so it is refused rather than trusted.
            if rank != Int32(shape.count) || chunkBytes > 256 << 20 {
                throw error(.shapeMismatch, operation, "chunk \(chunk.prefix(Swift.max(0, Int(rank)))) of \(typeSize)-byte elements is not a valid chunk of shape \(shape) or is over 256 MiB (a damaged layout)")
            }
        }
        let stored = Int(clamping: H5Dget_storage_size(id))
        switch layout {
        case H5D_COMPACT where stored < needed && !variableLength:
            throw error(.shapeMismatch, operation, "compact storage holds \(stored) bytes, the shape \(shape) needs \(needed) (a damaged layout)")
        case H5D_CONTIGUOUS:
            let address = H5Dget_offset(id)
            guard address != haddr_t.max else { return }  // never written: read as fill values
            var fileSize: hsize_t = 0
            _ = HDF5Library.quietly { H5Fget_filesize(file.id, &fileSize) }
            let end = UInt(fileSize)
            let expected = variableLength ? stored : needed
            if stored != expected || address > end || UInt(stored) > end - address {
                throw error(.shapeMismatch, operation, "contiguous storage of \(stored) bytes at byte \(address) does not hold the shape \(shape)'s \(expected) bytes within the file's \(fileSize) (a damaged layout)")
            }
        default: break
        }
        checkedShape = shape
    }

    /// A whole read of more than 64 MiB must come from storage that could hold it: deflate packs at
    /// most ~1,030:1, so a dataset claiming over 1,100 times its allocated bytes has a damaged extent
    /// (or was never written), and reading it would only allocate fill values.
    private func checkWholeRead(shape: [Int], operation: String) throws(HDF5Error) {
        let type = try call(operation) { H5Dget_type(id) }
        let typeSize = H5Tget_size(type)
        _ = HDF5Library.quietly { H5Tclose(type) }
        let bytes = shape.reduce(Double(typeSize)) { $0 * Double($1) }
        guard bytes > 64 * 1_048_576 else { return }
        let stored = Double(H5Dget_storage_size(id))
        if bytes > 1_100 * stored {
            throw error(.shapeMismatch, operation, "shape \(shape) claims \(Int(bytes / 1_048_576)) MiB over \(Int(stored)) bytes of storage (a damaged extent, or never written)")
        }
    }

    private func extents() throws(HDF5Error) -> (current: [Int], maximum: [Int?]) {
        let space = try call("read dataspace") { H5Dget_space(id) }
        defer { _ = HDF5Library.quietly { H5Sclose(space) } }
        let rank = try call("read dataspace") { H5Sget_simple_extent_ndims(space) }
        var current = [hsize_t](repeating: 0, count: Int(rank))
        var maximum = [hsize_t](repeating: 0, count: Int(rank))
        if rank > 0 { try call("read dataspace") { H5Sget_simple_extent_dims(space, &current, &maximum) } }
        let unlimited = scizoo_H5S_UNLIMITED()
        // HDF5 1.10 opens a dataspace whose size exceeds its own maximum (a damaged header): such a
        // size, or one beyond Int, must not size an allocation.
        for (axis, (size, limit)) in zip(current, maximum).enumerated() where Int(exactly: size) == nil || (limit != unlimited && size > limit) {
            throw error(.shapeMismatch, "read dataspace", "dimension \(axis) has \(size) elements, more than its maximum \(limit == unlimited ? "(unlimited)" : String(limit)) (a damaged dataspace)")
        }
        return (current.map { Int($0) }, maximum.map { $0 == unlimited ? nil : Int(exactly: $0) })
    }

    // MARK: Selections

    /// A file-space selection and the matching memory space for a block (or everything).
    private struct Selection: ~Copyable {
        let file: hid_t
        let memory: hid_t
        let count: Int
        let owned: Bool
        deinit {
            if owned {
                let file = file, memory = memory
                _ = HDF5Library.quietly { H5Sclose(file) }
                _ = HDF5Library.quietly { H5Sclose(memory) }
            }
        }
    }

    private func select(offset: [Int]?, count: [Int]?, operation: String) throws(HDF5Error) -> Selection {
        let shape = try self.shape
        try checkStorage(shape: shape, operation: operation)
        guard let offset, let count else {
            try checkWholeRead(shape: shape, operation: operation)
            return Selection(file: scizoo_H5S_ALL(), memory: scizoo_H5S_ALL(), count: shape.reduce(1, *), owned: false)
        }
        guard offset.count == shape.count, count.count == shape.count else {
            throw error(.shapeMismatch, operation,
                        "block offset \(offset) and count \(count) must have \(shape.count) axes for shape \(shape)")
        }
        for axis in 0..<shape.count where offset[axis] < 0 || count[axis] < 0 || offset[axis] + count[axis] > shape[axis] {
            throw error(.shapeMismatch, operation,
                        "block offset \(offset) count \(count) exceeds shape \(shape) on axis \(axis)")
        }
        let fileSpace = try call(operation) { H5Dget_space(id) }
        let start = offset.map { hsize_t($0) }, extent = count.map { hsize_t($0) }
        do {
            try call(operation) { H5Sselect_hyperslab(fileSpace, H5S_SELECT_SET, start, nil, extent, nil) }
            let memory = try call(operation) { H5Screate_simple(Int32(extent.count), extent, nil) }
            return Selection(file: fileSpace, memory: memory, count: count.reduce(1, *), owned: true)
        } catch {
            _ = HDF5Library.quietly { H5Sclose(fileSpace) }
            throw error
        }
    }

    private static func describe(offset: [Int], count: [Int]) -> String {
        "[" + zip(offset, count).map { "\($0)..<\($0 + $1)" }.joined(separator: ", ") + "]"
    }

    // MARK: Numbers

    /// Reads the whole dataset, converting numeric types as HDF5 does (e.g. int32 → Int64).
    public func read<T: HDF5Element>(as type: T.Type = T.self) throws(HDF5Error) -> [T] {
        let selection = try select(offset: nil, count: nil, operation: "read")
        return try readNumbers(selection, operation: "read")
    }

    /// Reads the block `offset ..< offset + count` (row-major), so datasets larger than memory stream.
    public func read<T: HDF5Element>(as type: T.Type = T.self, offset: [Int], count: [Int]) throws(HDF5Error) -> [T] {
        let operation = "read block \(Self.describe(offset: offset, count: count))"
        let selection = try select(offset: offset, count: count, operation: operation)
        return try readNumbers(selection, operation: operation)
    }

    /// Reads a scalar dataset (or a one-element one).
    public func readScalar<T: HDF5Element>(as type: T.Type = T.self) throws(HDF5Error) -> T {
        let values: [T] = try read()
        guard values.count == 1 else {
            throw error(.shapeMismatch, "read scalar", "dataset has \(values.count) elements, expected 1")
        }
        return values[0]
    }

    /// Writes the whole dataset from row-major `values`.
    public func write<T: HDF5Element>(_ values: [T]) throws(HDF5Error) {
        let selection = try select(offset: nil, count: nil, operation: "write")
        try writeNumbers(values, selection, operation: "write")
    }

    /// Writes the block `offset ..< offset + count` from row-major `values`.
    public func write<T: HDF5Element>(_ values: [T], offset: [Int], count: [Int]) throws(HDF5Error) {
        let operation = "write block \(Self.describe(offset: offset, count: count))"
        let selection = try select(offset: offset, count: count, operation: operation)
        try writeNumbers(values, selection, operation: operation)
    }

    private func checkNumeric<T: HDF5Element>(_ type: T.Type, operation: String) throws(HDF5Error) -> HDF5DataType {
        let stored = try dtype
        guard stored.isNumeric, stored != .float16 else {
            throw error(.typeMismatch, operation, "dataset holds \(stored), not numbers SciZoo can convert to \(T.self)")
        }
        if (stored == .bool) != (T.self == Bool.self) && stored == .bool {
            throw error(.typeMismatch, operation, "dataset holds bool; read or write it as Bool")
        }
        return stored
    }

    private func readNumbers<T: HDF5Element>(_ selection: borrowing Selection, operation: String) throws(HDF5Error) -> [T] {
        let stored = try checkNumeric(T.self, operation: operation)
        if T.self == Bool.self {
            // Booleans travel as int8 (through h5py's enum when the dataset is one).
            let raw: [Int8] = try readRaw(selection, memoryType: stored == .bool ? .bool : .int8, operation: operation)
            return raw.map { $0 != 0 } as! [T]
        }
        return try readRaw(selection, memoryType: T.hdf5DataType, operation: operation)
    }

    private func readRaw<T>(_ selection: borrowing Selection, memoryType: HDF5DataType,
                            operation: String) throws(HDF5Error) -> [T] {
        let type = try memoryType.memoryType(file: file.path, object: path)
        let count = selection.count
        var status: herr_t = 0
        var messages: [String] = []
        let fileSpace = selection.file, memorySpace = selection.memory
        let result = [T](unsafeUninitializedCapacity: count) { buffer, initialized in
            do throws(HDF5Error) {
                try call(operation) {
                    H5Dread(id, type.id, memorySpace, fileSpace, defaultProperties, buffer.baseAddress)
                }
                initialized = count
            } catch {
                status = -1
                messages = error.messages
                // Elements of T are trivial numbers: zero them so the array is valid before we throw.
                UnsafeMutableRawBufferPointer(buffer).initializeMemory(as: UInt8.self, repeating: 0)
                initialized = count
            }
        }
        if status < 0 { throw HDF5Error(.libraryCall, file: file.path, object: path, operation: operation, messages: messages) }
        return result
    }

    private func writeNumbers<T: HDF5Element>(_ values: [T], _ selection: borrowing Selection,
                                              operation: String) throws(HDF5Error) {
        guard values.count == selection.count else {
            throw error(.shapeMismatch, operation, "got \(values.count) values for \(selection.count) elements")
        }
        let stored = try checkNumeric(T.self, operation: operation)
        let fileSpace = selection.file, memorySpace = selection.memory
        if T.self == Bool.self {
            let raw = (values as! [Bool]).map { Int8($0 ? 1 : 0) }
            let type = try (stored == .bool ? HDF5DataType.bool : .int8).memoryType(file: file.path, object: path)
            try call(operation) { H5Dwrite(id, type.id, memorySpace, fileSpace, defaultProperties, raw) }
            return
        }
        let type = try T.hdf5DataType.memoryType(file: file.path, object: path)
        try call(operation) {
            values.withUnsafeBytes { bytes in
                H5Dwrite(id, type.id, memorySpace, fileSpace, defaultProperties, bytes.baseAddress)
            }
        }
    }

    // MARK: Growth

    /// Changes the current extents (within `maxShape`).
    public func resize(to shape: [Int]) throws(HDF5Error) {
        try call("resize to \(shape)") { H5Dset_extent(id, shape.map { hsize_t($0) }) }
    }

    /// Appends rows along axis 0; `values` holds whole rows (row-major).
    public func append<T: HDF5Element>(rows values: [T]) throws(HDF5Error) {
        let (offset, count) = try grow(by: values.count, operation: "append rows")
        guard !count.isEmpty else { return }
        try write(values, offset: offset, count: count)
    }

    /// Appends strings to a 1-D string dataset.
    public func append(strings values: [String]) throws(HDF5Error) {
        let (offset, count) = try grow(by: values.count, operation: "append strings")
        guard !count.isEmpty else { return }
        try writeStrings(values, offset: offset, count: count)
    }

    private func grow(by elements: Int, operation: String) throws(HDF5Error) -> (offset: [Int], count: [Int]) {
        let shape = try self.shape
        guard !shape.isEmpty else { throw error(.shapeMismatch, operation, "a scalar dataset cannot grow") }
        let rowSize = shape.dropFirst().reduce(1, *)
        guard rowSize > 0 ? elements % rowSize == 0 : elements == 0 else {
            throw error(.shapeMismatch, operation, "\(elements) values are not whole rows of \(Array(shape.dropFirst()))")
        }
        let rows = rowSize > 0 ? elements / rowSize : 0
        guard rows > 0 else { return ([], []) }
        var grown = shape
        grown[0] += rows
        if let limit = try maxShape[0], grown[0] > limit {
            throw error(.shapeMismatch, operation, "axis 0 would grow to \(grown[0]) beyond its maximum \(limit)")
        }
        try resize(to: grown)
        var offset = [Int](repeating: 0, count: shape.count)
        offset[0] = shape[0]
        var count = shape
        count[0] = rows
        return (offset, count)
    }

    // MARK: Strings

    /// Reads every string (variable or fixed length) in row-major order.
    public func readStrings() throws(HDF5Error) -> [String] {
        let selection = try select(offset: nil, count: nil, operation: "read strings")
        return try readStrings(selection, operation: "read strings")
    }

    /// Reads the strings in a block.
    public func readStrings(offset: [Int], count: [Int]) throws(HDF5Error) -> [String] {
        let operation = "read strings \(Self.describe(offset: offset, count: count))"
        let selection = try select(offset: offset, count: count, operation: operation)
        return try readStrings(selection, operation: operation)
    }

    /// Writes every string of a string dataset.
    public func writeStrings(_ values: [String]) throws(HDF5Error) {
        let selection = try select(offset: nil, count: nil, operation: "write strings")
        try writeStrings(values, selection, operation: "write strings")
    }

    /// Writes strings into a block.
    public func writeStrings(_ values: [String], offset: [Int], count: [Int]) throws(HDF5Error) {
        let operation = "write strings \(Self.describe(offset: offset, count: count))"
        let selection = try select(offset: offset, count: count, operation: operation)
        try writeStrings(values, selection, operation: operation)
    }

    private func readStrings(_ selection: borrowing Selection, operation: String) throws(HDF5Error) -> [String] {
        let stored = try dtype
        let count = selection.count
        let fileSpace = selection.file, memorySpace = selection.memory
        switch stored {
        case .variableString:
            _ = try file.globalHeap(object: path)
            let type = try stored.memoryType(file: file.path, object: path)
            var pointers = [UnsafeMutablePointer<CChar>?](repeating: nil, count: count)
            try call(operation) { H5Dread(id, type.id, memorySpace, fileSpace, defaultProperties, &pointers) }
            let strings = pointers.map { $0.map { String(cString: $0) } ?? "" }
            // Free HDF5's allocations through the library that made them.
            let reclaimSpace = memorySpace == scizoo_H5S_ALL()
                ? HDF5Library.quietly { H5Dget_space(id) } : memorySpace
            _ = HDF5Library.quietly { H5Dvlen_reclaim(type.id, reclaimSpace, defaultProperties, &pointers) }
            if reclaimSpace != memorySpace { _ = HDF5Library.quietly { H5Sclose(reclaimSpace) } }
            return strings
        case .fixedString(let size, _):
            // Read with the stored type itself: padding rules differ (h5py writes NULLPAD).
            let type = try call(operation) { H5Dget_type(id) }
            defer { _ = HDF5Library.quietly { H5Tclose(type) } }
            var bytes = [UInt8](repeating: 0, count: count * size)
            try call(operation) { H5Dread(id, type, memorySpace, fileSpace, defaultProperties, &bytes) }
            return (0..<count).map { index in
                let slice = bytes[(index * size)..<((index + 1) * size)]
                return String(decoding: slice.prefix { $0 != 0 }, as: UTF8.self)
            }
        default:
            throw error(.typeMismatch, operation, "dataset holds \(stored), not strings")
        }
    }

    private func writeStrings(_ values: [String], _ selection: borrowing Selection, operation: String) throws(HDF5Error) {
        guard values.count == selection.count else {
            throw error(.shapeMismatch, operation, "got \(values.count) strings for \(selection.count) elements")
        }
        let stored = try dtype
        guard case .variableString = stored else {
            throw error(.typeMismatch, operation, "dataset holds \(stored); SciZoo writes variable-length strings only")
        }
        let type = try stored.memoryType(file: file.path, object: path)
        let pointers = values.map { strdup($0) }
        defer { pointers.forEach { free($0) } }
        let fileSpace = selection.file, memorySpace = selection.memory
        try call(operation) { H5Dwrite(id, type.id, memorySpace, fileSpace, defaultProperties, pointers) }
    }
}
