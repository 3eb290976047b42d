// Per-variable patch embedding in the grouped form (upstream ParallelVarPatchEmbed,
// src/climax/parallelpatchembed.py): one p×p stride-p convolution from 1 channel to D per
// variable, all variables in one batched product, plus the variable embedding.
import NeuralNetworks
import TensorCore

public final class VariablePatchEmbedding: Module {
    /// `[V_all, D, 1, p, p]`: variable i's convolution is upstream's `token_embeds.{i}.proj.weight`.
    public let projWeights: Parameter
    /// `[V_all, D]`: upstream's `token_embeds.{i}.proj.bias`.
    public let projBiases: Parameter
    /// `[1, V_all, D]`, initialised to the 1-D sin-cos table of the variable index (upstream's
    /// `var_embed`, a parameter of the whole model there; here beside the patch kernels it is added
    /// with, so that ZeRO stage 3 gathers it with them).
    public let varEmbed: Parameter
    let patchSize: Int

    init(variables: Int, embedDim: Int, patchSize: Int, generator: inout RandomGenerator) {
        self.patchSize = patchSize
        varEmbed = Parameter(Tensor(SinCosEmbedding.oneDimensional(dimension: embedDim, positions: (0..<variables).map(Double.init)).flatMap { $0 },
                                    shape: [1, variables, embedDim]).cast(to: .float32))
        // Upstream: trunc_normal_(std=0.02), whose bounds ±2 are absolute, so a plain normal; the
        // bias keeps nn.Conv2d's U(±1/√fan_in).
        projWeights = Parameter(generator.normal([variables, embedDim, 1, patchSize, patchSize], std: 0.02))
        let bound = 1 / Double(patchSize)
        projBiases = Parameter(generator.uniform([variables, embedDim], low: -bound, high: bound))
    }

    /// - Parameters: x `[B, V, H, W]`; variableIDs: the row of each of the V input variables.
    /// - Returns: `[B, L, V, D]` with L = (H/p)(W/p) patches in row-major order, the variable
    ///   embedding added: each patch position's variable tokens together, the layout the aggregation reads.
    func callAsFunction(_ x: Tensor, variableIDs: [Int]) -> Tensor {
        let (b, v, height, width) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let p = patchSize, (h, w) = (height / p, width / p)
        let d = projWeights.shape[1]
        // [B, V, h, p, w, p] → [V, B·L, p·p]: each patch's pixels in (row, column) order, as the kernel's.
        let patches = x.reshaped([b, v, h, p, w, p]).permuted([1, 0, 2, 4, 3, 5]).contiguous().reshaped([v, b * h * w, p * p])
        let ids = Tensor(variableIDs.map(Int64.init), shape: [v])
        let kernels = projWeights.value.indexSelect(axis: 0, ids).reshaped([v, d, p * p]).mT
        let perToken = projBiases.value.indexSelect(axis: 0, ids) + varEmbed.value.indexSelect(axis: 1, ids).reshaped([v, d])  // [V, D]
        // The per-variable terms broadcast over the leading axes, whose gradient is a plain row sum.
        let embedded = patches.matmul(kernels).permuted([1, 0, 2]).contiguous()  // [B·L, V, D]
        return (embedded + perToken).reshaped([b, h * w, v, d])
    }
}
