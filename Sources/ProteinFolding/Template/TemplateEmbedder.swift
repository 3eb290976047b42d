// The template stack of AlphaFold 2 monomer (model/template.py, model/embedders.py
// `TemplateEmbedder`): each template's pair features [N, N, 88] go through Linear(88 → c_t) and
// the template pair stack (2 blocks: triangle attention around the starting and the ending node,
// triangle multiplication outgoing and incoming, pair transition ×2; then a LayerNorm); the pair
// embedding then attends over the templates at every (i, j) (pointwise attention, added to z).
// Each template's angle features [N, 57] become one more MSA row (Linear, ReLU, Linear → c_m).
import NeuralNetworks
import TensorCore

/// One block of the template pair stack (`TemplatePairStackBlock`, `tri_mul_first` off).
public final class TemplatePairBlock: Module {
    public let triangleAttentionStarting: TriangleAttention, triangleAttentionEnding: TriangleAttention
    public let triangleMultiplicationOutgoing: TriangleMultiplication, triangleMultiplicationIncoming: TriangleMultiplication
    public let pairTransition: Transition

    public init(channels: Int = 64, heads: Int = 4, headWidth: Int = 16, multiplicationHidden: Int = 64, transitionFactor: Int = 2,
                dtype: DType = .float32, generator: inout RandomGenerator) {
        triangleAttentionStarting = TriangleAttention(pairChannels: channels, headWidth: headWidth, heads: heads, startingNode: true, dtype: dtype,
                                                      generator: &generator)
        triangleAttentionEnding = TriangleAttention(pairChannels: channels, headWidth: headWidth, heads: heads, startingNode: false, dtype: dtype,
                                                    generator: &generator)
        triangleMultiplicationOutgoing = TriangleMultiplication(pairChannels: channels, hidden: multiplicationHidden, outgoing: true, dtype: dtype,
                                                                generator: &generator)
        triangleMultiplicationIncoming = TriangleMultiplication(pairChannels: channels, hidden: multiplicationHidden, outgoing: false, dtype: dtype,
                                                                generator: &generator)
        pairTransition = Transition(channels: channels, factor: transitionFactor, dtype: dtype, generator: &generator)
    }

    /// t `[T, N, N, c_t]` (templates as the batch axis), mask `[T, N, N]`.
    public func callAsFunction(_ t: Tensor, mask: Tensor, chunkSize: Int? = nil) -> Tensor {
        var t = t
        t = t + triangleAttentionStarting(t, mask: mask, chunkSize: chunkSize)
        t = t + triangleAttentionEnding(t, mask: mask, chunkSize: chunkSize)
        t = t + triangleMultiplicationOutgoing(t, mask: mask)
        t = t + triangleMultiplicationIncoming(t, mask: mask)
        return t + pairTransition(t, mask: nil, chunkSize: chunkSize)
    }
}

/// Algorithm 17: at each (i, j) the pair embedding (queries) attends over the T templates' t_ij
/// (keys and values); no gate; templates with mask 0 get a −1e5 bias.
public final class TemplatePointwiseAttention: Module {
    public let linearQ: Linear, linearK: Linear, linearV: Linear, linearO: Linear
    public let heads: Int, headWidth: Int

    public init(pairChannels: Int = 128, templateChannels: Int = 64, heads: Int = 4, headWidth: Int = 16, dtype: DType = .float32,
                generator: inout RandomGenerator) {
        (self.heads, self.headWidth) = (heads, headWidth)
        linearQ = Linear(pairChannels, heads * headWidth, bias: false, initialization: .glorot, dtype: dtype, generator: &generator)
        linearK = Linear(templateChannels, heads * headWidth, bias: false, initialization: .glorot, dtype: dtype, generator: &generator)
        linearV = Linear(templateChannels, heads * headWidth, bias: false, initialization: .glorot, dtype: dtype, generator: &generator)
        linearO = Linear(heads * headWidth, pairChannels, initialization: .zeros, dtype: dtype, generator: &generator)
    }

