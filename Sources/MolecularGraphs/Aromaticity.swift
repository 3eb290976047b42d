// Aromaticity, RDKit's default model on the Kekulé structure (rules read from RDKit's
// Aromaticity.cpp, as OGB's features depend on them):
// - Each ring atom donates 0, 1 or 2 π electrons by its type: a lone pair on a saturated atom (2),
//   a ring double bond (1), an exocyclic double bond to a more electronegative atom (0, the electron
//   goes there), a cation with nothing to give (0, empty p orbital).
// - Candidates: atoms of the first two rows, Se and Te, in their default valence, at most three
//   connections, at most one multiple bond; heteroatom radicals are out.
// - A ring, or a fused set of up to six candidate rings each sharing one bond with another, is
//   aromatic when the electron count of its atoms (those in one or two of its rings) can be 4n + 2
//   (or is exactly 2: the cyclopropenyl cation). Sets are tried by size, stopping once every bond of
//   the fused system is aromatic. Atoms of an aromatic set are aromatic; its bonds are, except bonds
//   shared inside the set. (RDKit 2026.09; older releases fused on any shared bond and stopped on atoms.)

extension Molecule {
    enum ElectronDonor { case vacant, one, two, oneOrTwo, any, none }

    /// RDKit's countAtomElec: π electrons an atom can offer, −1 when it cannot take part.
    func availableElectrons(_ index: Int) -> Int {
        let atom = atoms[index], element = PeriodicTable[atom.element]
        let dv = element.defaultValence
        if dv <= 1 { return -1 }
        // Bonds that add nothing to this atom's valence (a dative bond's start) do not count.
        let degree = self.degree(index) + atom.totalHydrogens - atomBonds[index].filter { bonds[$0].valenceContribution(to: index).rounded() == 0 }.count
        if degree > 3 { return -1 }
        var lonePairElectrons = element.outerElectrons - dv
        lonePairElectrons = max(lonePairElectrons - atom.charge, 0)
        var electrons = (dv - degree) + lonePairElectrons - atom.radicalElectrons
        if electrons > 1 && explicitValence(index) - self.degree(index) > 1 { electrons = 1 }
        return electrons
    }

    private func exocyclicMultipleBondPartner(_ index: Int) -> Int? {
        for b in atomBonds[index] where !bondInRing[b] && bonds[b].valenceContribution(to: index) >= 2 {
            return bonds[b].other(index)
        }
        return nil
    }

    private func hasCyclicMultipleBond(_ index: Int) -> Bool {
        atomBonds[index].contains { bondInRing[$0] && bonds[$0].valenceContribution(to: index) >= 2 }
    }

    private func hasMultipleBond(_ index: Int) -> Bool {
        atomBonds[index].contains { bonds[$0].valenceContribution(to: index) >= 2 }
    }

    func electronDonor(_ index: Int) -> ElectronDonor {
        let atom = atoms[index]
        if atom.element == 0 { return hasCyclicMultipleBond(index) ? .one : .any }
        var electrons = availableElectrons(index)
        if electrons < 0 { return .none }
        let partner = exocyclicMultipleBondPartner(index)
        let stolen = partner.map { PeriodicTable[atoms[$0].element].isMoreElectronegative(than: PeriodicTable[atom.element]) } ?? false
        if electrons == 0 {
            if partner != nil { return .vacant }
            return hasCyclicMultipleBond(index) ? .one : .none
        }
        if electrons == 1 {
            if partner != nil { return stolen ? .vacant : .one }
            if hasMultipleBond(index) { return .one }
            return atom.charge == 1 ? .vacant : .none
        }
        if stolen { electrons -= 1 }
        return electrons % 2 == 1 ? .one : .two
    }

    func isAromaticCandidate(_ index: Int, donor: ElectronDonor) -> Bool {
        let atom = atoms[index]
        if atom.element > 18 && atom.element != 34 && atom.element != 52 { return false }
        if donor == .none { return false }
        let dv = PeriodicTable[atom.element].defaultValence
        let shifted = atom.element - atom.charge
        if dv > 0, shifted >= 0, shifted < PeriodicTable.elements.count, totalValence(index) > PeriodicTable[shifted].defaultValence { return false }
        if atom.radicalElectrons > 0 && (atom.element != 6 || atom.charge != 0) { return false }
        if explicitValence(index) - degree(index) > 1 {
            let multiple = atomBonds[index].filter { bonds[$0].order == .double || bonds[$0].order == .triple }.count
            if multiple > 1 { return false }
        }
        return true
    }

