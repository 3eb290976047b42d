// Ulysses attention against single-process attention on any communicator: the unit tests run it
// on the in-process world, `scizoo mpi-check` on real MPI ranks.
import NeuralNetworks
import TensorCore

public enum UlyssesCheck {
    /// Compares output and q/k/v gradients for B ∈ {1, 3}, both layouts, uneven heads, GQA and S % P ≠ 0, in
    /// float64 (≤ 1e-12) and float32 (≤ 1e-5); returns a description of each mismatch.
    public static func run(_ group: any Communicator) throws -> [String] {
        var failures: [String] = []
        let p = group.size
        // (batch, layout, query heads, key/value heads, dtype, sequence length)
        var configurations: [(Int, SequenceLayout, Int, Int, DType, Int)] = []
        for batch in [1, 3] { for layout in [SequenceLayout.batchFirst, .sequenceFirst] { configurations.append((batch, layout, 4, 4, .float64, 3 * p)) } }
        configurations.append((2, .batchFirst, 6, 6, .float64, 3 * p))                   // H % P ≠ 0 for P = 4
        configurations.append((2, .batchFirst, 4 * p, p % 2 == 1 ? 1 : 2, .float64, 3 * p))  // GQA
        configurations.append((2, .sequenceFirst, 4, 4, .float32, 3 * p))
        configurations.append((2, .batchFirst, 6, 6, .float64, 3 * p + 1))               // S % P ≠ 0: padded
        configurations.append((1, .sequenceFirst, 5, 5, .float32, 3 * p - 1))           // both, float32
        for (batch, layout, queryHeads, keyValueHeads, dtype, s) in configurations {
            var generator = RandomGenerator(seed: UInt64(batch * 1000 + queryHeads * 10 + keyValueHeads + s))
            let d = 4
            let sharding = SequenceSharding(length: s, ranks: p)
            let q = generator.normal([batch, s, queryHeads, d], dtype: dtype)
            let k = generator.normal([batch, s, keyValueHeads, d], dtype: dtype)
            let v = generator.normal([batch, s, keyValueHeads, d], dtype: dtype)
            let g = generator.normal([batch, s, queryHeads, d], dtype: dtype)
            let rotary = RotaryEmbedding(headDimension: d, fraction: 0.5)
            let expand = Tensor((0..<queryHeads).map { Int64($0 / (queryHeads / keyValueHeads)) })
            let (lq, lk, lv) = (q.requiringGrad(), k.requiringGrad(), v.requiringGrad())
            let reference = Tensor.scaledDotProductAttention(rotary.apply(lq), rotary.apply(lk.indexSelect(axis: 2, expand)),
                                                             lv.indexSelect(axis: 2, expand), masking: .causal)
            let referenceGrads = try grad(of: [reference], wrt: [lq, lk, lv], gradOutputs: [g])
            func shard(_ x: Tensor) -> Tensor {
                let slice = sharding.shard(x, axis: 1, rank: group.rank)
                return (layout == .batchFirst ? slice : slice.permuted([1, 0, 2, 3])).contiguous()
            }
            let attention = try UlyssesAttention(group: group, layout: layout, queryHeads: queryHeads, keyValueHeads: keyValueHeads, rotary: rotary)
            let (sq, sk, sv) = (shard(q).requiringGrad(), shard(k).requiringGrad(), shard(v).requiringGrad())
            let out = try attention(sq, sk, sv, sequenceLength: s) { Tensor.scaledDotProductAttention($0, $1, $2, masking: .causal) }
            let grads = try grad(of: [out], wrt: [sq, sk, sv], gradOutputs: [shard(g)])
            let limit = dtype == .float64 ? 1e-12 : 1e-5
            let pairs = [(out, shard(reference.detached()))] + zip(grads.map { $0! }, referenceGrads.map { shard($0!) }).map { ($0, $1) }
            for (index, (ours, theirs)) in pairs.enumerated() {
                let a = ours.doubles, b = theirs.doubles
                let scale = Swift.max(b.map { Swift.abs($0) }.max() ?? 0, 1e-30)
                let error = zip(a, b).map { Swift.abs($0 - $1) }.max() ?? 0
                if a.count != b.count || error / scale > limit {
                    failures.append("rank \(group.rank) of \(p): B \(batch) S \(s) \(layout) heads \(queryHeads)/\(keyValueHeads) \(dtype) output \(index): relative error \(error / scale)")
                }
            }
        }
        failures += try evoformer(group)
        return failures
    }

