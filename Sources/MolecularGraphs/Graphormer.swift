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
import ParallelRuntime
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
    /// Stochastic depth on the residual branches, rising linearly from 0 at the first layer to this
    /// at the last (Transformer-M's `droppath_prob`; it replaces `dropout` there when positive).
    public var dropPath = 0.0
    /// Transformer-M's 3D channel (`add_3d`) and its settings.
    public var add3D = false
    /// No graph channel at all (`no_2d`): atoms, degrees-free, and the 3D channel only.
    public var no2D = false
    public var gaussianKernels = 128
    /// Probabilities of training a molecule as 2D+3D, 2D only and 3D only (`mode_prob`).
    public var modeProbabilities = [0.2, 0.2, 0.6]
    /// Standard deviation (Å) of the noise put on positions for the denoising target (`noise_scale`).
    public var noiseScale = 0.2
    /// One bias-free projection for all three axes in the atom head, which makes its vectors turn
    /// exactly with the molecule (upstream projects each axis with its own Linear, which does not).
    public var equivariantAtomHead = false

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
        case "transformer_m_l12", "transformer_m_l18":
            // Transformer-M's README recipe: dropout 0, act-dropout 0.1, droppath 0.1, 3D channel on.
            var c = GraphormerConfiguration(layers: name.hasSuffix("l12") ? 12 : 18, embeddingDim: 768, ffnDim: 768, heads: 32)
            c.dropout = 0.0
            c.activationDropout = 0.1
            c.dropPath = 0.1
            c.add3D = true
            return c
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

    /// Stochastic depth: each molecule's branch `x` `[B, L, C]` kept with probability 1 − p (and
    /// scaled by 1 / (1 − p)). Upstream's DropPath draws per token instead, because it sees fairseq's
    /// [L, B, C] layout as [B, …]; per molecule is what stochastic depth means.
    func dropPath(_ x: Tensor, _ p: Double, training: Bool) -> Tensor {
        guard training, p > 0 else { return x }
        let keep = 1 - p, b = x.shape[0]
        let draws = generator.uniform([b], dtype: .float64).doubles
        let mask = Tensor(draws.map { ($0 + keep).rounded(.down) / keep }, shape: [b, 1, 1]).cast(to: x.dtype)
        return x * mask
    }

    /// One value in [0, 1) (a molecule's Transformer-M mode draw).
    func uniform() -> Double { generator.uniform([1], dtype: .float64).doubles[0] }
}

/// Rows of `table` for `ids`, zero (and gradient-free) where the id is 0: `nn.Embedding(padding_idx=0)`.
/// Row 0 is swapped for a constant zero row before the lookup, so padding costs no masking pass over
/// the (large, for the multi-hop edges) result and row 0 never receives a gradient.
func paddedLookup(_ table: Tensor, _ ids: [Int], shape: [Int]) -> Tensor {
    let padded = Tensor.concat([Tensor.zeros([1, table.shape[1]], dtype: table.dtype), table.sliced(axis: 0, 1)], axis: 0)
    return padded.embedding(Tensor(ids.map(Int64.init), shape: shape))
}

