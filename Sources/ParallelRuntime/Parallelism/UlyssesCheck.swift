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
        return failures
    }
}
