// Tensor storage: one 64-byte aligned allocation per buffer (large ones pooled, BufferPool.swift),
// counted in the memory accounting.
import Synchronization

/// Live and peak bytes of tensor storage in this process; benchmarks and leak tests read it.
public enum TensorMemory {
    private static let live = Atomic<Int>(0)
    private static let peak = Atomic<Int>(0)
    private static let buffers = Atomic<Int>(0)

    /// Bytes of tensor storage currently allocated.
    public static var liveBytes: Int { live.load(ordering: .relaxed) }
    /// The most `liveBytes` has been since the last `resetPeak()`.
    public static var peakBytes: Int { peak.load(ordering: .relaxed) }
    /// Storage buffers currently allocated.
    public static var liveBuffers: Int { buffers.load(ordering: .relaxed) }

    /// Sets the peak to the current live bytes.
    public static func resetPeak() { peak.store(live.load(ordering: .relaxed), ordering: .relaxed) }

    static func allocated(_ bytes: Int) {
        let now = live.add(bytes, ordering: .relaxed).newValue
        _ = buffers.add(1, ordering: .relaxed)
        var seen = peak.load(ordering: .relaxed)
        while now > seen {
            let (exchanged, original) = peak.compareExchange(expected: seen, desired: now, ordering: .relaxed)
            if exchanged { break }
            seen = original
        }
    }

    static func released(_ bytes: Int) {
        _ = live.subtract(bytes, ordering: .relaxed)
        _ = buffers.subtract(1, ordering: .relaxed)
    }
}

/// Counts the tensor storage allocated inside a scope (and still alive), independent of
/// other threads' work: leak tests and benchmarks measure with it while tests run in parallel.
public final class MemoryScope: Sendable {
    private let live = Atomic<Int>(0)
    private let peak = Atomic<Int>(0)

    public init() {}

    /// The scope that storage allocated on this task is charged to.
    @TaskLocal public static var current: MemoryScope?

    public var liveBytes: Int { live.load(ordering: .relaxed) }
    public var peakBytes: Int { peak.load(ordering: .relaxed) }
    public func resetPeak() { peak.store(live.load(ordering: .relaxed), ordering: .relaxed) }

    /// Runs `body` charging its allocations to this scope.
    public func measure<R>(_ body: () throws -> R) rethrows -> R {
        try MemoryScope.$current.withValue(self, operation: body)
    }

    func allocated(_ bytes: Int) {
        let now = live.add(bytes, ordering: .relaxed).newValue
        var seen = peak.load(ordering: .relaxed)
        while now > seen {
            let (exchanged, original) = peak.compareExchange(expected: seen, desired: now, ordering: .relaxed)
            if exchanged { break }
            seen = original
        }
    }

    func released(_ bytes: Int) { _ = live.subtract(bytes, ordering: .relaxed) }
}

/// A 64-byte aligned, zero-initialised buffer of `count` elements of `dtype`.
public final class TensorStorage: @unchecked Sendable {
    public let dtype: DType
    public let count: Int
    private(set) var base: UnsafeMutableRawPointer
    private let byteCount: Int
    private let scope: MemoryScope?
    /// Whether the buffer is released (a ZeRO-3 parameter between uses).
    public private(set) var isReleased = false

    public static let alignment = 64

    init(dtype: DType, count: Int, zeroed: Bool = true) {
        precondition(count >= 0, "TensorStorage: negative element count \(count)")
        self.dtype = dtype
        self.count = count
        byteCount = Swift.max(1, count * dtype.byteSize)
        let (buffer, isZero) = Self.allocateBuffer(byteCount)
        base = buffer
        if zeroed && !isZero { base.initializeMemory(as: UInt8.self, repeating: 0, count: byteCount) }
        scope = MemoryScope.current
        TensorMemory.allocated(byteCount)
        scope?.allocated(byteCount)
    }

    /// A storage with no buffer yet (a parameter whose values are made shard by shard under ZeRO
    /// stage 3); `restore` allocates it.
    init(releasedWith dtype: DType, count: Int) {
        precondition(count >= 0, "TensorStorage: negative element count \(count)")
        self.dtype = dtype
        self.count = count
        byteCount = Swift.max(1, count * dtype.byteSize)
        base = UnsafeMutableRawPointer.allocate(byteCount: 1, alignment: Self.alignment)
        isReleased = true
        scope = MemoryScope.current
    }

    deinit {
        if isReleased { base.deallocate() } else { Self.freeBuffer(base, byteCount) }
        if !isReleased {
            TensorMemory.released(byteCount)
            scope?.released(byteCount)
        }
    }

    /// Frees the buffer while keeping the storage object, which views and autograd nodes may hold
    /// (ZeRO stage 3 partitions parameters between uses). Reading it before `restore` is a bug.
    public func release() {
        guard !isReleased else { return }
        Self.freeBuffer(base, byteCount)
        base = UnsafeMutableRawPointer.allocate(byteCount: 1, alignment: Self.alignment)
        isReleased = true
        TensorMemory.released(byteCount)
        scope?.released(byteCount)
    }

    /// Allocates the buffer again and fills it with `fill` (which must write every byte).
    public func restore(_ fill: (UnsafeMutableRawPointer) -> Void) {
        if isReleased {
            base.deallocate()
            base = Self.allocateBuffer(byteCount).0
            isReleased = false
            TensorMemory.allocated(byteCount)
            scope?.allocated(byteCount)
        }
        fill(base)
    }

    /// Large buffers come from `BufferPool`, small ones from malloc; `zero` says the bytes are known zero.
    private static func allocateBuffer(_ byteCount: Int) -> (UnsafeMutableRawPointer, zero: Bool) {
        if byteCount >= BufferPool.threshold { return BufferPool.take(byteCount) }
        return (UnsafeMutableRawPointer.allocate(byteCount: byteCount, alignment: alignment), false)
    }

    private static func freeBuffer(_ pointer: UnsafeMutableRawPointer, _ byteCount: Int) {
        if byteCount >= BufferPool.threshold { BufferPool.give(pointer) } else { pointer.deallocate() }
    }

    func copy() -> TensorStorage {
        let result = TensorStorage(dtype: dtype, count: count, zeroed: false)
        result.base.copyMemory(from: base, byteCount: count * dtype.byteSize)
        return result
    }

    @inline(__always)
    func pointer<T>(as type: T.Type) -> UnsafeMutablePointer<T> {
        base.assumingMemoryBound(to: T.self)
    }
}