    /// EvoformerAttention with the residues split over the group against one process: output and
    /// q/k/v gradients per shard, mask- and pair-bias gradients summed over the group, for L % P = 0
    /// and ≠ 0, H % P ≠ 0, float64 (≤ 1e-12) and float32 (≤ 1e-5).
    public static func evoformer(_ group: any Communicator) throws -> [String] {
        var failures: [String] = []
        let p = group.size
        for (heads, length, dtype) in [(4, 3 * p, DType.float64), (5, 3 * p + 1, .float64), (4, 2 * p + 1, .float32)] {
            var generator = RandomGenerator(seed: UInt64(100 * heads + length))
            let (b, n, d) = (2, 3, 4)
            let q = generator.normal([b, n, length, heads, d], dtype: dtype), k = generator.normal([b, n, length, heads, d], dtype: dtype)
            let v = generator.normal([b, n, length, heads, d], dtype: dtype), g = generator.normal([b, n, length, heads, d], dtype: dtype)
            let keep = generator.uniform([b, n, 1, 1, length], dtype: .float64).doubles.map { $0 < 0.8 ? 0.0 : -1e9 }
            let mask = Tensor(keep, shape: [b, n, 1, 1, length]).cast(to: dtype).requiringGrad()
            let pair = generator.normal([b, 1, heads, length, length], dtype: dtype).requiringGrad()
            let (lq, lk, lv) = (q.requiringGrad(), k.requiringGrad(), v.requiringGrad())
            let reference = Tensor.evoformerAttention(lq, lk, lv, biases: [mask, pair])
            let referenceGrads = try grad(of: [reference], wrt: [lq, lk, lv, mask, pair], gradOutputs: [g]).map { $0! }
            let sharding = SequenceSharding(length: length, ranks: p)
            func shard(_ x: Tensor) -> Tensor { sharding.shard(x, axis: 2, rank: group.rank).contiguous() }
            let attention = try UlyssesAttention(group: group, queryHeads: heads)
            let (sq, sk, sv) = (shard(q).requiringGrad(), shard(k).requiringGrad(), shard(v).requiringGrad())
            let (sMask, sPair) = (mask.detached().requiringGrad(), pair.detached().requiringGrad())
            let out = try attention.evoformer(sq, sk, sv, biases: [sMask, sPair], sequenceLength: length)
            var grads = try grad(of: [out], wrt: [sq, sk, sv, sMask, sPair], gradOutputs: [shard(g)]).map { $0! }
            for index in 3..<5 {  // each rank holds its heads' (and its queries') share of the bias gradients
                grads[index] = try PendingTensor.allReduce(grads[index], over: group).wait()
            }
            let limit = dtype == .float64 ? 1e-12 : 1e-5
            let expected = [shard(reference.detached())] + referenceGrads[..<3].map(shard) + Array(referenceGrads[3...])
            for (index, (ours, theirs)) in zip([out] + grads, expected).enumerated() {
                let a = ours.doubles, c = theirs.doubles
                let scale = Swift.max(c.map { Swift.abs($0) }.max() ?? 0, 1e-30)
                let error = zip(a, c).map { Swift.abs($0 - $1) }.max() ?? 0
                if a.count != c.count || error / scale > limit {
                    failures.append("rank \(group.rank) of \(p): evoformer H \(heads) L \(length) \(dtype) output \(index): relative error \(error / scale)")
                }
            }
        }
        return failures
    }
}
