// Communicator over OpenMPI: one MPI_Comm, errors returned as MPIError (MPI_ERRORS_RETURN).
import CMPI

public final class MPICommunicator: Communicator, @unchecked Sendable {
    let comm: MPI_Comm
    public let rank: Int
    public let size: Int

    /// MPI_COMM_WORLD (initialising MPI if needed: one process without mpirun is a world of size 1).
    public static func world() throws -> MPICommunicator {
        _ = try MPIProcess.world()
        return try MPICommunicator(comm: scizoo_MPI_COMM_WORLD())
    }

    init(comm: MPI_Comm) throws {
        self.comm = comm
        var r: Int32 = 0, s: Int32 = 0
        try MPIError.check(MPI_Comm_rank(comm, &r), "MPI_Comm_rank")
        try MPIError.check(MPI_Comm_size(comm, &s), "MPI_Comm_size")
        try MPIError.check(MPI_Comm_set_errhandler(comm, scizoo_MPI_ERRORS_RETURN()), "MPI_Comm_set_errhandler")
        rank = Int(r)
        size = Int(s)
    }

    private func op(_ operation: ReduceOperation) -> MPI_Op {
        switch operation {
        case .sum: scizoo_MPI_SUM()
        case .max: scizoo_MPI_MAX()
        case .min: scizoo_MPI_MIN()
        }
    }

    public func barrier() throws { try MPIError.check(MPI_Barrier(comm), "MPI_Barrier") }

    public func broadcast<T: CommunicatorElement>(_ values: [T], root: Int) throws -> [T] {
        var buffer = values
        try buffer.withUnsafeMutableBytes { bytes in
            try MPIError.check(MPI_Bcast(bytes.baseAddress, Int32(values.count), T.mpiType, Int32(root), comm), "MPI_Bcast")
        }
        return buffer
    }

    public func allReduce<T: CommunicatorElement>(_ values: [T], _ operation: ReduceOperation) throws -> [T] {
        var result = values
        try values.withUnsafeBytes { input in
            try result.withUnsafeMutableBytes { output in
                try MPIError.check(MPI_Allreduce(input.baseAddress, output.baseAddress, Int32(values.count), T.mpiType, op(operation), comm),
                                   "MPI_Allreduce")
            }
        }
        return result
    }

    public func allGather<T: CommunicatorElement>(_ values: [T]) throws -> [T] {
        var result = [T](repeating: 0, count: values.count * size)
        try values.withUnsafeBytes { input in
            try result.withUnsafeMutableBytes { output in
                try MPIError.check(MPI_Allgather(input.baseAddress, Int32(values.count), T.mpiType, output.baseAddress,
                                                 Int32(values.count), T.mpiType, comm), "MPI_Allgather")
            }
        }
        return result
    }

    public func allGatherV<T: CommunicatorElement>(_ values: [T]) throws -> [[T]] {
        let counts = try allGather([Int64(values.count)]).map { Int32($0) }
        var displacements = [Int32](repeating: 0, count: size)
        for index in 1..<Swift.max(1, size) { displacements[index] = displacements[index - 1] + counts[index - 1] }
        var flat = [T](repeating: 0, count: Int(counts.reduce(0, +)))
        try values.withUnsafeBytes { input in
            try flat.withUnsafeMutableBytes { output in
                try MPIError.check(MPI_Allgatherv(input.baseAddress, Int32(values.count), T.mpiType, output.baseAddress, counts,
                                                  displacements, T.mpiType, comm), "MPI_Allgatherv")
            }
        }
        return (0..<size).map { Array(flat[Int(displacements[$0])..<Int(displacements[$0] + counts[$0])]) }
    }

    public func reduceScatter<T: CommunicatorElement>(_ values: [T], _ operation: ReduceOperation) throws -> [T] {
        guard values.count % size == 0 else {
            throw CommunicatorError(message: "reduceScatter: \(values.count) values do not split into \(size) equal blocks")
        }
        let block = values.count / size
        var result = [T](repeating: 0, count: block)
        try values.withUnsafeBytes { input in
            try result.withUnsafeMutableBytes { output in
                try MPIError.check(MPI_Reduce_scatter_block(input.baseAddress, output.baseAddress, Int32(block), T.mpiType,
                                                            op(operation), comm), "MPI_Reduce_scatter_block")
            }
        }
        return result
    }

