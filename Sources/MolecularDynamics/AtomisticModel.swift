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
    /// The standardisation and reference energies the model adds to its atomwise outputs.
    var energyScale: EnergyScale { get }
    /// Per-atom energies `[N]` of one structure or of a batch of disjoint ones.
    func atomicEnergies(_ graph: AtomisticGraph) -> Tensor
}

extension AtomisticModel {
    /// The most neighbours an atom may have (ViSNet's max_num_neighbors); more is an error, never
    /// a silent truncation. nil: no limit.
    public var maxNeighbours: Int? { nil }

    /// Per-atom energies `[N]`: `positions` `[N, 3]`, pairs within the cutoff, `cell` `[3, 3]`
    /// rows when the pairs carry periodic shifts.
    public func atomicEnergies(numbers: [Int], positions: Tensor, pairs: NeighbourPairs, cell: Tensor? = nil) -> Tensor {
        atomicEnergies(AtomisticGraph(numbers: numbers, positions: positions, pairs: pairs, cell: cell))
    }

    /// E = Σ atomic energies (eV), a scalar.
    public func energy(numbers: [Int], positions: Tensor, pairs: NeighbourPairs, cell: Tensor? = nil) -> Tensor {
        atomicEnergies(numbers: numbers, positions: positions, pairs: pairs, cell: cell).sum()
    }

    /// One energy per structure of a batch, `[B]` (eV).
    public func energies(_ graph: AtomisticGraph) -> Tensor {
        atomicEnergies(graph).segmentSum(graph.structureOfAtom, count: graph.structureCount)
    }
}

/// What a model reads: atoms (of one structure, or of several concatenated), their pairs within
/// the cutoff, and each pair's periodic image offset. Pair indices are global to the batch.
public struct AtomisticGraph {
    public var numbers: [Int]
    /// `[N, 3]` Å, differentiable.
    public var positions: Tensor
    /// Every ordered pair (i, j): both directions of each neighbour.
    public let pairs: GraphPairs
    /// Each unordered pair once (`NeighbourPairs.undirected`), for models whose pair terms depend
    /// on the distance only.
    public let undirectedPairs: GraphPairs
    /// The structure each atom belongs to, `[N]` int64, and how many structures there are.
    public var structureOfAtom: Tensor
    public var structureCount: Int

    /// Pair (i, j) indices `[E]` int64, and S·cell per pair `[E, 3]` (nil: no periodic images).
    public var first: Tensor { pairs.first }
    public var second: Tensor { pairs.second }
    public var offsets: Tensor? { pairs.offsets }
    public var pairIndex: PairIndex { pairs.index }

    /// One structure; `cell` `[3, 3]` rows when `pairs` carries periodic shifts.
    public init(numbers: [Int], positions: Tensor, pairs: NeighbourPairs, cell: Tensor? = nil) {
        (self.numbers, self.positions) = (numbers, positions)
        func set(_ pairs: NeighbourPairs) -> GraphPairs {
            let (first, second) = pairs.indexTensors
            return GraphPairs(first: first, second: second, index: PairIndex(first: pairs.first, second: pairs.second, atomCount: numbers.count),
                              offsets: cell.map { pairs.shiftTensor(dtype: positions.dtype).matmul($0) })
        }
        self.pairs = set(pairs)
        undirectedPairs = set(pairs.undirected)
        structureOfAtom = Tensor(Array(repeating: Int64(0), count: numbers.count), shape: [numbers.count])
        structureCount = 1
    }

    /// Structures side by side as one graph: `structures` hold numbers, positions, pairs and the
    /// cell rows of each (nil for a molecule); positions become one `[N, 3]` tensor of `dtype`
    /// that requires gradients, so forces of every structure come from one backward pass.
    public init(batch structures: [(numbers: [Int], positions: [SIMD3<Double>], pairs: NeighbourPairs, cell: [SIMD3<Double>]?)],
                dtype: DType) {
        var numbers: [Int] = [], positions: [Double] = [], owner: [Int64] = []
        for (index, s) in structures.enumerated() {
            numbers += s.numbers
            positions += s.positions.flatMap { [$0.x, $0.y, $0.z] }
            owner += Array(repeating: Int64(index), count: s.numbers.count)
        }
        self.numbers = numbers
        self.positions = Tensor(positions, shape: [numbers.count, 3]).cast(to: dtype).requiringGrad()
        pairs = GraphPairs(concatenating: structures.map { ($0.numbers.count, $0.pairs, $0.cell) }, dtype: dtype)
        undirectedPairs = GraphPairs(concatenating: structures.map { ($0.numbers.count, $0.pairs.undirected, $0.cell) }, dtype: dtype)
        structureOfAtom = Tensor(owner, shape: [owner.count])
        structureCount = structures.count
    }
}

