// Graphormer (Ying et al. 2021) for graph-level prediction, as microsoft/Graphormer's
// `GraphormerGraphEncoder` and `GraphormerEncoder` compute it (`graphormer_layers.py`,
// `graphormer_graph_encoder(_layer).py`, `models/graphormer.py`):
//
//   node features  Σ_c atom_emb[x_c] + in_deg_emb[deg] + out_deg_emb[deg], a graph token first  [B, N+1, C]
//   attention bias spatial_emb[spd] + multi-hop edge term on node pairs, the graph token's learned
//                  virtual distance on its row and column, plus the collator's 0/−∞ base (twice,
//                  as upstream adds it again to "reset")                                          [B, H, N+1, N+1]
//   layers         post-LN (pre-LN selectable) transformer layers; the attention is the shared
//                  EvoformerAttention op with N = 1 and the graph bias as its pair bias (bias2)
//   head           Linear → GELU → LayerNorm → Linear (no bias) + a learned scalar, read at the graph token
//
// Embeddings with a padding index (0) give zeros there and take no gradient, as PyTorch's do.
// Not modelled: dropout on attention probabilities (the fused kernel has none; upstream's
// `attention_dropout` is 0.1), `layerdrop`, quant noise and the `perturb` (FLAG) input.
import NeuralNetworks
import TensorCore

public struct GraphormerConfiguration: Sendable, Codable, Equatable {
    public var layers: Int
    public var embeddingDim: Int
    public var ffnDim: Int
    public var heads: Int
    public var dropout: Double = 0.1
    public var activationDropout: Double = 0.0
    public var numAtoms = 512 * 9
    public var numInDegree = 512
    public var numOutDegree = 512
    public var numEdges = 512 * 3
    public var numSpatial = 512
    public var numEdgeDistances = 128
    public var multiHopMaxDist = 5
    public var spatialPosMax = 1024
    public var maxNodes = 128
    /// LayerNorm on the input embeddings (upstream's `encoder_normalize_before`, on in every architecture).
    public var normaliseEmbeddings = true
    public var preLayerNorm = false
    public var classes = 1

    public init(layers: Int, embeddingDim: Int, ffnDim: Int, heads: Int) {
        self.layers = layers
        self.embeddingDim = embeddingDim
        self.ffnDim = ffnDim
        self.heads = heads
    }

    /// Upstream's registered architectures (dropout 0.1 and act-dropout 0 from `base_architecture`;
    /// `graphormer_base` sets dropout 0, act-dropout 0.1).
    public static func architecture(_ name: String) -> GraphormerConfiguration? {
        switch name {
        case "graphormer_slim": return GraphormerConfiguration(layers: 12, embeddingDim: 80, ffnDim: 80, heads: 8)
        case "graphormer_base":
            var c = GraphormerConfiguration(layers: 12, embeddingDim: 768, ffnDim: 768, heads: 32)
            c.dropout = 0.0
            c.activationDropout = 0.1
            return c
        case "graphormer_large": return GraphormerConfiguration(layers: 24, embeddingDim: 1024, ffnDim: 1024, heads: 32)
        default: return nil
        }
    }
}

/// The random stream every dropout of one model draws from, reseeded per micro-batch by a trainer
/// so that a resumed run draws what an uninterrupted one would.
public final class DropoutStream {
    var generator: RandomGenerator
    init(seed: UInt64) { generator = RandomGenerator(seed: seed) }
    public func reseed(_ seed: UInt64) { generator = RandomGenerator(seed: seed) }

    func apply(_ x: Tensor, _ p: Double, training: Bool) -> Tensor {
        guard training, p > 0 else { return x }
        return x.dropout(p, training: true, generator: &generator)
    }
}

/// Rows of `table` for `ids`, zero (and gradient-free) where the id is 0: `nn.Embedding(padding_idx=0)`.
/// Row 0 is swapped for a constant zero row before the lookup, so padding costs no masking pass over
/// the (large, for the multi-hop edges) result and row 0 never receives a gradient.
func paddedLookup(_ table: Tensor, _ ids: [Int], shape: [Int]) -> Tensor {
    let padded = Tensor.concat([Tensor.zeros([1, table.shape[1]], dtype: table.dtype), table.sliced(axis: 0, 1)], axis: 0)
    return padded.embedding(Tensor(ids.map(Int64.init), shape: shape))
}

