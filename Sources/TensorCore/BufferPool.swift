// Large tensor buffers: mapped from the kernel and kept, once freed, in a pool keyed by their
// exact (page-rounded) length, so the next buffer of that size is reused instead of faulted in
// again. A model's forward pass allocates the same few sizes over and over: through malloc,
// every buffer above glibc's mmap threshold was a fresh mapping whose pages the kernel zeroed on
// first touch (12 % of an AlphaFold pass in page faults), and buffers below it fragmented the
// heap (resident memory 1.8× the live tensors).
//
// Memory bound: a buffer that misses the pool first unmaps pooled buffers, least recently freed
// first, until outstanding plus pooled bytes are no more than the most ever outstanding. So the
// pool never makes resident memory exceed the live tensors' own peak (plus size-class rounding).
import COSShims
import Glibc
import Synchronization

public enum BufferPool {
    /// Buffers at least this long (bytes) come from the pool; smaller ones from malloc.
    static let threshold = 1 << 20
    /// Pooled bytes allowed above the live peak: one block's temporaries of every size, so a
    /// stack of blocks cycles through the pool without evicting what the next block needs.
    static let slack = 128 << 20

    /// A pooled buffer: its address as an integer (pointers are not Sendable) and when it was freed.
    private struct Pooled {
        var address: UInt
        var stamp: Int
        var pointer: UnsafeMutableRawPointer { UnsafeMutableRawPointer(bitPattern: address)! }
    }

    private struct State {
        var free: [Int: [Pooled]] = [:]
        var pooledBytes = 0
        var outstandingBytes = 0
        var lengths: [UInt: Int] = [:]
        var highWater = 0
        var clock = 0
        var hits = 0, misses = 0, unmapped = 0
    }

    private static let state = Mutex(State())
    private static let pageSize = Int(sysconf(Int32(_SC_PAGESIZE)))

    /// The mapped length for a request: rounded up to one of 8 size classes per power of two
    /// (at most 12.5 % more), so buffers of nearly equal sizes (a last, shorter chunk) share a list.
    static func length(for byteCount: Int) -> Int {
        let step = Swift.max(pageSize, (1 << (Int.bitWidth - 1 - (byteCount - 1).leadingZeroBitCount)) / 8)
        return (byteCount + step - 1) / step * step
    }

    /// A buffer of at least `byteCount` bytes and whether it is known to be zero (fresh pages).
    static func take(_ byteCount: Int) -> (UnsafeMutableRawPointer, zero: Bool) {
        let length = length(for: byteCount)
        let (reused, resize, unmap): (Pooled?, Int, [(Pooled, Int)]) = state.withLock { state in
            state.outstandingBytes += length
            defer { state.highWater = Swift.max(state.highWater, state.outstandingBytes) }
            if var list = state.free[length], let last = list.popLast() {
                state.free[length] = list.isEmpty ? nil : list
                state.pooledBytes -= length
                state.hits += 1
                return (last, length, [])
            }
            // A miss: a pooled buffer up to twice as long serves as it is; else the longest shorter
            // one grows (its pages stay mapped: only the difference faults in)…
            state.misses += 1
            var resized: (Pooled, Int)?
            if let (size, index) = nearest(to: length, in: state) {
                resized = (state.free[size]!.remove(at: index), size)
                if state.free[size]!.isEmpty { state.free[size] = nil }
                state.pooledBytes -= size
                if size > length { state.outstandingBytes += size - length }
            }
            // …and unmap pooled buffers, oldest first, until outstanding plus pooled bytes fit
            // under the most ever outstanding plus the slack.
            var unmap: [(Pooled, Int)] = []
            let limit = Swift.max(state.highWater, state.outstandingBytes) + slack
            while state.outstandingBytes + state.pooledBytes > limit, let (size, index) = oldest(in: state) {
                unmap.append((state.free[size]!.remove(at: index), size))
                if state.free[size]!.isEmpty { state.free[size] = nil }
                state.pooledBytes -= size
                state.unmapped += 1
            }
            return (resized?.0, resized?.1 ?? 0, unmap)
        }
        for (victim, size) in unmap { munmap(victim.pointer, size) }
        if let reused {
            if resize >= length { return record(reused.pointer, resize, zero: false) }
            if let moved = scizoo_remap(reused.pointer, resize, length) { return record(moved, length, zero: false) }
            munmap(reused.pointer, resize)
        }
        guard let mapped = mmap(nil, length, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0), mapped != MAP_FAILED else {
            fatalError("TensorStorage: cannot map \(length) bytes (errno \(errno))")
        }
        return record(mapped, length, zero: true)
    }

    /// Notes the mapped length of a buffer handed out (it may exceed the request's size class).
    private static func record(_ pointer: UnsafeMutableRawPointer, _ length: Int, zero: Bool) -> (UnsafeMutableRawPointer, zero: Bool) {
        state.withLock { $0.lengths[UInt(bitPattern: pointer)] = length }
        return (pointer, zero)
    }

    /// Returns a buffer from `take` to the pool.
    static func give(_ pointer: UnsafeMutableRawPointer) {
        state.withLock { state in
            let length = state.lengths.removeValue(forKey: UInt(bitPattern: pointer))!
            state.clock += 1
            state.outstandingBytes -= length
            state.free[length, default: []].append(Pooled(address: UInt(bitPattern: pointer), stamp: state.clock))
            state.pooledBytes += length
        }
    }

    /// Buffers served from the pool, freshly mapped, and unmapped to make room.
    public static var statistics: (hits: Int, misses: Int, unmapped: Int) { state.withLock { ($0.hits, $0.misses, $0.unmapped) } }

    /// Bytes held by the pool (freed buffers kept for reuse).
    static var pooledBytes: Int { state.withLock { $0.pooledBytes } }

    /// The shortest pooled buffer of `length`…2·`length` bytes, else the longest shorter one.
    private static func nearest(to length: Int, in state: State) -> (Int, Int)? {
        let sizes = state.free.keys
        guard let size = sizes.filter({ $0 >= length && $0 <= 2 * length }).min() ?? sizes.filter({ $0 < length }).max() else { return nil }
        return (size, state.free[size]!.count - 1)
    }

    private static func oldest(in state: State) -> (Int, Int)? {
        var best: (Int, Int)?, bestStamp = Int.max
        for (size, list) in state.free {
            for (index, entry) in list.enumerated() where entry.stamp < bestStamp {
                (best, bestStamp) = ((size, index), entry.stamp)
            }
        }
        return best
    }
}
