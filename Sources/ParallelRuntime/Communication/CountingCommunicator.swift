// A communicator that counts what this rank sends to other ranks (bytes it keeps for itself are
// not traffic), for `scizoo bench ulysses` and tests of communication volume.
import Synchronization

public final class CountingCommunicator: Communicator, Sendable {
    public let base: any Communicator
    private let sent = Mutex<[String: Int]>([:])

    public init(_ base: any Communicator) { self.base = base }

    public var rank: Int { base.rank }
    public var size: Int { base.size }
    /// Bytes sent to other ranks since the last reset, by all operations or by one (its name
    /// without `start`, e.g. "allToAllV").
    public func sentBytes(_ operation: String? = nil) -> Int {
        sent.withLock { counts in operation.map { counts[$0] ?? 0 } ?? counts.values.reduce(0, +) }
    }
    public func resetCount() { sent.withLock { $0 = [:] } }

    private func count<T>(_ elements: Int, _: T.Type, _ operation: String = #function) {
        let name = String(operation.prefix { $0 != "(" })
        let key = name.hasPrefix("start") ? name.dropFirst(5).prefix(1).lowercased() + name.dropFirst(6) : name
        sent.withLock { $0[key, default: 0] += elements * MemoryLayout<T>.stride }
    }
    /// A collective of `n` elements per rank: what leaves this rank, counted as its share (n·(P−1)/P).
    private func share<T>(_ n: Int, _ type: T.Type, _ operation: String = #function) {
        count(n * (size - 1) / Swift.max(1, size), type, operation)
    }

    public func barrier() throws { try base.barrier() }
    public func broadcast<T: CommunicatorElement>(_ values: [T], root: Int) throws -> [T] {
        if rank == root { count(values.count * (size - 1), T.self) }
        return try base.broadcast(values, root: root)
    }
    public func allReduce<T: CommunicatorElement>(_ values: [T], _ operation: ReduceOperation) throws -> [T] {
        count(2 * values.count * (size - 1) / Swift.max(1, size), T.self)  // ring: reduce-scatter + all-gather
        return try base.allReduce(values, operation)
    }
    public func allGather<T: CommunicatorElement>(_ values: [T]) throws -> [T] {
        count(values.count * (size - 1), T.self)
        return try base.allGather(values)
    }
    public func allGatherV<T: CommunicatorElement>(_ values: [T]) throws -> [[T]] {
        count(values.count * (size - 1), T.self)
        return try base.allGatherV(values)
    }
    public func reduceScatter<T: CommunicatorElement>(_ values: [T], _ operation: ReduceOperation) throws -> [T] {
        share(values.count, T.self)
        return try base.reduceScatter(values, operation)
    }
    public func allToAll<T: CommunicatorElement>(_ values: [T]) throws -> [T] {
        share(values.count, T.self)
        return try base.allToAll(values)
    }
    public func allToAllV<T: CommunicatorElement>(_ blocks: [[T]]) throws -> [[T]] {
        count(blocks.indices.filter { $0 != rank }.reduce(0) { $0 + blocks[$1].count }, T.self)
        return try base.allToAllV(blocks)
    }
    public func send<T: CommunicatorElement>(_ values: [T], to destination: Int, tag: Int) throws {
        count(values.count, T.self)
        try base.send(values, to: destination, tag: tag)
    }
    public func receive<T: CommunicatorElement>(count: Int, from source: Int, tag: Int) throws -> [T] {
        try base.receive(count: count, from: source, tag: tag)
    }
    public func split(color: Int, key: Int) throws -> any Communicator { try base.split(color: color, key: key) }

    public func startBarrier() throws -> PendingOperation<Void> { try base.startBarrier() }
    public func startBroadcast<T: CommunicatorElement>(_ values: [T], root: Int) throws -> PendingOperation<[T]> {
        if rank == root { count(values.count * (size - 1), T.self) }
        return try base.startBroadcast(values, root: root)
    }
    public func startAllReduce<T: CommunicatorElement>(_ values: [T], _ operation: ReduceOperation) throws -> PendingOperation<[T]> {
        count(2 * values.count * (size - 1) / Swift.max(1, size), T.self)
        return try base.startAllReduce(values, operation)
    }
    public func startAllGather<T: CommunicatorElement>(_ values: [T]) throws -> PendingOperation<[T]> {
        count(values.count * (size - 1), T.self)
        return try base.startAllGather(values)
    }
    public func startReduceScatter<T: CommunicatorElement>(_ values: [T], _ operation: ReduceOperation) throws -> PendingOperation<[T]> {
        share(values.count, T.self)
        return try base.startReduceScatter(values, operation)
    }
    public func startAllToAll<T: CommunicatorElement>(_ values: [T]) throws -> PendingOperation<[T]> {
        share(values.count, T.self)
        return try base.startAllToAll(values)
    }
    public func startSend<T: CommunicatorElement>(_ values: [T], to destination: Int, tag: Int) throws -> PendingOperation<Void> {
        count(values.count, T.self)
        return try base.startSend(values, to: destination, tag: tag)
    }
    public func startReceive<T: CommunicatorElement>(count: Int, from source: Int, tag: Int) throws -> PendingOperation<[T]> {
        try base.startReceive(count: count, from: source, tag: tag)
    }
}
