// A molecule as its input wrote it, plus what perception adds (implicit hydrogens, Kekulé bond
// orders, rings, aromaticity, conjugation, hybridisation, radicals, stereo). Atom and bond order is
// the input's, the order OGB's arrays follow.

/// Tetrahedral and other stereo marks as written (`@` is anticlockwise looking from the first
/// neighbour in written order, `@@` clockwise); `.other` keeps `@SP`, `@TB`, `@OH` and `@AL` marks.
public enum AtomChirality: Sendable, Equatable {
    case none
    case anticlockwise
    case clockwise
    case other(String)
}

public enum BondOrder: Int, Sendable, Equatable {
    case single = 1, double = 2, triple = 3, quadruple = 4
    /// Written aromatic (`:` or between two lower-case atoms, or bond type 4 in a MOL file); a Kekulé order replaces it.
    case aromatic = 0
    case dative = 5
}

/// A bond's `/` or `\` mark seen from its begin atom, as SMILES writes it.
public enum BondDirection: Sendable, Equatable { case none, up, down }

/// Double-bond stereo as RDKit reports it after perception (OGB's bond stereo feature).
public enum DoubleBondStereo: Int, Sendable, Equatable {
    case none = 0, z = 1, e = 2, cis = 3, trans = 4, any = 5
}

public enum Hybridisation: Int, Sendable, Equatable {
    case sp = 0, sp2 = 1, sp3 = 2, sp3d = 3, sp3d2 = 4
    /// s, unspecified and anything else: OGB's `misc`.
    case other = 5
}

public struct Atom: Sendable, Equatable {
    public var element: Int
    public var charge: Int = 0
    public var isotope: Int? = nil
    /// Hydrogens the input named: a bracket atom's H count, or removed explicit `[H]` neighbours.
    public var explicitHydrogens: Int = 0
    /// Bracket atoms and MOL atoms with a fixed valence take no implicit hydrogens.
    public var noImplicit: Bool = false
    public var writtenAromatic: Bool = false
    public var chirality: AtomChirality = .none
    public var mapNumber: Int? = nil
    /// Where the atom was written: character offset (SMILES, 1-based) or atom line (MOL).
    public var sourcePosition: Int = 0

    // Perceived.
    public var implicitHydrogens: Int = 0
    public var radicalElectrons: Int = 0
    public var isAromatic: Bool = false
    public var hybridisation: Hybridisation = .other
    /// RDKit's tag relative to the atom's bonds in bond-index order (true: CCW); nil: no stereocentre.
    public var tetrahedralCounterClockwise: Bool? = nil

    public init(element: Int) { self.element = element }

    public var totalHydrogens: Int { explicitHydrogens + implicitHydrogens }
    public var symbol: String { PeriodicTable[element].symbol }
}

public struct Bond: Sendable, Equatable {
    public var begin: Int
    public var end: Int
    /// Kekulé order after perception; `.aromatic` only until then.
    public var order: BondOrder
    public var direction: BondDirection = .none
    public var isAromatic: Bool = false
    public var isConjugated: Bool = false
    public var stereo: DoubleBondStereo = .none

    public init(begin: Int, end: Int, order: BondOrder) {
        self.begin = begin
        self.end = end
        self.order = order
    }

    public func other(_ atom: Int) -> Int { atom == begin ? end : begin }

    /// What the bond adds to an atom's valence: aromatic 1.5 once perceived, dative only at its end.
    func valenceContribution(to atom: Int) -> Double {
        if isAromatic { return 1.5 }
        switch order {
        case .single: return 1
        case .double: return 2
        case .triple: return 3
        case .quadruple: return 4
        case .aromatic: return 1.5
        case .dative: return atom == end ? 1 : 0
        }
    }
}

public struct Molecule: Sendable {
    public var atoms: [Atom] = []
    public var bonds: [Bond] = []
    /// Each atom's bonds in bond-index order (RDKit's neighbour order, which its chirality tags refer to).
    public private(set) var atomBonds: [[Int]] = []
    /// Rings as atom lists (RDKit's symmetrised SSSR: the relevant cycles); filled by perception.
    public internal(set) var rings: [[Int]] = []
    public internal(set) var bondInRing: [Bool] = []
    public internal(set) var atomInRing: [Bool] = []
    /// SMILES only: each atom's neighbours in written order (−1 the bracket hydrogen), which its `@` refers to.
    var writtenNeighbours: [[Int]] = []

    public init() {}

    public mutating func addAtom(_ atom: Atom) -> Int {
        atoms.append(atom)
        atomBonds.append([])
        return atoms.count - 1
    }

    @discardableResult
    public mutating func addBond(_ bond: Bond) -> Int {
        bonds.append(bond)
        atomBonds[bond.begin].append(bonds.count - 1)
        atomBonds[bond.end].append(bonds.count - 1)
        return bonds.count - 1
    }

    public func bond(between a: Int, _ b: Int) -> Int? {
        atomBonds[a].first { bonds[$0].other(a) == b }
    }

    public func degree(_ atom: Int) -> Int { atomBonds[atom].count }
    public func totalDegree(_ atom: Int) -> Int { atomBonds[atom].count + atoms[atom].totalHydrogens }

    /// Bond orders plus explicit hydrogens (Kekulé orders; RDKit's explicit valence after kekulisation).
    func explicitValence(_ atom: Int) -> Int {
        var sum = 0.0
        for b in atomBonds[atom] {
            let bond = bonds[b]
            switch bond.order {
            case .single: sum += 1
            case .double: sum += 2
            case .triple: sum += 3
            case .quadruple: sum += 4
            case .aromatic: sum += 1.5
            case .dative: sum += atom == bond.end ? 1 : 0
            }
        }
        return Int((sum + Double(atoms[atom].explicitHydrogens) + 0.1).rounded(.down))
    }

    func totalValence(_ atom: Int) -> Int { explicitValence(atom) + atoms[atom].implicitHydrogens }

    /// A copy without the atoms `drop` names; bonds to them vanish, the rest keep their order.
    func removingAtoms(_ drop: Set<Int>) -> Molecule {
        var result = Molecule()
        var newIndex = [Int](repeating: -1, count: atoms.count)
        for (index, atom) in atoms.enumerated() where !drop.contains(index) {
            newIndex[index] = result.addAtom(atom)
        }
        for var bond in bonds where !drop.contains(bond.begin) && !drop.contains(bond.end) {
            bond.begin = newIndex[bond.begin]
            bond.end = newIndex[bond.end]
            result.addBond(bond)
        }
        return result
    }
}
