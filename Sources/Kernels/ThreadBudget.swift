// The one place that decides how many threads this process computes with.
//
// OpenBLAS threads, our own parallel loops and MPI ranks share the machine's cores. Under
// `mpirun -np 2` on 2 cores each rank gets one thread; oversubscribing makes everything slower
// (see reference/aesthetics.md §4.6).
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CBLAS
import Dispatch
import Synchronization

/// The thread budget of this process and where it came from.
public struct ThreadBudget: Sendable, Equatable, CustomStringConvertible {
    /// Where the thread count came from, in order of precedence.
    public enum Source: String, Sendable {
        case commandLine = "command-line flag --threads"
        case environment = "environment SCIZOO_NUM_THREADS"
        case derived = "cores / ranks on this node"
    }

    /// Threads for `parallelFor`, which also runs the blocks of large GEMMs (OpenBLAS itself
    /// stays on one thread: see `forEachGEMMBlock`).
    public let threads: Int
    public let source: Source
    /// Online cores this process may run on.
    public let cores: Int
    /// MPI ranks sharing this node (1 without mpirun).
    public let localRanks: Int

    public var description: String {
        "\(threads) thread(s) [\(source.rawValue); \(cores) core(s), \(localRanks) rank(s) on this node]"
    }

    /// The environment variable that overrides the derived count.
    public static let environmentKey = "SCIZOO_NUM_THREADS"

    /// Resolves the budget: an explicit request, else `SCIZOO_NUM_THREADS`, else
    /// max(1, cores / ranks on this node).
    public static func resolve(requested: Int? = nil,
                               environment: [String: String] = ThreadBudget.processEnvironment())
        -> ThreadBudget
    {
        let cores = onlineCores()
        // OpenMPI exports the local rank count to every rank it launches.
        let localRanks = environment["OMPI_COMM_WORLD_LOCAL_SIZE"].flatMap(Int.init)
            ?? environment["MPI_LOCALNRANKS"].flatMap(Int.init) ?? 1
        if let requested, requested > 0 {
            return ThreadBudget(threads: requested, source: .commandLine, cores: cores, localRanks: localRanks)
        }
        if let text = environment[environmentKey], let value = Int(text), value > 0 {
            return ThreadBudget(threads: value, source: .environment, cores: cores, localRanks: localRanks)
        }
        return ThreadBudget(threads: max(1, cores / max(1, localRanks)), source: .derived,
                            cores: cores, localRanks: localRanks)
    }

    public static func onlineCores() -> Int {
        max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
    }

    public static func processEnvironment() -> [String: String] {
        var result: [String: String] = [:]
        var pointer = environ
        while let entry = pointer.pointee {
            let text = String(cString: entry)
            if let equals = text.firstIndex(of: "=") {
                result[String(text[..<equals])] = String(text[text.index(after: equals)...])
            }
            pointer += 1
        }
        return result
    }

    // MARK: The process-wide budget

    private static let state = Mutex<ThreadBudget?>(nil)

    /// The budget in force; resolved from the environment on first use.
    public static var current: ThreadBudget {
        state.withLock { stored in
            if let stored { return stored }
            let budget = resolve()
            stored = budget
            return budget
        }
    }

    /// Installs a budget (from a CLI flag, or a test).
    @discardableResult
    public static func install(requested: Int?) -> ThreadBudget {
        let budget = resolve(requested: requested)
        install(budget)
        return budget
    }

    public static func install(_ budget: ThreadBudget) {
        state.withLock { $0 = budget }
    }

    /// Threads OpenBLAS reports it will use per call.
    public static var blasThreads: Int { BLASGate.threads }

    /// OpenBLAS's build configuration string and the core it selected.
    public static var blasConfiguration: String {
        let config = openblas_get_config().map { String(cString: $0) } ?? "unknown"
        let core = openblas_get_corename().map { String(cString: $0) } ?? "unknown"
        return "\(config.trimmingSpaces()) (core: \(core.trimmingSpaces()))"
    }
}

extension String {
    fileprivate func trimmingSpaces() -> String {
        var text = Substring(self)
        while text.first == " " { text = text.dropFirst() }
        while text.last == " " { text = text.dropLast() }
        return String(text)
    }
}

/// Runs `body(range)` over `count` items split into at most `ThreadBudget.current.threads`
/// contiguous chunks. The split depends only on `count`, the budget and `minChunk`, so each
/// chunk's work is the same on every run; results that combine chunks must combine them in
/// chunk order to stay deterministic across thread counts.
public func parallelFor(_ count: Int, minChunk: Int = 1, _ body: (Range<Int>) -> Void) {
    guard count > 0 else { return }
    let threads = ThreadBudget.current.threads
    let chunks = max(1, min(threads, count / max(1, minChunk)))
    if chunks == 1 {
        body(0..<count)
        return
    }
    let base = count / chunks, extra = count % chunks
    let precision = MatmulPrecision.current
    withoutActuallyEscaping(body) { body in
        // Chunks touch disjoint ranges; the caller's closure is shared by reference only.
        let shared = UncheckedSendable(body)
        DispatchQueue.concurrentPerform(iterations: chunks) { chunk in
            let previous = MatmulPrecision.current
            MatmulPrecision.current = precision
            defer { MatmulPrecision.current = previous }
            let start = chunk * base + min(chunk, extra)
            let end = start + base + (chunk < extra ? 1 : 0)
            shared.value(start..<end)
        }
    }
}

/// Carries a value the caller promises is used without data races (disjoint ranges).
public struct UncheckedSendable<Value>: @unchecked Sendable {
    public let value: Value
    public init(_ value: Value) { self.value = value }
}
