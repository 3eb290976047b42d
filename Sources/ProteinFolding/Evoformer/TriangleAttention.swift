// Triangle attention (model/triangular_attention.py): around the starting node, row i of z
// attends over j with a bias from z_jk; around the ending node, the same on zᵀ.
import NeuralNetworks
import TensorCore

public final class TriangleAttention: Module {
    public let startingNode: Bool
    public let layerNorm: LayerNorm
    public let linear: Linear
    public let mha: GatedAttention

    public init(pairChannels: Int, headWidth: Int = 32, heads: Int = 4, startingNode: Bool, dtype: DType = .float32, generator: inout RandomGenerator) {
        self.startingNode = startingNode
        layerNorm = LayerNorm(pairChannels, dtype: dtype)
        linear = Linear(pairChannels, heads, bias: false, initialization: .lecun, dtype: dtype, generator: &generator)
        mha = GatedAttention(channels: pairChannels, headWidth: headWidth, heads: heads, dtype: dtype, generator: &generator)
    }

    /// z `[B, N, N, c_z]`, mask `[B, N, N]`.
    public func callAsFunction(_ z: Tensor, mask: Tensor, chunkSize: Int? = nil) -> Tensor {
        let x = startingNode ? z : z.transposed(1, 2).contiguous()
        let m = startingNode ? mask : mask.transposed(1, 2).contiguous()
        let normed = layerNorm(x)
        let n = x.shape[1]
        let triangleBias = linear(normed).permuted([0, 3, 1, 2]).reshaped([x.shape[0], 1, mha.heads, n, n])
        let out = chunked([normed, m], axis: 1, size: chunkSize) { parts in
            mha(parts[0], maskBias: maskBias(parts[1]), pairBias: triangleBias)
        }
        return startingNode ? out : out.transposed(1, 2)
    }
}
