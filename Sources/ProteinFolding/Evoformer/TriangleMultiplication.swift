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
        let (b, n, c) = (z.shape[0], z.shape[1], z.shape[3])
        let hidden = linearAP.weight.shape[0]
        let normed = layerNormIn(z)
        // The four projections as one product, channels first: [4·c, c_z] · LN(z)ᵀ → [4·c, B·N·N],
        // so each channel's N × N matrix is contiguous for the per-channel products below.
        let projections = [linearAP, linearAG, linearBP, linearBG]
        let weight = Tensor.concat(projections.map(\.weight.value), axis: 0)
        let bias = Tensor.concat(projections.map { $0.bias!.value }, axis: 0).unsqueezed(axis: -1)
        let all = weight.matmul(normed.reshaped([b * n * n, c]).mT) + bias
        let rowMask = mask.reshaped([1, b * n * n])
        func part(_ index: Int) -> Tensor { all.sliced(axis: 0, index * hidden, (index + 1) * hidden) }
        let a = (part(0).sigmoidGated(by: part(1)) * rowMask).reshaped([hidden, b, n, n])
        let bb = (part(2).sigmoidGated(by: part(3)) * rowMask).reshaped([hidden, b, n, n])
        // Outgoing a·bᵀ, incoming aᵀ·b, per channel: [c, B, N, N].
        let product = outgoing ? a.matmul(bb.mT) : a.mT.matmul(bb)
        let x = linearZ(layerNormOut(product.permuted([1, 2, 3, 0]).contiguous()))
        return x.sigmoidGated(by: linearG(normed))
    }
}
