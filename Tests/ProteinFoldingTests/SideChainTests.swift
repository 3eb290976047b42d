import Foundation
import Kernels
import Testing
import TestSupport
@testable import ProteinFolding
import TensorCore

@Suite("Side chains: torsions → frames → atom14 → atom37")
struct SideChainTests {
    static let cif = Fixtures.shared("openfold/2q2k_A/ground_truth/2q2k.cif").path

    /// The torsion of d about the b→c axis, measured as AlphaFold does: in the frame with x along
    /// c − b and a in the xy plane (y > 0), the angle of d's (y, z).
    static func torsion(_ a: SIMD3<Double>, _ b: SIMD3<Double>, _ c: SIMD3<Double>, _ d: SIMD3<Double>) -> Double {
        let frame = ResidueConstants.frame(ex: c - b, ey: a - b, origin: c)
        let r = frame.rotation, v = d - c
        let y = r[1] * v.x + r[4] * v.y + r[7] * v.z, z = r[2] * v.x + r[5] * v.y + r[8] * v.z
        return atan2(z, y)
    }

    static func backboneFrame(_ atoms: [String: SIMD3<Double>]) -> RigidTransform {
        ResidueConstants.frame(ex: atoms["C"]! - atoms["CA"]!, ey: atoms["N"]! - atoms["CA"]!, origin: atoms["CA"]!)
    }

    @Test("the χ angles measured on built atoms are the torsions put in, for every residue type and χ")
    func chiAnglesRoundTrip() {
        var generator = RandomGenerator(seed: 11)
        let aatype = Array(0..<20)
        let n = aatype.count
        let draws = generator.uniform([n * 7], dtype: .float64).doubles.map { ($0 * 2 - 1) * Double.pi }
        let angles = Tensor(draws.flatMap { [sin($0), cos($0)] }, shape: [1, n, 7, 2])
        let backbone = Rigid.identity(batch: 1, residues: n, dtype: .float64)
        let built = SideChains.atoms(backbone: backbone, angles: angles, aatype: aatype).positions.doubles
        var checked = 0
        for (i, restype) in aatype.enumerated() {
            let names = ResidueConstants.atom14Names[restype]
            func position(_ name: String) -> SIMD3<Double> {
                let slot = names.firstIndex(of: name)!
                return SIMD3(built[(i * 14 + slot) * 3], built[(i * 14 + slot) * 3 + 1], built[(i * 14 + slot) * 3 + 2])
            }
            for (chi, atoms) in ResidueConstants.chiAtoms[restype].enumerated() {
                let measured = Self.torsion(position(atoms[0]), position(atoms[1]), position(atoms[2]), position(atoms[3]))
                let expected = draws[i * 7 + 3 + chi]
                let difference = abs(remainder(measured - expected, 2 * Double.pi))
                #expect(difference < 1e-9, "\(ResidueConstants.threeLetter[restype]) χ\(chi + 1): \(measured) vs \(expected)")
                checked += 1
            }
        }
        #expect(checked == 39)  // χ angles over the 20 amino acids (the sum of AlphaFold's chi_angles_mask)
    }