/// Upstream's start for Linear layers, in order: each weight redrawn N(0, 0.02), each bias zeroed,
/// every parameter staying a gradient leaf.
func initialiseAsUpstream(_ layers: Linear..., generator: inout RandomGenerator) {
    for layer in layers {
        layer.weight.value = normalTensor(layer.weight.shape, std: 0.02, generator: &generator).detached().requiringGrad()
        if let bias = layer.bias { bias.value = Tensor.zeros(bias.shape).detached().requiringGrad() }
    }
}

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

    /// - Parameters: uses2D `[B]` (1, or 0 to leave the degrees out), nil when every molecule uses
    ///   the graph; `atoms3D` `[B, N, C]` the 3D channel's atom features, already scaled.
    /// - Returns: `[B, N+1, C]`.
    func callAsFunction(_ batch: GraphormerBatch, uses2D: Tensor? = nil, no2D: Bool = false, atoms3D: Tensor? = nil) -> Tensor {
        let (b, n) = (batch.graphs, batch.nodes), c = graphToken.shape[1]
        var atoms = paddedLookup(atomEncoder.value, batch.x, shape: [b, n, 9]).sum(axis: 2)
        if !no2D {
            let degrees = paddedLookup(inDegreeEncoder.value, batch.degree, shape: [b, n]) + paddedLookup(outDegreeEncoder.value, batch.degree, shape: [b, n])
            atoms = atoms + (uses2D.map { degrees * $0.reshaped([b, 1, 1]) } ?? degrees)
        }
        if let atoms3D { atoms = atoms + atoms3D }
        let token = graphToken.value.reshaped([1, 1, c]).expanded(to: [b, 1, c])
        return Tensor.concat([token, atoms], axis: 1)
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

    /// - Parameters: uses2D `[B]` (1, or 0 to leave the graph terms out), nil when every molecule uses
    ///   the graph; `pairs3D` `[B, H, N, N]` the 3D channel's bias on atom pairs.
    /// - Returns: `[B, H, N+1, N+1]`.
    func callAsFunction(_ batch: GraphormerBatch, uses2D: Tensor? = nil, no2D: Bool = false, pairs3D: Tensor? = nil) -> Tensor {
        let (b, n, h) = (batch.graphs, batch.nodes, heads), dtype = spatialPositionEncoder.value.dtype
        var pairs = no2D ? Tensor.zeros([b, h, n, n], dtype: dtype) : graphPairs(batch)
        if let uses2D, !no2D { pairs = pairs * uses2D.reshaped([b, 1, 1, 1]) }
        if let pairs3D { pairs = pairs + pairs3D }
        let t = graphTokenVirtualDistance.value.reshaped([1, h, 1, 1])
        let body = Tensor.concat([t.expanded(to: [b, h, n, 1]), pairs], axis: 3)
        let full = Tensor.concat([t.expanded(to: [b, h, 1, n + 1]), body], axis: 2)
        let base = Tensor(batch.attnBias, shape: [b, 1, n + 1, n + 1]).cast(to: dtype)
        return full + base + base
    }

    /// Spatial and multi-hop edge terms on atom pairs, `[B, H, N, N]`.
    func graphPairs(_ batch: GraphormerBatch) -> Tensor {
        let (b, n, h) = (batch.graphs, batch.nodes, heads), dtype = spatialPositionEncoder.value.dtype
        var pairs = paddedLookup(spatialPositionEncoder.value, batch.spatialPos, shape: [b, n, n]).permuted([0, 3, 1, 2])
        let hops = min(batch.hops, multiHopMaxDist)
        if hops > 0 {
            // Upstream: the three bond features' embeddings averaged per hop, hop d's through its H×H map,
            // summed over hops, over the path length. The same sum taken in the other order: each hop's
            // table mapped first ([D, V, H], a few thousand rows), then one weighted bag of 3·D rows per
            // atom pair, so the [B·N·N, D, 3, H] lookup upstream builds never exists.
            let padded = Tensor.concat([Tensor.zeros([1, h], dtype: dtype), edgeEncoder.value.sliced(axis: 0, 1)], axis: 0)  // [V, H]
            let vocabulary = padded.shape[0]
            let maps = edgeDistanceEncoder.value.reshaped([-1, h, h]).sliced(axis: 0, 0, hops)                  // [D, H, H]
            let tables = padded.reshaped([1, vocabulary, h]).matmul(maps).reshaped([hops * vocabulary, h])     // [D·V, H]
            let pairCount = b * n * n, slots = hops * 3
            var ids = [Int32](repeating: -1, count: pairCount * slots)
            for p in 0..<pairCount {
                for slot in 0..<slots {
                    let id = batch.edgeInput[p * batch.hops * 3 + slot]
                    if id != 0 { ids[p * slots + slot] = Int32((slot / 3) * vocabulary + id) }  // id 0 is padding
                }
            }
            let weights = batch.spatialPos.map { d -> Double in
                let shifted = d == 0 ? 1 : (d > 1 ? d - 1 : d)
                return 1 / (3 * Double(Swift.min(shifted, multiHopMaxDist)))
            }
            let edge = tables.embeddingBag(EmbeddingBags(ids: ids, size: slots, weights: weights))  // [B·N·N, H]
            pairs = pairs + edge.reshaped([b, n, n, h]).permuted([0, 3, 1, 2])
        }
        return pairs
    }
}

/// Upstream's `MultiheadAttention` (self-attention with a bias) on EvoformerAttention.
public final class GraphormerSelfAttention: Module {
    public let qProj: Linear, kProj: Linear, vProj: Linear, outProj: Linear
    let heads: Int
    /// Set when the atoms are split over ranks: q, k, v travel to head shards and back.
    var ulysses: UlyssesAttention?
    /// The real token count when the shards were padded.
    var sequenceLength: Int?

    init(_ c: GraphormerConfiguration, generator: inout RandomGenerator) {
        heads = c.heads
        func projection() -> Linear {
            let layer = Linear(c.embeddingDim, c.embeddingDim, generator: &generator)
            initialiseAsUpstream(layer, generator: &generator)
            return layer
        }
        qProj = projection(); kProj = projection(); vProj = projection(); outProj = projection()
    }

