// Outer product mean (model/outer_product_mean.py): the MSA's update to the pair
// representation, z_ij += Linear(mean_s a_si ⊗ b_sj).
import NeuralNetworks
import TensorCore

public final class OuterProductMean: Module {
    public let layerNorm: LayerNorm
    public let linear1: Linear, linear2: Linear, linearOut: Linear
    public let hidden: Int
    /// Added to the mask count, as upstream (1e-3).
    public let epsilon = 1e-3

    public init(msaChannels: Int, pairChannels: Int, hidden: Int = 32, dtype: DType = .float32, generator: inout RandomGenerator) {
        self.hidden = hidden
        layerNorm = LayerNorm(msaChannels, dtype: dtype)
        linear1 = Linear(msaChannels, hidden, initialization: .lecun, dtype: dtype, generator: &generator)
        linear2 = Linear(msaChannels, hidden, initialization: .lecun, dtype: dtype, generator: &generator)
        linearOut = Linear(hidden * hidden, pairChannels, initialization: .zeros, dtype: dtype, generator: &generator)
    }

    /// m `[B, S, N, c_m]`, mask `[B, S, N]` → `[B, N, N, c_z]`; chunked along the first residue axis.
    public func callAsFunction(_ m: Tensor, mask: Tensor, chunkSize: Int? = nil) -> Tensor {
        let (b, s, n) = (m.shape[0], m.shape[1], m.shape[2])
        let normed = layerNorm(m), weights = mask.unsqueezed(axis: -1)
        let a = linear1(normed) * weights, bb = linear2(normed) * weights  // [B, S, N, c]
        // Σ_s a_sic · b_sjd as one product per batch element: [B, N·c, S]·[B, S, N·c].
        let right = bb.reshaped([b, s, n * hidden])
        let rows = a.reshaped([b, s, n * hidden]).transposed(1, 2)  // [B, N·c, S]
        let counts = mask.transposed(1, 2).matmul(mask) + epsilon  // [B, N, N]
        return chunked([rows.reshaped([b, n, hidden, s]), counts], axis: 1, size: chunkSize) { parts in
            let i = parts[0].shape[1]
            let outer = parts[0].reshaped([b, i * hidden, s]).matmul(right)  // [B, i·c, N·c]
                .reshaped([b, i, hidden, n, hidden]).permuted([0, 1, 3, 2, 4]).reshaped([b, i, n, hidden * hidden])
            return linearOut(outer) / parts[1].unsqueezed(axis: -1)
        }
    }
}
