// Residue geometry for building atoms from frames and torsions (AlphaFold's
// common/residue_constants.py, as numbers): for each amino acid its heavy atoms, the rigid group
// each belongs to (0 backbone, 1 pre-ω, 2 φ, 3 ψ, 4–7 χ1–χ4) and the atom's idealised position
// in that group's frame (Å; Engh & Huber 1991 bond geometry, as AlphaFold tabulates it); the
// atoms defining each χ angle; the atom14 (per-residue compact) and atom37 (all atom types) orders.
import Kernels

public enum ResidueConstants {
    /// One heavy atom of a residue: its name, rigid group, and position in that group's frame.
    public struct GroupAtom: Sendable {
        public let name: String
        public let group: Int
        public let position: SIMD3<Double>
    }

    /// Three-letter names in restype order (`Alphabets.restypes`: A R N D C Q E G H I L K M F P S T W Y V).
    public static let threeLetter = ["ALA", "ARG", "ASN", "ASP", "CYS", "GLN", "GLU", "GLY", "HIS", "ILE",
                                     "LEU", "LYS", "MET", "PHE", "PRO", "SER", "THR", "TRP", "TYR", "VAL"]

    /// The 37 atom types of the atom37 layout, in AlphaFold's order.
    public static let atomTypes = ["N", "CA", "C", "CB", "O", "CG", "CG1", "CG2", "OG", "OG1", "SG", "CD", "CD1", "CD2", "ND1",
                                   "ND2", "OD1", "OD2", "SD", "CE", "CE1", "CE2", "CE3", "NE", "NE1", "NE2", "OE1", "OE2", "CH2",
                                   "NH1", "NH2", "OH", "CZ", "CZ2", "CZ3", "NZ", "OXT"]

    /// atom14 names per restype (N, CA, C, O, CB, then the side chain), unused slots omitted.
    public static let atom14Names: [[String]] = [
        ["N", "CA", "C", "O", "CB"],
        ["N", "CA", "C", "O", "CB", "CG", "CD", "NE", "CZ", "NH1", "NH2"],
        ["N", "CA", "C", "O", "CB", "CG", "OD1", "ND2"],
        ["N", "CA", "C", "O", "CB", "CG", "OD1", "OD2"],
        ["N", "CA", "C", "O", "CB", "SG"],
        ["N", "CA", "C", "O", "CB", "CG", "CD", "OE1", "NE2"],
        ["N", "CA", "C", "O", "CB", "CG", "CD", "OE1", "OE2"],
        ["N", "CA", "C", "O"],
        ["N", "CA", "C", "O", "CB", "CG", "ND1", "CD2", "CE1", "NE2"],
        ["N", "CA", "C", "O", "CB", "CG1", "CG2", "CD1"],
        ["N", "CA", "C", "O", "CB", "CG", "CD1", "CD2"],
        ["N", "CA", "C", "O", "CB", "CG", "CD", "CE", "NZ"],
        ["N", "CA", "C", "O", "CB", "CG", "SD", "CE"],
        ["N", "CA", "C", "O", "CB", "CG", "CD1", "CD2", "CE1", "CE2", "CZ"],
        ["N", "CA", "C", "O", "CB", "CG", "CD"],
        ["N", "CA", "C", "O", "CB", "OG"],
        ["N", "CA", "C", "O", "CB", "OG1", "CG2"],
        ["N", "CA", "C", "O", "CB", "CG", "CD1", "CD2", "NE1", "CE2", "CE3", "CZ2", "CZ3", "CH2"],
        ["N", "CA", "C", "O", "CB", "CG", "CD1", "CD2", "CE1", "CE2", "CZ", "OH"],
        ["N", "CA", "C", "O", "CB", "CG1", "CG2"],
    ]