    @Test("rebuilding 2Q2K chain A from its own frames and torsions reproduces its heavy atoms (ideal geometry: backbone and Cβ within 0.1 Å RMSD, all atoms 0.3 Å)")
    func rebuildRealStructure() throws {
        let chain = try ProteinStructure.read(Self.cif).chain("A")
        let letters = Dictionary(uniqueKeysWithValues: ResidueConstants.threeLetter.enumerated().map { ($1, $0) })
        // Complete standard residues only.
        let residues = chain.residues.filter { residue in
            guard let restype = letters[residue.name] else { return false }
            return ResidueConstants.atom14Names[restype].allSatisfy { residue.atoms[$0] != nil }
        }
        #expect(residues.count > 40)
        let aatype = residues.map { letters[$0.name]! }
        var rotations: [Double] = [], translations: [Double] = [], angles: [Double] = []
        for (residue, restype) in zip(residues, aatype) {
            let frame = Self.backboneFrame(residue.atoms)
            rotations += frame.rotation
            translations += [frame.translation.x, frame.translation.y, frame.translation.z]
            // ψ group: x along CA→C, y along CA − N (orthogonalised), where O sits at angle 0 by default.
            let a = residue.atoms
            var torsions = [0.0, 0.0, Self.torsion(a["CA"]! * 2 - a["N"]!, a["CA"]!, a["C"]!, a["O"]!)]
            for chi in 0..<4 {
                let atoms = chi < ResidueConstants.chiAtoms[restype].count ? ResidueConstants.chiAtoms[restype][chi] : nil
                torsions.append(atoms.map { Self.torsion(a[$0[0]]!, a[$0[1]]!, a[$0[2]]!, a[$0[3]]!) } ?? 0)
            }
            angles += torsions.flatMap { [sin($0), cos($0)] }
        }
        let n = residues.count
        let backbone = Rigid(rotation: Tensor(rotations, shape: [1, n, 3, 3]), translation: Tensor(translations, shape: [1, n, 3]))
        let built = SideChains.atoms(backbone: backbone, angles: Tensor(angles, shape: [1, n, 7, 2]), aatype: aatype).positions.doubles
        var squared = 0.0, count = 0, worst = (0.0, ""), backboneSquared = 0.0, backboneCount = 0
        for (i, (residue, restype)) in zip(residues, aatype).enumerated() {
            for (slot, name) in ResidueConstants.atom14Names[restype].enumerated() {
                let p = SIMD3(built[(i * 14 + slot) * 3], built[(i * 14 + slot) * 3 + 1], built[(i * 14 + slot) * 3 + 2])
                let d = p - residue.atoms[name]!, distance = (d * d).sum()
                squared += distance
                count += 1
                if slot < 5 { (backboneSquared, backboneCount) = (backboneSquared + distance, backboneCount + 1) }
                if distance.squareRoot() > worst.0 { worst = (distance.squareRoot(), "\(residue.name)\(residue.number) \(name)") }
            }
        }
        let rmsd = (squared / Double(count)).squareRoot()
        #expect(rmsd < 0.3, "all-atom RMSD \(rmsd) Å over \(count) atoms; worst \(worst)")
        #expect((backboneSquared / Double(backboneCount)).squareRoot() < 0.1, "N, CA, C, O, CB RMSD over \(backboneCount) atoms")
        // The tip of a lysine (four χ angles from the backbone) collects the real bond angles' deviations.
        #expect(worst.0 < 1.5, "worst atom \(worst)")
    }

    @Test("atom37 puts each atom14 slot under its atom type; pseudo-β is Cβ, Cα for glycine")
    func layouts() {
        let aatype = [0, 7, 17]  // ALA, GLY, TRP
        var generator = RandomGenerator(seed: 12)
        let atom14 = generator.normal([3, 14, 3], dtype: .float64)
        let (atom37, mask) = SideChains.atom37(atom14, aatype: aatype)
        let (p14, p37, m) = (atom14.doubles, atom37.doubles, mask.doubles)
        #expect(m[0..<37].reduce(0, +) == 5 && m[37..<74].reduce(0, +) == 4 && m[74..<111].reduce(0, +) == 14)
        let ch2 = ResidueConstants.atomTypes.firstIndex(of: "CH2")!
        #expect(Array(p37[(2 * 37 + ch2) * 3..<(2 * 37 + ch2) * 3 + 3]) == Array(p14[(2 * 14 + 13) * 3..<(2 * 14 + 13) * 3 + 3]))
        let beta = SideChains.pseudoBeta(atom14, aatype: aatype)
        #expect(beta[0] == SIMD3(p14[4 * 3], p14[4 * 3 + 1], p14[4 * 3 + 2]))
        #expect(beta[1] == SIMD3(p14[(14 + 1) * 3], p14[(14 + 1) * 3 + 1], p14[(14 + 1) * 3 + 2]))
    }
}
