// Object headers read as HDF5 reads them (version 1 and 2, following continuation blocks; 8-byte
// addresses and lengths), for the checks HDF5 1.10.8 does not make: a continuation block whose address
// or length points outside the file made H5F__accum_read copy from past its buffer — a segfault inside
// H5Fopen for the root group's header (found by `scizoo fuzz genslm-h5`). Headers are checked before
// HDF5 opens the object: the root group's before the file, every other object's before its group or
// dataset is opened.
import CHDF5
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

enum ObjectHeader {
    enum Outcome {
        /// Every message, (type, body), in header order.
        case messages([(Int, [UInt8])])
        /// A block lies outside the file: HDF5 must not read it.
        case damaged(String)
        /// Not a header this reader follows (another layout, other sizes): left to HDF5.
        case unreadable
    }

    static func read(path: String, at header: UInt64) -> Outcome {
        let descriptor = open(path, O_RDONLY)
        guard descriptor >= 0 else { return .unreadable }
        defer { close(descriptor) }
        var info = stat()
        guard fstat(descriptor, &info) == 0 else { return .unreadable }
        return read(descriptor: descriptor, fileSize: UInt64(info.st_size), at: header)
    }

    static func read(descriptor: Int32, fileSize: UInt64, at header: UInt64) -> Outcome {
        func inside(_ offset: UInt64, _ count: Int) -> Bool { count >= 0 && offset <= fileSize && UInt64(count) <= fileSize - offset }
        func read(_ offset: UInt64, _ count: Int) -> [UInt8]? {
            guard inside(offset, count), count <= 1 << 24 else { return nil }
            var bytes = [UInt8](repeating: 0, count: count)
            return bytes.withUnsafeMutableBytes({ pread(descriptor, $0.baseAddress, count, off_t(offset)) }) == count ? bytes : nil
        }
        func u16(_ b: [UInt8], _ at: Int) -> Int { Int(b.littleEndian(at: at, width: 2)) }
        func u32(_ b: [UInt8], _ at: Int) -> Int { Int(b.littleEndian(at: at, width: 4)) }

        guard let prefix = read(header, 16) else { return .damaged("its header at byte \(header) lies outside the file's \(fileSize) bytes") }
        var pending: [(address: UInt64, length: Int, first: Bool)] = []
        let version2 = prefix.starts(with: Array("OHDR".utf8))
        var flags = 0
        if version2 {
            guard prefix[4] == 2 else { return .unreadable }
            flags = Int(prefix[5])
            var at = 6 + (flags & 0x20 != 0 ? 16 : 0) + (flags & 0x10 != 0 ? 4 : 0)
            let width = 1 << (flags & 3)
            guard let sizeBytes = read(header + UInt64(at), width) else { return .unreadable }
            let size = Int(clamping: sizeBytes.littleEndian(at: 0, width: width))
            at += width
            pending.append((header + UInt64(at), size, true))
        } else {
            guard prefix[0] == 1 else { return .unreadable }
            pending.append((header + 16, u32(prefix, 8), true))
        }
        var messages: [(Int, [UInt8])] = []
        var visited = 0
        while let chunk = pending.popLast() {
            visited += 1
            guard visited <= 1024 else { return .damaged("its continuation blocks do not end (over 1,024)") }
            guard inside(chunk.address, chunk.length) else {
                return .damaged("a block of \(chunk.length) bytes at byte \(chunk.address) lies outside the file's \(fileSize) bytes")
            }
            guard let bytes = read(chunk.address, chunk.length) else { return .unreadable }
            var at = 0, end = bytes.count
            if version2 {
                if !chunk.first {
                    guard bytes.starts(with: Array("OCHK".utf8)) else { return .unreadable }
                    at = 4
                }
                end -= 4  // checksum
            }
            let messageHeader = version2 ? (flags & 0x04 != 0 ? 6 : 4) : 8
            while at + messageHeader <= end {
                let type = version2 ? Int(bytes[at]) : u16(bytes, at)
                let size = version2 ? u16(bytes, at + 1) : u16(bytes, at + 2)
                let start = at + messageHeader
                guard start + size <= end else { return .unreadable }
                let body = Array(bytes[start..<(start + size)])
                if type == 0x10, size >= 16 {  // continuation: another block
                    pending.append((body.littleEndian(at: 0), Int(clamping: body.littleEndian(at: 8)), false))
                } else {
                    messages.append((type, body))
                }
                at = start + size
            }
        }
        if let problem = damagedMessage(messages, descriptor: descriptor, fileSize: fileSize, read: read) { return .damaged(problem) }
        return .messages(messages)
    }

