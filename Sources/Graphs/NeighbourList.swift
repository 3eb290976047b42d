// Neighbour lists: every ordered pair (i, j) of atoms, periodic images included, closer than a
// cutoff — the contract of ASE's `neighbor_list('ijdDS', atoms, cutoff)`:
//   D = r_j − r_i + S · cell   (S: integer cell shifts, cell vectors as rows)
//   d = |D| < cutoff, and only (i, i, S = 0) is left out,
// so a cell smaller than twice the cutoff yields several images of one neighbour, and an atom
// can neighbour its own images (as ASE; the minimum-image lists of torchmd-net and NNPOps
// miss these). Pairs come sorted by (i, j, S) whatever the search, so results are reproducible.
//
// One search serves both strategies: atoms are binned on fractional coordinates (wrapped into
// the cell on periodic axes) and each bin is compared with the bins around it, the bins that
// cross a periodic boundary carrying their cell shift. With bins at least a cutoff wide the
// search is a cell list, linear in N; with one bin per axis it is the all-pairs O(N²) search.
import TensorCore

#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif

/// Pairs within a cutoff, `E` of them, sorted by (first, second, shift).
public struct NeighbourPairs: Sendable, Equatable {
    /// i: the centre atom of each pair.
    public var first: [Int]
    /// j: the neighbour.
    public var second: [Int]
    /// S: integer cell shifts of j's image.
    public var shifts: [SIMD3<Int>]
    /// D = r_j − r_i + S · cell (Å).
    public var vectors: [SIMD3<Double>]
    /// |D| (Å).
    public var distances: [Double]

    public var count: Int { first.count }

    /// (i, j) as int64 tensors `[E]` each, for `indexSelect` and `segmentSum`.
    public var indexTensors: (first: Tensor, second: Tensor) {
        (Tensor(first.map(Int64.init), shape: [count]), Tensor(second.map(Int64.init), shape: [count]))
    }

    /// S as a float tensor `[E, 3]` in `dtype`, for `EdgeGeometry.vectors`.
    public func shiftTensor(dtype: DType = .float64) -> Tensor {
        Tensor(shifts.flatMap { [Double($0.x), Double($0.y), Double($0.z)] }, shape: [count, 3]).cast(to: dtype)
    }

    /// Each unordered pair once: (i, j, S) with i < j, or i = j with S's first non-zero component
    /// positive; its mirror (j, i, −S) is left out. For models whose pair terms depend on the
    /// distance only (SchNet's filters), which then do half the pair work and send each pair's
    /// message both ways. Traps unless the pairs come in mirrored couples, as every list built
    /// here does.
    public var undirected: NeighbourPairs {
        var half = NeighbourPairs(first: [], second: [], shifts: [], vectors: [], distances: [])
        for p in 0..<count where Self.isCanonical(first[p], second[p], shifts[p]) {
            half.first.append(first[p]); half.second.append(second[p]); half.shifts.append(shifts[p])
            half.vectors.append(vectors[p]); half.distances.append(distances[p])
        }
        precondition(2 * half.count == count, "undirected pairs: \(count) pairs are not mirrored couples (\(half.count) canonical)")
        return half
    }

    private static func isCanonical(_ i: Int, _ j: Int, _ s: SIMD3<Int>) -> Bool {
        if i != j { return i < j }
        return s.x != 0 ? s.x > 0 : s.y != 0 ? s.y > 0 : s.z > 0
    }

    /// Neighbours per atom, `[N]`.
    public func neighbourCounts(atoms: Int) -> [Int] {
        var counts = [Int](repeating: 0, count: atoms)
        for i in first { counts[i] += 1 }
        return counts
    }
}

/// A neighbour search that cannot be done, named by its cause.
public enum NeighbourListError: Error, Equatable, CustomStringConvertible {
    case invalidCell(String)
    case invalidInput(String)
    case tooManyNeighbours(atom: Int, count: Int, limit: Int)

    public var description: String {
        switch self {
        case .invalidCell(let message): "neighbour list: \(message)"
        case .invalidInput(let message): "neighbour list: \(message)"
        case .tooManyNeighbours(let atom, let count, let limit):
            "neighbour list: atom \(atom) has \(count) neighbours within the cutoff, more than the limit of \(limit) "
                + "(raise max_num_neighbors or lower the cutoff; pairs are never dropped silently)"
        }
    }
}

public enum NeighbourList {
    /// How pairs are found. `.automatic` takes all pairs below `allPairsLimit` atoms, a cell
    /// list from there on.
    public enum Strategy: Sendable { case automatic, allPairs, cellList }

    /// Below this many atoms `.automatic` compares all pairs (the cell list's set-up costs more).
    public static let allPairsLimit = 64

