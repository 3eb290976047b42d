// HDF5 1.10's global-heap reader trusts the collection it loads: a free-space object of size 0 stops
// its parse loop from advancing (the process hangs), and an object longer than its collection is
// later copied from past the buffer. Variable-length strings live in those collections, so before a
// file's first variable-length read its collections are walked here as the library walks them, and
// a damaged one is an error naming its byte offset. A reference into the heap that names an object
// the collection lacks, or a length other than its object's, made H5HG_read copy from a null
// pointer or past its buffer (or allocate gigabytes): the references an attribute holds are read from its object header
// (AttributeReferences) and checked against the collections first. Found by `scizoo fuzz`
// (checkpoint-h5, mlff-h5).
import CHDF5
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

    /// A file's collections: their byte offsets, and for each its objects' sizes by index.
    struct Collections {
        var objects: [UInt64: [Int: UInt64]] = [:]
        var damaged: (offset: Int, problem: String)?
        /// False for files not scanned (larger than `largestScannedFile`, or unreadable).
        var scanned = false
    }

    /// Every collection of `path`, or the first damaged one.
    static func scan(path: String) -> Collections {
        var result = Collections()
        let descriptor = open(path, O_RDONLY)
        guard descriptor >= 0 else { return result }  // the library reports an unreadable file itself
        defer { close(descriptor) }
        var info = stat()
        guard fstat(descriptor, &info) == 0, Int(info.st_size) <= largestScannedFile else { return result }
        result.scanned = true
        let fileSize = Int(info.st_size)
        let block = 4 << 20, overlap = signature.count - 1
        var buffer = [UInt8](repeating: 0, count: block + overlap)
        var start = 0
        while start < fileSize {
            let length = min(block + overlap, fileSize - start)
            let read = buffer.withUnsafeMutableBytes { pread(descriptor, $0.baseAddress, length, off_t(start)) }
            guard read == length else { return result }
            var position = 0
            while position + signature.count <= length {
                guard let found = buffer[position..<length].firstIndex(of: signature[0]) else { break }
                if found + signature.count <= length, buffer[found..<(found + signature.count)].elementsEqual(signature) {
                    switch walk(descriptor: descriptor, offset: start + found, fileSize: fileSize) {
                    case .failure(let problem):
                        result.damaged = (start + found, problem.text)
                        return result
                    case .success(let objects?): result.objects[UInt64(start + found)] = objects
                    case .success(nil): break
                    }
                }
                position = found + 1
            }
            start += block
        }
        return result
    }

    struct Problem: Error { let text: String }

    /// Walks one collection's objects as H5HG's deserialiser does: their sizes by index, nil when the
    /// library will refuse the collection anyway (one running past the end of the file).
    static func walk(descriptor: Int32, offset: Int, fileSize: Int) -> Result<[Int: UInt64]?, Problem> {
        var sizeBytes = [UInt8](repeating: 0, count: 8)
        guard sizeBytes.withUnsafeMutableBytes({ pread(descriptor, $0.baseAddress, 8, off_t(offset + 8)) }) == 8 else { return .success(nil) }
        let size = sizeBytes.littleEndian(at: 0)
        guard size >= UInt64(headerSize), size <= UInt64(fileSize - offset) else { return .success(nil) }
        var chunk = [UInt8](repeating: 0, count: Int(size))
        guard chunk.withUnsafeMutableBytes({ pread(descriptor, $0.baseAddress, Int(size), off_t(offset)) }) == Int(size) else { return .success(nil) }
        var objects: [Int: UInt64] = [:]
        var p = headerSize
        while p < chunk.count {
            if p + objectHeaderSize > chunk.count { break }  // too small for an object: free space
            let index = Int(chunk[p]) | Int(chunk[p + 1]) << 8
            let objectSize = chunk.littleEndian(at: p + 8)
            let remaining = UInt64(chunk.count - p)
            let (aligned, overflow) = objectSize.addingReportingOverflow(7)
            let need = index > 0 ? (overflow ? UInt64.max : UInt64(objectHeaderSize) + (aligned & ~7)) : objectSize
            if need == 0 { return .failure(Problem(text: "a free-space object of size 0 at byte \(offset + p) (HDF5 1.10 would loop forever)")) }
            if need > remaining || (index > 0 && objectSize > remaining) {
                return .failure(Problem(text: "object \(index) of \(objectSize) bytes at byte \(offset + p) runs past the collection's \(size) bytes"))
            }
            if index > 0 { objects[index] = objectSize }
            p += Int(need)
        }
        return .success(objects)
    }

}