    /// Messages HDF5 1.10 trusts on opening an object: a chunked layout with a zero dimension (it divides
    /// by it: SIGFPE in H5D__chunk_set_info), and a group's symbol table whose local heap keeps its names
    /// outside the file (a segfault in H5F__accum_read under H5Lexists).
    static func damagedMessage(_ messages: [(Int, [UInt8])], descriptor: Int32, fileSize: UInt64,
                               read: (UInt64, Int) -> [UInt8]?) -> String? {
        func u32(_ b: [UInt8], _ at: Int) -> UInt64 { b.littleEndian(at: at, width: 4) }
        for (type, body) in messages {
            switch type {
            case 0x0008 where body.count >= 2:  // data layout
                var dims: [UInt64] = [], chunked = false
                switch body[0] {
                case 1, 2:  // version 1–2: rank, class, reserved(5), address unless compact, dims (4 bytes)
                    let rank = Int(body[1]), layoutClass = body.count > 2 ? body[2] : 0
                    let start = 8 + (layoutClass == 0 ? 0 : 8)
                    chunked = layoutClass == 2
                    if chunked, start + 4 * rank <= body.count { dims = (0..<rank).map { u32(body, start + 4 * $0) } }
                case 3 where body[1] == 2 && body.count >= 3:  // version 3, chunked: rank, address, dims (4 bytes)
                    let rank = Int(body[2]), start = 11
                    chunked = true
                    if start + 4 * rank <= body.count { dims = (0..<rank).map { u32(body, start + 4 * $0) } }
                case 4 where body[1] == 2 && body.count >= 5:  // version 4, chunked: flags, rank, width, dims
                    let rank = Int(body[3]), width = Int(body[4]), start = 5
                    chunked = true
                    if (1...8).contains(width), start + width * rank <= body.count {
                        dims = (0..<rank).map { body.littleEndian(at: start + $0 * width, width: width) }
                    }
                default: break
                }
                // A chunk's dimensions end with the element size: even a scalar's list has one entry.
                if chunked && (dims.isEmpty || dims.contains(0)) { return "its chunked layout has no dimensions or one of 0 (\(dims))" }
            case 0x0011 where body.count >= 16:  // symbol table: B-tree, then local heap address
                let heap = body.littleEndian(at: 8)
                guard let header = read(heap, 32), header.starts(with: Array("HEAP".utf8)) else {
                    return "its symbol table's local heap at byte \(heap) is not in the file"
                }
                let size = header.littleEndian(at: 8), data = header.littleEndian(at: 24)
                if data > fileSize || size > fileSize - data {
                    return "its symbol table's names (\(size) bytes at byte \(data)) lie outside the file's \(fileSize) bytes"
                }
            case 0x000C:  // attribute: HDF5 1.10 copies its values without checking the message holds them
                if let problem = attributeOverrun(body) { return problem }
            default: break
            }
        }
        return nil
    }

    /// An attribute message (versions 1–3) whose name, datatype and dataspace, or whose values, overrun
    /// the message (heap over-reads in H5O_attr_decode). Dataspaces with 8-byte extents only; any
    /// other layout is left to HDF5.
    static func attributeOverrun(_ message: [UInt8]) -> String? {
        guard let layout = AttributeMessageLayout(message) else { return nil }
        guard layout.dataspace.upperBound <= message.count else {
            return "an attribute's name, datatype and dataspace (\(layout.dataspace.upperBound) bytes) overrun its message of \(message.count) bytes"
        }
        guard layout.datatype.count >= 8, layout.dataspace.count >= 4 else { return nil }
        let elementSize = message.littleEndian(at: layout.datatype.lowerBound + 4, width: 4)
        let space = Array(message[layout.dataspace])
        let rank = Int(space[1]), hasMaximum = space[2] & 1 != 0
        let dimsStart: Int, elements: UInt64?
        switch space[0] {
        case 1: dimsStart = 8
        case 2 where space[3] == 2: return nil  // null dataspace: no values
        case 2: dimsStart = 4
        default: return nil
        }
        guard dimsStart + 8 * rank * (hasMaximum ? 2 : 1) == space.count else { return nil }
        elements = (0..<rank).reduce(Optional(UInt64(1))) { product, axis in
            product.flatMap { value in
                let (result, overflow) = value.multipliedReportingOverflow(by: space.littleEndian(at: dimsStart + 8 * axis))
                return overflow ? nil : result
            }
        }
        let (bytes, overflow) = (elements ?? .max).multipliedReportingOverflow(by: elementSize)
        guard overflow || elements == nil || layout.valuesStart > message.count || bytes > UInt64(message.count - layout.valuesStart) else { return nil }
        return "an attribute claims \(elements.map(String.init) ?? "too many") values of \(elementSize) bytes in a message of \(message.count) bytes"
    }

