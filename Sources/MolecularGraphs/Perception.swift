// From a molecule as written to one with every property OGB's features read, in RDKit's order
// (sanitisation): explicit hydrogens folded into their atoms, nitro groups and halogen oxides
// charge-separated,
// implicit hydrogens, rings, kekulisation, radicals, aromaticity, conjugation, hybridisation, stereo.

extension Molecule {
    /// Runs perception; the error names what RDKit would also refuse (valence, kekulisation).
    public mutating func perceive() throws(ValenceError) {
        removePlainHydrogens()
        chargeSeparateNitroGroups()
        chargeSeparateHalogenOxides()
        try assignImplicitHydrogens()
        try perceiveRings()
        try kekulise()
        assignRadicals()
        perceiveAromaticity()
        perceiveConjugation()
        perceiveHybridisation()
        perceiveAtomStereo()
        perceiveBondStereo()
    }

    /// Drops `[H]` atoms bonded to one heavy atom (no isotope, no charge), as RDKit's RemoveHs does;
    /// a bracket neighbour counts them as its own hydrogens, an organic-subset one re-derives them.
    mutating func removePlainHydrogens() {
        var drop = Set<Int>()
        for (index, atom) in atoms.enumerated() where atom.element == 1 && atom.isotope == nil && atom.charge == 0 && degree(index) == 1 && atom.explicitHydrogens == 0 {
            let bond = bonds[atomBonds[index][0]]
            let heavy = bond.other(index)
            guard atoms[heavy].element > 1, bond.order == .single, bond.direction == .none else { continue }
            drop.insert(index)
            atoms[heavy].explicitHydrogens += 1
            if !atoms[heavy].noImplicit { atoms[heavy].explicitHydrogens -= 1 }
        }
        guard !drop.isEmpty else { return }
        var written = writtenNeighbours
        var newIndex = [Int](repeating: -1, count: atoms.count), next = 0
        for index in atoms.indices where !drop.contains(index) { newIndex[index] = next; next += 1 }
        if written.count == atoms.count {
            written = atoms.indices.filter { !drop.contains($0) }.map { index in
                written[index].map { $0 >= 0 ? (drop.contains($0) ? -1 : newIndex[$0]) : $0 }
            }
        }
        self = removingAtoms(drop)
        writtenNeighbours = written.count == atoms.count ? written : []
    }

    /// RDKit's clean-up of halogen oxides: Cl(=O)(=O)(=O)O becomes [Cl+3]([O−])([O−])([O−])O.
    mutating func chargeSeparateHalogenOxides() {
        for index in atoms.indices where [17, 35, 53].contains(atoms[index].element) && atoms[index].charge == 0 {
            let oxo = atomBonds[index].filter { bonds[$0].order == .double && atoms[bonds[$0].other(index)].element == 8 && atoms[bonds[$0].other(index)].charge == 0 && degree(bonds[$0].other(index)) == 1 }
            guard !oxo.isEmpty, oxo.count == atomBonds[index].filter({ bonds[$0].order == .double }).count else { continue }
            for b in oxo {
                bonds[b].order = .single
                atoms[bonds[b].other(index)].charge = -1
            }
            atoms[index].charge = oxo.count
        }
    }

    /// RDKit's clean-up of five-valent nitro: N(=O)=O becomes [N+](=O)[O−].
    mutating func chargeSeparateNitroGroups() {
        for index in atoms.indices where atoms[index].element == 7 && atoms[index].charge == 0 {
            let doubleOxygens = atomBonds[index].filter { bonds[$0].order == .double && atoms[bonds[$0].other(index)].element == 8 && atoms[bonds[$0].other(index)].charge == 0 && degree(bonds[$0].other(index)) == 1 }
            guard doubleOxygens.count == 2, degree(index) == 3 else { continue }
            let b = doubleOxygens[1]
            bonds[b].order = .single
            atoms[index].charge = 1
            atoms[bonds[b].other(index)].charge = -1
        }
    }
}