    /// The four atoms of each χ angle, χ1 first (ALA and GLY have none; ARG's χ5 is not used).
    public static let chiAtoms: [[[String]]] = [
        [],
        [["N", "CA", "CB", "CG"], ["CA", "CB", "CG", "CD"], ["CB", "CG", "CD", "NE"], ["CG", "CD", "NE", "CZ"]],
        [["N", "CA", "CB", "CG"], ["CA", "CB", "CG", "OD1"]],
        [["N", "CA", "CB", "CG"], ["CA", "CB", "CG", "OD1"]],
        [["N", "CA", "CB", "SG"]],
        [["N", "CA", "CB", "CG"], ["CA", "CB", "CG", "CD"], ["CB", "CG", "CD", "OE1"]],
        [["N", "CA", "CB", "CG"], ["CA", "CB", "CG", "CD"], ["CB", "CG", "CD", "OE1"]],
        [],
        [["N", "CA", "CB", "CG"], ["CA", "CB", "CG", "ND1"]],
        [["N", "CA", "CB", "CG1"], ["CA", "CB", "CG1", "CD1"]],
        [["N", "CA", "CB", "CG"], ["CA", "CB", "CG", "CD1"]],
        [["N", "CA", "CB", "CG"], ["CA", "CB", "CG", "CD"], ["CB", "CG", "CD", "CE"], ["CG", "CD", "CE", "NZ"]],
        [["N", "CA", "CB", "CG"], ["CA", "CB", "CG", "SD"], ["CB", "CG", "SD", "CE"]],
        [["N", "CA", "CB", "CG"], ["CA", "CB", "CG", "CD1"]],
        [["N", "CA", "CB", "CG"], ["CA", "CB", "CG", "CD"]],
        [["N", "CA", "CB", "OG"]],
        [["N", "CA", "CB", "OG1"]],
        [["N", "CA", "CB", "CG"], ["CA", "CB", "CG", "CD1"]],
        [["N", "CA", "CB", "CG"], ["CA", "CB", "CG", "CD1"]],
        [["N", "CA", "CB", "CG1"]],
    ]

    /// χ angles that are π-periodic (a flip of a symmetric group: ASP χ2, GLU χ3, PHE χ2, TYR χ2).
    public static let chiPiPeriodic: [[Bool]] = (0..<20).map { restype in
        (0..<4).map { chi in [(3, 1), (6, 2), (13, 1), (18, 1)].contains { $0 == (restype, chi) } }
    }

    /// Atoms of each restype with their rigid group and idealised position in it.
    public static let groupAtoms: [[GroupAtom]] = table.map { rows in
        rows.map { GroupAtom(name: $0.0, group: $0.1, position: SIMD3($0.2, $0.3, $0.4)) }
    }