/// Replaces a parameter's value (upstream's N(0, 0.02) weights, zero biases), keeping it a gradient leaf.
func reset(_ parameter: Parameter, _ value: Tensor) { parameter.value = value.detached().requiringGrad() }

func normalTensor(_ shape: [Int], std: Double, generator: inout RandomGenerator) -> Tensor {
    generator.normal(shape, dtype: .float32) * std
}

/// `GraphNodeFeature`: summed atom-feature, degree and graph-token embeddings.
public final class GraphNodeFeature: Module {
    public let atomEncoder: Parameter
    public let inDegreeEncoder: Parameter
    public let outDegreeEncoder: Parameter
    public let graphToken: Parameter

    init(_ c: GraphormerConfiguration, generator: inout RandomGenerator) {
        atomEncoder = Parameter(normalTensor([c.numAtoms + 1, c.embeddingDim], std: 0.02, generator: &generator))
        inDegreeEncoder = Parameter(normalTensor([c.numInDegree, c.embeddingDim], std: 0.02, generator: &generator))
        outDegreeEncoder = Parameter(normalTensor([c.numOutDegree, c.embeddingDim], std: 0.02, generator: &generator))
        graphToken = Parameter(normalTensor([1, c.embeddingDim], std: 0.02, generator: &generator))
    }

    /// - Returns: `[B, N+1, C]`.
    func callAsFunction(_ batch: GraphormerBatch) -> Tensor {
        let (b, n) = (batch.graphs, batch.nodes), c = graphToken.shape[1]
        let atoms = paddedLookup(atomEncoder.value, batch.x, shape: [b, n, 9]).sum(axis: 2)
        let degrees = paddedLookup(inDegreeEncoder.value, batch.degree, shape: [b, n]) + paddedLookup(outDegreeEncoder.value, batch.degree, shape: [b, n])
        let token = graphToken.value.reshaped([1, 1, c]).expanded(to: [b, 1, c])
        return Tensor.concat([token, atoms + degrees], axis: 1)
    }
}

/// `GraphAttnBias` with `edge_type = multi_hop`.
public final class GraphAttentionBias: Module {
    public let edgeEncoder: Parameter
    /// `[numEdgeDistances · H · H, 1]`: hop d's H×H matrix is rows d·H·H ..< (d+1)·H·H.
    public let edgeDistanceEncoder: Parameter
    public let spatialPositionEncoder: Parameter
    public let graphTokenVirtualDistance: Parameter
    let heads: Int, multiHopMaxDist: Int

    init(_ c: GraphormerConfiguration, generator: inout RandomGenerator) {
        heads = c.heads
        multiHopMaxDist = c.multiHopMaxDist
        edgeEncoder = Parameter(normalTensor([c.numEdges + 1, c.heads], std: 0.02, generator: &generator))
        edgeDistanceEncoder = Parameter(normalTensor([c.numEdgeDistances * c.heads * c.heads, 1], std: 0.02, generator: &generator))
        spatialPositionEncoder = Parameter(normalTensor([c.numSpatial, c.heads], std: 0.02, generator: &generator))
        graphTokenVirtualDistance = Parameter(normalTensor([1, c.heads], std: 0.02, generator: &generator))
    }

