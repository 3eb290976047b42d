// ViSNet as AI2BMD builds it (microsoft/AI2BMD src/ViSNet/model: visnet_block.py, utils.py,
// output_modules.py): runtime geometry — unit pair vectors expanded in real spherical harmonics to
// lmax (1 or 2, e3nn's component order) and ExpNorm radial features under a cosine cutoff — and
// vector–scalar interactive message passing. Each ViS-MP layer layer-normalises the scalars, runs
// a multi-head attention over the edges whose weights are SiLU(Σ q_i·k_j·dk_ij)·fcut(r_ij) (not
// a softmax), sends scalar messages v_j·dv_ij and vector messages vec_j·s1 + s2·Y(r̂_ij), mixes
// scalars and vectors through ⟨vec1, vec2⟩ and the o-projections, and (all but the last layer)
// updates the edge features from the rejections of vec_i and vec_j along r̂_ij. The edge set is
// upstream's radius graph with self-loops (zero vector, zero distance); the neighbour embedding
// drops them. The head is EquivariantScalar (two gated equivariant blocks); the energy scale adds
// mean, stddev and reference energies per atom as for the other models. Upstream's defaults:
// 256 channels, 9 layers, 8 heads, lmax 2, 32 ExpNorm functions, cutoff 5 Å, max_num_neighbors 32,
// SiLU everywhere, vecnorm_type none.
import Foundation
import Graphs
import NeuralNetworks
import TensorCore

public struct ViSNetConfiguration: Sendable, Equatable {
    public var hiddenChannels = 256
    public var numLayers = 9
    public var numHeads = 8
    public var numRBF = 32
    public var lmax = 2
    public var cutoff = 5.0
    public var maxNumNeighbors = 32
    public var maxZ = 100
    public var dtype: DType = .float32

    public init() {}

    /// Spherical-harmonic components per vector feature: 3 (lmax 1) or 8 (lmax 2).
    public var sphericalComponents: Int { (lmax + 1) * (lmax + 1) - 1 }
}

/// One ViS-MP layer (`ViS_MP`).
public final class ViSMessagePassing: Module {
    public let layernorm: LayerNorm
    public let vecProj: Linear
    public let qProj: Linear, kProj: Linear, vProj: Linear, dkProj: Linear, dvProj: Linear
    public let sProj: Linear
    /// The edge update's projections (nil in the last layer, which does not update edges).
    public let fProj: Linear?, wSrcProj: Linear?, wTrgProj: Linear?
    public let oProj: Linear
    let heads: Int, cutoff: Double

    init(channels f: Int, heads: Int, cutoff: Double, lastLayer: Bool, dtype: DType, generator: inout RandomGenerator) {
        func linear(_ i: Int, _ o: Int, bias: Bool = true) -> Linear {
            Linear(i, o, bias: bias, initialization: .glorot, dtype: dtype, generator: &generator)
        }
        layernorm = LayerNorm(f, dtype: dtype)
        vecProj = linear(f, 3 * f, bias: false)
        (qProj, kProj, vProj) = (linear(f, f), linear(f, f), linear(f, f))
        (dkProj, dvProj) = (linear(f, f), linear(f, f))
        sProj = linear(f, 2 * f)
        fProj = lastLayer ? nil : linear(f, f)
        wSrcProj = lastLayer ? nil : linear(f, f, bias: false)
        wTrgProj = lastLayer ? nil : linear(f, f, bias: false)
        oProj = linear(f, 3 * f)
        (self.heads, self.cutoff) = (heads, cutoff)
    }

    /// `x` `[N, F]`, `vec` `[N, S, F]`, `edges` with `features` `[E, F]`; returns (Δx, Δvec, Δf).
    func callAsFunction(_ x: Tensor, _ vec: Tensor, _ edges: ViSNetEdges, features: Tensor) -> (Tensor, Tensor, Tensor?) {
        let n = x.shape[0], f = x.shape[1], e = edges.first.count, d = f / heads
        let xn = layernorm(x)
        let q = qProj(xn).reshaped([n, heads, d]), k = kProj(xn).reshaped([n, heads, d]), v = vProj(xn).reshaped([n, heads, d])
        let dk = dkProj(features).silu().reshaped([e, heads, d]), dv = dvProj(features).silu().reshaped([e, heads, d])
        let projected = vecProj(vec).split([f, f, f], axis: -1)
        let vecDot = (projected[0] * projected[1]).sum(axis: 1)

        // Messages j → i along each edge.
        let attention = (q.indexSelect(axis: 0, edges.first) * k.indexSelect(axis: 0, edges.second) * dk).sum(axis: -1).silu()
            * edges.cut.unsqueezed(axis: -1)
        let values = (v.indexSelect(axis: 0, edges.second) * dv * attention.unsqueezed(axis: -1)).reshaped([e, f])
        let s = sProj(values).silu().split([f, f], axis: -1)
        let vecMessages = vec.indexSelect(axis: 0, edges.second) * s[0].unsqueezed(axis: 1)
            + s[1].unsqueezed(axis: 1) * edges.harmonics.unsqueezed(axis: -1)
        let xSum = values.segmentSum(edges.first, count: n), vecSum = vecMessages.segmentSum(edges.first, count: n)

        var df: Tensor?
        if let fProj, let wSrcProj, let wTrgProj {
            let w1 = Self.rejection(wTrgProj(vec).indexSelect(axis: 0, edges.first), edges.harmonics)
            let w2 = Self.rejection(wSrcProj(vec).indexSelect(axis: 0, edges.second), -edges.harmonics)
            df = fProj(features).silu() * (w1 * w2).sum(axis: 1)
        }
        let o = oProj(xSum).split([f, f, f], axis: -1)
        return (vecDot * o[1] + o[2], projected[2] * o[0].unsqueezed(axis: 1) + vecSum, df)
    }