    mutating func perceiveAromaticity() {
        for i in atoms.indices { atoms[i].isAromatic = false }
        for b in bonds.indices { bonds[b].isAromatic = false }
        var donors = [ElectronDonor?](repeating: nil, count: atoms.count)
        var candidate = [Bool](repeating: false, count: atoms.count)
        var candidateRings: [[Int]] = []
        for ring in rings {
            var all = true, allDummy = true
            for a in ring {
                if atoms[a].element != 0 { allDummy = false }
                if donors[a] == nil {
                    let donor = electronDonor(a)
                    donors[a] = donor
                    candidate[a] = isAromaticCandidate(a, donor: donor)
                }
                if !candidate[a] { all = false }
            }
            if all && !allDummy { candidateRings.append(ring) }
        }
        guard !candidateRings.isEmpty else { return }
        let ringBondSets = candidateRings.map { ringBonds($0) }
        // Rings are neighbours when they share exactly one bond (rings above 24 atoms never fuse).
        var neighbours = [[Int]](repeating: [], count: candidateRings.count)
        for i in candidateRings.indices where ringBondSets[i].count <= 24 {
            for j in (i + 1)..<candidateRings.count where ringBondSets[j].count <= 24 {
                if Set(ringBondSets[i]).intersection(ringBondSets[j]).count == 1 {
                    neighbours[i].append(j)
                    neighbours[j].append(i)
                }
            }
        }
        func isHuckel(_ atomList: [Int]) -> Bool {
            var low = 0, high = 0, anyCount = 0
            for a in atomList {
                switch donors[a]! {
                case .any:
                    anyCount += 1
                    if anyCount > 1 { return false }
                    low += 1; high += 2
                case .oneOrTwo: low += 1; high += 2
                case .one: low += 1; high += 1
                case .two: low += 2; high += 2
                case .vacant, .none: break
                }
            }
            if high >= 6 { return (low...high).contains { ($0 - 2) % 4 == 0 } }
            return high == 2
        }
        var systemDone = [Bool](repeating: false, count: candidateRings.count)
        for start in candidateRings.indices where !systemDone[start] {
            // The fused system containing `start`.
            var system: [Int] = []
            var stack = [start]
            while let r = stack.popLast() {
                if systemDone[r] { continue }
                systemDone[r] = true
                system.append(r)
                for n in neighbours[r].reversed() where !systemDone[n] { stack.append(n) }
            }
            let systemBonds = Set(system.flatMap { ringBondSets[$0] })
            var doneBonds = Set<Int>()
            let limit = min(system.count, 6)
            var size = 1
            while size <= limit && doneBonds.count < systemBonds.count && !(size > 2 && system.count > 300) {
                forEachCombination(of: system.count, size: size) { combination in
                    let chosen = combination.map { system[$0] }
                    guard isConnected(chosen, neighbours) else { return }
                    // Atoms in one or two of the chosen rings count (not the hub of acepentalene).
                    var membership: [Int: Int] = [:]
                    for r in chosen { for a in candidateRings[r] { membership[a, default: 0] += 1 } }
                    guard isHuckel(membership.filter { $0.value <= 2 }.map(\.key)) else { return }
                    var bondCount: [Int: Int] = [:]
                    for r in chosen {
                        for a in candidateRings[r] { atoms[a].isAromatic = true }
                        for b in ringBondSets[r] { bondCount[b, default: 0] += 1 }
                    }
                    for (b, count) in bondCount where count == 1 {
                        bonds[b].isAromatic = true
                        doneBonds.insert(b)
                    }
                }
                size += 1
            }
        }
    }
}

private func forEachCombination(of n: Int, size: Int, _ body: ([Int]) -> Void) {
    guard size <= n else { return }
    var combination = Array(0..<size)
    while true {
        body(combination)
        var i = size - 1
        while i >= 0 && combination[i] == n - size + i { i -= 1 }
        if i < 0 { return }
        combination[i] += 1
        for j in (i + 1)..<size { combination[j] = combination[j - 1] + 1 }
    }
}

private func isConnected(_ rings: [Int], _ neighbours: [[Int]]) -> Bool {
    guard rings.count > 1 else { return true }
    let members = Set(rings)
    var seen: Set<Int> = [rings[0]]
    var stack = [rings[0]]
    while let r = stack.popLast() {
        for n in neighbours[r] where members.contains(n) && !seen.contains(n) {
            seen.insert(n)
            stack.append(n)
        }
    }
    return seen.count == rings.count
}
