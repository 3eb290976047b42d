// What the force-field models share: the model protocol the MD potential drives, the atomwise
// output with schnetpack's standardisation and reference energies, and the edge geometry every
// message-passing model starts from.
import Graphs
import NeuralNetworks
import TensorCore

/// A model of per-atom energies from atomic numbers, positions and pairs within its cutoff.
public protocol AtomisticModel: Module {
    var cutoff: Double { get }
    var dtype: DType { get }
    /// Per-atom energies `[N]`: `positions` `[N, 3]`, pairs within the cutoff, `cell` `[3, 3]`
    /// rows when the pairs carry periodic shifts.
    func atomicEnergies(numbers: [Int], positions: Tensor, pairs: NeighbourPairs, cell: Tensor?) -> Tensor
}

extension AtomisticModel {
    /// E = Σ atomic energies (eV), a scalar.
    public func energy(numbers: [Int], positions: Tensor, pairs: NeighbourPairs, cell: Tensor? = nil) -> Tensor {
        atomicEnergies(numbers: numbers, positions: positions, pairs: pairs, cell: cell).sum()
    }
}

/// schnetpack's `Atomwise` head (pyramidal MLP F → F/2 → 1 with SiLU) followed by its
/// standardisation (×stddev + mean per atom) and per-element reference energies (atomref).
public final class AtomwiseOutput: Module {
    public let outnet: [Linear]
    public var mean = 0.0, stddev = 1.0
    /// Reference energy per element, `[max_z]`.
    public var atomReference: [Double]

    init(features: Int, maxZ: Int, dtype: DType, generator: inout RandomGenerator) {
        let hidden = Swift.max(1, features / 2)
        outnet = [Linear(features, hidden, initialization: .glorot, dtype: dtype, generator: &generator),
                  Linear(hidden, 1, initialization: .glorot, dtype: dtype, generator: &generator)]
        atomReference = Array(repeating: 0, count: maxZ)
    }

    /// `x` `[N, F]` → per-atom energies `[N]`.
    func callAsFunction(_ x: Tensor, numbers: [Int]) -> Tensor {
        let y = outnet[1](outnet[0](x).silu()).squeezed(axis: -1)
        let reference = Tensor(numbers.map { atomReference[$0] }, shape: [numbers.count]).cast(to: y.dtype)
        return y * stddev + mean + reference
    }
}

/// The element ids and edge geometry of one structure: D_ij, |D_ij| and (i, j) as tensors.
struct EdgeFeatures {
    let ids: Tensor, first: Tensor, second: Tensor
    /// `[E, 3]` and `[E]`.
    let vectors: Tensor, distances: Tensor

    init(numbers: [Int], maxZ: Int, positions: Tensor, pairs: NeighbourPairs, cell: Tensor?) {
        precondition(numbers.allSatisfy { $0 > 0 && $0 < maxZ }, "atomic numbers must lie in 1..<\(maxZ)")
        ids = Tensor(numbers.map(Int64.init), shape: [numbers.count])
        (first, second) = pairs.indexTensors
        vectors = EdgeGeometry.vectors(positions: positions, first: first, second: second,
                                       shifts: cell == nil ? nil : pairs.shiftTensor(dtype: positions.dtype), cell: cell)
        distances = EdgeGeometry.distances(vectors)
    }
}

/// nn.Embedding's N(0, 1) table with the padding row 0 zero (padding_idx=0).
func paddedEmbeddingTable(rows: Int, features: Int, dtype: DType, generator: inout RandomGenerator) -> Tensor {
    var table = generator.normal([rows, features], dtype: .float64).doubles
    for k in 0..<features { table[k] = 0 }
    return Tensor(table, shape: [rows, features]).cast(to: dtype)
}

/// SchNet as an MD potential.
public typealias SchNetPotential = MLPotential<SchNet>
