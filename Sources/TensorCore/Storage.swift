// Tensor storage: one 64-byte aligned allocation per buffer, counted in the memory accounting.
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
    let base: UnsafeMutableRawPointer
    private let byteCount: Int
    private let scope: MemoryScope?

    public static let alignment = 64

    init(dtype: DType, count: Int, zeroed: Bool = true) {
        precondition(count >= 0, "TensorStorage: negative element count \(count)")
        self.dtype = dtype
        self.count = count
        byteCount = Swift.max(1, count * dtype.byteSize)
        base = UnsafeMutableRawPointer.allocate(byteCount: byteCount, alignment: Self.alignment)
        if zeroed { base.initializeMemory(as: UInt8.self, repeating: 0, count: byteCount) }
        scope = MemoryScope.current
        TensorMemory.allocated(byteCount)
        scope?.allocated(byteCount)
    }

    deinit {
        base.deallocate()
        TensorMemory.released(byteCount)
        scope?.released(byteCount)
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
