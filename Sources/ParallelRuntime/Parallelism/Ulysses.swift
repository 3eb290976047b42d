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

    /// [B, S/P, H, D] (or [S/P, B, H, D]) → [B, S, H_r, D]: head block j goes to rank j; the
    /// received sequence blocks are concatenated in source-rank order, so positions stay global.
    public static func scatterHeads(_ x: Tensor, group: any Communicator, layout: SequenceLayout = .batchFirst) throws -> Tensor {
        let partition = HeadPartition(heads: x.shape[2], ranks: group.size)
        let blocks = (0..<group.size).map { x.detached().sliced(axis: 2, partition.offsets[$0], partition.offsets[$0] + partition.counts[$0]) }
        // Every source sends its own sequence shard (the same length on every rank) of our heads.
        var shape = x.shape
        shape[2] = partition.counts[group.rank]
        let pieces = try TensorTransport.allToAllV(blocks, receivedShapes: Array(repeating: shape, count: group.size), over: group)
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
        let shapes = (0..<group.size).map { source -> [Int] in
            var shape = y.shape
            shape[axis] = local
            shape[2] = partition.counts[source]
            return shape
        }
        let pieces = try TensorTransport.allToAllV(blocks, receivedShapes: shapes, over: group)
        let value = Tensor.concat(pieces, axis: 2)
        return Tensor.differentiable(value, name: "ulysses-gather-heads", inputs: [y]) { grad in
            [abortOnFailure { try scatterHeads(grad, group: group, layout: layout) }]
        }
    }

    /// A collective that fails inside a forward or backward pass of a non-throwing layer cannot be
    /// reported to the caller; the process stops (and mpirun takes the job down).
    public static func abortOnFailure(_ body: () throws -> Tensor) -> Tensor {
        do { return try body() } catch { fatalError("Ulysses all-to-all failed in the backward pass: \(error)") }
    }
}

/// How a sequence of `length` positions splits over `ranks`: padded at the end to a multiple of the
/// rank count (DeepSpeed-Ulysses assumes S % P = 0 and goes silently wrong otherwise, #7384), each
/// rank holding `shardLength` positions; the padded positions are cut off before attention.
public struct SequenceSharding: Sendable, Equatable {
    public let length: Int
    public let ranks: Int
    public init(length: Int, ranks: Int) {
        self.length = length
        self.ranks = ranks
    }
    public var shardLength: Int { (length + ranks - 1) / ranks }
    public var paddedLength: Int { shardLength * ranks }
    /// Rank r's positions in the padded sequence.
    public func range(rank: Int) -> Range<Int> { (rank * shardLength)..<((rank + 1) * shardLength) }
    /// How many of rank r's positions are real (the rest are padding).
    public func realCount(rank: Int) -> Int { Swift.max(0, Swift.min(length, (rank + 1) * shardLength) - rank * shardLength) }