    /// `vec` `[E, S, F]` without its component along `direction` `[E, S]`.
    static func rejection(_ vec: Tensor, _ direction: Tensor) -> Tensor {
        let along = direction.unsqueezed(axis: -1)
        return vec - (vec * along).sum(axis: 1, keepDims: true) * along
    }
}

/// Schütt et al.'s gated equivariant block (`GatedEquivariantBlock`).
public final class GatedEquivariantBlock: Module {
    public let vec1Proj: Linear, vec2Proj: Linear
    public let updateNet: [Linear]
    let outputs: Int, scalarActivation: Bool

    init(channels f: Int, outputs: Int, scalarActivation: Bool, dtype: DType, generator: inout RandomGenerator) {
        vec1Proj = Linear(f, f, bias: false, initialization: .glorot, dtype: dtype, generator: &generator)
        vec2Proj = Linear(f, outputs, bias: false, initialization: .glorot, dtype: dtype, generator: &generator)
        updateNet = [Linear(2 * f, f, initialization: .glorot, dtype: dtype, generator: &generator),
                     Linear(f, 2 * outputs, initialization: .glorot, dtype: dtype, generator: &generator)]
        (self.outputs, self.scalarActivation) = (outputs, scalarActivation)
    }

    /// `x` `[N, F]`, `v` `[N, S, F]` → `[N, out]`, `[N, S, out]`.
    func callAsFunction(_ x: Tensor, _ v: Tensor) -> (Tensor, Tensor) {
        let norms = Self.norm(vec1Proj(v))
        let parts = updateNet[1](updateNet[0](Tensor.concat([x, norms], axis: -1)).silu()).split([outputs, outputs], axis: -1)
        let gated = parts[1].unsqueezed(axis: 1) * vec2Proj(v)
        return (scalarActivation ? parts[0].silu() : parts[0], gated)
    }

    /// ‖v‖ over the component axis, `[N, S, F]` → `[N, F]`, with gradient 0 (not NaN) at v = 0.
    static func norm(_ v: Tensor) -> Tensor {
        let squares = v.square().sum(axis: 1)
        let positive = squares > 0.0
        return Tensor.where(positive, Tensor.where(positive, squares, Tensor.ones([], dtype: v.dtype)).sqrt(), Tensor.zeros([], dtype: v.dtype))
    }
}

/// The edges a ViSNet layer sees: the pairs within the cutoff and one self-loop per atom, with
/// their spherical harmonics `[E, S]` (zero for self-loops), cosine cutoff `[E]` and distances.
struct ViSNetEdges {
    let first: Tensor, second: Tensor
    let distances: Tensor, harmonics: Tensor, cut: Tensor
    /// How many of the edges are pairs (the rest are self-loops).
    let pairs: Int

    init(_ graph: AtomisticGraph, c: ViSNetConfiguration) {
        let n = graph.numbers.count
        let pairEdges = EdgeFeatures(graph, maxZ: c.maxZ)
        let loops = Tensor((0..<n).map(Int64.init), shape: [n])
        pairs = pairEdges.first.count
        first = Tensor.concat([pairEdges.first, loops], axis: 0)
        second = Tensor.concat([pairEdges.second, loops], axis: 0)
        distances = Tensor.concat([pairEdges.distances, Tensor.zeros([n], dtype: c.dtype)], axis: 0)
        let unit = pairEdges.vectors / pairEdges.distances.unsqueezed(axis: -1)
        harmonics = Tensor.concat([SphericalHarmonics.real(unit, lmax: c.lmax), Tensor.zeros([n, c.sphericalComponents], dtype: c.dtype)], axis: 0)
        cut = CutoffFunction.cosine(cutoff: c.cutoff)(distances)
    }
}