    /// Every pair closer than `cutoff` (Å), both directions; see the file header for the contract.
    /// `maxNeighbours` turns more neighbours than that on any atom into an error.
    public static func build(positions: [SIMD3<Double>], cutoff: Double, cell: PeriodicCell = .none,
                             strategy: Strategy = .automatic, maxNeighbours: Int? = nil) throws(NeighbourListError) -> NeighbourPairs {
        guard cutoff > 0, cutoff.isFinite else { throw .invalidInput("cutoff must be a positive number of Å, got \(cutoff)") }
        for (atom, r) in positions.enumerated() where !(r.x.isFinite && r.y.isFinite && r.z.isFinite) {
            throw .invalidInput("atom \(atom) has a non-finite position \(r)")
        }
        let useCells = strategy == .cellList || (strategy == .automatic && positions.count > allPairsLimit)
        let grid = BinGrid(positions: positions, cutoff: cutoff, cell: cell, cellList: useCells)
        var pairs = grid.pairs(positions: positions, cutoff: cutoff)
        pairs.sortCanonically()
        try pairs.requireAtMost(maxNeighbours, atoms: positions.count)
        return pairs
    }
}

extension NeighbourPairs {
    /// Throws for the first atom with more than `limit` neighbours (nil: no limit): pairs are never dropped.
    func requireAtMost(_ limit: Int?, atoms: Int) throws(NeighbourListError) {
        guard let limit else { return }
        for (atom, count) in neighbourCounts(atoms: atoms).enumerated() where count > limit {
            throw .tooManyNeighbours(atom: atom, count: count, limit: limit)
        }
    }

    /// Adds (i, j, S) when |r_j − r_i + S · cell| < cutoff (`cell` as rows).
    mutating func appendIfWithin(_ cutoff: Double, _ i: Int, _ j: Int, shift: SIMD3<Int>, positions: [SIMD3<Double>], cell: [SIMD3<Double>]) {
        let image = Double(shift.x) * cell[0] + Double(shift.y) * cell[1] + Double(shift.z) * cell[2]
        let vector = positions[j] - positions[i] + image
        let distance = length(vector)
        guard distance < cutoff else { return }
        first.append(i)
        second.append(j)
        shifts.append(shift)
        vectors.append(vector)
        distances.append(distance)
    }

    /// Sorts by (first, second, shift) in place.
    mutating func sortCanonically() {
        let order = (0..<count).sorted { a, b in
            if first[a] != first[b] { return first[a] < first[b] }
            if second[a] != second[b] { return second[a] < second[b] }
            let sa = shifts[a], sb = shifts[b]
            return (sa.x, sa.y, sa.z) < (sb.x, sb.y, sb.z)
        }
        first = order.map { first[$0] }
        second = order.map { second[$0] }
        shifts = order.map { shifts[$0] }
        vectors = order.map { vectors[$0] }
        distances = order.map { distances[$0] }
    }
}

/// Atoms binned on fractional coordinates; see the file header.
struct BinGrid {
    let frame: [SIMD3<Double>]  // rows: the cell (completed), or the identity without periodicity
    let periodic: [Bool]
    let binCounts: SIMD3<Int>
    let reach: SIMD3<Int>  // bins searched on each side, per axis
    let wraps: [SIMD3<Int>]  // per atom: whole cells removed on wrapping (r_wrapped = r − wrap · cell)
    let binOfAtom: [Int]
    let atomsInBin: [[Int]]

