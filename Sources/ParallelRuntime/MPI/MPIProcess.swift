// This process's place in an MPI job. One process without mpirun is a world of size 1
// (OpenMPI's singleton initialisation); under `mpirun -np N` each rank sees the real world.
// MPI errors return codes instead of aborting (MPI_ERRORS_RETURN) and become `MPIError`s.
import CMPI
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A failed MPI call, with MPI's own error string.
public struct MPIError: Error, CustomStringConvertible, Sendable {
    public let operation: String
    public let code: Int32
    public let message: String

    public var description: String { "MPI \(operation) failed (code \(code)): \(message)" }

    static func check(_ code: Int32, _ operation: String) throws(MPIError) {
        guard code != scizoo_MPI_SUCCESS() else { return }
        var buffer = [CChar](repeating: 0, count: Int(scizoo_MPI_MAX_ERROR_STRING()) + 1)
        var length: Int32 = 0
        MPI_Error_string(code, &buffer, &length)
        let text = String(decoding: buffer.prefix(Int(length)).map { UInt8(bitPattern: $0) }, as: UTF8.self)
        throw MPIError(operation: operation, code: code, message: text)
    }
}

/// The MPI world of this process: initialised once, finalised at exit.
public final class MPIProcess: Sendable {
    public let rank: Int
    public let size: Int

    private static let shared = Mutex<MPIProcess?>(nil)

    private init(rank: Int, size: Int) {
        self.rank = rank
        self.size = size
    }

    /// Initialises MPI on first use (one thread calls MPI: MPI_THREAD_FUNNELED) and returns the world.
    /// Call it before any BLAS work: without mpirun, OpenMPI's singleton start forks, and a fork while
    /// OpenBLAS's threads are busy hangs in OpenBLAS's at-fork handler.
    public static func world() throws(MPIError) -> MPIProcess {
        let result: Result<MPIProcess, MPIError> = shared.withLock { stored in
            if let stored { return .success(stored) }
            do throws(MPIError) {
                var provided: Int32 = 0
                try MPIError.check(MPI_Init_thread(nil, nil, scizoo_MPI_THREAD_FUNNELED(), &provided), "MPI_Init_thread")
                try MPIError.check(MPI_Comm_set_errhandler(scizoo_MPI_COMM_WORLD(), scizoo_MPI_ERRORS_RETURN()),
                                   "MPI_Comm_set_errhandler")
                var rank: Int32 = 0, size: Int32 = 0
                try MPIError.check(MPI_Comm_rank(scizoo_MPI_COMM_WORLD(), &rank), "MPI_Comm_rank")
                try MPIError.check(MPI_Comm_size(scizoo_MPI_COMM_WORLD(), &size), "MPI_Comm_size")
                atexit { MPIProcess.finalize() }
                let world = MPIProcess(rank: Int(rank), size: Int(size))
                stored = world
                return .success(world)
            } catch {
                return .failure(error)
            }
        }
        return try result.get()
    }

    /// Whether this process was started by an MPI launcher (so initialising MPI is expected).
    public static var isLaunchedByMPI: Bool {
        getenv("OMPI_COMM_WORLD_SIZE") != nil || getenv("PMI_SIZE") != nil || getenv("PMIX_RANK") != nil
    }

    private static func finalize() {
        var finalized: Int32 = 0
        MPI_Finalized(&finalized)
        if finalized == 0 { MPI_Finalize() }
    }

    /// The MPI library's version line (callable before initialisation).
    public static var libraryVersion: String {
        var buffer = [CChar](repeating: 0, count: 4096)
        var length: Int32 = 0
        MPI_Get_library_version(&buffer, &length)
        let text = String(decoding: buffer.prefix(Int(length)).map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return text.split(whereSeparator: \.isNewline).first.map(String.init) ?? text
    }

    /// Brings the whole job down with a message (a failing rank must not leave others blocked).
    public func abort(_ message: String, code: Int32 = 1) -> Never {
        let line = "rank \(rank): \(message)\n"
        _ = line.withCString { write(2, $0, strlen($0)) }
        MPI_Abort(scizoo_MPI_COMM_WORLD(), code)
        exit(code)
    }
}
