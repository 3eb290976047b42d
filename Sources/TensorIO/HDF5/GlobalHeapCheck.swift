// HDF5 1.10's global-heap reader trusts the collection it loads: a free-space object of size 0 stops
// its parse loop from advancing (the process hangs), and an object longer than its collection is
// later copied from past the buffer. Variable-length strings live in those collections, so before a
// file's first variable-length read its collections are walked here as the library walks them, and
// a damaged one is an error naming its byte offset. Found by `scizoo fuzz` (checkpoint-h5, mlff-h5).
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

enum GlobalHeapCheck {
    /// Files larger than this are not scanned (the scan reads the whole file once).
    static let largestScannedFile = 4 << 30
    /// "GCOL", version 1, three reserved zero bytes: a collection's header before its 8-byte size.
    static let signature: [UInt8] = Array("GCOL".utf8) + [1, 0, 0, 0]
    static let headerSize = 16, objectHeaderSize = 16

    /// The first damaged collection of `path` (its byte offset and what is wrong), nil when all are sound.
    static func damagedCollection(path: String) -> (offset: Int, problem: String)? {
        let descriptor = open(path, O_RDONLY)
        guard descriptor >= 0 else { return nil }  // the library reports an unreadable file itself
        defer { close(descriptor) }
        var info = stat()
        guard fstat(descriptor, &info) == 0, Int(info.st_size) <= largestScannedFile else { return nil }
        let fileSize = Int(info.st_size)
        let block = 4 << 20, overlap = signature.count - 1
        var buffer = [UInt8](repeating: 0, count: block + overlap)
        var start = 0
        while start < fileSize {
            let length = min(block + overlap, fileSize - start)
            let read = buffer.withUnsafeMutableBytes { pread(descriptor, $0.baseAddress, length, off_t(start)) }
            guard read == length else { return nil }
            var position = 0
            while position + signature.count <= length {
                guard let found = buffer[position..<length].firstIndex(of: signature[0]) else { break }
                if found + signature.count <= length, buffer[found..<(found + signature.count)].elementsEqual(signature),
                   let problem = walk(descriptor: descriptor, offset: start + found, fileSize: fileSize) {
                    return (start + found, problem)
                }
                position = found + 1
            }
            start += block
        }
        return nil
    }

    /// Walks one collection's objects as H5HG's deserialiser does; nil when it is sound (or when the
    /// library will refuse it anyway: a collection running past the end of the file).
    static func walk(descriptor: Int32, offset: Int, fileSize: Int) -> String? {
        var sizeBytes = [UInt8](repeating: 0, count: 8)
        guard sizeBytes.withUnsafeMutableBytes({ pread(descriptor, $0.baseAddress, 8, off_t(offset + 8)) }) == 8 else { return nil }
        let size = littleEndian(sizeBytes, 0)
        guard size >= UInt64(headerSize), size <= UInt64(fileSize - offset) else { return nil }
        var chunk = [UInt8](repeating: 0, count: Int(size))
        guard chunk.withUnsafeMutableBytes({ pread(descriptor, $0.baseAddress, Int(size), off_t(offset)) }) == Int(size) else { return nil }
        var p = headerSize
        while p < chunk.count {
            if p + objectHeaderSize > chunk.count { break }  // too small for an object: free space
            let index = Int(chunk[p]) | Int(chunk[p + 1]) << 8
            let objectSize = littleEndian(chunk, p + 8)
            let remaining = UInt64(chunk.count - p)
            let (aligned, overflow) = objectSize.addingReportingOverflow(7)
            let need = index > 0 ? (overflow ? UInt64.max : UInt64(objectHeaderSize) + (aligned & ~7)) : objectSize
            if need == 0 { return "a free-space object of size 0 at byte \(offset + p) (HDF5 1.10 would loop forever)" }
            if need > remaining || (index > 0 && objectSize > remaining) {
                return "object \(index) of \(objectSize) bytes at byte \(offset + p) runs past the collection's \(size) bytes"
            }
            p += Int(need)
        }
        return nil
    }

    static func littleEndian(_ bytes: [UInt8], _ at: Int) -> UInt64 {
        (0..<8).reduce(UInt64(0)) { $0 | UInt64(bytes[at + $1]) << (8 * UInt64($1)) }
    }
}

extension HDF5File {
    /// Throws when one of the file's global-heap collections is damaged (see GlobalHeapCheck).
    /// Checked once per open file, before its first variable-length read.
    func checkGlobalHeap(object: String) throws(HDF5Error) {
        guard mode == .readOnly || mode == .readWrite, !globalHeapChecked else { return }
        globalHeapChecked = true
        if let (offset, problem) = GlobalHeapCheck.damagedCollection(path: path) {
            throw HDF5Error(.libraryCall, file: path, object: object, operation: "read variable-length strings",
                            messages: ["the global heap collection at byte \(offset) is damaged: \(problem)"])
        }
    }
}
