// A Verlet neighbour list for MD: pairs are searched within cutoff + skin and reused until some
// atom has moved more than skin / 2 since the search (two atoms each moving less than skin / 2
// cannot close a gap of more than skin, so no pair inside the cutoff can be missing), or the
// cell or the atom count changed. Positions are compared unwrapped, so an engine that wraps an
// atom back into the cell triggers a rebuild rather than a stale shift.
public struct VerletList: Sendable {
    public let cutoff: Double
    public let skin: Double
    public let strategy: NeighbourList.Strategy
    public let maxNeighbours: Int?
    /// Searches done so far (the first `update` always searches).
    public private(set) var rebuilds = 0
    private var reference: [SIMD3<Double>] = []
    private var referenceCell: PeriodicCell?
    private var candidates = NeighbourPairs(first: [], second: [], shifts: [], vectors: [], distances: [])

    public init(cutoff: Double, skin: Double, strategy: NeighbourList.Strategy = .automatic, maxNeighbours: Int? = nil) {
        precondition(skin >= 0, "VerletList: skin must be ≥ 0, got \(skin)")
        self.cutoff = cutoff
        self.skin = skin
        self.strategy = strategy
        self.maxNeighbours = maxNeighbours
    }

    /// The pairs closer than `cutoff` at `positions`, the same as a fresh `NeighbourList.build`.
    public mutating func update(positions: [SIMD3<Double>], cell: PeriodicCell = .none) throws(NeighbourListError) -> NeighbourPairs {
        if needsRebuild(positions: positions, cell: cell) {
            candidates = try NeighbourList.build(positions: positions, cutoff: cutoff + skin, cell: cell, strategy: strategy)
            reference = positions
            referenceCell = cell
            rebuilds += 1
        }
        var current = NeighbourPairs(first: [], second: [], shifts: [], vectors: [], distances: [])
        let frame = cell.vectors
        for e in 0..<candidates.count {
            let shift = candidates.shifts[e]
            let image = Double(shift.x) * frame[0] + Double(shift.y) * frame[1] + Double(shift.z) * frame[2]
            let vector = positions[candidates.second[e]] - positions[candidates.first[e]] + image
            let distance = length(vector)
            guard distance < cutoff else { continue }
            current.first.append(candidates.first[e])
            current.second.append(candidates.second[e])
            current.shifts.append(shift)
            current.vectors.append(vector)
            current.distances.append(distance)
        }
        if let maxNeighbours {
            for (atom, count) in current.neighbourCounts(atoms: positions.count).enumerated() where count > maxNeighbours {
                throw .tooManyNeighbours(atom: atom, count: count, limit: maxNeighbours)
            }
        }
        return current
    }

    private func needsRebuild(positions: [SIMD3<Double>], cell: PeriodicCell) -> Bool {
        guard positions.count == reference.count, cell == referenceCell else { return true }
        let limit = (skin / 2) * (skin / 2)
        for (now, then) in zip(positions, reference) where dot(now - then, now - then) > limit { return true }
        return false
    }
}
