// HDF5 files: open, create, and write atomically (temporary name, fsync, rename).
import CHDF5

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An open HDF5 file. Groups and datasets opened from it keep it alive.
///
/// ```swift
/// let file = try HDF5File(path: "data.h5", mode: .truncate)
/// try file.root.write("input_ids", [1, 2, 3, 4] as [Int64], shape: [2, 2])
/// ```
public final class HDF5File {
    public enum Mode: Sendable {
        /// Open an existing file for reading.
        case readOnly
        /// Open an existing file for reading and writing.
        case readWrite
        /// Create the file, replacing any existing one.
        case truncate
        /// Create the file; fail if it exists.
        case create
    }

    public let path: String
    public let mode: Mode
    let id: hid_t
    private var isOpen = true
    /// The global-heap collections GlobalHeapCheck found (scanned before the first variable-length read).
    var globalHeapCollections: GlobalHeapCheck.Collections?
    /// Object headers ObjectHeader has checked (by address).
    var checkedHeaders = Set<UInt64>()

    public init(path: String, mode: Mode = .readOnly) throws(HDF5Error) {
        self.path = path
        self.mode = mode
        switch mode {
        case .readOnly, .readWrite:
            var info = stat()
            guard stat(path, &info) == 0 else {
                throw HDF5Error(.fileNotFound, file: path, operation: "open file",
                                messages: [String(cString: strerror(errno))])
            }
            guard (info.st_mode & S_IFMT) == S_IFREG else {
                throw HDF5Error(.notHDF5, file: path, operation: "open file", messages: ["not a regular file"])
            }
            let signature = HDF5Library.quietly { H5Fis_hdf5(path) }
            guard signature > 0 else {
                throw HDF5Error(.notHDF5, file: path, operation: "open file",
                                messages: ["no HDF5 signature found (is it a text, npz or netCDF-3 file?)"])
            }
            let flags = mode == .readOnly ? scizoo_H5F_ACC_RDONLY() : scizoo_H5F_ACC_RDWR()
            // HDF5 reads the root group's header inside H5Fopen: a damaged one must be refused first.
            if let root = ObjectHeader.rootAddress(path: path), case .damaged(let problem) = ObjectHeader.read(path: path, at: root) {
                throw HDF5Error(.libraryCall, file: path, operation: "open file", messages: ["the root group's object header is damaged: \(problem)"])
            }
            id = try HDF5Library.call("open file", file: path, object: nil) {
                H5Fopen(path, flags, defaultProperties)
            }
        case .truncate, .create:
            let flags = mode == .truncate ? scizoo_H5F_ACC_TRUNC() : scizoo_H5F_ACC_EXCL()
            id = try HDF5Library.call("create file", file: path, object: nil) {
                H5Fcreate(path, flags, defaultProperties, defaultProperties)
            }
        }
    }

    deinit { if isOpen { _ = HDF5Library.quietly { H5Fclose(id) } } }

    /// The root group `/`; file attributes are the root group's, as in h5py.
    public var root: HDF5Group {
        get throws(HDF5Error) { try HDF5Group(file: self, path: "/") }
    }

    /// Flushes buffers to the operating system.
    public func flush() throws(HDF5Error) {
        try HDF5Library.call("flush", file: path, object: nil) { H5Fflush(id, H5F_SCOPE_GLOBAL) }
    }

    /// Flushes and closes the file. Objects still open keep HDF5's handle alive until they close.
    public func close() throws(HDF5Error) {
        guard isOpen else { return }
        if mode != .readOnly { try flush() }
        isOpen = false
        try HDF5Library.call("close file", file: path, object: nil) { H5Fclose(id) }
    }

    /// `writeAtomically` for several files filled together (one pass over the input feeding each):
    /// every file is renamed into place only once `body` has finished.
    @discardableResult
    public static func writeAtomically<R>(_ paths: [String], _ body: ([HDF5File]) throws -> R) throws -> R {
        func nest(_ index: Int, _ opened: [HDF5File]) throws -> R {
            guard index < paths.count else { return try body(opened) }
            return try writeAtomically(to: paths[index]) { file in try nest(index + 1, opened + [file]) }
        }
        return try nest(0, [])
    }

    /// Writes a file so that `path` holds either the old content or the complete new one:
    /// `body` writes to a temporary name beside `path`, which is then fsynced and renamed.
    /// If `body` throws, the temporary file is removed and `path` is untouched.
    @discardableResult
    public static func writeAtomically<R>(
        to path: String, _ body: (HDF5File) throws -> R
    ) throws -> R {
        let temporary = "\(path).tmp-\(getpid())"
        do {
            let result: R
            do {
                let file = try HDF5File(path: temporary, mode: .truncate)
                result = try body(file)
                try file.close()
            }
            try syncFile(temporary)
            guard rename(temporary, path) == 0 else {
                throw HDF5Error(.libraryCall, file: path, operation: "rename \(temporary) into place",
                                messages: [String(cString: strerror(errno))])
            }
            syncDirectory(of: path)
            return result
        } catch let error as HDF5Error where error.file == temporary {
            unlink(temporary)
            // Named by the file the caller asked for, which is untouched.
            let previous = access(path, F_OK) == 0 ? "the previous \(path.split(separator: "/").last.map(String.init) ?? path) is intact" : "nothing was written"
            throw HDF5Error(error.kind, file: path, object: error.object, operation: "\(error.operation) (\(previous))", messages: error.messages)
        } catch {
            unlink(temporary)
            throw error
        }
    }

    private static func syncFile(_ path: String) throws(HDF5Error) {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else {
            throw HDF5Error(.libraryCall, file: path, operation: "open for fsync",
                            messages: [String(cString: strerror(errno))])
        }
        defer { Glibc.close(fd) }
        guard fsync(fd) == 0 else {
            throw HDF5Error(.libraryCall, file: path, operation: "fsync", messages: [String(cString: strerror(errno))])
        }
    }

    private static func syncDirectory(of path: String) {
        let directory: String
        if let slash = path.lastIndex(of: "/") {
            directory = slash == path.startIndex ? "/" : String(path[..<slash])
        } else {
            directory = "."
        }
        let fd = open(directory, O_RDONLY)
        if fd >= 0 {
            fsync(fd)
            Glibc.close(fd)
        }
    }
}