    /// The root group's header address from a superblock at byte 0 (versions 0–3, 8-byte offsets,
    /// base address 0); nil for any other layout.
    static func rootAddress(path: String) -> UInt64? {
        let descriptor = open(path, O_RDONLY)
        guard descriptor >= 0 else { return nil }
        defer { close(descriptor) }
        var block = [UInt8](repeating: 0, count: 96)
        guard block.withUnsafeMutableBytes({ pread(descriptor, $0.baseAddress, 96, 0) }) == 96,
              block.starts(with: [0x89, 0x48, 0x44, 0x46, 0x0D, 0x0A, 0x1A, 0x0A]) else { return nil }
        switch block[8] {
        case 0, 1:
            guard block[13] == 8, block[14] == 8, block.littleEndian(at: 24) == 0 else { return nil }
            return block.littleEndian(at: block[8] == 0 ? 64 : 68)
        case 2, 3:
            guard block[9] == 8, block[10] == 8, block.littleEndian(at: 12) == 0 else { return nil }
            return block.littleEndian(at: 36)
        default: return nil
        }
    }
}

/// Where the parts of an attribute message (versions 1–3) lie: version 1 pads each part to 8 bytes,
/// version 3 adds a name-encoding byte before the name. The ranges may run past the message: callers check.
struct AttributeMessageLayout {
    let name: Range<Int>, datatype: Range<Int>, dataspace: Range<Int>
    /// Where the values begin: they run to the message's end.
    let valuesStart: Int

    init?(_ message: [UInt8]) {
        guard message.count >= 8, (1...3).contains(message[0]) else { return nil }
        let version = message[0]
        func size(at offset: Int) -> Int { Int(message.littleEndian(at: offset, width: 2)) }
        func padded(_ n: Int) -> Int { version == 1 ? (n + 7) & ~7 : n }
        let nameStart = version == 3 ? 9 : 8
        name = nameStart..<(nameStart + size(at: 2))
        let typeStart = nameStart + padded(name.count)
        datatype = typeStart..<(typeStart + size(at: 4))
        let spaceStart = typeStart + padded(datatype.count)
        dataspace = spaceStart..<(spaceStart + size(at: 6))
        valuesStart = spaceStart + padded(dataspace.count)
    }
}

extension HDF5File {
    /// Throws when the object header at `address` has a block outside the file (checked once per address).
    /// Files open for writing are skipped: their newest headers may not be on disk yet.
    func checkObjectHeader(at address: UInt64, object: String, operation: String) throws(HDF5Error) {
        guard mode == .readOnly, checkedHeaders.insert(address).inserted else { return }
        if case .damaged(let problem) = ObjectHeader.read(path: path, at: address) {
            throw HDF5Error(.libraryCall, file: path, object: object, operation: operation, messages: ["its object header is damaged: \(problem)"])
        }
    }
}

extension HDF5Group {
    /// Checks the header of every object along `name` before HDF5 opens it.
    func checkObjectHeaders(along name: String, operation: String) throws(HDF5Error) {
        var prefix = name.hasPrefix("/") ? "/" : ""
        for part in name.split(separator: "/") {
            prefix += (prefix.isEmpty || prefix.hasSuffix("/") ? "" : "/") + part
            var info = H5L_info_t()
            guard HDF5Library.quietly({ H5Lget_info(id, prefix, &info, defaultProperties) }) >= 0, info.type == H5L_TYPE_HARD else { return }
            try file.checkObjectHeader(at: UInt64(info.u.address), object: childPath(prefix), operation: operation)
        }
    }
}
