// Stereo as RDKit's legacy perception reports it (the default in RDKit 2026.09, which OGB reads):
// - A tetrahedral mark becomes a tag relative to the atom's bonds in bond-index order, the hydrogen
//   counted second (after the first bond), as RDKit stores it: the written tag flips with the parity
//   of the permutation between the written neighbour order and that one.
// - A mark stays only on a possible stereocentre: sp3, three or four connections (three only for
//   P, As, S, Se and a nitrogen in a three-membered ring or at a bridgehead), neighbours all of
//   different CIP-like rank, or equal branches that themselves carry stereo marks (ring stereo and
//   pseudo-asymmetric centres, which RDKit's chirality-aware ranking tells apart).
// - A double bond (outside rings under eight atoms) with `/` or `\` marks on both sides is Z or E by
//   the higher-ranked neighbour at each end; equal neighbours at one end leave it unspecified.
// Ranks: atomic number and isotope, refined by the sorted ranks of neighbours (each counted twice
// its bond order, aromatic 3, hydrogens as H) until stable, an approximation of CIP priorities.

extension Molecule {
    /// Symmetry-refined ranks (higher: higher priority).
    func stereoRanks() -> [Int] {
        let n = atoms.count
        var keys = atoms.map { [$0.element * 1000 + ($0.isotope ?? 0)] }
        var ranks = denseRanks(keys)
        for _ in 0..<max(n, 1) {
            keys = (0..<n).map { a in
                var neighbourRanks: [Int] = []
                // Each neighbour weighted by twice its bond order (aromatic 3), as RDKit's legacy CIP ranks.
                for b in atomBonds[a] {
                    let other = bonds[b].other(a)
                    let weight = bonds[b].isAromatic ? 3 : 2 * max(1, min(bonds[b].order.rawValue, 3))
                    for _ in 0..<weight { neighbourRanks.append(ranks[other] + 1) }
                }
                for _ in 0..<(2 * atoms[a].totalHydrogens) { neighbourRanks.append(0) }
                return [ranks[a]] + neighbourRanks.sorted(by: >)
            }
            let refined = denseRanks(keys)
            if refined == ranks { break }
            ranks = refined
        }
        return ranks
    }

    private func denseRanks(_ keys: [[Int]]) -> [Int] {
        let distinct = Array(Set(keys)).sorted { $0.lexicographicallyPrecedes($1) }
        let index = Dictionary(uniqueKeysWithValues: distinct.enumerated().map { ($1, $0) })
        return keys.map { index[$0]! }
    }

    /// Turns written tetrahedral marks into RDKit's tags and drops those on non-stereocentres.
    mutating func perceiveAtomStereo() {
        let ranks = stereoRanks()
        var tagged: [Int] = []
        for index in atoms.indices {
            atoms[index].tetrahedralCounterClockwise = nil
            let atom = atoms[index]
            guard atom.chirality == .clockwise || atom.chirality == .anticlockwise else { continue }
            guard atom.hybridisation == .sp3 else { continue }
            let connections = totalDegree(index)
            if connections == 3 {
                let inThreeRing = rings.contains { $0.count == 3 && $0.contains(index) }
                guard [15, 33, 16, 34].contains(atom.element) || (atom.element == 7 && (inThreeRing || isBridgehead(index))) else { continue }
            } else if connections != 4 { continue }
            if atom.totalHydrogens > 1 { continue }
            tagged.append(index)
        }
        var kept: [Int: Bool] = [:]
        for index in tagged {
            let neighbours = atomBonds[index].map { bonds[$0].other(index) }
            let neighbourRanks = neighbours.map { ranks[$0] }
            var duplicates: [Int] = []
            for i in neighbourRanks.indices { for j in (i + 1)..<neighbourRanks.count where neighbourRanks[i] == neighbourRanks[j] { duplicates += [neighbours[i], neighbours[j]] } }
            if !duplicates.isEmpty {
                // Equal branches that carry stereo marks may differ by them (ring stereo, pseudo-asymmetry).
                if !duplicates.allSatisfy({ branchHasStereo(from: $0, avoiding: index) }) { continue }
            }
            // Written order (−1: the hydrogen) against RDKit's: bonds in index order, hydrogen second.
            var reference = neighbours
            if atoms[index].totalHydrogens == 1 { reference.insert(-1, at: min(1, reference.count)) }
            var written = writtenNeighbours.count == atoms.count ? writtenNeighbours[index] : reference
            if atoms[index].totalHydrogens == 1 && !written.contains(-1) { written.insert(-1, at: min(1, written.count)) }
            guard written.count == reference.count, Set(written) == Set(reference) else { continue }
            let even = permutationIsEven(from: written, to: reference)
            let writtenCounterClockwise = atoms[index].chirality == .anticlockwise
            kept[index] = even ? writtenCounterClockwise : !writtenCounterClockwise
        }
        for (index, ccw) in kept { atoms[index].tetrahedralCounterClockwise = ccw }
    }

