// Conjugation and hybridisation, RDKit's rules (ConjugHybrid.cpp):
// - Aromatic bonds are conjugated. Around an atom with two or three connections that can carry π
//   electrons (first-row atoms, or heavier ones outside groups 15 and 16, or a group-16 terminal
//   atom; never a neutral atom above its first valence), each multiple bond to such an atom is
//   conjugated with every other bond that leads to such an atom with at most three connections (so
//   the C–N of an amide and the C–O of an ester are conjugated).
// - Hybridisation from connections plus lone pairs: 2 sp, 3 sp2, 4 sp3 unless the atom has three or
//   fewer connections and a conjugated bond (then sp2: the N of an amide), 5 sp3d, 6 sp3d2; a
//   tetrahedral stereo mark on a four-connected atom means sp3.

extension Molecule {
    private func canConjugate(_ index: Int) -> Bool {
        let atom = atoms[index], element = PeriodicTable[atom.element], outer = element.outerElectrons
        // A neutral atom above its first valence is hypervalent, not conjugated.
        if atom.charge == 0 && element.defaultValence >= 0 && totalValence(index) > element.defaultValence { return false }
        let kind = atom.element <= 10 || (outer != 5 && outer != 6) || (outer == 6 && totalDegree(index) < 2)
        return kind && availableElectrons(index) > 0
    }

    mutating func perceiveConjugation() {
        for b in bonds.indices { bonds[b].isConjugated = bonds[b].isAromatic }
        for index in atoms.indices where canConjugate(index) {
            let connections = degree(index) + atoms[index].totalHydrogens
            guard connections == 2 || connections == 3 else { continue }
            for b1 in atomBonds[index] where bonds[b1].valenceContribution(to: index) >= 1.5 && canConjugate(bonds[b1].other(index)) {
                for b2 in atomBonds[index] where b2 != b1 {
                    let other = bonds[b2].other(index)
                    if degree(other) + atoms[other].totalHydrogens > 3 { continue }
                    if canConjugate(other) {
                        bonds[b1].isConjugated = true
                        bonds[b2].isConjugated = true
                    }
                }
            }
        }
    }

    private func bondsPlusLonePairs(_ index: Int) -> Int {
        let atom = atoms[index]
        var connections = totalDegree(index)
        for b in atomBonds[index] where bonds[b].order == .dative && bonds[b].end != index { connections -= 1 }
        if atom.element <= 1 { return connections }
        let outer = PeriodicTable[atom.element].outerElectrons
        let valence = totalValence(index), charge = atom.charge
        let free = outer - (valence + charge)
        if valence + outer - charge < 8 {
            let radicals = atom.radicalElectrons
            return connections + (free - radicals) / 2 + radicals
        }
        return connections + free / 2
    }

    mutating func perceiveHybridisation() {
        for index in atoms.indices {
            let atom = atoms[index]
            if atom.element == 0 { atoms[index].hybridisation = .other; continue }
            if (atom.chirality == .clockwise || atom.chirality == .anticlockwise) && totalDegree(index) == 4 {
                atoms[index].hybridisation = .sp3
                continue
            }
            let orbitals = atom.element < 89 ? bondsPlusLonePairs(index) : totalDegree(index)
            switch orbitals {
            case 2: atoms[index].hybridisation = .sp
            case 3: atoms[index].hybridisation = .sp2
            case 4:
                let conjugated = atomBonds[index].contains { bonds[$0].isConjugated }
                atoms[index].hybridisation = totalDegree(index) > 3 || !conjugated ? .sp3 : .sp2
            case 5: atoms[index].hybridisation = .sp3d
            case 6: atoms[index].hybridisation = .sp3d2
            default: atoms[index].hybridisation = .other
            }
        }
    }
}
