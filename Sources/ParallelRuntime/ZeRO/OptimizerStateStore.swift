// Where Adam's moments (m, v) of a rank's partition live: in tensor memory (no offload), in host
// memory outside the tensor allocator (offload_optimizer.device = cpu: on a CPU-only machine this
// is the same RAM, booked as offloaded), or in files under nvme_path (ZeRO-Infinity's NVMe tier),
// moved in sub-groups of at most sub_group_size elements through a small pool of aligned buffers:
// the next sub-group is read and the previous one written while this one is updated.
import COSShims
import Dispatch
import Kernels
import Foundation
import TensorCore

#if canImport(Glibc)
import Glibc
import TensorIO
#endif

/// Adam's moments of one rank's partition, visited sub-group by sub-group.
protocol OptimizerStateStore: AnyObject {
    var count: Int { get }
    /// Bytes held in tensor memory, in host memory outside it, and in files.
    var residentBytes: Int { get }
    var hostBytes: Int { get }
    var fileBytes: Int { get }
    /// I/O buffers (not model state): the NVMe tier's fixed overhead.
    var bufferBytes: Int { get }
    /// Calls `body(range, m, v)` for consecutive sub-groups covering 0..<count; changes persist.
    func forEachSubGroup(_ body: (Range<Int>, UnsafeMutablePointer<Float>, UnsafeMutablePointer<Float>) throws -> Void) throws
}

/// m and v in memory: as tensors (`booked: .resident`) or as plain host buffers (`.host`).
final class MemoryStateStore: OptimizerStateStore {
    let count: Int
    let subGroupSize: Int
    private let offloaded: Bool
    private var m: Tensor, v: Tensor
    private let hostM: UnsafeMutablePointer<Float>?, hostV: UnsafeMutablePointer<Float>?

    init(count: Int, subGroupSize: Int, offloadedToHost: Bool) {
        self.count = count
        self.subGroupSize = Swift.max(1, subGroupSize)
        offloaded = offloadedToHost
        if offloadedToHost {
            hostM = .allocate(capacity: Swift.max(1, count))
            hostV = .allocate(capacity: Swift.max(1, count))
            hostM!.initialize(repeating: 0, count: Swift.max(1, count))
            hostV!.initialize(repeating: 0, count: Swift.max(1, count))
            m = .zeros([0])
            v = .zeros([0])
        } else {
            hostM = nil
            hostV = nil
            m = .zeros([count], dtype: .float32)
            v = .zeros([count], dtype: .float32)
        }
    }

    deinit {
        hostM?.deallocate()
        hostV?.deallocate()
    }

    var residentBytes: Int { offloaded ? 0 : 8 * count }
    var hostBytes: Int { offloaded ? 8 * count : 0 }
    var fileBytes: Int { 0 }
    var bufferBytes: Int { 0 }

    func forEachSubGroup(_ body: (Range<Int>, UnsafeMutablePointer<Float>, UnsafeMutablePointer<Float>) throws -> Void) throws {
        func visit(_ mp: UnsafeMutablePointer<Float>, _ vp: UnsafeMutablePointer<Float>) throws {
            var start = 0
            while start < count {
                let end = Swift.min(count, start + subGroupSize)
                try body(start..<end, mp + start, vp + start)
                start = end
            }
        }
        if let hostM, let hostV { return try visit(hostM, hostV) }
        var failure: (any Error)?
        m.update(as: Float.self) { mb in
            v.update(as: Float.self) { vb in
                do { try visit(mb.baseAddress!, vb.baseAddress!) } catch { failure = error }
            }
        }
        if let failure { throw failure }
    }
}

/// A file of fixed size read and written at aligned offsets (O_DIRECT when the file system allows).
final class SwapFile {
    let path: String
    private let descriptor: Int32
    let direct: Bool

    /// - Parameters: `direct` asks for O_DIRECT (page-aligned buffers, offsets and sizes only).
    init(path: String, bytes: Int, direct wanted: Bool = true) throws {
        self.path = path
        var fd: Int32 = wanted ? open(path, O_RDWR | O_CREAT | O_TRUNC | scizoo_open_direct_flag(), 0o600) : -1
        direct = fd >= 0
        if fd < 0 { fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0o600) }  // tmpfs and some overlays refuse O_DIRECT
        guard fd >= 0 else { throw FileError(file: path, message: "cannot create the swap file (\(String(cString: strerror(errno))))") }
        descriptor = fd
        guard ftruncate(fd, off_t(bytes)) == 0 else {
            close(fd)
            throw FileError(file: path, message: "cannot size the swap file to \(bytes) bytes (\(String(cString: strerror(errno))))")
        }
    }

    deinit { close(descriptor) }

    func read(into buffer: UnsafeMutableRawPointer, bytes: Int, offset: Int) throws {
        var done = 0
        while done < bytes {
            let n = pread(descriptor, buffer + done, bytes - done, off_t(offset + done))
            guard n > 0 else { throw FileError(file: path, message: "read of \(bytes) bytes at \(offset) failed (\(n < 0 ? String(cString: strerror(errno)) : "end of file"))") }
            done += n
        }
    }

    func write(from buffer: UnsafeRawPointer, bytes: Int, offset: Int) throws {
        var done = 0
        while done < bytes {
            let n = pwrite(descriptor, buffer + done, bytes - done, off_t(offset + done))
            guard n > 0 else { throw FileError(file: path, message: "write of \(bytes) bytes at \(offset) failed (\(String(cString: strerror(errno))))") }
            done += n
        }
    }
}