    private static let table: [[(String, Int, Double, Double, Double)]] = [
        [("N", 0, -0.525, 1.363, 0.000), ("CA", 0, 0.000, 0.000, 0.000), ("C", 0, 1.526, -0.000, -0.000), ("CB", 0, -0.529, -0.774, -1.205),
         ("O", 3, 0.627, 1.062, 0.000)],
        [("N", 0, -0.524, 1.362, -0.000), ("CA", 0, 0.000, 0.000, 0.000), ("C", 0, 1.525, -0.000, -0.000), ("CB", 0, -0.524, -0.778, -1.209),
         ("O", 3, 0.626, 1.062, 0.000), ("CG", 4, 0.616, 1.390, -0.000), ("CD", 5, 0.564, 1.414, 0.000), ("NE", 6, 0.539, 1.357, -0.000),
         ("NH1", 7, 0.206, 2.301, 0.000), ("NH2", 7, 2.078, 0.978, -0.000), ("CZ", 7, 0.758, 1.093, -0.000)],
        [("N", 0, -0.536, 1.357, 0.000), ("CA", 0, 0.000, 0.000, 0.000), ("C", 0, 1.526, -0.000, -0.000), ("CB", 0, -0.531, -0.787, -1.200),
         ("O", 3, 0.625, 1.062, 0.000), ("CG", 4, 0.584, 1.399, 0.000), ("ND2", 5, 0.593, -1.188, 0.001), ("OD1", 5, 0.633, 1.059, 0.000)],
        [("N", 0, -0.525, 1.362, -0.000), ("CA", 0, 0.000, 0.000, 0.000), ("C", 0, 1.527, 0.000, -0.000), ("CB", 0, -0.526, -0.778, -1.208),
         ("O", 3, 0.626, 1.062, -0.000), ("CG", 4, 0.593, 1.398, -0.000), ("OD1", 5, 0.610, 1.091, 0.000), ("OD2", 5, 0.592, -1.101, -0.003)],
        [("N", 0, -0.522, 1.362, -0.000), ("CA", 0, 0.000, 0.000, 0.000), ("C", 0, 1.524, 0.000, 0.000), ("CB", 0, -0.519, -0.773, -1.212),
         ("O", 3, 0.625, 1.062, -0.000), ("SG", 4, 0.728, 1.653, 0.000)],
        [("N", 0, -0.526, 1.361, -0.000), ("CA", 0, 0.000, 0.000, 0.000), ("C", 0, 1.526, 0.000, 0.000), ("CB", 0, -0.525, -0.779, -1.207),
         ("O", 3, 0.626, 1.062, -0.000), ("CG", 4, 0.615, 1.393, 0.000), ("CD", 5, 0.587, 1.399, -0.000), ("NE2", 6, 0.593, -1.189, -0.001),
         ("OE1", 6, 0.634, 1.060, 0.000)],
        [("N", 0, -0.528, 1.361, 0.000), ("CA", 0, 0.000, 0.000, 0.000), ("C", 0, 1.526, -0.000, -0.000), ("CB", 0, -0.526, -0.781, -1.207),
         ("O", 3, 0.626, 1.062, 0.000), ("CG", 4, 0.615, 1.392, 0.000), ("CD", 5, 0.600, 1.397, 0.000), ("OE1", 6, 0.607, 1.095, -0.000),
         ("OE2", 6, 0.589, -1.104, -0.001)],
        [("N", 0, -0.572, 1.337, 0.000), ("CA", 0, 0.000, 0.000, 0.000), ("C", 0, 1.517, -0.000, -0.000), ("O", 3, 0.626, 1.062, -0.000)],
        [("N", 0, -0.527, 1.360, 0.000), ("CA", 0, 0.000, 0.000, 0.000), ("C", 0, 1.525, 0.000, 0.000), ("CB", 0, -0.525, -0.778, -1.208),
         ("O", 3, 0.625, 1.063, 0.000), ("CG", 4, 0.600, 1.370, -0.000), ("CD2", 5, 0.889, -1.021, 0.003), ("ND1", 5, 0.744, 1.160, -0.000),
         ("CE1", 5, 2.030, 0.851, 0.002), ("NE2", 5, 2.145, -0.466, 0.004)],
        [("N", 0, -0.493, 1.373, -0.000), ("CA", 0, 0.000, 0.000, 0.000), ("C", 0, 1.527, -0.000, -0.000), ("CB", 0, -0.536, -0.793, -1.213),
         ("O", 3, 0.627, 1.062, -0.000), ("CG1", 4, 0.534, 1.437, -0.000), ("CG2", 4, 0.540, -0.785, -1.199), ("CD1", 5, 0.619, 1.391, 0.000)],
        [("N", 0, -0.520, 1.363, 0.000), ("CA", 0, 0.000, 0.000, 0.000), ("C", 0, 1.525, -0.000, -0.000), ("CB", 0, -0.522, -0.773, -1.214),
         ("O", 3, 0.625, 1.063, -0.000), ("CG", 4, 0.678, 1.371, 0.000), ("CD1", 5, 0.530, 1.430, -0.000), ("CD2", 5, 0.535, -0.774, 1.200)],
        [("N", 0, -0.526, 1.362, -0.000), ("CA", 0, 0.000, 0.000, 0.000), ("C", 0, 1.526, 0.000, 0.000), ("CB", 0, -0.524, -0.778, -1.208),
         ("O", 3, 0.626, 1.062, -0.000), ("CG", 4, 0.619, 1.390, 0.000), ("CD", 5, 0.559, 1.417, 0.000), ("CE", 6, 0.560, 1.416, 0.000),
         ("NZ", 7, 0.554, 1.387, 0.000)],
        [("N", 0, -0.521, 1.364, -0.000), ("CA", 0, 0.000, 0.000, 0.000), ("C", 0, 1.525, 0.000, 0.000), ("CB", 0, -0.523, -0.776, -1.210),
         ("O", 3, 0.625, 1.062, -0.000), ("CG", 4, 0.613, 1.391, -0.000), ("SD", 5, 0.703, 1.695, 0.000), ("CE", 6, 0.320, 1.786, -0.000)],
        [("N", 0, -0.518, 1.363, 0.000), ("CA", 0, 0.000, 0.000, 0.000), ("C", 0, 1.524, 0.000, -0.000), ("CB", 0, -0.525, -0.776, -1.212),
         ("O", 3, 0.626, 1.062, -0.000), ("CG", 4, 0.607, 1.377, 0.000), ("CD1", 5, 0.709, 1.195, -0.000), ("CD2", 5, 0.706, -1.196, 0.000),
         ("CE1", 5, 2.102, 1.198, -0.000), ("CE2", 5, 2.098, -1.201, -0.000), ("CZ", 5, 2.794, -0.003, -0.001)],
        // PRO's CD: AlphaFold widened the angle by 2° from (0.427, 1.440, 0).
        [("N", 0, -0.566, 1.351, -0.000), ("CA", 0, 0.000, 0.000, 0.000), ("C", 0, 1.527, -0.000, 0.000), ("CB", 0, -0.546, -0.611, -1.293),
         ("O", 3, 0.621, 1.066, 0.000), ("CG", 4, 0.382, 1.445, 0.0), ("CD", 5, 0.477, 1.424, 0.0)],
        [("N", 0, -0.529, 1.360, -0.000), ("CA", 0, 0.000, 0.000, 0.000), ("C", 0, 1.525, -0.000, -0.000), ("CB", 0, -0.518, -0.777, -1.211),
         ("O", 3, 0.626, 1.062, -0.000), ("OG", 4, 0.503, 1.325, 0.000)],
        [("N", 0, -0.517, 1.364, 0.000), ("CA", 0, 0.000, 0.000, 0.000), ("C", 0, 1.526, 0.000, -0.000), ("CB", 0, -0.516, -0.793, -1.215),
         ("O", 3, 0.626, 1.062, 0.000), ("CG2", 4, 0.550, -0.718, -1.228), ("OG1", 4, 0.472, 1.353, 0.000)],
        [("N", 0, -0.521, 1.363, 0.000), ("CA", 0, 0.000, 0.000, 0.000), ("C", 0, 1.525, -0.000, 0.000), ("CB", 0, -0.523, -0.776, -1.212),
         ("O", 3, 0.627, 1.062, 0.000), ("CG", 4, 0.609, 1.370, -0.000), ("CD1", 5, 0.824, 1.091, 0.000), ("CD2", 5, 0.854, -1.148, -0.005),
         ("CE2", 5, 2.186, -0.678, -0.007), ("CE3", 5, 0.622, -2.530, -0.007), ("NE1", 5, 2.140, 0.690, -0.004), ("CH2", 5, 3.028, -2.890, -0.013),
         ("CZ2", 5, 3.283, -1.543, -0.011), ("CZ3", 5, 1.715, -3.389, -0.011)],
        [("N", 0, -0.522, 1.362, 0.000), ("CA", 0, 0.000, 0.000, 0.000), ("C", 0, 1.524, -0.000, -0.000), ("CB", 0, -0.522, -0.776, -1.213),
         ("O", 3, 0.627, 1.062, -0.000), ("CG", 4, 0.607, 1.382, -0.000), ("CD1", 5, 0.716, 1.195, -0.000), ("CD2", 5, 0.713, -1.194, -0.001),
         ("CE1", 5, 2.107, 1.200, -0.002), ("CE2", 5, 2.104, -1.201, -0.003), ("OH", 5, 4.168, -0.002, -0.005), ("CZ", 5, 2.791, -0.001, -0.003)],
        [("N", 0, -0.494, 1.373, -0.000), ("CA", 0, 0.000, 0.000, 0.000), ("C", 0, 1.527, -0.000, -0.000), ("CB", 0, -0.533, -0.795, -1.213),
         ("O", 3, 0.627, 1.062, -0.000), ("CG1", 4, 0.540, 1.429, -0.000), ("CG2", 4, 0.533, -0.776, 1.203)],
    ]