    /// - Parameters: x `[B, L, C]`; bias `[B, 1, H, L, L]`. - Returns: `[B, L, C]`.
    func callAsFunction(_ x: Tensor, bias: Tensor) -> Tensor {
        let (b, l, c) = (x.shape[0], x.shape[1], x.shape[2])
        // One GEMM for the three projections (upstream's q, k and v weights, concatenated per call):
        // three times the rows per call lets OpenBLAS use both threads on these small shapes.
        let weight = Tensor.concat([qProj.weight.value, kProj.weight.value, vProj.weight.value], axis: 0)
        let bias3 = Tensor.concat([qProj.bias!.value, kProj.bias!.value, vProj.bias!.value], axis: 0)
        let qkv = x.linear(weight: weight, bias: bias3).reshaped([b, 1, l, 3 * c])  // [B, 1, L, 3C]
        if let ulysses {
            // This rank's tokens [B, 1, L/P, H, D]: whole rows of its heads between the all-to-alls.
            let parts = (0..<3).map { qkv.sliced(axis: 3, $0 * c, ($0 + 1) * c).reshaped([b, 1, l, heads, c / heads]) }
            let attended = SequenceAllToAll.abortOnFailure {
                try ulysses.evoformer(parts[0], parts[1], parts[2], biases: [nil, bias], sequenceLength: sequenceLength)
            }
            return outProj(attended.reshaped([b, l, c]))
        }
        let attended = Tensor.evoformerAttention(packed: qkv, heads: heads, biases: [nil, bias])  // [B, 1, L, C]
        return outProj(attended.reshaped([b, l, c]))
    }
}

public final class GraphormerLayer: Module {
    public let selfAttention: GraphormerSelfAttention
    public let selfAttentionLayerNorm: LayerNorm
    public let fc1: Linear, fc2: Linear
    public let finalLayerNorm: LayerNorm
    let dropout: Double, activationDropout: Double, dropPath: Double
    let preLayerNorm: Bool
    let stream: DropoutStream

    init(_ c: GraphormerConfiguration, dropPath: Double = 0, stream: DropoutStream, generator: inout RandomGenerator) {
        self.stream = stream
        self.dropPath = dropPath
        selfAttention = GraphormerSelfAttention(c, generator: &generator)
        selfAttentionLayerNorm = LayerNorm(c.embeddingDim)
        fc1 = Linear(c.embeddingDim, c.ffnDim, generator: &generator)
        fc2 = Linear(c.ffnDim, c.embeddingDim, generator: &generator)
        initialiseAsUpstream(fc1, fc2, generator: &generator)
        finalLayerNorm = LayerNorm(c.embeddingDim)
        dropout = c.dropout
        activationDropout = c.activationDropout
        preLayerNorm = c.preLayerNorm
    }

    func callAsFunction(_ input: Tensor, bias: Tensor) -> Tensor {
        var x = preLayerNorm ? selfAttentionLayerNorm(input) : input
        x = input + branch(selfAttention(x, bias: bias))
        if !preLayerNorm { x = selfAttentionLayerNorm(x) }
        let residual = x
        if preLayerNorm { x = finalLayerNorm(x) }
        x = fc2(stream.apply(fc1(x).gelu(), activationDropout, training: isTraining))
        x = residual + branch(x)
        return preLayerNorm ? x : finalLayerNorm(x)
    }

    /// Dropout on a residual branch, or stochastic depth where the layer has a drop-path probability.
    func branch(_ x: Tensor) -> Tensor {
        dropPath > 0 ? stream.dropPath(x, dropPath, training: isTraining) : stream.apply(x, dropout, training: isTraining)
    }
}

/// What one forward pass gives: the graph-level prediction and, with the 3D channel, the atom head's
/// vectors (the denoising head's estimate of the noise on each atom's position).
public struct GraphormerOutput {
    /// `[B, classes]`, read at the graph token.
    public var prediction: Tensor
    /// `[B, N, 3]`, nil when no molecule of the batch went through the 3D channel.
    public var atomVectors: Tensor?
}