    /// Rank r's shard of `x` (whose `axis` holds the whole sequence), zero-padded at the end.
    public func shard(_ x: Tensor, axis: Int, rank: Int, padding: Double = 0) -> Tensor {
        precondition(x.shape[axis] == length, "SequenceSharding: axis \(axis) has \(x.shape[axis]) positions, expected \(length)")
        let range = range(rank: rank), real = realCount(rank: rank)
        let kept = x.sliced(axis: axis, Swift.min(range.lowerBound, length), Swift.min(range.upperBound, length))
        guard real < shardLength else { return kept }
        var shape = x.shape
        shape[axis] = shardLength - real
        return Tensor.concat([kept, Tensor.full(padding, shape: shape, dtype: x.dtype)], axis: axis)
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

    /// The query heads this rank attends between the two all-to-alls (global head indices).
    public var localHeads: Range<Int> {
        let partition = HeadPartition(heads: queryHeads, ranks: group.size)
        return partition.offsets[group.rank]..<(partition.offsets[group.rank] + partition.counts[group.rank])
    }

    /// - Parameters: q `[B, S/P, Hq, D]`, k and v `[B, S/P, Hkv, D]` (sequence-first: `[S/P, B, ·, D]`).
    ///   `local(q, k, v)` receives batch-first `[B, S, h, D]` with as many k/v heads as q heads.
    ///   `sequenceLength`: the real length S when the shards were padded (`SequenceSharding`); the
    ///   padded positions are removed before `local` and come back as zeros.
    public func callAsFunction(_ q: Tensor, _ k: Tensor, _ v: Tensor, sequenceLength: Int? = nil,
                               local: (Tensor, Tensor, Tensor) -> Tensor) throws -> Tensor {
        let axis = layout.sequenceAxis
        let lengths = try group.allGather([Int64(q.shape[axis])])
        guard Set(lengths).count == 1 else {
            throw ParallelLayoutError(message: "Ulysses: ranks hold sequence shards of lengths \(lengths); pad the sequence to a multiple of \(group.size) (SequenceSharding) and pass sequenceLength")
        }
        let paddedLength = q.shape[axis] * group.size
        let realLength = sequenceLength ?? paddedLength
        guard SequenceSharding(length: realLength, ranks: group.size).shardLength == q.shape[axis] else {
            throw ParallelLayoutError(message: "Ulysses: sequenceLength \(realLength) does not fit shards of \(q.shape[axis]) on \(group.size) ranks")
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
            let kvPartition = HeadPartition(heads: keyValueHeads < group.size ? group.size : keyValueHeads, ranks: group.size)
            let groupSize = queryHeads / keyValueHeads
            let firstQuery = localHeads.lowerBound, firstKey = kvPartition.offsets[group.rank]
            let replicated = keyValueHeads < group.size ? group.size / keyValueHeads : 1
            let index = Tensor((0..<localQueryHeads).map { head -> Int64 in
                let globalKey = (firstQuery + head) / groupSize
                let globalSlot = keyValueHeads < group.size ? globalKey * replicated + (group.rank % replicated) : globalKey
                return Int64(globalSlot - firstKey)
            })
            kh = kh.indexSelect(axis: 2, index)
            vh = vh.indexSelect(axis: 2, index)
        }
        if realLength < paddedLength {
            qh = qh.sliced(axis: 1, 0, realLength)
            kh = kh.sliced(axis: 1, 0, realLength)
            vh = vh.sliced(axis: 1, 0, realLength)
        }
        var out = local(qh.contiguous(), kh.contiguous(), vh.contiguous())
        if realLength < paddedLength {
            var shape = out.shape
            shape[1] = paddedLength - realLength
            out = Tensor.concat([out, .zeros(shape, dtype: out.dtype)], axis: 1)
        }
        if layout == .sequenceFirst { out = out.permuted([1, 0, 2, 3]).contiguous() }
        return try SequenceAllToAll.gatherHeads(out, heads: queryHeads, group: group, layout: layout)
    }
}

extension UlyssesAttention {
    /// DS4Sci EvoformerAttention with its sequence (residues) split over the group: each rank holds
    /// `[B, N, L/P, H, D]` and attends whole rows of its heads between the all-to-alls.
    ///
    /// - Parameters: q, k, v `[B, N, L/P, H, D]` (this rank's residues, padded as `SequenceSharding`
    ///   pads); biases as `Tensor.evoformerAttention` for the whole sequence, on every rank: bias1
    ///   `[B, N, 1, 1, L]`, bias2 `[B, 1, H, L, L]` (each rank reads its heads' rows; their gradient,
    ///   summed over the group, is one process's); sequenceLength L when the shards were padded.
    /// - Returns: `[B, N, L/P, H, D]`, this rank's residues of one process's output.
    public func evoformer(_ q: Tensor, _ k: Tensor, _ v: Tensor, biases: [Tensor?] = [], sequenceLength: Int? = nil,
                          method: AttentionMethod = .fused) throws -> Tensor {
        precondition(layout == .batchFirst && q.rank == 5 && k.shape == q.shape && v.shape == q.shape && q.shape[3] == queryHeads,
                     "Ulysses evoformer: q, k, v must share [B, N, L/P, \(queryHeads), D], got \(q.shape), \(k.shape), \(v.shape)")
        let (b, n, shard, h, d) = (q.shape[0], q.shape[1], q.shape[2], q.shape[3], q.shape[4])
        let heads = localHeads
        let bias1 = biases.count > 0 ? biases[0] : nil
        let bias2 = biases.count > 1 ? biases[1].map { $0.sliced(axis: 2, heads.lowerBound, heads.upperBound).contiguous() } : nil
        // The N rows of each batch element travel as batch entries: [B·N, L/P, H, D].
        func rows(_ x: Tensor) -> Tensor { x.reshaped([b * n, shard, h, d]) }
        let out = try self(rows(q), rows(k), rows(v), sequenceLength: sequenceLength) { q, k, v in
            let length = q.shape[1], local = q.shape[2]
            func grid(_ x: Tensor) -> Tensor { x.reshaped([b, n, length, local, d]) }
            return Tensor.evoformerAttention(grid(q), grid(k), grid(v), biases: [bias1, bias2], method: method)
                .reshaped([b * n, length, local, d])
        }
        return out.reshaped([b, n, shard, h, d])
    }
}

extension SequenceSharding {
    /// Every rank's shard `[…, S/P, …]` (axis `axis`) gathered into the whole sequence, padding cut
    /// off: the way out of a sequence-parallel region when every rank then computes the same loss.
    /// The backward keeps this rank's slice of the gradient (no communication): the gradients each
    /// rank's parameters collect are its tokens' share, summed over the group by data parallelism.
    public func gather(_ x: Tensor, axis: Int, group: any Communicator) throws -> Tensor {
        precondition(x.shape[axis] == shardLength, "SequenceSharding.gather: axis \(axis) has \(x.shape[axis]) positions, expected \(shardLength)")
        let whole = try TensorTransport.allGather(x.detached().contiguous(), axis: axis, over: group).sliced(axis: axis, 0, length)
        let range = range(rank: group.rank), real = realCount(rank: group.rank)
        return Tensor.differentiable(whole.contiguous(), name: "sequence-gather", inputs: [x]) { [self] grad in
            let kept = grad.sliced(axis: axis, Swift.min(range.lowerBound, length), Swift.min(range.lowerBound + real, length))
            guard real < shardLength else { return [kept.contiguous()] }
            var shape = grad.shape
            shape[axis] = shardLength - real
            return [Tensor.concat([kept, .zeros(shape, dtype: grad.dtype)], axis: axis)]
        }
    }
}
