// Global column attention of the extra-MSA stack (model/msa.py `MSAColumnGlobalAttention`):
// per residue column, one query per head from the masked mean over rows, shared single-head
// keys and values per row, and a per-row sigmoid gate. Cheap where thousands of extra rows
// make full column attention quadratic in S.
import NeuralNetworks
import TensorCore

public final class MSAGlobalAttention: Module {
    public let layerNormM: LayerNorm
    public let linearQ: Linear, linearK: Linear, linearV: Linear, linearG: Linear, linearO: Linear
    public let heads: Int, headWidth: Int
    /// Added to the row count of the mean query, as upstream (1e-10).
    public let epsilon = 1e-10

    public init(msaChannels: Int, headWidth: Int = 8, heads: Int = 8, dtype: DType = .float32, generator: inout RandomGenerator) {
        self.heads = heads
        self.headWidth = headWidth
        layerNormM = LayerNorm(msaChannels, dtype: dtype)
        linearQ = Linear(msaChannels, heads * headWidth, bias: false, initialization: .glorot, dtype: dtype, generator: &generator)
        linearK = Linear(msaChannels, headWidth, bias: false, initialization: .glorot, dtype: dtype, generator: &generator)
        linearV = Linear(msaChannels, headWidth, bias: false, initialization: .glorot, dtype: dtype, generator: &generator)
        linearG = Linear(msaChannels, heads * headWidth, initialization: .gating, dtype: dtype, generator: &generator)
        linearO = Linear(heads * headWidth, msaChannels, initialization: .zeros, dtype: dtype, generator: &generator)
    }

    /// m `[B, S, N, c_e]`, mask `[B, S, N]` → `[B, S, N, c_e]`; chunked along the residue axis.
    public func callAsFunction(_ m: Tensor, mask: Tensor, chunkSize: Int? = nil) -> Tensor {
        let columns = layerNormM(m.transposed(1, 2)).contiguous(), columnMask = mask.transposed(1, 2).contiguous()  // [B, N, S, C], [B, N, S]
        let out = chunked([columns, columnMask], axis: 1, size: chunkSize) { parts in
            let (x, keep) = (parts[0], parts[1])
            let (b, n, s) = (x.shape[0], x.shape[1], x.shape[2])
            let weights = keep.unsqueezed(axis: -1)
            let mean = (x * weights).sum(axis: 2) / (keep.sum(axis: 2).unsqueezed(axis: -1) + epsilon)  // [B, N, C]
            let q = linearQ(mean).reshaped([b, n, heads, headWidth]) * (1 / Double(headWidth).squareRoot())
            let k = linearK(x), v = linearV(x)  // [B, N, S, c]
            let logits = q.matmul(k.transposed(-1, -2)) + ((keep - 1) * 1e9).unsqueezed(axis: 2)  // [B, N, H, S]
            let o = logits.softmax(axis: -1).matmul(v)  // [B, N, H, c]
            let gate = linearG(x).sigmoid().reshaped([b, n, s, heads, headWidth])
            return linearO((o.unsqueezed(axis: 2) * gate).reshaped([b, n, s, heads * headWidth]))
        }
        return out.transposed(1, 2)
    }
}
