// PaiNN as schnetpack builds it (schnetpack/representation/painn.py): scalar features q `[N, F]`
// and vector features μ `[N, 3, F]` (zero at the start), alternating message blocks (filters from
// Gaussian radial features × cosine cutoff; scalar messages, and vector messages along the unit
// pair direction and along the neighbour's μ) and mixing blocks (a bias-free channel mix of μ into
// U and V, an MLP of [q, ‖V‖] whose outputs gate U, shift q and weight ⟨U, V⟩). Rotating the
// molecule rotates μ and leaves q and the energy unchanged. Defaults are schnetpack's: 128 features,
// 3 interactions, 20 Gaussians, cutoff 5 Å, SiLU, ε 1e-8 under the square root of ‖V‖.
import Graphs
import NeuralNetworks
import TensorCore

public struct PaiNNConfiguration: Sendable, Equatable {
    public var nAtomBasis = 128
    public var nInteractions = 3
    public var nRBF = 20
    public var cutoff = 5.0
    public var maxZ = 100
    public var epsilon = 1e-8
    public var dtype: DType = .float32

    public init() {}
}

/// The message block: Δq_i = Σ_j φ(q_j)·W_ij (scalar part), Δμ_i = Σ_j (φ·W)_R · r̂_ij + (φ·W)_μ · μ_j.
public final class PaiNNInteraction: Module {
    /// interatomic_context_net: F → F (SiLU) → 3F.
    public let context: [Linear]

    init(features f: Int, dtype: DType, generator: inout RandomGenerator) {
        context = [Linear(f, f, initialization: .glorot, dtype: dtype, generator: &generator),
                   Linear(f, 3 * f, initialization: .glorot, dtype: dtype, generator: &generator)]
    }

    /// `q` `[N, F]`, `mu` `[N, 3, F]`, `filters` `[E, 3F]`, `direction` `[E, 3]`.
    func callAsFunction(q: Tensor, mu: Tensor, filters: Tensor, direction: Tensor, edges: EdgeFeatures) -> (Tensor, Tensor) {
        let n = q.shape[0], f = q.shape[1]
        let x = context[1](context[0](q).silu()).indexSelect(axis: 0, edges.second) * filters
        let parts = x.split([f, f, f], axis: -1)
        let dq = parts[0].segmentSum(edges.first, count: n)
        let dmu = parts[1].unsqueezed(axis: 1) * direction.unsqueezed(axis: -1)
            + parts[2].unsqueezed(axis: 1) * mu.indexSelect(axis: 0, edges.second)
        return (q + dq, mu + dmu.segmentSum(edges.first, count: n))
    }
}

/// The mixing block, within each atom.
public final class PaiNNMixing: Module {
    /// intraatomic_context_net: 2F → F (SiLU) → 3F.
    public let context: [Linear]
    /// mu_channel_mix: F → 2F, no bias (it acts on vectors).
    public let channelMix: Linear
    let epsilon: Double

    init(features f: Int, epsilon: Double, dtype: DType, generator: inout RandomGenerator) {
        context = [Linear(2 * f, f, initialization: .glorot, dtype: dtype, generator: &generator),
                   Linear(f, 3 * f, initialization: .glorot, dtype: dtype, generator: &generator)]
        channelMix = Linear(f, 2 * f, bias: false, initialization: .glorot, dtype: dtype, generator: &generator)
        self.epsilon = epsilon
    }

    func callAsFunction(q: Tensor, mu: Tensor) -> (Tensor, Tensor) {
        let f = q.shape[1]
        let mixed = channelMix(mu).split([f, f], axis: -1)
        let (u, v) = (mixed[0], mixed[1])
        let norm = (u.square().sum(axis: 1) + epsilon).sqrt()
        let x = context[1](context[0](Tensor.concat([q, norm], axis: -1)).silu()).split([f, f, f], axis: -1)
        let dq = x[0] + x[2] * (u * v).sum(axis: 1)
        return (q + dq, mu + x[1].unsqueezed(axis: 1) * v)
    }
}

public final class PaiNN: Module, AtomisticModel {
    public let configuration: PaiNNConfiguration
    public let embedding: Parameter
    /// filter_net: n_rbf → interactions × 3F, one slice per interaction.
    public let filterNetwork: Linear
    public let interactions: [PaiNNInteraction]
    public let mixing: [PaiNNMixing]
    public let output: AtomwiseOutput

    public init(_ configuration: PaiNNConfiguration = PaiNNConfiguration(), seed: UInt64 = 0) {
        var generator = RandomGenerator(seed: seed)
        let c = configuration, f = c.nAtomBasis
        self.configuration = c
        embedding = Parameter(paddedEmbeddingTable(rows: c.maxZ, features: f, dtype: c.dtype, generator: &generator))
        filterNetwork = Linear(c.nRBF, c.nInteractions * 3 * f, initialization: .glorot, dtype: c.dtype, generator: &generator)
        interactions = (0..<c.nInteractions).map { _ in PaiNNInteraction(features: f, dtype: c.dtype, generator: &generator) }
        mixing = (0..<c.nInteractions).map { _ in PaiNNMixing(features: f, epsilon: c.epsilon, dtype: c.dtype, generator: &generator) }
        output = AtomwiseOutput(features: f, maxZ: c.maxZ, dtype: c.dtype, generator: &generator)
    }

    public var cutoff: Double { configuration.cutoff }
    public var energyScale: EnergyScale { output.scale }
    public var dtype: DType { configuration.dtype }

    public func atomicEnergies(_ graph: AtomisticGraph) -> Tensor {
        let c = configuration, f = c.nAtomBasis
        let edges = EdgeFeatures(graph, maxZ: c.maxZ)
        let direction = edges.vectors / edges.distances.unsqueezed(axis: -1)
        let radial = RadialBasis.gaussian(count: c.nRBF, cutoff: c.cutoff)(edges.distances)
        let filters = (filterNetwork(radial) * CutoffFunction.cosine(cutoff: c.cutoff)(edges.distances).unsqueezed(axis: -1))
            .split(Array(repeating: 3 * f, count: c.nInteractions), axis: -1)
        var q = embedding.value.embedding(edges.ids)
        var mu = Tensor.zeros([graph.numbers.count, 3, f], dtype: c.dtype)
        for k in 0..<c.nInteractions {
            (q, mu) = interactions[k](q: q, mu: mu, filters: filters[k], direction: direction, edges: edges)
            (q, mu) = mixing[k](q: q, mu: mu)
        }
        return output(q, numbers: graph.numbers)
    }
}

/// PaiNN as an MD potential.
public typealias PaiNNPotential = MLPotential<PaiNN>