extension HDF5File {
    /// The file's global-heap collections, scanned once per open file; throws when one is damaged.
    func globalHeap(object: String) throws(HDF5Error) -> GlobalHeapCheck.Collections {
        if globalHeapCollections == nil { globalHeapCollections = GlobalHeapCheck.scan(path: path) }
        let collections = globalHeapCollections!
        if let (offset, problem) = collections.damaged {
            throw HDF5Error(.libraryCall, file: path, object: object, operation: "read variable-length strings",
                            messages: ["the global heap collection at byte \(offset) is damaged: \(problem)"])
        }
        return collections
    }

    /// Checks the heap references of variable-length attribute `name` of the object `objectID`
    /// (`count` strings) before HDF5 follows them.
    func checkVariableLengthAttribute(objectID: hid_t, object: String, name: String, count: Int) throws(HDF5Error) {
        let collections = try globalHeap(object: object)
        guard collections.scanned else { return }
        var info = H5O_info_t()
        guard HDF5Library.quietly({ H5Oget_info2(objectID, &info, UInt32(H5O_INFO_BASIC)) }) >= 0,
              let (datatype, data) = AttributeReferences.message(path: path, header: UInt64(info.addr), name: name) else { return }
        func fail(_ message: String) -> HDF5Error {
            HDF5Error(.libraryCall, file: path, object: object, operation: "read attribute '\(name)'", messages: [message])
        }
        // A variable-length string is a sequence (class 9) of 1-byte elements: HDF5 allocates length × that
        // size, so a damaged element size allocated gigabytes.
        guard datatype.count >= 16, datatype[0] & 0x0F == 9,
              datatype.littleEndian(at: 12, width: 4) == 1 else {
            throw fail("its variable-length string type is damaged (not a sequence of 1-byte characters)")
        }
        // Each string is stored as its length (4 bytes), a collection's address (8) and an object index (4).
        guard data.count >= count * 16 else { throw fail("its \(count) strings need \(count * 16) bytes of references, the header holds \(data.count) (a damaged attribute)") }
        for element in 0..<count {
            let base = element * 16
            let length = data.littleEndian(at: base, width: 4)
            let address = data.littleEndian(at: base + 4)
            let index = Int(data.littleEndian(at: base + 12, width: 4))
            if address == 0 || length == 0 { continue }  // a null or empty string: HDF5 reads no heap
            guard let objects = collections.objects[address] else {
                throw fail("string \(element) refers to a global heap collection at byte \(address), where there is none (a damaged attribute)")
            }
            // A string's object holds exactly its bytes: HDF5 sizes its buffer by the length and copies the object.
            guard let size = objects[index], size == length else {
                throw fail("string \(element) refers to object \(index) of the collection at byte \(address), which "
                           + (objects[index] == nil ? "does not exist" : "holds \(objects[index]!) bytes, not the string's \(length)") + " (a damaged attribute)")
            }
        }
    }
}

/// The datatype and raw value of an attribute stored in its object's header (compact attribute
/// storage): nil where the header cannot be followed, which leaves the read to HDF5's own checks.
enum AttributeReferences {
    static func message(path: String, header: UInt64, name: String) -> (datatype: [UInt8], data: [UInt8])? {
        guard case .messages(let messages) = ObjectHeader.read(path: path, at: header) else { return nil }
        // Attribute messages (type 0x0C), versions 1–3.
        for (type, message) in messages where type == 0x0C {
            guard let layout = AttributeMessageLayout(message), layout.name.upperBound <= message.count else { continue }
            let stored = String(decoding: message[layout.name].prefix { $0 != 0 }, as: UTF8.self)
            guard stored == name else { continue }
            guard layout.valuesStart <= message.count else { return ([], []) }
            return (Array(message[layout.datatype]), Array(message[layout.valuesStart...]))
        }
        return nil
    }
}