/// m and v in two swap files, moved through three buffer pairs: while sub-group i is updated,
/// i + 1 is being read and i − 1 written (DeepSpeed's pipeline_read / pipeline_write).
final class NVMeStateStore: OptimizerStateStore {
    static let alignment = 4096
    let count: Int
    let subGroupSize: Int
    let folder: String
    private let mFile: SwapFile, vFile: SwapFile
    private let slots: [(m: UnsafeMutableRawPointer, v: UnsafeMutableRawPointer)]
    private let slotBytes: Int
    private let io = DispatchQueue(label: "scizoo.zero.nvme", attributes: .concurrent)

    /// - Parameters: `subGroupSize` is rounded up to whole 4 KiB pages of floats.
    init(count: Int, subGroupSize: Int, folder: String) throws {
        self.count = count
        let perPage = Self.alignment / 4
        self.subGroupSize = Swift.max(perPage, (Swift.min(subGroupSize, Swift.max(1, count)) + perPage - 1) / perPage * perPage)
        self.folder = folder
        let slotBytes = self.subGroupSize * 4
        self.slotBytes = slotBytes
        let fileBytes = ((count * 4 + Self.alignment - 1) / Self.alignment) * Self.alignment
        mFile = try SwapFile(path: folder + "/exp_avg.tensor.swp", bytes: Swift.max(Self.alignment, fileBytes))
        vFile = try SwapFile(path: folder + "/exp_avg_sq.tensor.swp", bytes: Swift.max(Self.alignment, fileBytes))
        slots = (0..<3).map { _ in
            let m = UnsafeMutableRawPointer.allocate(byteCount: slotBytes, alignment: NVMeStateStore.alignment)
            let v = UnsafeMutableRawPointer.allocate(byteCount: slotBytes, alignment: NVMeStateStore.alignment)
            m.initializeMemory(as: UInt8.self, repeating: 0, count: slotBytes)
            v.initializeMemory(as: UInt8.self, repeating: 0, count: slotBytes)
            return (m, v)
        }
        // The files start as zeros (ftruncate), which is Adam's initial state.
    }

    deinit { for slot in slots { slot.m.deallocate(); slot.v.deallocate() } }

    var residentBytes: Int { 0 }
    var hostBytes: Int { 0 }
    var fileBytes: Int { 8 * count }
    /// Three pairs of aligned buffers.
    var bufferBytes: Int { 3 * 2 * slotBytes }

    /// Bytes of sub-group `group` as stored: whole pages (the file is padded to a page).
    private func span(_ group: Int) -> (range: Range<Int>, offset: Int, bytes: Int) {
        let start = group * subGroupSize, end = Swift.min(count, start + subGroupSize)
        let bytes = ((end - start) * 4 + Self.alignment - 1) / Self.alignment * Self.alignment
        return (start..<end, start * 4, bytes)
    }

    func forEachSubGroup(_ body: (Range<Int>, UnsafeMutablePointer<Float>, UnsafeMutablePointer<Float>) throws -> Void) throws {
        let groups = (count + subGroupSize - 1) / subGroupSize
        guard groups > 0 else { return }
        let errors = ErrorSlot()
        var reads = (0..<3).map { _ in DispatchGroup() }, writes = (0..<3).map { _ in DispatchGroup() }
        let files = UncheckedSendable((mFile, vFile, slots))
        /// Moves sub-group `group`'s m and v between its slot and the files on the I/O queue.
        func transfer(_ group: Int, reading: Bool) -> DispatchGroup {
            let slot = group % 3, (_, offset, bytes) = span(group), done = DispatchGroup()
            io.async(group: done) {
                let (mFile, vFile, slots) = files.value
                do {
                    for (file, buffer) in [(mFile, slots[slot].m), (vFile, slots[slot].v)] {
                        if reading { try file.read(into: buffer, bytes: bytes, offset: offset) }
                        else { try file.write(from: buffer, bytes: bytes, offset: offset) }
                    }
                } catch { errors.set(error) }
            }
            return done
        }
        func startRead(_ group: Int) {
            writes[group % 3].wait()  // the slot's last write must be on disk before we overwrite the buffer
            reads[group % 3] = transfer(group, reading: true)
        }
        startRead(0)
        for group in 0..<groups {
            let slot = group % 3
            if group + 1 < groups { startRead(group + 1) }
            reads[slot].wait()
            if let error = errors.value { throw error }
            try body(span(group).range, slots[slot].m.assumingMemoryBound(to: Float.self), slots[slot].v.assumingMemoryBound(to: Float.self))
            writes[slot] = transfer(group, reading: false)
        }
        for write in writes { write.wait() }
        if let error = errors.value { throw error }
    }
}

final class ErrorSlot: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: (any Error)?
    func set(_ error: any Error) { lock.lock(); if stored == nil { stored = error }; lock.unlock() }
    var value: (any Error)? { lock.lock(); defer { lock.unlock() }; return stored }
}
