// OpenBLAS runs on one thread in this process. Its own worker threads spin in sched_yield
// between calls, and on a 2-core machine that spinning takes the cores our Dispatch loops
// compute on (a quarter of a GPT-NeoX training step went to it); large products are split
// across the thread budget by `forEachGEMMBlock` instead. The count is set once, before the
// first BLAS call, so it never changes under a call in flight (changing it mid-call deadlocks
// OpenBLAS 0.3.21).
import CBLAS

public enum BLASGate {
    private static let singleThreaded: Void = { openblas_set_num_threads(1) }()

    /// Runs a BLAS call (or several) with OpenBLAS set to one thread.
    @inline(__always)
    public static func call<R>(_ body: () throws -> R) rethrows -> R {
        _ = singleThreaded
        return try body()
    }
}

extension BLASGate {
    /// Runs `body` with OpenBLAS's own threading at `count` threads, then returns it to one.
    /// For `scizoo bench matmul`'s reference only: no other thread may call BLAS meanwhile.
    public static func withOpenBLASThreads<R>(_ count: Int, _ body: () throws -> R) rethrows -> R {
        _ = singleThreaded
        openblas_set_num_threads(Int32(Swift.max(1, count)))
        defer { openblas_set_num_threads(1) }
        return try body()
    }

    /// Threads OpenBLAS uses for one call (1 here, outside `withOpenBLASThreads`).
    public static var threads: Int { call { Int(openblas_get_num_threads()) } }
}
