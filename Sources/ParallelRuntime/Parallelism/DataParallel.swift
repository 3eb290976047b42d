// Data parallelism: gradients all-reduced in buckets over the sequence-data-parallel group and
// averaged over the data-parallel ranks only (sequence-parallel contributions are summed: each SP
// rank holds the gradient of its own token slice), as DeepSpeed's engine divides by world / SP.
import NeuralNetworks
import TensorCore

public enum DataParallel {
    /// All-reduces every parameter's gradient (zeros where a rank has none), in parameter order,
    /// packed into buckets of at most `bucketBytes` (at least one tensor per bucket).
    public static func allReduceGradients(_ parameters: [(String, Parameter)], groups: ProcessGroups,
                                          bucketBytes: Int = 25 * 1024 * 1024) throws {
        let communicator = groups.sequenceDataParallel
        guard communicator.size > 1 else { return }
        let divisor = Double(groups.dataParallelSize)
        var bucket: [Parameter] = []
        var bucketElements = 0
        func flush() throws {
            guard !bucket.isEmpty else { return }
            let dtype = bucket[0].value.dtype
            let gradients = bucket.map { ($0.grad ?? .zeros($0.shape, dtype: dtype)).cast(to: .float64).scalars(as: Double.self) }
            let reduced = try communicator.allReduce(gradients.flatMap { $0 }, .sum)
            var offset = 0
            for (parameter, gradient) in zip(bucket, gradients) {
                let slice = Array(reduced[offset..<(offset + gradient.count)]).map { $0 / divisor }
                parameter.value.setGrad(Tensor(slice, shape: parameter.shape).cast(to: parameter.value.dtype))
                offset += gradient.count
            }
            bucket.removeAll()
            bucketElements = 0
        }
        // Buckets travel as Double: 8 bytes an element.
        let bucketCapacity = Swift.max(1, bucketBytes / 8)
        for (_, parameter) in parameters {
            if !bucket.isEmpty && bucketElements + parameter.value.count > bucketCapacity { try flush() }
            bucket.append(parameter)
            bucketElements += parameter.value.count
        }
        try flush()
    }

    /// Makes every rank start from rank 0's parameters.
    public static func broadcastParameters(_ parameters: [(String, Parameter)], over communicator: any Communicator) throws {
        for (_, parameter) in parameters {
            let values = try communicator.broadcast(parameter.value.cast(to: .float64).scalars(as: Double.self), root: 0)
            parameter.value.assign(Tensor(values, shape: parameter.shape))
        }
    }
}
