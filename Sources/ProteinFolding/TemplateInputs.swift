// The model's template inputs from raw template features (data_transforms.py `fix_templates_aatype`,
// `make_pseudo_beta("template_")`, `atom37_to_torsion_angles("template_")`; utils/feats.py
// `build_template_angle_feat`, `build_template_pair_feat`). Angles are computed in Double:
// upstream warns they are "extremely sensitive to floating point imprecisions".
import Foundation
import TensorCore

public enum TemplateInputs {
    /// `template_aatype` in restype order (gap 21), per template `[T][N]`.
    public static func restypes(_ t: TemplateFeatures) -> [[Int]] {
        t.hhblitsAatype.map { $0.map { ResidueAlphabet.hhblitsToRestype[$0] } }
    }

    static let atomIndex = Dictionary(uniqueKeysWithValues: ResidueConstants.atomTypes.enumerated().map { ($1, $0) })

    /// Pseudo-β (Cβ, Cα for glycine) of template `k`: positions `[N]` and mask `[N]`.
    public static func pseudoBeta(_ t: TemplateFeatures, template k: Int) -> (positions: [SIMD3<Double>], mask: [Double]) {
        let aatype = restypes(t)[k]
        let (ca, cb) = (atomIndex["CA"]!, atomIndex["CB"]!)
        let slots = aatype.map { $0 == 7 ? ca : cb }
        return (slots.enumerated().map { SIMD3<Double>(t.positions[k][$0][$1]) }, slots.enumerated().map { Double(t.masks[k][$0][$1]) })
    }

    /// Torsions of template `k` as upstream's `atom37_to_torsion_angles`: pre-ω, φ, ψ, χ1–4 per
    /// residue as (sin, cos) `[N][7]`, their π-periodic alternatives, and the mask `[N][7]`. Values
    /// are not masked (a missing atom sits at the origin), exactly as upstream computes them.
    public static func torsionAngles(_ t: TemplateFeatures, template k: Int)
        -> (sinCos: [[SIMD2<Double>]], alternative: [[SIMD2<Double>]], mask: [[Double]]) {
        let aatype = restypes(t)[k].map { Swift.min($0, 20) }
        let positions = t.positions[k].map { $0.map(SIMD3<Double>.init) }, masks = t.masks[k].map { $0.map(Double.init) }
        let n = aatype.count
        let zeroAtoms = Array(repeating: SIMD3<Double>.zero, count: 37), zeroMask = Array(repeating: 0.0, count: 37)
        let (atomN, atomCA, atomC, atomO) = (0, 1, 2, 4)
        var sinCos: [[SIMD2<Double>]] = [], alternative: [[SIMD2<Double>]] = [], mask: [[Double]] = []
        for i in 0..<n {
            let previous = i > 0 ? positions[i - 1] : zeroAtoms, previousMask = i > 0 ? masks[i - 1] : zeroMask
            let p = positions[i], m = masks[i]
            var quadruples = [[previous[atomCA], previous[atomC], p[atomN], p[atomCA]],
                              [previous[atomC], p[atomN], p[atomCA], p[atomC]],
                              [p[atomN], p[atomCA], p[atomC], p[atomO]]]
            var angleMask = [previousMask[atomCA] * previousMask[atomC] * m[atomN] * m[atomCA],
                             previousMask[atomC] * m[atomN] * m[atomCA] * m[atomC],
                             m[atomN] * m[atomCA] * m[atomC] * m[atomO]]
            let chis = aatype[i] < 20 ? ResidueConstants.chiAtoms[aatype[i]] : []
            for chi in 0..<4 {
                if chi < chis.count {
                    let slots = chis[chi].map { atomIndex[$0]! }
                    quadruples.append(slots.map { p[$0] })
                    angleMask.append(slots.map { m[$0] }.reduce(1, *))
                } else {  // upstream gathers atom 0 (N) four times for an absent χ; its mask is 0
                    quadruples.append(Array(repeating: p[atomN], count: 4))
                    angleMask.append(0)
                }
            }
            var row = quadruples.map { torsion($0) }
            row[2] = -row[2]  // ψ is measured with the opposite orientation
            let periodic = aatype[i] < 20 ? ResidueConstants.chiPiPeriodic[aatype[i]] : [false, false, false, false]
            sinCos.append(row)
            alternative.append(row.enumerated().map { index, value in index >= 3 && periodic[index - 3] ? -value : value })
            mask.append(angleMask)
        }
        return (sinCos, alternative, mask)
    }