    /// t `[T, N, N, c_t]`, z `[N, N, c_z]`, templateMask `[T]` → update `[N, N, c_z]`.
    public func callAsFunction(_ t: Tensor, pair z: Tensor, templateMask: [Double]) -> Tensor {
        let (templates, n) = (t.shape[0], t.shape[1])
        let (h, d) = (heads, headWidth)
        // [N·N, H, 1, D] queries against [N·N, H, T, D] keys and values.
        let q = linearQ(z).reshaped([n * n, 1, h, d]).permuted([0, 2, 1, 3]) * (1 / Double(d).squareRoot())
        let kv = t.permuted([1, 2, 0, 3]).contiguous().reshaped([n * n, templates, t.shape[3]])
        let k = linearK(kv).reshaped([n * n, templates, h, d]).permuted([0, 2, 1, 3])
        let v = linearV(kv).reshaped([n * n, templates, h, d]).permuted([0, 2, 1, 3])
        let bias = Tensor(templateMask.map { 1e5 * ($0 - 1) }, shape: [1, 1, 1, templates]).cast(to: z.dtype)
        let weights = (q.matmul(k.mT) + bias).softmax(axis: -1)
        let attended = weights.matmul(v).permuted([0, 2, 1, 3]).contiguous().reshaped([n, n, h * d])
        return linearO(attended)
    }
}

public final class TemplateEmbedder: Module {
    public let pairEmbedder: Linear
    public let pairStack: [TemplatePairBlock]
    public let layerNorm: LayerNorm
    public let pointwiseAttention: TemplatePointwiseAttention
    /// The angle ("single") embedder: Linear(57 → c_m), ReLU, Linear(c_m → c_m).
    public let singleLinear1: Linear, singleLinear2: Linear

    public init(blocks: Int = 2, templateChannels: Int = 64, pairChannels: Int = 128, msaChannels: Int = 256, dtype: DType = .float32,
                generator: inout RandomGenerator) {
        pairEmbedder = Linear(88, templateChannels, initialization: .he, dtype: dtype, generator: &generator)
        pairStack = (0..<blocks).map { _ in TemplatePairBlock(channels: templateChannels, dtype: dtype, generator: &generator) }
        layerNorm = LayerNorm(templateChannels, dtype: dtype)
        pointwiseAttention = TemplatePointwiseAttention(pairChannels: pairChannels, templateChannels: templateChannels, dtype: dtype,
                                                        generator: &generator)
        singleLinear1 = Linear(57, msaChannels, initialization: .he, dtype: dtype, generator: &generator)
        singleLinear2 = Linear(msaChannels, msaChannels, initialization: .he, dtype: dtype, generator: &generator)
    }

    /// The template stack's outputs for one query.
    public struct Embedding {
        /// The update of z `[1, N, N, c_z]`, and the templates after the pair stack `[T, N, N, c_t]`.
        public var pair: Tensor, templatePair: Tensor
        /// The extra MSA rows `[1, T, N, c_m]` and their mask `[1, T, N]` (the ψ mask).
        public var rows: Tensor, rowMask: Tensor
    }

    /// templates: T ≥ 1 templates of the query's N residues; z `[1, N, N, c_z]`; pairMask `[1, N, N]`.
    public func callAsFunction(_ templates: TemplateFeatures, pair z: Tensor, pairMask: Tensor, chunkSize: Int? = nil) -> Embedding {
        let count = templates.count, dtype = z.dtype
        var t = pairEmbedder(Tensor.stack((0..<count).map { TemplateInputs.pairFeatures(templates, template: $0, dtype: dtype) }, axis: 0))
        let mask = Tensor.concat(Array(repeating: pairMask, count: count), axis: 0)
        for block in pairStack { t = block(t, mask: mask, chunkSize: chunkSize) }
        t = layerNorm(t)
        let update = pointwiseAttention(t, pair: z.squeezed(axis: 0), templateMask: Array(repeating: 1, count: count)).unsqueezed(axis: 0)
        let rows = singleLinear2(singleLinear1(TemplateInputs.angleFeatures(templates, dtype: dtype)).relu()).unsqueezed(axis: 0)
        let rowMask = Tensor(TemplateInputs.rowMask(templates).flatMap { $0 }, shape: [1, count, templates.sequences[0].count]).cast(to: dtype)
        return Embedding(pair: update, templatePair: t, rows: rows, rowMask: rowMask)
    }
}