    /// - Returns: `[B, H, N+1, N+1]`.
    func callAsFunction(_ batch: GraphormerBatch) -> Tensor {
        let (b, n, h) = (batch.graphs, batch.nodes, heads), dtype = spatialPositionEncoder.value.dtype
        var pairs = paddedLookup(spatialPositionEncoder.value, batch.spatialPos, shape: [b, n, n]).permuted([0, 3, 1, 2])
        let hops = min(batch.hops, multiHopMaxDist)
        if hops > 0 {
            // Mean over the three bond features, one H×H map per hop, summed, over the path length.
            var ids = batch.edgeInput
            if hops < batch.hops {
                ids = (0..<(b * n * n)).flatMap { p in (0..<(hops * 3)).map { batch.edgeInput[p * batch.hops * 3 + $0] } }
            }
            let perHop = paddedLookup(edgeEncoder.value, ids, shape: [b * n * n, hops, 3]).mean(axis: 2)  // [M, D, H]
            let maps = edgeDistanceEncoder.value.reshaped([-1, h, h]).sliced(axis: 0, 0, hops)      // [D, H, H]
            let summed = perHop.permuted([1, 0, 2]).contiguous().matmul(maps).sum(axis: 0)          // [M, H]
            let lengths = batch.spatialPos.map { d -> Double in
                let shifted = d == 0 ? 1 : (d > 1 ? d - 1 : d)
                return Double(Swift.min(shifted, multiHopMaxDist))
            }
            let edge = summed / Tensor(lengths, shape: [b * n * n, 1]).cast(to: dtype)
            pairs = pairs + edge.reshaped([b, n, n, h]).permuted([0, 3, 1, 2])
        }
        let t = graphTokenVirtualDistance.value.reshaped([1, h, 1, 1])
        let body = Tensor.concat([t.expanded(to: [b, h, n, 1]), pairs], axis: 3)
        let full = Tensor.concat([t.expanded(to: [b, h, 1, n + 1]), body], axis: 2)
        let base = Tensor(batch.attnBias, shape: [b, 1, n + 1, n + 1]).cast(to: dtype)
        return full + base + base
    }
}

/// Upstream's `MultiheadAttention` (self-attention with a bias) on EvoformerAttention.
public final class GraphormerSelfAttention: Module {
    public let qProj: Linear, kProj: Linear, vProj: Linear, outProj: Linear
    let heads: Int

    init(_ c: GraphormerConfiguration, generator: inout RandomGenerator) {
        heads = c.heads
        func projection() -> Linear {
            let layer = Linear(c.embeddingDim, c.embeddingDim, generator: &generator)
            reset(layer.weight, normalTensor([c.embeddingDim, c.embeddingDim], std: 0.02, generator: &generator))
            reset(layer.bias!, Tensor.zeros([c.embeddingDim]))
            return layer
        }
        qProj = projection(); kProj = projection(); vProj = projection(); outProj = projection()
    }

    /// - Parameters: x `[B, L, C]`; bias `[B, 1, H, L, L]`. - Returns: `[B, L, C]`.
    func callAsFunction(_ x: Tensor, bias: Tensor) -> Tensor {
        let (b, l, c) = (x.shape[0], x.shape[1], x.shape[2]), d = c / heads
        // One GEMM for the three projections (upstream's q, k and v weights, concatenated per call):
        // three times the rows per call lets OpenBLAS use both threads on these small shapes.
        let weight = Tensor.concat([qProj.weight.value, kProj.weight.value, vProj.weight.value], axis: 0)
        let bias3 = Tensor.concat([qProj.bias!.value, kProj.bias!.value, vProj.bias!.value], axis: 0)
        let qkv = x.linear(weight: weight, bias: bias3)  // [B, L, 3C]
        func split(_ part: Int) -> Tensor { qkv.sliced(axis: 2, part * c, (part + 1) * c).reshaped([b, 1, l, heads, d]) }
        let attended = Tensor.evoformerAttention(split(0), split(1), split(2), biases: [nil, bias])
        return outProj(attended.reshaped([b, l, c]))
    }
}

public final class GraphormerLayer: Module {
    public let selfAttention: GraphormerSelfAttention
    public let selfAttentionLayerNorm: LayerNorm
    public let fc1: Linear, fc2: Linear
    public let finalLayerNorm: LayerNorm
    let dropout: Double, activationDropout: Double
    let preLayerNorm: Bool
    let stream: DropoutStream

    init(_ c: GraphormerConfiguration, stream: DropoutStream, generator: inout RandomGenerator) {
        self.stream = stream
        selfAttention = GraphormerSelfAttention(c, generator: &generator)
        selfAttentionLayerNorm = LayerNorm(c.embeddingDim)
        fc1 = Linear(c.embeddingDim, c.ffnDim, generator: &generator)
        fc2 = Linear(c.ffnDim, c.embeddingDim, generator: &generator)
        for layer in [fc1, fc2] {
            reset(layer.weight, normalTensor(layer.weight.shape, std: 0.02, generator: &generator))
            reset(layer.bias!, Tensor.zeros(layer.bias!.shape))
        }
        finalLayerNorm = LayerNorm(c.embeddingDim)
        dropout = c.dropout
        activationDropout = c.activationDropout
        preLayerNorm = c.preLayerNorm
    }

