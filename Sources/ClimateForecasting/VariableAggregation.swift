// Variable aggregation (upstream `var_agg`, an nn.MultiheadAttention with one learned query):
// at every patch the V variable tokens are merged into one by single-query cross-attention.
import NeuralNetworks
import TensorCore

public final class VariableAggregation: Module {
    /// `[1, 1, D]`, zero at initialisation (upstream `var_query`).
    public let query: Parameter
    /// `[3D, D]` and `[3D]`: the q, k and v projections stacked, as nn.MultiheadAttention's.
    public let inProjWeight: Parameter
    public let inProjBias: Parameter
    public let outProj: Linear
    let heads: Int
    /// The factored form below (default) or the textbook one (keys and values projected).
    public var fused = true

    init(embedDim d: Int, heads: Int, generator: inout RandomGenerator) {
        self.heads = heads
        query = Parameter(.zeros([1, 1, d]))
        // nn.MultiheadAttention: Xavier-uniform in_proj_weight, zero in_proj_bias.
        let bound = (6 / Double(d + 3 * d)).squareRoot()
        inProjWeight = Parameter(generator.uniform([3 * d, d], low: -bound, high: bound))
        inProjBias = Parameter(.zeros([3 * d]))
        outProj = Linear(d, d, generator: &generator)
    }

    /// - Parameter x: `[N, V, D]` (N = B·L patch positions, V variables).
    /// - Returns: `[N, D]`.
    public func callAsFunction(_ x: Tensor) -> Tensor {
        outProj(fused ? attendFactored(x) : attendReference(x))
    }

    /// The same attention without projecting a single key or value. With one query q per head h,
    /// the score of token x is q_h·(W_k,h x + b_k,h)/√d_h = x·(W_k,hᵀ q_h)/√d_h + const, and the
    /// constant cancels in the softmax; the output is W_v,h (Σ_v a_hv x_v) + b_v,h because the
    /// weights sum to one. Projections cost O(N·D²) instead of O(N·V·D²): for the released model
    /// that removes about half of a training step's FLOPs.
    func attendFactored(_ x: Tensor) -> Tensor {
        let (n, d) = (x.shape[0], x.shape[2])
        let dh = d / heads
        let weights = inProjWeight.value, biases = inProjBias.value
        let q = query.value.reshaped([1, d]).linear(weight: weights.sliced(axis: 0, 0, d), bias: biases.sliced(axis: 0, 0, d))
        // Per head, the query pulled back through the key projection: [H, D].
        let keyQuery = (weights.sliced(axis: 0, d, 2 * d).reshaped([heads, dh, d]) * q.reshaped([heads, dh, 1])).sum(axis: 1)
            * (1 / Double(dh).squareRoot())
        let attention = x.matmul(keyQuery.mT).softmax(axis: 1)  // [N, V, H]
        let pooled = attention.mT.matmul(x)  // [N, H, D]
        let valueWeights = weights.sliced(axis: 0, 2 * d, 3 * d).reshaped([heads, dh, d])
        let projected = pooled.permuted([1, 0, 2]).matmul(valueWeights.mT)  // [H, N, dh]
        return projected.permuted([1, 0, 2]).reshaped([n, d]) + biases.sliced(axis: 0, 2 * d, 3 * d)
    }

    /// nn.MultiheadAttention's arithmetic: every token projected to a key and a value.
    func attendReference(_ x: Tensor) -> Tensor {
        let (n, v, d) = (x.shape[0], x.shape[1], x.shape[2])
        let dh = d / heads
        let weights = inProjWeight.value, biases = inProjBias.value
        let q = query.value.reshaped([1, d]).linear(weight: weights.sliced(axis: 0, 0, d), bias: biases.sliced(axis: 0, 0, d))
        let k = x.linear(weight: weights.sliced(axis: 0, d, 2 * d), bias: biases.sliced(axis: 0, d, 2 * d)).reshaped([n, v, heads, dh])
        let values = x.linear(weight: weights.sliced(axis: 0, 2 * d, 3 * d), bias: biases.sliced(axis: 0, 2 * d, 3 * d))
            .reshaped([n, v, heads, dh])
        let scores = (k * q.reshaped([1, 1, heads, dh])).sum(axis: 3) * (1 / Double(dh).squareRoot())  // [N, V, H]
        let attention = scores.softmax(axis: 1)
        return (values * attention.unsqueezed(axis: 3)).sum(axis: 1).reshaped([n, d])
    }
}
