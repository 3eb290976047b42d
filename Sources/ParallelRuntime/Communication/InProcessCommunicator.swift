// An in-process world: N ranks on N threads with MPI's collective semantics, for deterministic
// tests of distributed logic without mpirun (in the spirit of swift-nio's embedded channels).
// Reductions combine contributions in rank order.
import Foundation

/// Where the ranks of one group meet: one slot per collective call, in call order.
final class Rendezvous: @unchecked Sendable {
    let size: Int
    private let condition = NSCondition()
    private var slots: [Int: (values: [Any?], arrived: Int, read: Int)] = [:]
    private var mailboxes: [String: [Any]] = [:]
    private var children: [String: Rendezvous] = [:]

    init(size: Int) { self.size = size }

    /// Deposits this rank's value for collective `sequence`; returns every rank's, in rank order.
    func exchange(rank: Int, sequence: Int, value: Any) -> [Any] {
        deposit(rank: rank, sequence: sequence, value: value)
        return collect(sequence: sequence)
    }

    /// The first half of an exchange: leaves this rank's value without waiting (non-blocking forms).
    func deposit(rank: Int, sequence: Int, value: Any) {
        condition.lock()
        defer { condition.unlock() }
        var slot = slots[sequence] ?? ([Any?](repeating: nil, count: size), 0, 0)
        slot.values[rank] = value
        slot.arrived += 1
        slots[sequence] = slot
        if slot.arrived == size { condition.broadcast() }
    }

    /// The second half: waits for every rank's value of collective `sequence`.
    func collect(sequence: Int) -> [Any] {
        condition.lock()
        defer { condition.unlock() }
        while slots[sequence]!.arrived < size { condition.wait() }
        var done = slots[sequence]!
        done.read += 1
        let values = done.values.map { $0! }
        slots[sequence] = done.read == size ? nil : done
        return values
    }

    func post(_ value: Any, key: String) {
        condition.lock()
        mailboxes[key, default: []].append(value)
        condition.broadcast()
        condition.unlock()
    }

    func take(key: String) -> Any {
        condition.lock()
        defer { condition.unlock() }
        while mailboxes[key]?.isEmpty ?? true { condition.wait() }
        return mailboxes[key]!.removeFirst()
    }

    /// The shared rendezvous of a sub-group, created by whichever member asks first.
    func child(_ key: String, size: Int) -> Rendezvous {
        condition.lock()
        defer { condition.unlock() }
        if let existing = children[key] { return existing }
        let created = Rendezvous(size: size)
        children[key] = created
        return created
    }
}

public final class InProcessCommunicator: Communicator, @unchecked Sendable {
    public let rank: Int
    public let size: Int
    let rendezvous: Rendezvous
    private var sequence = 0

    init(rank: Int, rendezvous: Rendezvous) {
        self.rank = rank
        size = rendezvous.size
        self.rendezvous = rendezvous
    }

    private func exchange<V>(_ value: V) -> [V] {
        sequence += 1
        return rendezvous.exchange(rank: rank, sequence: sequence, value: value).map { $0 as! V }
    }

    /// Starts a collective: deposits now, and `finish` sees every rank's value at the wait.
    private func start<V, R>(_ value: V, _ finish: @escaping ([V]) throws -> R) -> PendingOperation<R> {
        sequence += 1
        let slot = sequence
        rendezvous.deposit(rank: rank, sequence: slot, value: value)
        return PendingOperation { [rendezvous] in try finish(rendezvous.collect(sequence: slot).map { $0 as! V }) }
    }

    private func reduce<T: CommunicatorElement>(_ all: [[T]], _ operation: ReduceOperation) throws -> [T] {
        guard all.allSatisfy({ $0.count == all[0].count }) else {
            throw CommunicatorError(message: "reduction: ranks passed \(all.map(\.count)) values; they must agree")
        }
        var result = all[0]
        for contribution in all.dropFirst() {
            for index in result.indices { result[index] = combine(result[index], contribution[index], operation) }
        }
        return result
    }

    // The blocking collectives are the non-blocking ones awaited at once (same slot, same checks).
    public func barrier() throws { try startBarrier().wait() }

    public func broadcast<T: CommunicatorElement>(_ values: [T], root: Int) throws -> [T] {
        try startBroadcast(values, root: root).wait()
    }

    public func allReduce<T: CommunicatorElement>(_ values: [T], _ operation: ReduceOperation) throws -> [T] {
        try startAllReduce(values, operation).wait()
    }

    public func allGather<T: CommunicatorElement>(_ values: [T]) throws -> [T] { try startAllGather(values).wait() }

    public func allGatherV<T: CommunicatorElement>(_ values: [T]) throws -> [[T]] { exchange(values) }

    public func reduceScatter<T: CommunicatorElement>(_ values: [T], _ operation: ReduceOperation) throws -> [T] {
        try startReduceScatter(values, operation).wait()
    }

    public func allToAll<T: CommunicatorElement>(_ values: [T]) throws -> [T] { try startAllToAll(values).wait() }

    public func allToAllV<T: CommunicatorElement>(_ blocks: [[T]]) throws -> [[T]] {
        guard blocks.count == size else { throw CommunicatorError(message: "allToAllV: \(blocks.count) blocks for \(size) ranks") }
        return exchange(blocks).map { $0[rank] }
    }