    init(positions: [SIMD3<Double>], cutoff: Double, cell: PeriodicCell, cellList: Bool) {
        let periodic = cell.pbc
        self.periodic = periodic
        let hasPeriodicAxis = cell.isPeriodic
        let frame = hasPeriodicAxis ? cell.completed : [SIMD3(1, 0, 0), SIMD3(0, 1, 0), SIMD3(0, 0, 1)]
        self.frame = frame
        let inverse = BinGrid.inverse(frame)
        // Distance between opposite faces of the frame cell, per axis: the length one unit of
        // fractional coordinate spans across the planes of that axis.
        let volume = abs(determinant(frame))
        let faceDistance = (0..<3).map { axis in volume / length(cross(frame[(axis + 1) % 3], frame[(axis + 2) % 3])) }

        var fractions = positions.map { r in
            SIMD3(dot(r, SIMD3(inverse[0].x, inverse[1].x, inverse[2].x)),
                  dot(r, SIMD3(inverse[0].y, inverse[1].y, inverse[2].y)),
                  dot(r, SIMD3(inverse[0].z, inverse[1].z, inverse[2].z)))
        }
        var wraps = [SIMD3<Int>](repeating: .zero, count: positions.count)
        var low = SIMD3<Double>(repeating: 0), extent = SIMD3<Double>(repeating: 1)
        for axis in 0..<3 {
            if periodic[axis] {
                for atom in fractions.indices {
                    var whole = fractions[atom][axis].rounded(.down)
                    var f = fractions[atom][axis] - whole
                    if f >= 1 { f -= 1; whole += 1 }  // −1e-17 wraps to 1 − ε, which can round to 1
                    fractions[atom][axis] = f
                    wraps[atom][axis] = Int(whole)
                }
            } else {
                let values = fractions.map { $0[axis] }
                low[axis] = values.min() ?? 0
                extent[axis] = (values.max() ?? 0) - low[axis]
            }
        }
        var counts = SIMD3<Int>(repeating: 1), reach = SIMD3<Int>(repeating: 0)
        for axis in 0..<3 {
            let span = extent[axis] * faceDistance[axis]  // Å across the occupied range
            if cellList, span >= 2 * cutoff { counts[axis] = Int((span / cutoff).rounded(.down)) }
        }
        // Keep the grid no larger than a few bins per atom (a sparse box would waste memory).
        let budget = 4 * positions.count + 64
        while counts.x * counts.y * counts.z > budget {
            let current = counts
            let axis = (0..<3).max { current[$0] < current[$1] }!
            counts[axis] = Swift.max(1, counts[axis] / 2)
        }
        for axis in 0..<3 {
            let binWidth = extent[axis] * faceDistance[axis] / Double(counts[axis])
            if periodic[axis] {
                reach[axis] = binWidth > 0 ? Int((cutoff / binWidth).rounded(.up)) : 0
            } else {
                reach[axis] = counts[axis] - 1  // every occupied bin; offsets past the edges are skipped
                if binWidth > 0 { reach[axis] = Swift.min(reach[axis], Int((cutoff / binWidth).rounded(.up))) }
            }
        }
        binCounts = counts
        self.reach = reach
        self.wraps = wraps
        var binOfAtom = [Int](repeating: 0, count: positions.count)
        var atomsInBin = [[Int]](repeating: [], count: counts.x * counts.y * counts.z)
        for (atom, f) in fractions.enumerated() {
            var index = SIMD3<Int>.zero
            for axis in 0..<3 {
                let unit = extent[axis] > 0 ? (f[axis] - low[axis]) / extent[axis] : 0
                index[axis] = Swift.min(counts[axis] - 1, Swift.max(0, Int((unit * Double(counts[axis])).rounded(.down))))
            }
            let bin = (index.x * counts.y + index.y) * counts.z + index.z
            binOfAtom[atom] = bin
            atomsInBin[bin].append(atom)
        }
        self.binOfAtom = binOfAtom
        self.atomsInBin = atomsInBin
    }

    func pairs(positions: [SIMD3<Double>], cutoff: Double) -> NeighbourPairs {
        var result = NeighbourPairs(first: [], second: [], shifts: [], vectors: [], distances: [])
        let counts = binCounts
        for bin in atomsInBin.indices where !atomsInBin[bin].isEmpty {
            let home = SIMD3(bin / (counts.y * counts.z), (bin / counts.z) % counts.y, bin % counts.z)
            for ox in -reach.x...reach.x {
                for oy in -reach.y...reach.y {
                    for oz in -reach.z...reach.z {
                        let offset = SIMD3(ox, oy, oz)
                        var other = SIMD3<Int>.zero, binShift = SIMD3<Int>.zero
                        var outside = false
                        for axis in 0..<3 {
                            let t = home[axis] + offset[axis]
                            if periodic[axis] {
                                let (q, r) = (t.floorDivided(by: counts[axis]), t.floorModulo(counts[axis]))
                                other[axis] = r
                                binShift[axis] = q
                            } else if t < 0 || t >= counts[axis] {
                                outside = true
                            } else {
                                other[axis] = t
                            }
                        }
                        if outside { continue }
                        let otherBin = (other.x * counts.y + other.y) * counts.z + other.z
                        for i in atomsInBin[bin] {
                            for j in atomsInBin[otherBin] {
                                if i == j && binShift == .zero { continue }
                                result.appendIfWithin(cutoff, i, j, shift: binShift &- wraps[j] &+ wraps[i], positions: positions, cell: frame)
                            }
                        }
                    }
                }
            }
        }
        return result
    }

    /// The inverse of a 3 × 3 matrix given by rows.
    static func inverse(_ m: [SIMD3<Double>]) -> [SIMD3<Double>] {
        let det = determinant(m)
        // Columns of the inverse are the cross products of the rows over the determinant.
        let c0 = cross(m[1], m[2]) / det, c1 = cross(m[2], m[0]) / det, c2 = cross(m[0], m[1]) / det
        return [SIMD3(c0.x, c1.x, c2.x), SIMD3(c0.y, c1.y, c2.y), SIMD3(c0.z, c1.z, c2.z)]
    }
}

extension Int {
    func floorDivided(by n: Int) -> Int { self >= 0 ? self / n : -((-self + n - 1) / n) }
    func floorModulo(_ n: Int) -> Int { ((self % n) + n) % n }
}
