// The 3D channel of Transformer-M (lsj2408/Transformer-M `modules/transformer_m_layers.py`:
// `GaussianLayer`, `Molecule3DBias`, `NonLinear`, `AtomTaskHead`), which is Graphormer-3D's pair
// encoding (microsoft/Graphormer `models/graphormer_3d.py`) applied to molecules:
//
//   distances      d_ij = |p_j − p_i|, directions δ_ij = (p_j − p_i) / (d_ij + 10⁻⁵)       [B, N, N], [B, N, N, 3]
//   pair affine    x_ij = (mul[t_i] + mul[t_j]) · d_ij + bias[t_i] + bias[t_j], t from the atomic-number column
//   Gaussian basis g_ijk = exp(−½ ((x_ij − μ_k) / σ_k)²) / (√(2·3.14159) · σ_k), σ = |s| + 0.01       [B, N, N, K]
//   attention bias Linear → GELU → Linear (K → H), −∞ on padded keys                          [B, H, N, N]
//   atom features  Linear(Σ_j over real atoms g_ij) (K → C), added ×0.01 to the atom embeddings  [B, N, C]
//   atom head      biased attention whose probabilities weight δ_ij · v_j, one Linear per axis    [B, N, 3]
//
// Upstream writes π as 3.14159 in the Gaussian's normaliser; so does this file, so the numbers agree.
import NeuralNetworks
import TensorCore

/// How a molecule is seen in one forward pass (Transformer-M's `mode_prob` draws one per molecule).
public enum MoleculeMode: Int, Sendable, CaseIterable {
    /// Both channels: the graph and the 3D structure.
    case both = 0
    case graphOnly = 1
    case structureOnly = 2

    var uses2D: Bool { self != .structureOnly }
    var uses3D: Bool { self != .graphOnly }
}

/// `GaussianLayer`: K learned Gaussians over an affine map of each distance, the map chosen by the
/// pair's atom types (ids from the collator: the i-atom's id + 1 and the j-atom's id + 513).
public final class GaussianBasis: Module {
    public let means: Parameter
    public let stds: Parameter
    public let mul: Parameter
    public let bias: Parameter
    static let pi = 3.14159

    /// Graphormer-3D's initialisation: means and widths uniform on [0, 3], the affine map the identity
    /// (Transformer-M's `apply_init` redraws these four N(0, 0.02), leaving Gaussians about 0.03 wide
    /// at 0 that see only each atom's distance to itself; SciZoo keeps the layer's own start).
    init(kernels: Int, pairTypes: Int, generator: inout RandomGenerator) {
        means = Parameter(generator.uniform([1, kernels], low: 0, high: 3))
        stds = Parameter(generator.uniform([1, kernels], low: 0, high: 3))
        mul = Parameter(.ones([pairTypes, 1]))
        bias = Parameter(.zeros([pairTypes, 1]))
    }

    /// - Parameters: distance `[B, N, N]`; types `[B, N]` atom ids (the x column 0 as collated, 0 padding).
    /// - Returns: `[B, N, N, K]`.
    func callAsFunction(_ distance: Tensor, atomTypes: [Int], graphs: Int, nodes: Int) -> Tensor {
        let (b, n) = (graphs, nodes)
        let rows = Tensor(atomTypes.map { Int64($0 + 1) }, shape: [b, n])
        let columns = Tensor(atomTypes.map { Int64($0 + 1 + GraphormerItem.featureOffset) }, shape: [b, n])
        func pairSum(_ table: Tensor) -> Tensor {
            table.embedding(rows).reshaped([b, n, 1]) + table.embedding(columns).reshaped([b, 1, n])
        }
        let x = pairSum(mul.value) * distance + pairSum(bias.value)
        let k = means.shape[1]
        let width = stds.value.abs() + 0.01                                   // [1, K]
        let z = (x.reshaped([b, n, n, 1]) - means.value.reshaped([1, 1, 1, k])) / width.reshaped([1, 1, 1, k])
        return (z.square() * -0.5).exp() / (width.reshaped([1, 1, 1, k]) * (2 * Self.pi).squareRoot())
    }
}

/// `Molecule3DBias`: the per-head attention bias and the summed pair features of a batch's structures.
public final class Molecule3DBias: Module {
    public let gaussians: GaussianBasis
    public let projection1: Linear, projection2: Linear
    public let edgeProjection: Linear

    init(_ c: GraphormerConfiguration, generator: inout RandomGenerator) {
        gaussians = GaussianBasis(kernels: c.gaussianKernels, pairTypes: c.numEdges, generator: &generator)
        projection1 = Linear(c.gaussianKernels, c.gaussianKernels, generator: &generator)
        projection2 = Linear(c.gaussianKernels, c.heads, generator: &generator)
        edgeProjection = Linear(c.gaussianKernels, c.embeddingDim, generator: &generator)
        initialiseAsUpstream(projection1, projection2, edgeProjection, generator: &generator)
    }

