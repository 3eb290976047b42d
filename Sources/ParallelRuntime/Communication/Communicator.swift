// The communicator every distributed piece of SciZoo talks through: MPI under mpirun
// (MPICommunicator) or N threads in one process (InProcessWorld) for deterministic tests.
/// How values combine in reductions.
public enum ReduceOperation: Sendable { case sum, max, min }

/// The element types a communicator carries (each implementation maps them to its own types).
public enum CommunicatorElementKind: Sendable { case float32, float64, int32, int64 }

/// Element types that travel through a communicator.
public protocol CommunicatorElement: Numeric, Comparable, Sendable {
    static var communicatorKind: CommunicatorElementKind { get }
}
extension Float: CommunicatorElement { public static var communicatorKind: CommunicatorElementKind { .float32 } }
extension Double: CommunicatorElement { public static var communicatorKind: CommunicatorElementKind { .float64 } }
extension Int32: CommunicatorElement { public static var communicatorKind: CommunicatorElementKind { .int32 } }
extension Int64: CommunicatorElement { public static var communicatorKind: CommunicatorElementKind { .int64 } }

/// A group of ranks and the collectives among them (MPI's semantics; every rank of the group
/// calls every collective in the same order).
public protocol Communicator: AnyObject, Sendable {
    var rank: Int { get }
    var size: Int { get }

    func barrier() throws
    /// Every rank ends with the root's values (all ranks pass arrays of the root's length).
    func broadcast<T: CommunicatorElement>(_ values: [T], root: Int) throws -> [T]
    /// Element-wise reduction over ranks, in rank order, result on every rank.
    func allReduce<T: CommunicatorElement>(_ values: [T], _ operation: ReduceOperation) throws -> [T]
    /// Every rank's values concatenated in rank order (equal counts).
    func allGather<T: CommunicatorElement>(_ values: [T]) throws -> [T]
    /// Every rank's values, counts may differ, as one array per rank.
    func allGatherV<T: CommunicatorElement>(_ values: [T]) throws -> [[T]]
    /// Reduces `values` (count divisible by size) and returns this rank's block of the result.
    func reduceScatter<T: CommunicatorElement>(_ values: [T], _ operation: ReduceOperation) throws -> [T]
    /// Block j of `values` (count divisible by size) goes to rank j; returns the blocks received, in source order.
    func allToAll<T: CommunicatorElement>(_ values: [T]) throws -> [T]
    /// `blocks[j]` goes to rank j (any lengths, zero included); returns what each rank sent here.
    func allToAllV<T: CommunicatorElement>(_ blocks: [[T]]) throws -> [[T]]
    func send<T: CommunicatorElement>(_ values: [T], to destination: Int, tag: Int) throws
    func receive<T: CommunicatorElement>(count: Int, from source: Int, tag: Int) throws -> [T]
    /// Sub-communicators: ranks with the same color form a group, ordered by (key, rank).
    func split(color: Int, key: Int) throws -> any Communicator

    // Non-blocking forms (MPI_I…): each starts the operation and returns at once; `wait()` on the
    // result completes it. Collectives must still be started in the same order on every rank.
    func startBarrier() throws -> PendingOperation<Void>
    func startBroadcast<T: CommunicatorElement>(_ values: [T], root: Int) throws -> PendingOperation<[T]>
    func startAllReduce<T: CommunicatorElement>(_ values: [T], _ operation: ReduceOperation) throws -> PendingOperation<[T]>
    func startAllGather<T: CommunicatorElement>(_ values: [T]) throws -> PendingOperation<[T]>
    func startReduceScatter<T: CommunicatorElement>(_ values: [T], _ operation: ReduceOperation) throws -> PendingOperation<[T]>
    func startAllToAll<T: CommunicatorElement>(_ values: [T]) throws -> PendingOperation<[T]>
    func startSend<T: CommunicatorElement>(_ values: [T], to destination: Int, tag: Int) throws -> PendingOperation<Void>
    func startReceive<T: CommunicatorElement>(count: Int, from source: Int, tag: Int) throws -> PendingOperation<[T]>
}

/// An operation in flight. `wait()` completes it (once; later calls return the same result).
/// Not to be shared between threads: one rank's thread starts and waits.
public final class PendingOperation<Result>: @unchecked Sendable {
    private var completion: (() throws -> Result)?
    private var outcome: Swift.Result<Result, any Error>?

    init(_ completion: @escaping () throws -> Result) { self.completion = completion }

    public func wait() throws -> Result {
        if outcome == nil, let completion {
            outcome = Swift.Result { try completion() }
            self.completion = nil
        }
        return try outcome!.get()
    }
}

/// A misuse of a communicator (lengths that do not agree, a rank out of range).
public struct CommunicatorError: Error, CustomStringConvertible {
    public let message: String
    public var description: String { message }
}

func combine<T: CommunicatorElement>(_ a: T, _ b: T, _ operation: ReduceOperation) -> T {
    switch operation {
    case .sum: a + b
    case .max: Swift.max(a, b)
    case .min: Swift.min(a, b)
    }
}
