// A pre-norm Vision Transformer block as timm's `Block` computes it for ClimaX: qkv with bias,
// fused self-attention, MLP ratio 4 with exact GELU, dropout `drop_rate` after the attention
// projection and in the MLP, stochastic depth on both residual branches.
import NeuralNetworks
import ParallelRuntime
import TensorCore

public final class ViTBlock: Module {
    public let norm1: LayerNorm
    /// `[3D, D]` with rows grouped per head as (q, k, v) × d_h, the layout the packed attention
    /// kernel reads; timm's rows are (q, k, v) × heads × d_h, and `ClimaXWeights` permutes on import.
    public let qkv: Linear
    public let proj: Linear
    public let norm2: LayerNorm
    public let fc1: Linear
    public let fc2: Linear
    let heads: Int
    let dropPath: Double
    let dropRate: Double
    /// Set when the tokens are split over ranks: q, k, v travel to head shards and back.
    var ulysses: UlyssesAttention?
    /// The real token count when the shards were padded.
    var sequenceLength: Int?

    init(_ c: ClimaXConfiguration, dropPath: Double, generator: inout RandomGenerator) {
        let d = c.embedDim
        norm1 = LayerNorm(d)
        qkv = Linear(d, 3 * d, generator: &generator)
        proj = Linear(d, d, generator: &generator)
        norm2 = LayerNorm(d)
        fc1 = Linear(d, c.hiddenDimension, generator: &generator)
        fc2 = Linear(c.hiddenDimension, d, generator: &generator)
        heads = c.numHeads
        self.dropPath = dropPath
        dropRate = c.dropRate
    }

    /// - Parameter x: `[B, L, D]`. - Returns: `[B, L, D]`.
    func callAsFunction(_ x: Tensor, generator: inout RandomGenerator) -> Tensor {
        let (b, l, d) = (x.shape[0], x.shape[1], x.shape[2])
        let packed = qkv(norm1(x)).reshaped([b, l, heads, 3 * d / heads])
        let context: Tensor
        if let ulysses {
            let width = d / heads
            let parts = (0..<3).map { packed.sliced(axis: 3, $0 * width, ($0 + 1) * width).contiguous() }
            context = SequenceAllToAll.abortOnFailure {
                try ulysses(parts[0], parts[1], parts[2], sequenceLength: sequenceLength) { Tensor.scaledDotProductAttention($0, $1, $2) }
            }
        } else {
            context = Tensor.packedSelfAttention(packed)
        }
        let attended = proj(context.reshaped([b, l, d])).dropout(dropRate, training: isTraining, generator: &generator)
        let h = x + dropSamples(attended, generator: &generator)
        let mlp = fc2(fc1(norm2(h)).gelu().dropout(dropRate, training: isTraining, generator: &generator))
            .dropout(dropRate, training: isTraining, generator: &generator)
        return h + dropSamples(mlp, generator: &generator)
    }

    /// Stochastic depth: the whole branch of a sample is dropped with probability `dropPath`,
    /// kept ones scaled by 1/(1 − dropPath).
    func dropSamples(_ branch: Tensor, generator: inout RandomGenerator) -> Tensor {
        guard isTraining, dropPath > 0 else { return branch }
        let b = branch.shape[0]
        let keep = (generator.uniform([b, 1, 1], dtype: .float64) >= Tensor(scalar: dropPath, dtype: .float64))
            .cast(to: branch.dtype)
        return branch * (keep * (1 / (1 - dropPath)))
    }
}
