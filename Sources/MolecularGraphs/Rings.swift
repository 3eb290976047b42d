// Ring perception: the relevant cycles (Vismara 1997), the union of all minimum cycle bases. For
// molecules this is RDKit's "symmetrised SSSR" (cubane: six four-rings, not five), the ring set its
// aromaticity model runs on. Candidates are Horton cycles built from every shortest path, sorted by
// length; a cycle is relevant when no set of strictly shorter cycles sums to it (Gaussian elimination
// over GF(2) on bond bit sets).

extension Molecule {
    /// Path pairs the candidate search may try: a drug-like molecule needs thousands; a ladder of
    /// hundreds of fused rings (a damaged or generated SMILES) would take hours.
    static let ringSearchBudget = 5_000_000

    /// Fills `rings`, `bondInRing` and `atomInRing`; throws when the search passes its budget.
    mutating func perceiveRings() throws(ValenceError) {
        let n = atoms.count, bondCount = bonds.count
        bondInRing = [Bool](repeating: false, count: bondCount)
        atomInRing = [Bool](repeating: false, count: n)
        rings = []
        guard bondCount >= 3 else { return }
        let words = (bondCount + 63) / 64
        typealias Cycle = (atoms: [Int], bits: [UInt64])

        // Shortest-path predecessors from each root (every predecessor, so every shortest path is reachable).
        var candidates: [Cycle] = []
        var seen = Set<[UInt64]>()
        let pathCap = 32
        var pairsTried = 0
        for root in 0..<n where !atomBonds[root].isEmpty {
            var distance = [Int](repeating: -1, count: n)
            var predecessors = [[Int]](repeating: [], count: n)
            var queue = [root]
            distance[root] = 0
            var head = 0
            while head < queue.count {
                let v = queue[head]; head += 1
                for b in atomBonds[v] {
                    let w = bonds[b].other(v)
                    if distance[w] < 0 {
                        distance[w] = distance[v] + 1
                        queue.append(w)
                    }
                    if distance[w] == distance[v] + 1 { predecessors[w].append(v) }
                }
            }
            var pathMemo: [Int: [[Int]]] = [:]
            func paths(to v: Int) -> [[Int]] {  // root ... v
                if v == root { return [[root]] }
                if let known = pathMemo[v] { return known }
                var result: [[Int]] = []
                for p in predecessors[v] {
                    for path in paths(to: p) where result.count < pathCap { result.append(path + [v]) }
                }
                pathMemo[v] = result
                return result
            }
            for (b, edge) in bonds.enumerated() {
                var x = edge.begin, y = edge.end
                guard distance[x] >= 0, distance[y] >= 0 else { continue }
                if distance[x] > distance[y] { swap(&x, &y) }
                // Odd cycles: d(x) = d(y); even cycles: d(y) = d(x) + 1 with a path to y avoiding x.
                guard distance[y] == distance[x] || distance[y] == distance[x] + 1 else { continue }
                for px in paths(to: x) {
                    let onX = Set(px.dropFirst())
                    for py in paths(to: y) {
                        pairsTried += 1
                        if pairsTried > Self.ringSearchBudget {
                            throw ValenceError(message: "ring perception of this \(n)-atom molecule passes SciZoo's budget of \(Self.ringSearchBudget) path pairs (hundreds of fused rings?)")
                        }
                        if py.contains(x) { continue }
                        if py.dropFirst().contains(where: onX.contains) { continue }
                        let cycleAtoms = px + py.dropFirst().reversed()
                        guard cycleAtoms.count >= 3 else { continue }
                        var bits = [UInt64](repeating: 0, count: words)
                        bits[b >> 6] |= 1 << UInt64(b & 63)
                        var ok = true
                        for i in cycleAtoms.indices {
                            guard let e = bond(between: cycleAtoms[i], cycleAtoms[(i + 1) % cycleAtoms.count]) else { ok = false; break }
                            bits[e >> 6] |= 1 << UInt64(e & 63)
                        }
                        guard ok, seen.insert(bits).inserted else { continue }
                        candidates.append((cycleAtoms, bits))
                    }
                }
            }
        }
        candidates.sort { $0.atoms.count < $1.atoms.count }

        // Relevant: independent of the span of all strictly shorter candidates.
        var basis: [(pivot: Int, bits: [UInt64])] = []
        func reduce(_ bits: [UInt64], against basis: [(pivot: Int, bits: [UInt64])]) -> [UInt64] {
            var v = bits
            for row in basis where v[row.pivot >> 6] & (1 << UInt64(row.pivot & 63)) != 0 {
                for w in 0..<words { v[w] ^= row.bits[w] }
            }
            return v
        }
        func leadingBit(_ bits: [UInt64]) -> Int? {
            for w in 0..<words where bits[w] != 0 { return w * 64 + bits[w].trailingZeroBitCount }
            return nil
        }
        var start = 0
        while start < candidates.count {
            var end = start
            while end < candidates.count && candidates[end].atoms.count == candidates[start].atoms.count { end += 1 }
            let shorter = basis
            for candidate in candidates[start..<end] where leadingBit(reduce(candidate.bits, against: shorter)) != nil {
                rings.append(candidate.atoms)
            }
            for candidate in candidates[start..<end] {
                let reduced = reduce(candidate.bits, against: basis)
                if let pivot = leadingBit(reduced) {
                    // Keep the basis reduced so each pivot appears in one row only.
                    for i in basis.indices where basis[i].bits[pivot >> 6] & (1 << UInt64(pivot & 63)) != 0 {
                        for w in 0..<words { basis[i].bits[w] ^= reduced[w] }
                    }
                    basis.append((pivot, reduced))
                }
            }
            start = end
        }
        for ring in rings {
            for (i, a) in ring.enumerated() {
                atomInRing[a] = true
                if let b = bond(between: a, ring[(i + 1) % ring.count]) { bondInRing[b] = true }
            }
        }
    }

    /// The bonds of a ring given as atoms in cyclic order.
    func ringBonds(_ ring: [Int]) -> [Int] {
        ring.indices.compactMap { bond(between: ring[$0], ring[($0 + 1) % ring.count]) }
    }
}
