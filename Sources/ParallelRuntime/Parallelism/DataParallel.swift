// Data parallelism: gradients all-reduced in buckets over the sequence-data-parallel group and
// averaged over the data-parallel ranks only (sequence-parallel contributions are summed: each SP
// rank holds the gradient of its own token slice), as DeepSpeed's engine divides by world / SP.
import NeuralNetworks
import TensorCore

public enum DataParallel {
    /// All-reduces every parameter's gradient (zeros where a rank has none), in parameter order,
    /// in buckets of at most `bucketBytes` (at least one tensor per bucket) that travel in the
    /// parameters' own precision. Every bucket is started before the first is awaited, so packing
    /// the next bucket overlaps the transfer of the last.
    public static func allReduceGradients(_ parameters: [(String, Parameter)], groups: ProcessGroups,
                                          bucketBytes: Int = 25 * 1024 * 1024) throws {
        let communicator = groups.sequenceDataParallel
        guard communicator.size > 1 else { return }
        let divisor = Double(groups.dataParallelSize)
        var inFlight: [(parameters: [Parameter], reduced: PendingTensor)] = []
        var bucket: [Parameter] = []
        var bucketBytesSoFar = 0
        func flush() throws {
            guard !bucket.isEmpty else { return }
            let dtype = bucket[0].value.dtype
            let gradients = bucket.map { ($0.grad ?? .zeros($0.shape, dtype: dtype)).reshaped([-1]) }
            inFlight.append((bucket, try PendingTensor.allReduce(Tensor.concat(gradients, axis: 0), over: communicator)))
            bucket.removeAll()
            bucketBytesSoFar = 0
        }
        for (_, parameter) in parameters {
            let bytes = parameter.value.count * parameter.value.dtype.byteSize
            if !bucket.isEmpty && (bucketBytesSoFar + bytes > bucketBytes || parameter.value.dtype != bucket[0].value.dtype) {
                try flush()
            }
            bucket.append(parameter)
            bucketBytesSoFar += bytes
        }
        try flush()
        for (bucketParameters, pending) in inFlight {
            let reduced = try pending.wait() / divisor
            var offset = 0
            for parameter in bucketParameters {
                let count = parameter.value.count
                parameter.value.setGrad(reduced.sliced(axis: 0, offset, offset + count).reshaped(parameter.shape).contiguous())
                offset += count
            }
        }
    }

    /// Makes every rank start from rank 0's parameters. Parameters still pending as rules (partitioned
    /// construction) are not made: their rules — the generator state each draw starts from — must
    /// be rank 0's, which one small broadcast checks.
    public static func broadcastParameters(_ parameters: [(String, Parameter)], over communicator: any Communicator) throws {
        for (_, parameter) in parameters where parameter.pendingValues == nil {
            parameter.value.assign(try TensorTransport.broadcast(parameter.value, root: 0, over: communicator))
        }
        let pending = parameters.compactMap { path, parameter in parameter.pendingValues.map { (path, $0) } }
        guard !pending.isEmpty else { return }
        let states = pending.flatMap { [Int64(bitPattern: $0.1.generator.seed), Int64(bitPattern: $0.1.generator.offset)] }
        let rootStates = try TensorTransport.broadcast(Tensor(states), root: 0, over: communicator).scalars(as: Int64.self)
        if let first = pending.indices.first(where: { states[2 * $0] != rootStates[2 * $0] || states[2 * $0 + 1] != rootStates[2 * $0 + 1] }) {
            throw CommunicatorError(message: "rank \(communicator.rank) builds parameter \(pending[first].0) from a different random "
                                   + "state than rank 0 (seed and offset differ): the ranks' models would not start alike")
        }
    }
}
