// OpenFold's attention primitive (model/primitives.py `Attention`): q, k, v projections without
// bias, additive biases, softmax, a sigmoid gate from the query input, an output projection.
// The core is DS4Sci EvoformerAttention (it applies 1/√D itself).
import NeuralNetworks
import TensorCore

public final class GatedAttention: Module {
    public let linearQ: Linear, linearK: Linear, linearV: Linear
    public let linearG: Linear
    public let linearO: Linear
    public let heads: Int, headWidth: Int

    /// - Parameters: channels c_q (= c_kv here), heads H, per-head width c_hidden.
    public init(channels: Int, headWidth: Int, heads: Int, dtype: DType = .float32, generator: inout RandomGenerator) {
        self.heads = heads
        self.headWidth = headWidth
        linearQ = Linear(channels, heads * headWidth, bias: false, initialization: .glorot, dtype: dtype, generator: &generator)
        linearK = Linear(channels, heads * headWidth, bias: false, initialization: .glorot, dtype: dtype, generator: &generator)
        linearV = Linear(channels, heads * headWidth, bias: false, initialization: .glorot, dtype: dtype, generator: &generator)
        linearG = Linear(channels, heads * headWidth, initialization: .gating, dtype: dtype, generator: &generator)
        linearO = Linear(heads * headWidth, channels, initialization: .zeros, dtype: dtype, generator: &generator)
    }

    /// - Parameters:
    ///   - x: `[B, N, L, C]`: attention runs along L for every (b, n).
    ///   - maskBias: `[B, N, 1, 1, L]` or nil. - pairBias: `[B, 1, H, L, L]` or nil.
    /// - Returns: `[B, N, L, C]`.
    public func callAsFunction(_ x: Tensor, maskBias: Tensor?, pairBias: Tensor?) -> Tensor {
        let (b, n, l) = (x.shape[0], x.shape[1], x.shape[2])
        let split = [b, n, l, heads, headWidth]
        let q = linearQ(x).reshaped(split), k = linearK(x).reshaped(split), v = linearV(x).reshaped(split)
        let attended = Tensor.evoformerAttention(q, k, v, biases: [maskBias, pairBias])
        let gated = attended.reshaped([b, n, l, heads * headWidth]).sigmoidGated(by: linearG(x))
        return linearO(gated)
    }
}

/// 1e9·(mask − 1) as `[B, N, 1, 1, L]` from a `[B, N, L]` mask of 0/1: the mask bias OpenFold builds.
func maskBias(_ mask: Tensor) -> Tensor {
    let (b, n, l) = (mask.shape[0], mask.shape[1], mask.shape[2])
    return ((mask - 1) * 1e9).reshaped([b, n, 1, 1, l])
}

/// Runs `body` on chunks of `size` along `axis` and joins the results (inference: bounds the
/// working set of attention, transitions and the outer product mean). nil runs it whole.
func chunked(_ inputs: [Tensor], axis: Int, size: Int?, _ body: ([Tensor]) -> Tensor) -> Tensor {
    let length = inputs[0].shape[axis]
    guard let size, size > 0, size < length else { return body(inputs) }
    return Tensor.assembling(along: axis, length: length) { emit in
        var start = 0
        while start < length {
            let end = Swift.min(length, start + size)
            emit(body(inputs.map { $0.sliced(axis: axis, start, end) }))
            start = end
        }
    }
}
