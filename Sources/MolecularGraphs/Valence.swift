// The valence model (RDKit's rules, which OGB's features rest on): implicit hydrogens for atoms
// that take them, kekulisation of bonds written aromatic, and radicals on bracket atoms.
//
// - An atom without a fixed hydrogen count takes the fewest hydrogens that bring it to an allowed
//   valence (PeriodicTable), its charge moving the valences as RDKit's does (N+ like C, O− like F,
//   C± three, boron and other early atoms the other way).
// - An atom written aromatic counts its aromatic bonds as 1.5, rounds x.5 up, settles on the allowed
//   valence just below when it overshoots by at most 1.5, and takes hydrogens only up to its first
//   allowed valence (so `c1ccccc1` has one H per carbon and the `s` of thiophene none).
// - Kekulisation gives every written-aromatic atom that still lacks a bond (its single-bond sum below
//   its valence) exactly one double bond, by a perfect matching over the aromatic bonds; none exists
//   for `c1cccc1` or `c1ccnc1`, which are errors, as in RDKit.

/// Chemistry RDKit would refuse too: a valence above every allowed one, an aromatic system without a Kekulé form.
public struct ValenceError: Error, CustomStringConvertible, Sendable {
    public var message: String
    public var description: String { message }
}

extension Molecule {
    /// Allowed valences of `atom` shifted by its formal charge.
    func chargedValences(_ atom: Int) -> [Int]? {
        let a = atoms[atom], element = PeriodicTable[a.element]
        if element.valences.contains(-1) && element.fixedValences.isEmpty { return nil }
        var charge = a.charge
        if element.outerElectrons < 4 { charge = -charge }  // early atoms: B− is like C
        if a.element == 6 && charge > 0 { charge = -charge }  // C+ and C− both three
        return element.fixedValences.map { $0 + charge }.filter { $0 >= 0 }
    }

    mutating func assignImplicitHydrogens() throws(ValenceError) {
        for index in atoms.indices where !atoms[index].noImplicit && atoms[index].element > 0 {
            let atom = atoms[index]
            guard let valences = chargedValences(index), let first = valences.first else {
                atoms[index].implicitHydrogens = 0
                continue
            }
            if atom.writtenAromatic {
                var accumulated = Double(atom.explicitHydrogens)
                for b in atomBonds[index] { accumulated += bonds[b].order == .aromatic ? 1.5 : bonds[b].valenceContribution(to: index) }
                if accumulated > Double(first) {
                    var settled = first
                    for v in valences where Double(v) <= accumulated { settled = v }
                    if accumulated - Double(settled) <= 1.5 { accumulated = Double(settled) }
                }
                let explicit = Int((accumulated + 0.1).rounded())
                atoms[index].implicitHydrogens = max(0, first - explicit)
            } else {
                let explicit = explicitValence(index)
                guard let allowed = valences.first(where: { $0 >= explicit }) else {
                    throw ValenceError(message: "atom \(index + 1) (\(atom.symbol)\(atom.charge == 0 ? "" : " charge \(atom.charge)")) has valence \(explicit), above the allowed \(valences.map(String.init).joined(separator: ", "))")
                }
                atoms[index].implicitHydrogens = allowed - explicit
            }
        }
    }

    /// Replaces written-aromatic bonds by single and double bonds.
    mutating func kekulise() throws(ValenceError) {
        let aromaticBonds = bonds.indices.filter { bonds[$0].order == .aromatic }
        guard !aromaticBonds.isEmpty else { return }
        var involved = Set<Int>()
        for b in aromaticBonds { involved.insert(bonds[b].begin); involved.insert(bonds[b].end) }
        // An atom needs a double bond when counting its aromatic bonds as single leaves it short of its valence.
        var needs = [Bool](repeating: false, count: atoms.count)
        for index in involved {
            let atom = atoms[index]
            if atomBonds[index].contains(where: { bonds[$0].order == .double || bonds[$0].order == .triple }) { continue }
            var sum = atom.totalHydrogens + atom.radicalElectrons
            for b in atomBonds[index] { sum += bonds[b].order == .aromatic ? 1 : Int(bonds[b].valenceContribution(to: index)) }
            let valences = chargedValences(index) ?? []
            if let target = valences.first(where: { $0 >= sum }), target > sum, atom.element != 0 { needs[index] = true }
        }
        var mate = [Int](repeating: -1, count: atoms.count)
        var steps = 0
        func options(_ a: Int) -> [Int] {
            atomBonds[a].filter { b in
                bonds[b].order == .aromatic && needs[bonds[b].other(a)] && mate[bonds[b].other(a)] < 0
            }
        }
        func solve() -> Bool {
            steps += 1
            if steps > 200_000 { return false }
            var best: Int? = nil, bestCount = Int.max
            for a in involved where needs[a] && mate[a] < 0 {
                let count = options(a).count
                if count < bestCount || (count == bestCount && a < best!) { best = a; bestCount = count }
            }
            guard let atom = best else { return true }
            for b in options(atom) {
                let other = bonds[b].other(atom)
                mate[atom] = other; mate[other] = atom
                if solve() { return true }
                mate[atom] = -1; mate[other] = -1
            }
            return false
        }
        guard solve() else {
            let atomsNamed = involved.filter { needs[$0] && mate[$0] < 0 }.sorted().map { String($0 + 1) }
            throw ValenceError(message: "cannot kekulise the aromatic system (atoms \(atomsNamed.isEmpty ? involved.sorted().map { String($0 + 1) }.joined(separator: ", ") : atomsNamed.joined(separator: ", ")) cannot all take a double bond)")
        }
        for b in aromaticBonds {
            bonds[b].order = mate[bonds[b].begin] == bonds[b].end ? .double : .single
        }
    }

    /// RDKit's radical count for atoms with a fixed hydrogen count (bracket atoms).
    mutating func assignRadicals() {
        for index in atoms.indices where atoms[index].noImplicit && atoms[index].element > 0 {
            let atom = atoms[index], element = PeriodicTable[atom.element]
            let charge = atom.charge, outer = element.outerElectrons
            if element.valences != [-1] {
                let total = explicitValence(index)
                let base = atom.element <= 2 ? 2 : 8
                var radicals = base - outer - total + charge
                if radicals < 0 {
                    radicals = 0
                    if element.valences.count > 1, let v = element.valences.first(where: { $0 - total + charge >= 0 }) {
                        radicals = v - total + charge
                    }
                }
                let early = outer - total - charge
                if early >= 0 { radicals = min(radicals, early) }
                atoms[index].radicalElectrons = radicals
            } else if degree(index) > 0 {
                atoms[index].radicalElectrons = 0
            } else {
                atoms[index].radicalElectrons = max(0, outer - charge) % 2
            }
        }
    }
}
