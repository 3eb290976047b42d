// All heavy atoms from backbone frames and torsions (AlphaFold supplement Alg. 24; upstream's
// torsion_angles_to_frames and frames_and_literature_positions_to_atom14_pos): each of a
// residue's 8 rigid groups is its default frame rotated about x by its torsion, χ2–χ4 chained
// onto χ1, all composed onto the backbone frame; atoms are their literature positions in their
// group's frame. Differentiable (the side-chain FAPE and χ losses train through it).
import Kernels
import TensorCore

public enum SideChains {
    /// Global frames of the 8 rigid groups `[B, N, 8]` and atom14 positions `[B, N, 14, 3]` (Å,
    /// zero in unused slots) with their 0/1 mask `[N, 14]`.
    public struct Atoms {
        public var groups: Rigid
        public var positions: Tensor
        public var mask: Tensor
    }

    /// - Parameters:
    ///   - backbone: the structure module's frames `[B, N]`, translations in Å.
    ///   - angles: normalised torsions `[B, N, 7, 2]` as (sin, cos): pre-ω, φ, ψ, χ1…χ4.
    ///   - aatype: restype per residue (20 = unknown, built as glycine's backbone).
    public static func atoms(backbone: Rigid, angles: Tensor, aatype: [Int]) -> Atoms {
        let (b, n, dtype) = (angles.shape[0], angles.shape[1], angles.dtype)
        let tables = Tables(aatype: aatype, dtype: dtype)
        // The backbone group's torsion is fixed at 0 (sin 0, cos 1).
        let backboneAngle = Tensor([0, 1] as [Double], shape: [1, 1, 1, 2]).cast(to: dtype).expanded(to: [b, n, 1, 2])
        let all = Tensor.concat([backboneAngle, angles], axis: 2)  // [B, N, 8, 2]
        let sin = all.sliced(axis: 3, 0, 1).squeezed(axis: 3), cos = all.sliced(axis: 3, 1, 2).squeezed(axis: 3)
        let one = Tensor.ones([b, n, 8], dtype: dtype), zero = Tensor.zeros([b, n, 8], dtype: dtype)
        let aboutX = Tensor.stack([one, zero, zero, zero, cos, -sin, zero, sin, cos], axis: -1).reshaped([b, n, 8, 3, 3])
        let local = Rigid(rotation: tables.defaultRotation.unsqueezed(axis: 0).matmul(aboutX),
                          translation: tables.defaultTranslation.unsqueezed(axis: 0).expanded(to: [b, n, 8, 3]))
        func group(_ index: Int) -> Rigid {
            Rigid(rotation: local.rotation.sliced(axis: 2, index, index + 1), translation: local.translation.sliced(axis: 2, index, index + 1))
        }
        let chi2 = group(4).composed(with: group(5)), chi3 = chi2.composed(with: group(6)), chi4 = chi3.composed(with: group(7))
        let toBackbone = [group(0), group(1), group(2), group(3), group(4), chi2, chi3, chi4]
        let relative = Rigid(rotation: Tensor.concat(toBackbone.map(\.rotation), axis: 2),
                             translation: Tensor.concat(toBackbone.map(\.translation), axis: 2))
        let frame = Rigid(rotation: backbone.rotation.unsqueezed(axis: 2), translation: backbone.translation.unsqueezed(axis: 2))
        let groups = frame.composed(with: relative)
        // Each atom takes its group's frame: one-hot [N, 14, 8] @ frames [B, N, 8, ·].
        let rotation = tables.atomGroup.unsqueezed(axis: 0).matmul(groups.rotation.reshaped([b, n, 8, 9])).reshaped([b, n, 14, 3, 3])
        let translation = tables.atomGroup.unsqueezed(axis: 0).matmul(groups.translation)
        let positions = rotation.matmul(tables.literature.unsqueezed(axis: 0).unsqueezed(axis: -1)).squeezed(axis: -1) + translation
        return Atoms(groups: groups, positions: positions * tables.mask.unsqueezed(axis: 0).unsqueezed(axis: -1), mask: tables.mask)
    }

    /// atom14 positions `[N, 14, 3]` (one structure) into atom37 order `[N, 37, 3]` with its mask.
    public static func atom37(_ atom14: Tensor, aatype: [Int]) -> (positions: Tensor, mask: Tensor) {
        let n = aatype.count
        var gather = [Double](repeating: 0, count: n * 37 * 14), mask = [Double](repeating: 0, count: n * 37)
        for (i, restype) in aatype.enumerated() where restype < 20 {
            for (slot, name) in ResidueConstants.atom14Names[restype].enumerated() {
                let type = ResidueConstants.atomTypes.firstIndex(of: name)!
                gather[(i * 37 + type) * 14 + slot] = 1
                mask[i * 37 + type] = 1
            }
        }
        let selection = Tensor(gather, shape: [n, 37, 14]).cast(to: atom14.dtype)
        return (selection.matmul(atom14), Tensor(mask, shape: [n, 37]))
    }

    /// The pseudo-β position per residue (Cβ; Cα for glycine) from atom14 positions `[N, 14, 3]`.
    public static func pseudoBeta(_ atom14: Tensor, aatype: [Int]) -> [SIMD3<Double>] {
        let values = atom14.doubles
        return aatype.enumerated().map { i, restype in
            let slot = restype == 7 || restype >= 20 ? 1 : 4  // GLY (and unknown): Cα
            let base = (i * 14 + slot) * 3
            return SIMD3(values[base], values[base + 1], values[base + 2])
        }
    }

    /// Per-sequence constant tensors gathered from `ResidueConstants`.
    struct Tables {
        var defaultRotation: Tensor     // [N, 8, 3, 3]
        var defaultTranslation: Tensor  // [N, 8, 3]
        var atomGroup: Tensor           // [N, 14, 8] one-hot
        var literature: Tensor          // [N, 14, 3]
        var mask: Tensor                // [N, 14]

        init(aatype: [Int], dtype: DType) {
            let n = aatype.count
            var rotation = [Double](), translation = [Double]()
            var group = [Double](repeating: 0, count: n * 14 * 8), literature = [Double](repeating: 0, count: n * 14 * 3)
            var mask = [Double](repeating: 0, count: n * 14)
            for (i, restype) in aatype.enumerated() {
                let known = restype < 20
                // Unknown residues: glycine's frames, no atoms (AlphaFold's UNK row is all zero).
                for frame in ResidueConstants.defaultFrames[known ? restype : 7] {
                    rotation += frame.rotation
                    translation += [frame.translation.x, frame.translation.y, frame.translation.z]
                }
                guard known else { continue }
                let names = ResidueConstants.atom14Names[restype]
                for atom in ResidueConstants.groupAtoms[restype] {
                    let slot = names.firstIndex(of: atom.name)!
                    group[(i * 14 + slot) * 8 + atom.group] = 1
                    literature.replaceSubrange((i * 14 + slot) * 3..<(i * 14 + slot + 1) * 3, with: [atom.position.x, atom.position.y, atom.position.z])
                    mask[i * 14 + slot] = 1
                }
            }
            defaultRotation = Tensor(rotation, shape: [n, 8, 3, 3]).cast(to: dtype)
            defaultTranslation = Tensor(translation, shape: [n, 8, 3]).cast(to: dtype)
            atomGroup = Tensor(group, shape: [n, 14, 8]).cast(to: dtype)
            self.literature = Tensor(literature, shape: [n, 14, 3]).cast(to: dtype)
            self.mask = Tensor(mask, shape: [n, 14]).cast(to: dtype)
        }
    }
}