    /// An atom where two rings sharing three or more atoms meet (a bridgehead).
    func isBridgehead(_ index: Int) -> Bool {
        let mine = rings.filter { $0.contains(index) }
        for i in mine.indices { for j in (i + 1)..<mine.count where Set(mine[i]).intersection(mine[j]).count >= 3 { return true } }
        return false
    }

    /// Whether the atoms reachable from `start` without passing `centre` include a stereo mark.
    func branchHasStereo(from start: Int, avoiding centre: Int) -> Bool {
        var seen: Set<Int> = [centre, start]
        var stack = [start]
        while let a = stack.popLast() {
            if a != centre, atoms[a].chirality == .clockwise || atoms[a].chirality == .anticlockwise { return true }
            for b in atomBonds[a] {
                if bonds[b].direction != .none { return true }
                let other = bonds[b].other(a)
                if seen.insert(other).inserted { stack.append(other) }
            }
        }
        return false
    }

    /// E/Z of double bonds with direction marks on both sides.
    mutating func perceiveBondStereo() {
        let ranks = stereoRanks()
        for b in bonds.indices {
            bonds[b].stereo = .none
            guard bonds[b].order == .double, !bonds[b].isAromatic else { continue }
            let (left, right) = (bonds[b].begin, bonds[b].end)
            if rings.contains(where: { $0.count < 8 && $0.contains(left) && $0.contains(right) }) { continue }
            func side(_ end: Int) -> (atom: Int, up: Bool)? {
                let others = atomBonds[end].filter { $0 != b }
                guard !others.isEmpty, others.count <= 2 else { return nil }
                let neighbours = others.map { bonds[$0].other(end) }
                if neighbours.count == 2 && ranks[neighbours[0]] == ranks[neighbours[1]] { return nil }
                let best = neighbours.count == 2 && ranks[neighbours[1]] > ranks[neighbours[0]] ? 1 : 0
                for (k, ob) in others.enumerated() where bonds[ob].direction != .none {
                    let bond = bonds[ob]
                    // `/` from p to q puts q above p.
                    let neighbourUp = (bond.begin == end) == (bond.direction == .up)
                    return (neighbours[best], k == best ? neighbourUp : !neighbourUp)
                }
                return nil
            }
            guard let l = side(left), let r = side(right) else { continue }
            bonds[b].stereo = l.up == r.up ? .z : .e
        }
    }
}

private func permutationIsEven(from a: [Int], to b: [Int]) -> Bool {
    var position = Dictionary(uniqueKeysWithValues: b.enumerated().map { ($1, $0) })
    var p = a.map { position[$0]! }
    position.removeAll()
    var swaps = 0
    for i in p.indices {
        while p[i] != i {
            p.swapAt(i, p[i])
            swaps += 1
        }
    }
    return swaps % 2 == 0
}