    /// (sin, cos) of the dihedral a-b-c-d as upstream: the frame `from_3_points(b, c, a)` (eps 1e-8)
    /// takes d into local coordinates; (z, y) normalised with eps 1e-8.
    static func torsion(_ atoms: [SIMD3<Double>]) -> SIMD2<Double> {
        let (a, b, c, d) = (atoms[0], atoms[1], atoms[2], atoms[3])
        var e0 = c - b
        e0 /= ((e0 * e0).sum() + 1e-8).squareRoot()
        var e1 = a - c
        e1 -= e0 * (e0 * e1).sum()
        e1 /= ((e1 * e1).sum() + 1e-8).squareRoot()
        let e2 = SIMD3(e0.y * e1.z - e0.z * e1.y, e0.z * e1.x - e0.x * e1.z, e0.x * e1.y - e0.y * e1.x)
        let v = d - c
        let local = SIMD2((e2 * v).sum(), (e1 * v).sum())
        return local / ((local * local).sum() + 1e-8).squareRoot()
    }

    /// `template_angle_feat` `[T, N, 57]`: restype one-hot (22), (sin, cos) ×7, alternatives ×7, mask ×7.
    public static func angleFeatures(_ t: TemplateFeatures, dtype: DType = .float32) -> Tensor {
        let n = t.sequences.first?.count ?? 0
        var values: [Double] = []
        values.reserveCapacity(t.count * n * 57)
        let aatype = restypes(t)
        for k in 0..<t.count {
            let angles = torsionAngles(t, template: k)
            for i in 0..<n {
                var oneHot = Array(repeating: 0.0, count: 22)
                oneHot[aatype[k][i]] = 1
                values += oneHot
                values += angles.sinCos[i].flatMap { [$0.x, $0.y] }
                values += angles.alternative[i].flatMap { [$0.x, $0.y] }
                values += angles.mask[i]
            }
        }
        return Tensor(values, shape: [t.count, n, 57]).cast(to: dtype)
    }

    /// The MSA mask of the template rows `[T, N]`: the ψ mask, as upstream appends them.
    public static func rowMask(_ t: TemplateFeatures) -> [[Double]] {
        (0..<t.count).map { k in torsionAngles(t, template: k).mask.map { $0[2] } }
    }

    public static let distogramBins = 39, minimumBin = 3.25, maximumBin = 50.75

    /// `build_template_pair_feat` for template `k`, `[N, N, 88]`: pseudo-β distogram (39 bins
    /// 3.25–50.75 Å on squared distances, top bin open), its 2-D mask, restype one-hots of j then
    /// i (22 each), the unit vectors (zeros: `use_unit_vector` is off for monomers), the backbone
    /// 2-D mask; all multiplied by the backbone (N, Cα, C) 2-D mask.
    public static func pairFeatures(_ t: TemplateFeatures, template k: Int, dtype: DType = .float32) -> Tensor {
        let beta = pseudoBeta(t, template: k), aatype = restypes(t)[k]
        let n = aatype.count, channels = 88
        let backbone = t.masks[k].map { Double($0[0] * $0[1] * $0[2]) }
        let lower = (0..<distogramBins).map { minimumBin + Double($0) * (maximumBin - minimumBin) / Double(distogramBins - 1) }.map { $0 * $0 }
        let upper = Array(lower.dropFirst()) + [1e5]
        var values = [Double](repeating: 0, count: n * n * channels)
        for i in 0..<n {
            for j in 0..<n {
                let scale = backbone[i] * backbone[j]
                guard scale != 0 else { continue }
                let base = (i * n + j) * channels
                let d = beta.positions[i] - beta.positions[j], squared = (d * d).sum()
                for bin in 0..<distogramBins where squared > lower[bin] && squared < upper[bin] { values[base + bin] = scale }
                values[base + 39] = beta.mask[i] * beta.mask[j] * scale
                values[base + 40 + aatype[j]] = scale
                values[base + 62 + aatype[i]] = scale
                values[base + 87] = scale
            }
        }
        return Tensor(values, shape: [n, n, channels]).cast(to: dtype)
    }
}
