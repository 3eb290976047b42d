// OGB's molecular featurisation (`ogb.utils.smiles2graph`, ogb 1.3.6): nine integer features per
// atom and three per bond, each an index into OGB's list of allowed values, the last index meaning
// "misc". Every bond appears twice in `edgeIndex`, (i, j) then (j, i), in bond order.
//
//   node_feat [N, 9]: atomic number − 1 (misc 118), chirality (unspecified, CW, CCW, other, misc),
//                     total degree 0–10, formal charge + 5 (−5…5), total H 0–8, radical electrons
//                     0–4, hybridisation (sp, sp2, sp3, sp3d, sp3d2, misc), aromatic, in a ring
//   edge_feat [E, 3]: bond type (single, double, triple, aromatic, misc), stereo (none, Z, E, cis,
//                     trans, any), conjugated
//   edge_index [2, E], num_nodes

/// One molecule's graph with OGB's features, arrays flat in row-major order.
public struct MolecularGraph: Sendable, Equatable {
    public static let atomFeatureCount = 9
    public static let bondFeatureCount = 3
    /// OGB's vocabulary sizes per feature (`get_atom_feature_dims`, `get_bond_feature_dims`).
    public static let atomFeatureSizes = [119, 5, 12, 12, 10, 6, 6, 2, 2]
    public static let bondFeatureSizes = [5, 6, 2]

    public var nodeCount: Int
    /// [N, 9]
    public var nodeFeatures: [Int]
    /// [2, E]: sources then targets.
    public var edgeIndex: [Int]
    /// [E, 3]
    public var edgeFeatures: [Int]

    public init(nodeCount: Int, nodeFeatures: [Int], edgeIndex: [Int], edgeFeatures: [Int]) {
        self.nodeCount = nodeCount
        self.nodeFeatures = nodeFeatures
        self.edgeIndex = edgeIndex
        self.edgeFeatures = edgeFeatures
    }

    public var edgeCount: Int { edgeFeatures.count / Self.bondFeatureCount }
}

extension Molecule {
    /// OGB's features of a perceived molecule (call `perceive()` first).
    public func ogbGraph() -> MolecularGraph {
        func index(_ value: Int, in range: ClosedRange<Int>) -> Int {
            range.contains(value) ? value - range.lowerBound : range.count
        }
        var nodes: [Int] = []
        nodes.reserveCapacity(atoms.count * 9)
        for (i, atom) in atoms.enumerated() {
            let chirality: Int
            switch (atom.chirality, atom.tetrahedralCounterClockwise) {
            case (_, .some(false)): chirality = 1
            case (_, .some(true)): chirality = 2
            case (.other, nil): chirality = 4
            default: chirality = 0
            }
            nodes += [
                atom.element >= 1 && atom.element <= 118 ? atom.element - 1 : 118,
                chirality,
                index(totalDegree(i), in: 0...10),
                index(atom.charge, in: -5...5),
                index(atom.totalHydrogens, in: 0...8),
                index(atom.radicalElectrons, in: 0...4),
                atom.hybridisation.rawValue,
                atom.isAromatic ? 1 : 0,
                atomInRing[i] ? 1 : 0,
            ]
        }
        var sources: [Int] = [], targets: [Int] = [], edges: [Int] = []
        for bond in bonds {
            let type: Int
            if bond.isAromatic { type = 3 } else {
                switch bond.order {
                case .single: type = 0
                case .double: type = 1
                case .triple: type = 2
                default: type = 4
                }
            }
            let features = [type, bond.stereo.rawValue, bond.isConjugated ? 1 : 0]
            sources += [bond.begin, bond.end]
            targets += [bond.end, bond.begin]
            edges += features + features
        }
        return MolecularGraph(nodeCount: atoms.count, nodeFeatures: nodes, edgeIndex: sources + targets, edgeFeatures: edges)
    }
}

extension MolecularGraph {
    /// `ogb.utils.smiles2graph` for one SMILES; errors name `file`, `line` and, for syntax, the character.
    public static func fromSMILES(_ smiles: String, file: String = "<smiles>", line: Int = 1) throws(MoleculeInputError) -> MolecularGraph {
        var molecule = try SMILES.parse(smiles, file: file, line: line)
        do {
            try molecule.perceive()
        } catch {
            throw MoleculeInputError(file: file, line: line, column: 0, message: "\(smiles): \(error.message)")
        }
        return molecule.ogbGraph()
    }
}
