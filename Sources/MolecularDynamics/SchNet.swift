// SchNet as schnetpack builds it (schnetpack/representation/schnet.py, atomistic/atomwise.py,
// nn/blocks.py): an element embedding, interaction blocks of continuous-filter convolutions whose
// filters come from Gaussian radial features times a cosine cutoff, and an atomwise MLP summed
// over atoms, plus schnetpack's standardisation (×std + mean per atom) and per-element reference
// energies. Energies are differentiable in the positions twice over, so forces (−∂E/∂R) train
// with a force loss. Defaults are schnetpack's: 128 features, 3 interactions, 20 Gaussians,
// cutoff 5 Å, shifted softplus, max_z 100, an atomwise MLP 128 → 64 → 1 with SiLU.
import Graphs
import NeuralNetworks
import TensorCore

public struct SchNetConfiguration: Sendable, Equatable {
    public var nAtomBasis = 128
    public var nInteractions = 3
    public var nRBF = 20
    public var cutoff = 5.0
    /// Filters of the continuous-filter convolution (schnetpack: n_atom_basis when None).
    public var nFilters: Int?
    public var maxZ = 100
    public var dtype: DType = .float32

    public init() {}
}

/// One interaction block: v = f2out(Σ_j in2f(x)_j ⊙ W(r_ij)·fcut(r_ij)).
public final class SchNetInteraction: Module {
    public let in2f: Linear
    public let filterNetwork: [Linear]
    public let f2out: [Linear]

    init(features: Int, filters: Int, rbf: Int, dtype: DType, generator: inout RandomGenerator) {
        in2f = Linear(features, filters, bias: false, initialization: .glorot, dtype: dtype, generator: &generator)
        filterNetwork = [Linear(rbf, filters, initialization: .glorot, dtype: dtype, generator: &generator),
                         Linear(filters, filters, initialization: .glorot, dtype: dtype, generator: &generator)]
        f2out = [Linear(filters, features, initialization: .glorot, dtype: dtype, generator: &generator),
                 Linear(features, features, initialization: .glorot, dtype: dtype, generator: &generator)]
    }

    /// - Parameters: `x` `[N, F]`; `radial` `[E, R]`; `cut` `[E]`; the unordered pairs {i, j}.
    /// - Returns: the update `[N, F]`.
    func callAsFunction(_ x: Tensor, radial: Tensor, cut: Tensor, pairs: PairIndex) -> Tensor {
        let filters = filterNetwork[1](filterNetwork[0](radial).shiftedSoftplus())
        // Σ_j h_j ⊙ W_ij · fcut(r_ij), j → i and i → j, each direction one pass over the pairs
        // (schnetpack gathers, multiplies and scatters).
        let h = in2f(x)
        let messages = h.pairConvolution(filters: filters, scale: cut, pairs: pairs, direction: .forward)
            + h.pairConvolution(filters: filters, scale: cut, pairs: pairs, direction: .reversed)
        return f2out[1](f2out[0](messages).shiftedSoftplus())
    }
}

public final class SchNet: Module, AtomisticModel {
    public let configuration: SchNetConfiguration
    /// `[max_z, F]`, row 0 (padding) zero, as nn.Embedding(padding_idx=0).
    public let embedding: Parameter
    public let interactions: [SchNetInteraction]
    public let output: AtomwiseOutput

    public init(_ configuration: SchNetConfiguration = SchNetConfiguration(), seed: UInt64 = 0) {
        var generator = RandomGenerator(seed: seed)
        let c = configuration, f = c.nAtomBasis
        self.configuration = c
        embedding = Parameter(paddedEmbeddingTable(rows: c.maxZ, features: f, dtype: c.dtype, generator: &generator))
        interactions = (0..<c.nInteractions).map { _ in
            SchNetInteraction(features: f, filters: c.nFilters ?? f, rbf: c.nRBF, dtype: c.dtype, generator: &generator)
        }
        output = AtomwiseOutput(features: f, maxZ: c.maxZ, dtype: c.dtype, generator: &generator)
    }