    func callAsFunction(_ input: Tensor, bias: Tensor) -> Tensor {
        var x = preLayerNorm ? selfAttentionLayerNorm(input) : input
        x = input + stream.apply(selfAttention(x, bias: bias), dropout, training: isTraining)
        if !preLayerNorm { x = selfAttentionLayerNorm(x) }
        let residual = x
        if preLayerNorm { x = finalLayerNorm(x) }
        x = fc2(stream.apply(fc1(x).gelu(), activationDropout, training: isTraining))
        x = residual + stream.apply(x, dropout, training: isTraining)
        return preLayerNorm ? x : finalLayerNorm(x)
    }
}

/// Graphormer with upstream's prediction head; `callAsFunction` gives `[B, classes]` at the graph token.
public final class GraphormerModel: Module {
    public let configuration: GraphormerConfiguration
    public let nodeFeature: GraphNodeFeature
    public let attentionBias: GraphAttentionBias
    public let embeddingLayerNorm: LayerNorm?
    public let layers: [GraphormerLayer]
    public let finalLayerNorm: LayerNorm?
    public let headTransform: Linear
    public let headLayerNorm: LayerNorm
    public let headOutput: Linear
    public let headBias: Parameter
    /// Every dropout of the model draws from here; `dropout.reseed` makes a micro-batch's draws reproducible.
    public let dropout: DropoutStream

    public init(_ c: GraphormerConfiguration, seed: UInt64) {
        precondition(c.embeddingDim % c.heads == 0, "Graphormer: embedding_dim \(c.embeddingDim) must divide into \(c.heads) heads")
        var generator = RandomGenerator(seed: seed)
        configuration = c
        let stream = DropoutStream(seed: seed &+ 1)
        dropout = stream
        nodeFeature = GraphNodeFeature(c, generator: &generator)
        attentionBias = GraphAttentionBias(c, generator: &generator)
        embeddingLayerNorm = c.normaliseEmbeddings ? LayerNorm(c.embeddingDim) : nil
        layers = (0..<c.layers).map { _ in GraphormerLayer(c, stream: stream, generator: &generator) }
        finalLayerNorm = c.preLayerNorm ? LayerNorm(c.embeddingDim) : nil
        headTransform = Linear(c.embeddingDim, c.embeddingDim, generator: &generator)
        reset(headTransform.weight, normalTensor(headTransform.weight.shape, std: 0.02, generator: &generator))
        reset(headTransform.bias!, Tensor.zeros([c.embeddingDim]))
        headLayerNorm = LayerNorm(c.embeddingDim)
        headOutput = Linear(c.embeddingDim, c.classes, bias: false, generator: &generator)
        reset(headOutput.weight, normalTensor(headOutput.weight.shape, std: 0.02, generator: &generator))
        headBias = Parameter(.zeros([1]))
    }

    /// The graph token's representation after the last layer, `[B, C]`.
    public func graphRepresentation(_ batch: GraphormerBatch) -> Tensor {
        var x = nodeFeature(batch)
        let bias = attentionBias(batch)
        let (b, l) = (x.shape[0], x.shape[1])
        if let norm = embeddingLayerNorm { x = norm(x) }
        x = dropout.apply(x, configuration.dropout, training: isTraining)
        let pairBias = bias.reshaped([b, 1, configuration.heads, l, l])
        for layer in layers { x = layer(x, bias: pairBias) }
        if let norm = finalLayerNorm { x = norm(x) }
        return x.sliced(axis: 1, 0, 1).reshaped([b, configuration.embeddingDim])
    }

    public func callAsFunction(_ batch: GraphormerBatch) -> Tensor {
        let token = graphRepresentation(batch)
        return headOutput(headLayerNorm(headTransform(token).gelu())) + headBias.value
    }
}
