// OpenBLAS's thread count is process-global, and changing it while another thread is inside a
// multithreaded GEMM deadlocks OpenBLAS 0.3.21 (a worker is never handed its share; seen here when
// tests ran in parallel). Every BLAS call therefore holds the shared side of one reader–writer
// lock, and changing the thread count takes the exclusive side: the count never changes under a
// call in flight.
#if canImport(Glibc)
import Glibc
#endif
import CBLAS

public enum BLASGate {
    nonisolated(unsafe) private static let lock: UnsafeMutablePointer<pthread_rwlock_t> = {
        let lock = UnsafeMutablePointer<pthread_rwlock_t>.allocate(capacity: 1)
        pthread_rwlock_init(lock, nil)
        return lock
    }()

    /// Runs a BLAS call (or several) while the thread count cannot change.
    @inline(__always)
    public static func call<R>(_ body: () throws -> R) rethrows -> R {
        pthread_rwlock_rdlock(lock)
        defer { pthread_rwlock_unlock(lock) }
        return try body()
    }

    /// Sets OpenBLAS's thread count once no BLAS call is in flight.
    public static func setThreads(_ count: Int) {
        pthread_rwlock_wrlock(lock)
        defer { pthread_rwlock_unlock(lock) }
        openblas_set_num_threads(Int32(Swift.max(1, count)))
    }
}