    public func send<T: CommunicatorElement>(_ values: [T], to destination: Int, tag: Int) throws {
        guard (0..<size).contains(destination) else { throw CommunicatorError(message: "send: rank \(destination) outside 0..<\(size)") }
        rendezvous.post(values, key: "\(rank)->\(destination)#\(tag)")
    }

    public func receive<T: CommunicatorElement>(count: Int, from source: Int, tag: Int) throws -> [T] {
        guard (0..<size).contains(source) else { throw CommunicatorError(message: "receive: rank \(source) outside 0..<\(size)") }
        guard let values = rendezvous.take(key: "\(source)->\(rank)#\(tag)") as? [T], values.count == count else {
            throw CommunicatorError(message: "receive: the message from \(source) (tag \(tag)) is not \(count) values of \(T.self)")
        }
        return values
    }

    public func startBarrier() throws -> PendingOperation<Void> { start(0) { _ in } }

    public func startBroadcast<T: CommunicatorElement>(_ values: [T], root: Int) throws -> PendingOperation<[T]> {
        guard (0..<size).contains(root) else { throw CommunicatorError(message: "broadcast: root \(root) outside 0..<\(size)") }
        return start(values) { $0[root] }
    }

    public func startAllReduce<T: CommunicatorElement>(_ values: [T], _ operation: ReduceOperation) throws -> PendingOperation<[T]> {
        start(values) { [self] in try reduce($0, operation) }
    }

    public func startAllGather<T: CommunicatorElement>(_ values: [T]) throws -> PendingOperation<[T]> {
        start(values) { all in
            guard all.allSatisfy({ $0.count == values.count }) else {
                throw CommunicatorError(message: "allGather: ranks passed \(all.map(\.count)) values; use allGatherV for unequal counts")
            }
            return all.flatMap { $0 }
        }
    }

    public func startReduceScatter<T: CommunicatorElement>(_ values: [T], _ operation: ReduceOperation) throws -> PendingOperation<[T]> {
        guard values.count % size == 0 else {
            throw CommunicatorError(message: "reduceScatter: \(values.count) values do not split into \(size) equal blocks")
        }
        let block = values.count / size, rank = rank
        return start(values) { [self] in Array(try reduce($0, operation)[(rank * block)..<((rank + 1) * block)]) }
    }

    public func startAllToAll<T: CommunicatorElement>(_ values: [T]) throws -> PendingOperation<[T]> {
        guard values.count % size == 0 else {
            throw CommunicatorError(message: "allToAll: \(values.count) values do not split into \(size) equal blocks")
        }
        let block = values.count / size, rank = rank
        return start(values) { $0.flatMap { Array($0[(rank * block)..<((rank + 1) * block)]) } }
    }

    public func startSend<T: CommunicatorElement>(_ values: [T], to destination: Int, tag: Int) throws -> PendingOperation<Void> {
        try send(values, to: destination, tag: tag)  // mailboxes never block a sender
        return PendingOperation {}
    }

    public func startReceive<T: CommunicatorElement>(count: Int, from source: Int, tag: Int) throws -> PendingOperation<[T]> {
        guard (0..<size).contains(source) else { throw CommunicatorError(message: "receive: rank \(source) outside 0..<\(size)") }
        return PendingOperation { [self] in try receive(count: count, from: source, tag: tag) }
    }

    public func split(color: Int, key: Int) throws -> any Communicator {
        let all = exchange((color, key))
        let members = (0..<size).filter { all[$0].0 == color }.sorted { (all[$0].1, $0) < (all[$1].1, $1) }
        let child = rendezvous.child("split\(sequence)/\(color)", size: members.count)
        return InProcessCommunicator(rank: members.firstIndex(of: rank)!, rendezvous: child)
    }
}

/// N ranks in this process.
public enum InProcessWorld {
    /// A world of one rank on the calling thread (collectives return at once): one process
    /// without MPI, for code written against a communicator.
    public static func single() -> any Communicator { InProcessCommunicator(rank: 0, rendezvous: Rendezvous(size: 1)) }

    /// Runs `body` once per rank, each on its own thread, and waits for all; rethrows the first
    /// error by rank. (A rank that throws before a collective leaves the others waiting, as MPI would.)
    public static func run(size: Int, _ body: @escaping @Sendable (InProcessCommunicator) throws -> Void) throws {
        precondition(size >= 1, "InProcessWorld: size must be at least 1")
        let rendezvous = Rendezvous(size: size)
        let group = DispatchGroup()
        let errors = ErrorBox(size)
        for rank in 0..<size {
            group.enter()
            let thread = Thread {
                defer { group.leave() }
                do { try body(InProcessCommunicator(rank: rank, rendezvous: rendezvous)) } catch { errors.set(rank, error) }
            }
            thread.start()
        }
        group.wait()
        if let error = errors.first { throw error }
    }

    private final class ErrorBox: @unchecked Sendable {
        private let lock = NSLock()
        private var errors: [(any Error)?]
        init(_ size: Int) { errors = Array(repeating: nil, count: size) }
        func set(_ rank: Int, _ error: any Error) { lock.lock(); errors[rank] = error; lock.unlock() }
        var first: (any Error)? { lock.lock(); defer { lock.unlock() }; return errors.compactMap { $0 }.first }
    }
}
