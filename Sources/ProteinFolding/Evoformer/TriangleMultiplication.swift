// Triangle multiplicative updates (model/triangular_multiplicative_update.py): "outgoing"
// z_ij ← Σ_k a_ik·b_jk, "incoming" z_ij ← Σ_k a_ki·b_kj, per channel, gated.
import NeuralNetworks
import TensorCore

public final class TriangleMultiplication: Module {
    public let outgoing: Bool
    public let layerNormIn: LayerNorm, layerNormOut: LayerNorm
    public let linearAP: Linear, linearAG: Linear, linearBP: Linear, linearBG: Linear
    public let linearG: Linear, linearZ: Linear

    public init(pairChannels: Int, hidden: Int = 128, outgoing: Bool, dtype: DType = .float32, generator: inout RandomGenerator) {
        self.outgoing = outgoing
        layerNormIn = LayerNorm(pairChannels, dtype: dtype)
        layerNormOut = LayerNorm(hidden, dtype: dtype)
        linearAP = Linear(pairChannels, hidden, initialization: .lecun, dtype: dtype, generator: &generator)
        linearAG = Linear(pairChannels, hidden, initialization: .gating, dtype: dtype, generator: &generator)
        linearBP = Linear(pairChannels, hidden, initialization: .lecun, dtype: dtype, generator: &generator)
        linearBG = Linear(pairChannels, hidden, initialization: .gating, dtype: dtype, generator: &generator)
        linearG = Linear(pairChannels, pairChannels, initialization: .gating, dtype: dtype, generator: &generator)
        linearZ = Linear(hidden, pairChannels, initialization: .zeros, dtype: dtype, generator: &generator)
    }

    /// z `[B, N, N, c_z]`, mask `[B, N, N]`.
    public func callAsFunction(_ z: Tensor, mask: Tensor) -> Tensor {
        let normed = layerNormIn(z), weights = mask.unsqueezed(axis: -1)
        let a = linearAP(normed) * linearAG(normed).sigmoid() * weights
        let b = linearBP(normed) * linearBG(normed).sigmoid() * weights
        // Channels first: [B, c, N, N]; outgoing a·bᵀ, incoming aᵀ·b.
        let ac = a.permuted([0, 3, 1, 2]), bc = b.permuted([0, 3, 1, 2])
        let product = outgoing ? ac.matmul(bc.transposed(-1, -2)) : ac.transposed(-1, -2).matmul(bc)
        let x = linearZ(layerNormOut(product.permuted([0, 2, 3, 1])))
        return x * linearG(normed).sigmoid()
    }
}
