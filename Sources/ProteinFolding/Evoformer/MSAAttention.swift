// MSA row attention with pair bias and MSA column attention (model/msa.py).
import NeuralNetworks
import TensorCore

/// Each MSA row attends across residues, biased by a per-head projection of the pair
/// representation. m `[B, S, N, c_m]`, z `[B, N, N, c_z]`, mask `[B, S, N]`.
public final class MSARowAttentionWithPairBias: Module {
    public let layerNormM: LayerNorm, layerNormZ: LayerNorm
    public let linearZ: Linear
    public let mha: GatedAttention

    public init(msaChannels: Int, pairChannels: Int, headWidth: Int, heads: Int, dtype: DType = .float32, generator: inout RandomGenerator) {
        layerNormM = LayerNorm(msaChannels, dtype: dtype)
        layerNormZ = LayerNorm(pairChannels, dtype: dtype)
        linearZ = Linear(pairChannels, heads, bias: false, initialization: .lecun, dtype: dtype, generator: &generator)
        mha = GatedAttention(channels: msaChannels, headWidth: headWidth, heads: heads, dtype: dtype, generator: &generator)
    }

    public func callAsFunction(_ m: Tensor, pair z: Tensor, mask: Tensor, chunkSize: Int? = nil) -> Tensor {
        let (b, n) = (z.shape[0], z.shape[1])
        // [B, N, N, H] → [B, 1, H, N, N]
        let pairBias = linearZ(layerNormZ(z)).permuted([0, 3, 1, 2]).reshaped([b, 1, mha.heads, n, n])
        let normed = layerNormM(m)
        return chunked([normed, mask], axis: 1, size: chunkSize) { parts in
            mha(parts[0], maskBias: maskBias(parts[1]), pairBias: pairBias)
        }
    }
}

/// Each residue column attends across MSA rows (row attention on the transposed MSA).
public final class MSAColumnAttention: Module {
    public let layerNormM: LayerNorm
    public let mha: GatedAttention

    public init(msaChannels: Int, headWidth: Int, heads: Int, dtype: DType = .float32, generator: inout RandomGenerator) {
        layerNormM = LayerNorm(msaChannels, dtype: dtype)
        mha = GatedAttention(channels: msaChannels, headWidth: headWidth, heads: heads, dtype: dtype, generator: &generator)
    }

    /// m `[B, S, N, c_m]`, mask `[B, S, N]`.
    public func callAsFunction(_ m: Tensor, mask: Tensor, chunkSize: Int? = nil) -> Tensor {
        let columns = layerNormM(m.transposed(1, 2)).contiguous(), columnMask = mask.transposed(1, 2).contiguous()
        let out = chunked([columns, columnMask], axis: 1, size: chunkSize) { parts in
            mha(parts[0], maskBias: maskBias(parts[1]), pairBias: nil)
        }
        return out.transposed(1, 2)
    }
}