/// Graphormer with upstream's prediction head, and with `add3D` Transformer-M (Graphormer plus the
/// 3D channel and its atom head); `callAsFunction` gives `[B, classes]` at the graph token.
public final class GraphormerModel: Module, ActivationCheckpointing {
    public let configuration: GraphormerConfiguration
    public let nodeFeature: GraphNodeFeature
    public let attentionBias: GraphAttentionBias
    public let structure: Molecule3DBias?
    public let embeddingLayerNorm: LayerNorm?
    public let layers: [GraphormerLayer]
    public let finalLayerNorm: LayerNorm?
    public let atomHead: AtomTaskHead?
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
        // Drop-path probabilities rise linearly over the layers (torch.linspace(0, p, layers)).
        layers = (0..<c.layers).map { i in
            GraphormerLayer(c, dropPath: c.layers > 1 ? c.dropPath * Double(i) / Double(c.layers - 1) : c.dropPath,
                            stream: stream, generator: &generator)
        }
        finalLayerNorm = c.preLayerNorm ? LayerNorm(c.embeddingDim) : nil
        headTransform = Linear(c.embeddingDim, c.embeddingDim, generator: &generator)
        initialiseAsUpstream(headTransform, generator: &generator)
        headLayerNorm = LayerNorm(c.embeddingDim)
        headOutput = Linear(c.embeddingDim, c.classes, bias: false, generator: &generator)
        initialiseAsUpstream(headOutput, generator: &generator)
        headBias = Parameter(.zeros([1]))
        // Drawn last, so a 2D model's weights are the same with or without this channel's code.
        structure = c.add3D ? Molecule3DBias(c, generator: &generator) : nil
        atomHead = c.add3D ? AtomTaskHead(c, stream: stream, generator: &generator) : nil
    }

    /// Each molecule's mode when none is drawn: both channels where it has positions (and the model
    /// the 3D channel), the graph only otherwise, so a batch mixing molecules with and without
    /// structures treats each as it is (upstream switches the 3D channel per batch, on whether any
    /// position in it is non-zero).
    public func defaultModes(_ batch: GraphormerBatch) -> [MoleculeMode] {
        batch.hasPositions.map { has in
            guard configuration.add3D, has else { return .graphOnly }
            return configuration.no2D ? .structureOnly : .both
        }
    }

    /// Transformer-M's training draw: a mode per molecule from `modeProbabilities` (molecules
    /// without positions always see the graph only).
    public func drawModes(_ batch: GraphormerBatch) -> [MoleculeMode] {
        let p = configuration.modeProbabilities
        return batch.hasPositions.map { has in
            let u = dropout.uniform()
            guard configuration.add3D, has else { return .graphOnly }
            if configuration.no2D { return .structureOnly }
            return u < p[0] ? .both : (u < p[0] + p[1] ? .graphOnly : .structureOnly)
        }
    }

    /// Every token after the last layer `[B, N+1, C]`, and the attention bias and directions the
    /// atom head reads.
    /// `tokenShift` `[B, 1, C]` is added to every token before the embedding LayerNorm (DiG's
    /// diffusion-step embedding).
    func encode(_ batch: GraphormerBatch, modes: [MoleculeMode], tokenShift: Tensor? = nil) -> (x: Tensor, bias: Tensor, directions: Tensor?) {
        let c = configuration, (b, n) = (batch.graphs, batch.nodes)
        let dtype = nodeFeature.graphToken.value.dtype
        let uses2D = modes.allSatisfy(\.uses2D) ? nil : Tensor(modes.map { $0.uses2D ? 1.0 : 0.0 }, shape: [b]).cast(to: dtype)
        var atoms3D: Tensor?, pairs3D: Tensor?, directions: Tensor?
        if let structure, modes.contains(where: \.uses3D) {
            let uses3D = Tensor(modes.map { $0.uses3D ? 1.0 : 0.0 }, shape: [b]).cast(to: dtype)
            let keyMask = Tensor(batch.nodeCounts.flatMap { m in (0..<n).map { $0 < m ? 0.0 : -Double.infinity } }, shape: [b, 1, 1, n]).cast(to: dtype)
            let positions = Tensor(batch.positions, shape: [b, n, 3]).cast(to: dtype)
            let out = structure(batch, positions: positions, uses3D: uses3D, keyMask: keyMask)
            (atoms3D, pairs3D, directions) = (out.atomFeatures * 0.01, out.bias, out.directions)
        }
        var x = nodeFeature(batch, uses2D: uses2D, no2D: c.no2D, atoms3D: atoms3D)
        let bias = attentionBias(batch, uses2D: uses2D, no2D: c.no2D, pairs3D: pairs3D)
        let l = x.shape[1]
        if let tokenShift { x = x + tokenShift }
        if let norm = embeddingLayerNorm { x = norm(x) }
        x = dropout.apply(x, c.dropout, training: isTraining)
        let pairBias = bias.reshaped([b, 1, c.heads, l, l])
        let sharding = sequenceParallelGroup.map { SequenceSharding(length: l, ranks: $0.size) }
        if let sharding, let group = sequenceParallelGroup {
            x = sharding.shard(x, axis: 1, rank: group.rank)
            for layer in layers { layer.selfAttention.sequenceLength = l }
        }
        for layer in layers { x = checkpointed(layer, x, bias: pairBias) }
        if let norm = finalLayerNorm { x = norm(x) }  // per token: on the shard under sequence parallelism
        if let sharding, let group = sequenceParallelGroup {
            x = SequenceAllToAll.abortOnFailure { try sharding.gather(x, axis: 1, group: group) }
        }
        return (x, bias, directions)
    }

    /// The sequence-parallel group (atoms split over its ranks, Ulysses attention), or nil.
    public private(set) var sequenceParallelGroup: (any Communicator)?

    /// Splits every molecule's tokens over `group` from now on: embeddings and the attention bias run
    /// whole on every rank, the layers on this rank's tokens (attention through Ulysses, each rank
    /// reading its heads' rows of the bias), and the tokens are gathered after the last layer, so
    /// every rank returns the whole output. Gradients hold this rank's share; summed over the group
    /// they are one process's. Dropout inside the layers draws per shard under it.
    public func enableSequenceParallelism(_ group: any Communicator) throws {
        for layer in layers {
            layer.selfAttention.ulysses = group.size > 1 ? try UlyssesAttention(group: group, queryHeads: configuration.heads) : nil
        }
        sequenceParallelGroup = group.size > 1 ? group : nil
    }

    /// Each layer keeps only its input and the pair bias and runs again in the backward pass, drawing
    /// its dropout masks from the stream state it started from (the stream is left as the plain
    /// forward leaves it).
    public var checkpointsActivations = false

    private func checkpointed(_ layer: GraphormerLayer, _ x: Tensor, bias: Tensor) -> Tensor {
        guard checkpointsActivations else { return layer(x, bias: bias) }
        let stream = dropout, start = stream.generator
        var replaying = false
        let output = layer.checkpointed(true, [x, bias]) { inputs in
            let before = stream.generator
            stream.generator = start
            defer { if replaying { stream.generator = before } }
            return [layer(inputs[0], bias: inputs[1])]
        }[0]
        replaying = true
        return output
    }

    /// The graph token's representation after the last layer, `[B, C]`.
    public func graphRepresentation(_ batch: GraphormerBatch) -> Tensor {
        encode(batch, modes: defaultModes(batch)).x.sliced(axis: 1, 0, 1).reshaped([batch.graphs, configuration.embeddingDim])
    }

    /// The prediction, and the atom head's vectors where the 3D channel ran. `modes` defaults to
    /// `defaultModes`.
    public func forward(_ batch: GraphormerBatch, modes: [MoleculeMode]? = nil, tokenShift: Tensor? = nil) -> GraphormerOutput {
        let (x, bias, directions) = encode(batch, modes: modes ?? defaultModes(batch), tokenShift: tokenShift)
        // After the gather every rank computes the heads on the same tokens: their parameters take
        // gradients on the group's first rank only, so the group's sum is one process's.
        if let group = sequenceParallelGroup, group.rank != 0 {
            let replicated = [headTransform, headLayerNorm, headOutput].flatMap { $0.namedParameters().map(\.1) }
                + [headBias] + (atomHead?.namedParameters().map(\.1) ?? [])
            let saved = replicated.map(\.value)
            for parameter in replicated { parameter.value = parameter.value.detached() }
            defer { for (parameter, value) in zip(replicated, saved) { parameter.value = value } }
            return heads(x, bias: bias, directions: directions, batch: batch)
        }
        return heads(x, bias: bias, directions: directions, batch: batch)
    }

    /// The graph head on the graph token and the atom head on the atoms.
    private func heads(_ x: Tensor, bias: Tensor, directions: Tensor?, batch: GraphormerBatch) -> GraphormerOutput {
        let (b, n) = (batch.graphs, batch.nodes)
        let token = x.sliced(axis: 1, 0, 1).reshaped([b, configuration.embeddingDim])
        let prediction = headOutput(headLayerNorm(headTransform(token).gelu())) + headBias.value
        var atomVectors: Tensor?
        if let atomHead, let directions {
            let atoms = x.sliced(axis: 1, 1, n + 1)
            atomVectors = atomHead(atoms, bias: bias.sliced(axis: 2, 1, n + 1).sliced(axis: 3, 1, n + 1), directions: directions)
        }
        return GraphormerOutput(prediction: prediction, atomVectors: atomVectors)
    }

    public func callAsFunction(_ batch: GraphormerBatch) -> Tensor { forward(batch).prediction }
}
