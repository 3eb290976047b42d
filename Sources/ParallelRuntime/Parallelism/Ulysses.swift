// DeepSpeed-Ulysses sequence parallelism (port of the semantics of deepspeed/sequence/layer.py,
// defined by split/send/concat as in its original release): activations sharded by sequence
// [B, S/P, H, D] become head-sharded [B, S, H_r, D] for attention and back. Uneven head counts
// use Alltoallv (the first H mod P ranks get one extra head); head counts are kept per instance.
import NeuralNetworks
import TensorCore

/// Where the sequence axis is: batch-first [B, S, H, D] or sequence-first [S, B, H, D] (Megatron).
public enum SequenceLayout: Sendable { case batchFirst, sequenceFirst
    var sequenceAxis: Int { self == .batchFirst ? 1 : 0 }
}

/// Heads per rank: the first H mod P ranks hold one more.
public struct HeadPartition: Sendable, Equatable {
    public let counts: [Int]
    public let offsets: [Int]
    public init(heads: Int, ranks: Int) {
        counts = (0..<ranks).map { heads / ranks + ($0 < heads % ranks ? 1 : 0) }
        var running = 0
        offsets = counts.map { count in defer { running += count }; return running }
    }
}

public enum SequenceAllToAll {
    static func exchange(_ blocks: [Tensor], group: any Communicator) throws -> [[Double]] {
        try group.allToAllV(blocks.map { $0.contiguous().scalars(as: Double.self) })
    }

    /// [B, S/P, H, D] (or [S/P, B, H, D]) → [B, S, H_r, D]: head block j goes to rank j; the
    /// received sequence blocks are concatenated in source-rank order, so positions stay global.
    public static func scatterHeads(_ x: Tensor, group: any Communicator, layout: SequenceLayout = .batchFirst) throws -> Tensor {
        let partition = HeadPartition(heads: x.shape[2], ranks: group.size)
        let blocks = (0..<group.size).map { x.detached().sliced(axis: 2, partition.offsets[$0], partition.offsets[$0] + partition.counts[$0]) }
        let received = try exchange(blocks, group: group)
        var shape = x.shape
        shape[2] = partition.counts[group.rank]
        let pieces = received.map { Tensor($0, shape: shape).cast(to: x.dtype) }
        let value = Tensor.concat(pieces, axis: layout.sequenceAxis)
        let heads = x.shape[2]
        return Tensor.differentiable(value, name: "ulysses-scatter-heads", inputs: [x]) { grad in
            [abortOnFailure { try gatherHeads(grad, heads: heads, group: group, layout: layout) }]
        }
    }

    /// The inverse: [B, S, H_r, D] → [B, S/P, H, D].
    public static func gatherHeads(_ y: Tensor, heads: Int, group: any Communicator, layout: SequenceLayout = .batchFirst) throws -> Tensor {
        let partition = HeadPartition(heads: heads, ranks: group.size)
        let axis = layout.sequenceAxis
        guard y.shape[axis] % group.size == 0 else {
            throw CommunicatorError(message: "Ulysses: sequence length \(y.shape[axis]) does not split over \(group.size) ranks")
        }
        let local = y.shape[axis] / group.size
        let blocks = (0..<group.size).map { y.detached().sliced(axis: axis, $0 * local, ($0 + 1) * local) }
        let received = try exchange(blocks, group: group)
        let pieces = received.enumerated().map { source, values in
            var shape = y.shape
            shape[axis] = local
            shape[2] = partition.counts[source]
            return Tensor(values, shape: shape).cast(to: y.dtype)
        }
        let value = Tensor.concat(pieces, axis: 2)
        return Tensor.differentiable(value, name: "ulysses-gather-heads", inputs: [y]) { grad in
            [abortOnFailure { try scatterHeads(grad, group: group, layout: layout) }]
        }
    }

    /// A collective that fails inside a backward pass cannot be reported to the caller; the job stops.
    static func abortOnFailure(_ body: () throws -> Tensor) -> Tensor {
        do { return try body() } catch { fatalError("Ulysses all-to-all failed in the backward pass: \(error)") }
    }
}

/// Ulysses attention: all-to-all q, k, v to head shards, any local attention over the full
/// sequence, all-to-all back. Head counts belong to the instance (not to process-wide state).
public struct UlyssesAttention {
    public let group: any Communicator
    public let layout: SequenceLayout
    public let queryHeads: Int
    public let keyValueHeads: Int
    /// Applied to q and k after the all-to-all, at global positions.
    public var rotary: RotaryEmbedding?