/// Real spherical harmonics of unit vectors in e3nn's order and normalisation (component, with
/// Y₁ = (x, y, z)), as AI2BMD's `Sphere` writes them.
enum SphericalHarmonics {
    /// `[E, 3]` → `[E, 3]` (lmax 1) or `[E, 8]` (lmax 2).
    static func real(_ u: Tensor, lmax: Int) -> Tensor {
        let c = u.split([1, 1, 1], axis: -1)
        let (x, y, z) = (c[0], c[1], c[2])
        guard lmax == 2 else { return u }
        let r3 = 3.0.squareRoot()
        return Tensor.concat([x, y, z, x * z * r3, x * y * r3, y.square() - (x.square() + z.square()) * 0.5, y * z * r3,
                              (z.square() - x.square()) * (r3 / 2)], axis: -1)
    }
}

public final class ViSNet: Module, AtomisticModel {
    public let configuration: ViSNetConfiguration
    /// nn.Embedding(max_z, F): N(0, 1), no padding row.
    public let embedding: Parameter
    /// NeighborEmbedding: its own element table, the distance projection and the combination.
    public let neighborEmbedding: Parameter
    public let distanceProj: Linear, combine: Linear
    /// EdgeEmbedding's projection of the radial features.
    public let edgeProj: Linear
    public let layers: [ViSMessagePassing]
    public let outNorm: LayerNorm
    public let outputNetwork: [GatedEquivariantBlock]
    public let energyScale: EnergyScale

    public init(_ configuration: ViSNetConfiguration = ViSNetConfiguration(), seed: UInt64 = 0) {
        let c = configuration, f = c.hiddenChannels
        precondition(c.lmax == 1 || c.lmax == 2, "ViSNet: lmax must be 1 or 2, got \(c.lmax)")
        precondition(f % c.numHeads == 0, "ViSNet: hidden_channels (\(f)) must be divisible by num_heads (\(c.numHeads))")
        var generator = RandomGenerator(seed: seed)
        self.configuration = c
        embedding = Parameter(generator.normal([c.maxZ, f], dtype: c.dtype))
        neighborEmbedding = Parameter(generator.normal([c.maxZ, f], dtype: c.dtype))
        distanceProj = Linear(c.numRBF, f, initialization: .glorot, dtype: c.dtype, generator: &generator)
        combine = Linear(2 * f, f, initialization: .glorot, dtype: c.dtype, generator: &generator)
        edgeProj = Linear(c.numRBF, f, initialization: .glorot, dtype: c.dtype, generator: &generator)
        layers = (0..<c.numLayers).map { index in
            ViSMessagePassing(channels: f, heads: c.numHeads, cutoff: c.cutoff, lastLayer: index == c.numLayers - 1, dtype: c.dtype,
                              generator: &generator)
        }
        outNorm = LayerNorm(f, dtype: c.dtype)
        outputNetwork = [GatedEquivariantBlock(channels: f, outputs: f / 2, scalarActivation: true, dtype: c.dtype, generator: &generator),
                         GatedEquivariantBlock(channels: f / 2, outputs: 1, scalarActivation: false, dtype: c.dtype, generator: &generator)]
        energyScale = EnergyScale(maxZ: c.maxZ)
    }

    public var cutoff: Double { configuration.cutoff }
    public var dtype: DType { configuration.dtype }
    public var maxNeighbours: Int? { configuration.maxNumNeighbors }

    public func atomicEnergies(_ graph: AtomisticGraph) -> Tensor {
        let c = configuration, n = graph.numbers.count
        let edges = ViSNetEdges(graph, c: c)
        let ids = Tensor(graph.numbers.map(Int64.init), shape: [n])
        let radial = RadialBasis.expNorm(count: c.numRBF, cutoffUpper: c.cutoff)(edges.distances)

        // Neighbour embedding over the pairs only (upstream drops the self-loops there).
        let pairRange = 0..<edges.pairs
        let pairRadial = radial.sliced(axis: 0, pairRange.lowerBound, pairRange.upperBound)
        let weights = distanceProj(pairRadial) * edges.cut.sliced(axis: 0, 0, edges.pairs).unsqueezed(axis: -1)
        let neighbours = (neighborEmbedding.value.embedding(ids).indexSelect(axis: 0, edges.second.sliced(axis: 0, 0, edges.pairs)) * weights)
            .segmentSum(edges.first.sliced(axis: 0, 0, edges.pairs), count: n)
        var x = combine(Tensor.concat([embedding.value.embedding(ids), neighbours], axis: -1))
        var vec = Tensor.zeros([n, c.sphericalComponents, c.hiddenChannels], dtype: c.dtype)
        var features = (x.indexSelect(axis: 0, edges.first) + x.indexSelect(axis: 0, edges.second)) * edgeProj(radial)

        for layer in layers {
            let (dx, dvec, df) = layer(x, vec, edges, features: features)
            x = x + dx
            vec = vec + dvec
            if let df { features = features + df }
        }
        var (s, v) = (outNorm(x), vec)
        for block in outputNetwork { (s, v) = block(s, v) }
        return energyScale(s.squeezed(axis: -1), numbers: graph.numbers)
    }
}

/// ViSNet as an MD potential.
public typealias ViSNetPotential = MLPotential<ViSNet>