    public var cutoff: Double { configuration.cutoff }
    public var energyScale: EnergyScale { output.scale }
    public var dtype: DType { configuration.dtype }

    public func atomicEnergies(_ graph: AtomisticGraph) -> Tensor {
        let c = configuration
        // Filters depend on |r_ij| only, so they are computed once per unordered pair and each
        // pair's message goes both ways (half the filter network's work; schnetpack does it twice).
        let edges = EdgeFeatures(graph, maxZ: c.maxZ, pairs: graph.undirectedPairs)
        let radial = RadialBasis.gaussian(count: c.nRBF, cutoff: c.cutoff)(edges.distances)
        let cut = CutoffFunction.cosine(cutoff: c.cutoff)(edges.distances)
        var x = embedding.value.embedding(edges.ids)
        for interaction in interactions {
            x = x + interaction(x, radial: radial, cut: cut, pairs: graph.undirectedPairs.index)
        }
        return output(x, numbers: graph.numbers)
    }
}

/// Any atomistic model as an MD potential: energy, forces by autograd, the stress of periodic
/// cells, pairs from a Verlet list.
public struct MLPotential<Model: AtomisticModel>: Potential {
    public let model: Model
    private var neighbours: VerletList

    public init(model: Model, skin: Double = 0.5) {
        self.model = model
        neighbours = VerletList(cutoff: model.cutoff, skin: skin, maxNeighbours: model.maxNeighbours)
    }

    public var neighbourReference: [SIMD3<Double>] { neighbours.referencePositions }

    public mutating func restoreNeighbours(reference: [SIMD3<Double>], cell: PeriodicCell) throws {
        if !reference.isEmpty { try neighbours.rebuild(at: reference, cell: cell) }
    }

    public mutating func evaluate(_ system: AtomicSystem) throws -> PotentialResult {
        let pairs = try neighbours.update(positions: system.positions, cell: system.cell)
        let dtype = model.dtype
        let periodic = system.cell.pbc.allSatisfy { $0 }
        // Positions and cell under a homogeneous strain ε (zero here): r(1 + ε), cell(1 + ε). The
        // stress is (1/V)·∂E/∂ε, ASE's sign, so periodic cells get it from the same backward pass.
        let strain = Tensor.zeros([3, 3], dtype: dtype).requiringGrad()
        let deformation = strain + Tensor.eye3(dtype)
        let base = Tensor(system.positions.flatMap { [$0.x, $0.y, $0.z] }, shape: [system.count, 3]).cast(to: dtype).requiringGrad()
        let positions = periodic ? base.matmul(deformation) : base
        let cell = system.cell.isPeriodic
            ? Tensor(system.cell.vectors.flatMap { [$0.x, $0.y, $0.z] }, shape: [3, 3]).cast(to: dtype).matmul(periodic ? deformation : Tensor.eye3(dtype))
            : nil
        let energy = model.energy(numbers: system.numbers, positions: positions, pairs: pairs, cell: cell)
        let gradients = try grad(of: [energy], wrt: periodic ? [base, strain] : [base], allowUnused: true)
        let gradient = gradients[0]!.doubles
        let forces = (0..<system.count).map { SIMD3(-gradient[3 * $0], -gradient[3 * $0 + 1], -gradient[3 * $0 + 2]) }
        var stress: [Double]?
        if periodic, let dE = gradients[1]?.doubles {
            let v = system.cell.volume
            // Voigt xx, yy, zz, yz, xz, xy of the symmetrised (1/V)·∂E/∂ε.
            stress = [dE[0], dE[4], dE[8], (dE[5] + dE[7]) / 2, (dE[2] + dE[6]) / 2, (dE[1] + dE[3]) / 2].map { $0 / v }
        }
        return PotentialResult(energy: energy.item(), forces: forces, stress: stress)
    }
}

extension Tensor {
    /// The 3 × 3 identity.
    static func eye3(_ dtype: DType) -> Tensor { Tensor([1.0, 0, 0, 0, 1, 0, 0, 0, 1], shape: [3, 3]).cast(to: dtype) }
}