    public func allToAll<T: CommunicatorElement>(_ values: [T]) throws -> [T] {
        guard values.count % size == 0 else {
            throw CommunicatorError(message: "allToAll: \(values.count) values do not split into \(size) equal blocks")
        }
        let block = values.count / size
        var result = [T](repeating: 0, count: values.count)
        try values.withUnsafeBytes { input in
            try result.withUnsafeMutableBytes { output in
                try MPIError.check(MPI_Alltoall(input.baseAddress, Int32(block), T.mpiType, output.baseAddress, Int32(block),
                                                T.mpiType, comm), "MPI_Alltoall")
            }
        }
        return result
    }

    public func allToAllV<T: CommunicatorElement>(_ blocks: [[T]]) throws -> [[T]] {
        guard blocks.count == size else {
            throw CommunicatorError(message: "allToAllV: \(blocks.count) blocks for \(size) ranks")
        }
        let sendCounts = blocks.map { Int32($0.count) }
        // Every rank learns how much it will receive from each source.
        let receiveCounts = try allToAll(sendCounts.map(Int64.init)).map { Int32($0) }
        func displacements(_ counts: [Int32]) -> [Int32] {
            var result = [Int32](repeating: 0, count: counts.count)
            for index in 1..<Swift.max(1, counts.count) { result[index] = result[index - 1] + counts[index - 1] }
            return result
        }
        let sendDisplacements = displacements(sendCounts), receiveDisplacements = displacements(receiveCounts)
        let flat = blocks.flatMap { $0 }
        var received = [T](repeating: 0, count: Int(receiveCounts.reduce(0, +)))
        try flat.withUnsafeBytes { input in
            try received.withUnsafeMutableBytes { output in
                try MPIError.check(MPI_Alltoallv(input.baseAddress, sendCounts, sendDisplacements, T.mpiType, output.baseAddress,
                                                 receiveCounts, receiveDisplacements, T.mpiType, comm), "MPI_Alltoallv")
            }
        }
        return (0..<size).map { Array(received[Int(receiveDisplacements[$0])..<Int(receiveDisplacements[$0] + receiveCounts[$0])]) }
    }

    public func send<T: CommunicatorElement>(_ values: [T], to destination: Int, tag: Int) throws {
        try values.withUnsafeBytes { input in
            try MPIError.check(MPI_Send(input.baseAddress, Int32(values.count), T.mpiType, Int32(destination), Int32(tag), comm), "MPI_Send")
        }
    }

    public func receive<T: CommunicatorElement>(count: Int, from source: Int, tag: Int) throws -> [T] {
        var result = [T](repeating: 0, count: count)
        try result.withUnsafeMutableBytes { output in
            try MPIError.check(MPI_Recv(output.baseAddress, Int32(count), T.mpiType, Int32(source), Int32(tag), comm,
                                        scizoo_MPI_STATUS_IGNORE()), "MPI_Recv")
        }
        return result
    }

    public func split(color: Int, key: Int) throws -> any Communicator {
        var child: MPI_Comm? = scizoo_MPI_COMM_NULL()
        try MPIError.check(MPI_Comm_split(comm, Int32(color), Int32(key), &child), "MPI_Comm_split")
        guard let child else { throw CommunicatorError(message: "MPI_Comm_split returned no communicator") }
        return try MPICommunicator(comm: child)
    }

    // MARK: Non-blocking forms

    /// Starts an MPI_I… call on buffers that live until the wait; returns the received buffer.
    private func start<T: CommunicatorElement>(_ name: String, send values: [T], receiveCount: Int,
                                               _ call: (UnsafeRawPointer?, UnsafeMutableRawPointer?, UnsafeMutablePointer<MPI_Request?>) -> Int32)
        throws -> PendingOperation<[T]> {
        let buffers = RequestBuffers(send: values, receiveCount: receiveCount)
        try MPIError.check(call(buffers.send.baseAddress, buffers.receive.baseAddress, &buffers.request), name)
        return PendingOperation {
            try MPIError.check(MPI_Wait(&buffers.request, scizoo_MPI_STATUS_IGNORE()), "MPI_Wait (\(name))")
            return buffers.received
        }
    }

    public func startBarrier() throws -> PendingOperation<Void> {
        let pending: PendingOperation<[Int32]> = try start("MPI_Ibarrier", send: [], receiveCount: 0) { _, _, request in
            MPI_Ibarrier(comm, request)
        }
        return PendingOperation { _ = try pending.wait() }
    }