    public init(group: any Communicator, layout: SequenceLayout = .batchFirst, queryHeads: Int, keyValueHeads: Int? = nil,
                rotary: RotaryEmbedding? = nil) throws {
        let kv = keyValueHeads ?? queryHeads
        guard queryHeads % kv == 0 else {
            throw ParallelLayoutError(message: "Ulysses: \(queryHeads) query heads are not a multiple of \(kv) key/value heads")
        }
        // Grouped-query attention (fewer k/v heads) follows ALST: query heads divisible by P and
        // k/v heads either divisible by P or dividing it. Uneven heads are for plain multi-head attention.
        guard kv == queryHeads || (queryHeads % group.size == 0 && (kv % group.size == 0 || group.size % kv == 0)) else {
            throw ParallelLayoutError(message: "Ulysses: \(kv) key/value heads cannot be replicated over \(group.size) ranks (\(group.size) % \(kv) ≠ 0)")
        }
        self.group = group
        self.layout = layout
        self.queryHeads = queryHeads
        self.keyValueHeads = kv
        self.rotary = rotary
    }

    /// - Parameters: q `[B, S/P, Hq, D]`, k and v `[B, S/P, Hkv, D]` (sequence-first: `[S/P, B, ·, D]`).
    ///   `local(q, k, v)` receives batch-first `[B, S, h, D]` with as many k/v heads as q heads.
    public func callAsFunction(_ q: Tensor, _ k: Tensor, _ v: Tensor,
                               local: (Tensor, Tensor, Tensor) -> Tensor) throws -> Tensor {
        let axis = layout.sequenceAxis
        let lengths = try group.allGather([Int64(q.shape[axis])])
        guard Set(lengths).count == 1 else {
            throw ParallelLayoutError(message: "Ulysses: ranks hold sequence shards of lengths \(lengths); pad the sequence to a multiple of \(group.size)")
        }
        var kk = k, vv = v
        if keyValueHeads < group.size {
            // GQA with fewer key/value heads than ranks: replicate each head P / Hkv times.
            let repeats = group.size / keyValueHeads
            let index = Tensor((0..<(keyValueHeads * repeats)).map { Int64($0 / repeats) })
            kk = k.indexSelect(axis: 2, index)
            vv = v.indexSelect(axis: 2, index)
        }
        var qh = try SequenceAllToAll.scatterHeads(q, group: group, layout: layout)
        var kh = try SequenceAllToAll.scatterHeads(kk, group: group, layout: layout)
        let vhRaw = try SequenceAllToAll.scatterHeads(vv, group: group, layout: layout)
        var vh = vhRaw
        if layout == .sequenceFirst {
            qh = qh.permuted([1, 0, 2, 3])
            kh = kh.permuted([1, 0, 2, 3])
            vh = vh.permuted([1, 0, 2, 3])
        }
        if let rotary {
            qh = rotary.apply(qh.contiguous())
            kh = rotary.apply(kh.contiguous())
        }
        // Local heads: q holds Hq_r heads; expand k/v so each query head sees its group's head.
        let localQueryHeads = qh.shape[2], localKeyHeads = kh.shape[2]
        if localKeyHeads != localQueryHeads {
            let partition = HeadPartition(heads: queryHeads, ranks: group.size)
            let kvPartition = HeadPartition(heads: keyValueHeads < group.size ? group.size : keyValueHeads, ranks: group.size)
            let groupSize = queryHeads / keyValueHeads
            let firstQuery = partition.offsets[group.rank], firstKey = kvPartition.offsets[group.rank]
            let replicated = keyValueHeads < group.size ? group.size / keyValueHeads : 1
            let index = Tensor((0..<localQueryHeads).map { head -> Int64 in
                let globalKey = (firstQuery + head) / groupSize
                let globalSlot = keyValueHeads < group.size ? globalKey * replicated + (group.rank % replicated) : globalKey
                return Int64(globalSlot - firstKey)
            })
            kh = kh.indexSelect(axis: 2, index)
            vh = vh.indexSelect(axis: 2, index)
        }
        var out = local(qh.contiguous(), kh.contiguous(), vh.contiguous())
        if layout == .sequenceFirst { out = out.permuted([1, 0, 2, 3]).contiguous() }
        return try SequenceAllToAll.gatherHeads(out, heads: queryHeads, group: group, layout: layout)
    }
}