/// One set of pairs of an `AtomisticGraph`, as the models read them.
public struct GraphPairs {
    /// (i, j) indices `[E]` int64 each, and the same pairs grouped by either end for the fused
    /// pair-message ops.
    public let first: Tensor, second: Tensor
    public let index: PairIndex
    /// S·cell per pair `[E, 3]` (nil: no periodic images).
    public let offsets: Tensor?

    init(first: Tensor, second: Tensor, index: PairIndex, offsets: Tensor?) {
        (self.first, self.second, self.index, self.offsets) = (first, second, index, offsets)
    }

    /// The pairs of structures laid side by side, indices offset by the atoms before each.
    init(concatenating structures: [(atoms: Int, pairs: NeighbourPairs, cell: [SIMD3<Double>]?)], dtype: DType) {
        var first: [Int] = [], second: [Int] = [], offsets: [Double] = [], atoms = 0
        var periodic = false
        for s in structures {
            first += s.pairs.first.map { $0 + atoms }
            second += s.pairs.second.map { $0 + atoms }
            for shift in s.pairs.shifts {
                var offset = SIMD3<Double>.zero
                if let cell = s.cell {
                    periodic = periodic || shift != .zero
                    offset = Double(shift.x) * cell[0] + Double(shift.y) * cell[1] + Double(shift.z) * cell[2]
                }
                offsets += [offset.x, offset.y, offset.z]
            }
            atoms += s.atoms
        }
        self.first = Tensor(first.map(Int64.init), shape: [first.count])
        self.second = Tensor(second.map(Int64.init), shape: [second.count])
        index = PairIndex(first: first, second: second, atomCount: atoms)
        self.offsets = periodic ? Tensor(offsets, shape: [first.count, 3]).cast(to: dtype) : nil
    }
}

/// What every model adds to its raw atomwise outputs y: y·stddev + mean + atomref(Z), the mean
/// and stddev per atom (schnetpack's standardisation) and a reference energy per element. Plain
/// numbers, not weights: checkpoints record them beside the parameters.
public final class EnergyScale {
    public var mean = 0.0, stddev = 1.0
    /// Reference energy per element, `[max_z]`.
    public var atomReference: [Double]

    public init(maxZ: Int) { atomReference = Array(repeating: 0, count: maxZ) }

    /// Raw outputs `[N]` → per-atom energies `[N]`.
    public func callAsFunction(_ y: Tensor, numbers: [Int]) -> Tensor {
        let reference = Tensor(numbers.map { atomReference[$0] }, shape: [numbers.count]).cast(to: y.dtype)
        return y * stddev + mean + reference
    }
}

/// schnetpack's `Atomwise` head (pyramidal MLP F → F/2 → 1 with SiLU) followed by the energy scale.
public final class AtomwiseOutput: Module {
    public let outnet: [Linear]
    public let scale: EnergyScale

    init(features: Int, maxZ: Int, dtype: DType, generator: inout RandomGenerator) {
        let hidden = Swift.max(1, features / 2)
        outnet = [Linear(features, hidden, initialization: .glorot, dtype: dtype, generator: &generator),
                  Linear(hidden, 1, initialization: .glorot, dtype: dtype, generator: &generator)]
        scale = EnergyScale(maxZ: maxZ)
    }

    /// `x` `[N, F]` → per-atom energies `[N]`.
    func callAsFunction(_ x: Tensor, numbers: [Int]) -> Tensor {
        scale(outnet[1](outnet[0](x).silu()).squeezed(axis: -1), numbers: numbers)
    }
}

/// The element ids and edge geometry of one structure: D_ij, |D_ij| and (i, j) as tensors.
struct EdgeFeatures {
    let ids: Tensor, first: Tensor, second: Tensor
    /// `[E, 3]` and `[E]`.
    let vectors: Tensor, distances: Tensor

    /// Over `pairs` (the graph's ordered pairs unless given).
    init(_ graph: AtomisticGraph, maxZ: Int, pairs: GraphPairs? = nil) {
        precondition(graph.numbers.allSatisfy { $0 > 0 && $0 < maxZ }, "atomic numbers must lie in 1..<\(maxZ)")
        let pairs = pairs ?? graph.pairs
        ids = Tensor(graph.numbers.map(Int64.init), shape: [graph.numbers.count])
        (first, second) = (pairs.first, pairs.second)
        let relative = EdgeGeometry.vectors(positions: graph.positions, first: first, second: second)
        vectors = pairs.offsets.map { relative + $0 } ?? relative
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