    struct Output {
        /// `[B, H, N, N]`: 0 for molecules without the 3D channel, −∞ on padded keys.
        var bias: Tensor
        /// `[B, N, C]`: zero for molecules without the 3D channel.
        var atomFeatures: Tensor
        /// `[B, N, N, 3]` unit vectors from atom i to atom j, zero without the 3D channel.
        var directions: Tensor
    }

    /// - Parameters: positions `[B, N, 3]`; uses3D `[B]` (1 or 0); keyMask `[B, 1, 1, N]` (0, or −∞ on padding).
    func callAsFunction(_ batch: GraphormerBatch, positions: Tensor, uses3D: Tensor, keyMask: Tensor) -> Output {
        let (b, n) = (batch.graphs, batch.nodes)
        let delta = positions.reshaped([b, 1, n, 3]) - positions.reshaped([b, n, 1, 3])       // p_j − p_i
        let distance = delta.square().sum(axis: 3).sqrt()                                    // [B, N, N]
        let directions = delta / (distance.reshaped([b, n, n, 1]) + 1e-5)
        let atomTypes = (0..<(b * n)).map { batch.x[$0 * 9] }
        let basis = gaussians(distance, atomTypes: atomTypes, graphs: b, nodes: n)          // [B, N, N, K]
        let perHead = projection2(projection1(basis).gelu()).permuted([0, 3, 1, 2])          // [B, H, N, N]
        let on = uses3D.reshaped([b, 1, 1, 1])
        let realKeys = Tensor(batch.nodeCounts.flatMap { m in (0..<n).map { $0 < m ? 1.0 : 0.0 } }, shape: [b, 1, n, 1]).cast(to: basis.dtype)
        let summed = edgeProjection((basis * realKeys).sum(axis: 2))                          // [B, N, C]
        return Output(bias: perHead * on + keyMask, atomFeatures: summed * uses3D.reshaped([b, 1, 1]),
                      directions: directions * on)
    }
}

/// `AtomTaskHead`: per-atom 3-vectors Σ_j p_hij δ_ij v_hj through one Linear per axis, the
/// denoising head (predicts the noise added to the positions).
public final class AtomTaskHead: Module {
    public let qProj: Linear, kProj: Linear, vProj: Linear
    /// One Linear per axis (upstream), or with `equivariantAtomHead` one bias-free Linear shared by all three.
    public let forceProjections: [Linear]
    let heads: Int
    let stream: DropoutStream

    init(_ c: GraphormerConfiguration, stream: DropoutStream, generator: inout RandomGenerator) {
        heads = c.heads
        self.stream = stream
        func layer(_ output: Int) -> Linear {
            let l = Linear(c.embeddingDim, output, generator: &generator)
            initialiseAsUpstream(l, generator: &generator)
            return l
        }
        qProj = layer(c.embeddingDim); kProj = layer(c.embeddingDim); vProj = layer(c.embeddingDim)
        if c.equivariantAtomHead {
            let shared = Linear(c.embeddingDim, 1, bias: false, generator: &generator)
            initialiseAsUpstream(shared, generator: &generator)
            forceProjections = [shared]
        } else {
            forceProjections = (0..<3).map { _ in layer(1) }
        }
    }

    /// - Parameters: x `[B, N, C]` atoms after the last layer; bias `[B, H, N, N]`; directions `[B, N, N, 3]`.
    /// - Returns: `[B, N, 3]`.
    func callAsFunction(_ x: Tensor, bias: Tensor, directions: Tensor) -> Tensor {
        let (b, n, c) = (x.shape[0], x.shape[1], x.shape[2]), d = c / heads
        func split(_ t: Tensor) -> Tensor { t.reshaped([b, n, heads, d]).permuted([0, 2, 1, 3]) }
        let q = split(qProj(x)) * (1 / Double(d).squareRoot())
        let k = split(kProj(x)), v = split(vProj(x))
        // Upstream's head drops 10 % of its attention probabilities in training, whatever the recipe says.
        let probabilities = stream.apply((q.matmul(k.transposed()) + bias).softmax(axis: -1), 0.1, training: isTraining)
        let weighted = probabilities.reshaped([b, heads, 1, n, n]) * directions.permuted([0, 3, 1, 2]).reshaped([b, 1, 3, n, n])
        let summed = weighted.matmul(v.reshaped([b, heads, 1, n, d]).expanded(to: [b, heads, 3, n, d]))  // [B, H, 3, N, D]
        let perAxis = summed.permuted([0, 3, 2, 1, 4]).reshaped([b, n, 3, c])
        if forceProjections.count == 1 { return forceProjections[0](perAxis).reshaped([b, n, 3]) }
        return Tensor.concat((0..<3).map { axis in forceProjections[axis](perAxis.sliced(axis: 2, axis, axis + 1).reshaped([b, n, c])) }, axis: 2)
    }
}