    public func startBroadcast<T: CommunicatorElement>(_ values: [T], root: Int) throws -> PendingOperation<[T]> {
        try start("MPI_Ibcast", send: [], receiveCount: values.count) { _, receive, request in
            values.withUnsafeBytes { bytes in
                if let base = bytes.baseAddress { receive?.copyMemory(from: base, byteCount: bytes.count) }
            }
            return MPI_Ibcast(receive, Int32(values.count), T.mpiType, Int32(root), comm, request)
        }
    }

    public func startAllReduce<T: CommunicatorElement>(_ values: [T], _ operation: ReduceOperation) throws -> PendingOperation<[T]> {
        try start("MPI_Iallreduce", send: values, receiveCount: values.count) { send, receive, request in
            MPI_Iallreduce(send, receive, Int32(values.count), T.mpiType, op(operation), comm, request)
        }
    }

    public func startAllGather<T: CommunicatorElement>(_ values: [T]) throws -> PendingOperation<[T]> {
        try start("MPI_Iallgather", send: values, receiveCount: values.count * size) { send, receive, request in
            MPI_Iallgather(send, Int32(values.count), T.mpiType, receive, Int32(values.count), T.mpiType, comm, request)
        }
    }

    public func startReduceScatter<T: CommunicatorElement>(_ values: [T], _ operation: ReduceOperation) throws -> PendingOperation<[T]> {
        guard values.count % size == 0 else {
            throw CommunicatorError(message: "reduceScatter: \(values.count) values do not split into \(size) equal blocks")
        }
        let block = values.count / size
        return try start("MPI_Ireduce_scatter_block", send: values, receiveCount: block) { send, receive, request in
            MPI_Ireduce_scatter_block(send, receive, Int32(block), T.mpiType, op(operation), comm, request)
        }
    }

    public func startAllToAll<T: CommunicatorElement>(_ values: [T]) throws -> PendingOperation<[T]> {
        guard values.count % size == 0 else {
            throw CommunicatorError(message: "allToAll: \(values.count) values do not split into \(size) equal blocks")
        }
        let block = Int32(values.count / size)
        return try start("MPI_Ialltoall", send: values, receiveCount: values.count) { send, receive, request in
            MPI_Ialltoall(send, block, T.mpiType, receive, block, T.mpiType, comm, request)
        }
    }

    public func startSend<T: CommunicatorElement>(_ values: [T], to destination: Int, tag: Int) throws -> PendingOperation<Void> {
        let pending: PendingOperation<[T]> = try start("MPI_Isend", send: values, receiveCount: 0) { send, _, request in
            MPI_Isend(send, Int32(values.count), T.mpiType, Int32(destination), Int32(tag), comm, request)
        }
        return PendingOperation { _ = try pending.wait() }
    }

    public func startReceive<T: CommunicatorElement>(count: Int, from source: Int, tag: Int) throws -> PendingOperation<[T]> {
        try start("MPI_Irecv", send: [], receiveCount: count) { _, receive, request in
            MPI_Irecv(receive, Int32(count), T.mpiType, Int32(source), Int32(tag), comm, request)
        }
    }
}

/// Send and receive buffers (and the request) of a non-blocking call: MPI reads and writes them
/// until the wait, so they must not move (Swift arrays may) and must outlive the call.
private final class RequestBuffers<T: CommunicatorElement> {
    let send: UnsafeMutableBufferPointer<T>
    let receive: UnsafeMutableBufferPointer<T>
    var request: MPI_Request? = nil

    init(send values: [T], receiveCount: Int) {
        send = .allocate(capacity: Swift.max(1, values.count))
        send.initialize(repeating: 0)
        _ = send.initialize(from: values)
        receive = .allocate(capacity: Swift.max(1, receiveCount))
        receive.initialize(repeating: 0)
        self.receiveCount = receiveCount
    }
    let receiveCount: Int

    var received: [T] { Array(receive.prefix(receiveCount)) }

    deinit {
        send.deallocate()
        receive.deallocate()
    }
}

extension CommunicatorElement {
    /// MPI's datatype for this element type (kept inside the MPI implementation).
    static var mpiType: MPI_Datatype {
        switch communicatorKind {
        case .float32: scizoo_MPI_FLOAT()
        case .float64: scizoo_MPI_DOUBLE()
        case .int32: scizoo_MPI_INT32()
        case .int64: scizoo_MPI_INT64()
        }
    }
}