    /// Each restype's 8 rigid-group frames relative to their parent (backbone for groups 1–4,
    /// the previous χ group for 5–7): rotation columns (ex, ey, ez) and translation.
    public static let defaultFrames: [[RigidTransform]] = (0..<20).map { restype in
        let position = Dictionary(uniqueKeysWithValues: groupAtoms[restype].map { ($0.name, $0.position) })
        var frames = [RigidTransform](repeating: .identity, count: 8)
        frames[2] = frame(ex: position["N"]! - position["CA"]!, ey: SIMD3(1, 0, 0), origin: position["N"]!)
        frames[3] = frame(ex: position["C"]! - position["CA"]!, ey: position["CA"]! - position["N"]!, origin: position["C"]!)
        let chis = chiAtoms[restype]
        if let chi1 = chis.first {
            let (a, b, c) = (position[chi1[0]]!, position[chi1[1]]!, position[chi1[2]]!)
            frames[4] = frame(ex: c - b, ey: a - b, origin: c)
        }
        // χ2…χ4: the rotation axis starts at the parent frame's origin and ends at the axis atom.
        for chi in chis.indices.dropFirst() {
            let axisEnd = position[chis[chi][2]]!
            frames[4 + chi] = frame(ex: axisEnd, ey: SIMD3(-1, 0, 0), origin: axisEnd)
        }
        return frames
    }

    /// The frame with x along `ex`, y in the (ex, ey) plane, origin at `origin`.
    static func frame(ex: SIMD3<Double>, ey: SIMD3<Double>, origin: SIMD3<Double>) -> RigidTransform {
        let x = ex / (ex * ex).sum().squareRoot()
        var y = ey - (ey * x).sum() * x
        y /= (y * y).sum().squareRoot()
        let z = SIMD3(x.y * y.z - x.z * y.y, x.z * y.x - x.x * y.z, x.x * y.y - x.y * y.x)
        // Row-major rotation whose columns are x, y, z.
        return RigidTransform(rotation: [x.x, y.x, z.x, x.y, y.y, z.y, x.z, y.z, z.z], translation: origin)
    }
}
