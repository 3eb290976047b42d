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
        for e in 0..<candidates.count {
            current.appendIfWithin(cutoff, candidates.first[e], candidates.second[e], shift: candidates.shifts[e], positions: positions, cell: cell.vectors)
        }
        try current.requireAtMost(maxNeighbours, atoms: positions.count)
        return current
    }

    /// The positions of the last rebuild (empty before the first): with `rebuild(at:cell:)` a
    /// restarted run gets the same candidate pairs, in the same order, as the run it continues.
    public var referencePositions: [SIMD3<Double>] { reference }

    public mutating func rebuild(at positions: [SIMD3<Double>], cell: PeriodicCell) throws(NeighbourListError) {
        candidates = try NeighbourList.build(positions: positions, cutoff: cutoff + skin, cell: cell, strategy: strategy)
        reference = positions
        referenceCell = cell
    }

    private func needsRebuild(positions: [SIMD3<Double>], cell: PeriodicCell) -> Bool {
        guard positions.count == reference.count, cell == referenceCell else { return true }
        let limit = (skin / 2) * (skin / 2)
        for (now, then) in zip(positions, reference) where dot(now - then, now - then) > limit { return true }
        return false
    }
}
