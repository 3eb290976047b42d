// AlphaFold's training losses (supplement 1.9; upstream utils/loss.py, weights from the brief's
// table): FAPE on backbone frames over every structure-module iteration and on all rigid groups
// against all heavy atoms, supervised χ with π-periodic alternatives plus the angle-norm term,
// distogram, masked MSA and pLDDT cross entropies. The sum is scaled by √min(N, crop).
// Left out, as far as a fine-tune from scratch needs them: structural-violation terms (weight 0
// outside the fine-tuning presets), experimentally-resolved and TM losses, the renaming of
// symmetric side-chain atoms before the side-chain FAPE, and FAPE's clamping probability (FAPE is
// always clamped here).
import Foundation
import Kernels
import TensorCore
import TensorIO

/// The true structure of a query: heavy atoms in atom14 order with their mask.
public struct FoldingTarget {
    public var aatype: [Int]
    /// `[N, 14, 3]` (Å) and `[N, 14]` (1 where the atom was resolved).
    public var positions: [SIMD3<Double>]
    public var mask: [Bool]
    public var residues: Int { aatype.count }

    /// The chain's atoms placed by label_seq_id (1-based position in `sequence`); residues the
    /// structure lacks are masked. A residue whose name disagrees with the sequence is an error.
    public init(chain: ProteinChain, sequence: String, file: String) throws {
        aatype = sequence.map { ResidueAlphabet.restype($0) }
        positions = Array(repeating: .zero, count: aatype.count * 14)
        mask = Array(repeating: false, count: aatype.count * 14)
        let letters = Dictionary(uniqueKeysWithValues: ResidueConstants.threeLetter.enumerated().map { ($1, $0) })
        for residue in chain.residues {
            let i = residue.number - 1
            guard aatype.indices.contains(i) else {
                throw FileError(file: file, line: 0, message: "chain \(chain.id) residue \(residue.number) lies outside the \(aatype.count)-residue sequence")
            }
            guard let restype = letters[residue.name], restype == aatype[i] else {
                throw FileError(file: file, line: 0, message: "chain \(chain.id) residue \(residue.number) is \(residue.name), "
                                        + "the sequence has \(aatype[i] < 20 ? ResidueConstants.threeLetter[aatype[i]] : "X") there")
            }
            for (slot, name) in ResidueConstants.atom14Names[restype].enumerated() {
                if let p = residue.atoms[name] { (positions[i * 14 + slot], mask[i * 14 + slot]) = (p, true) }
            }
        }
    }

    /// Residues `range` only (a training crop).
    public func cropped(_ range: Range<Int>) -> FoldingTarget {
        var copy = self
        copy.aatype = Array(aatype[range])
        copy.positions = Array(positions[(range.lowerBound * 14)..<(range.upperBound * 14)])
        copy.mask = Array(mask[(range.lowerBound * 14)..<(range.upperBound * 14)])
        return copy
    }

    func atom(_ i: Int, _ name: String) -> SIMD3<Double>? {
        guard aatype[i] < 20, let slot = ResidueConstants.atom14Names[aatype[i]].firstIndex(of: name), mask[i * 14 + slot] else { return nil }
        return positions[i * 14 + slot]
    }

    /// Frames of the 8 rigid groups from the atoms that define them (backbone: CA with C on +x
    /// and N in the xy plane; ψ: C, x along CA→C, O in the plane; χ_k: its third atom, x along
    /// the axis, the fourth atom in the plane); nil where an atom is missing or the group is empty.
    func groupFrames() -> [[RigidTransform?]] {
        (0..<residues).map { i in
            var groups = [RigidTransform?](repeating: nil, count: 8)
            guard aatype[i] < 20, let n = atom(i, "N"), let ca = atom(i, "CA"), let c = atom(i, "C") else { return groups }
            groups[0] = ResidueConstants.frame(ex: c - ca, ey: n - ca, origin: ca)
            if let o = atom(i, "O") { groups[3] = ResidueConstants.frame(ex: c - ca, ey: o - c, origin: c) }
            for (chi, names) in ResidueConstants.chiAtoms[aatype[i]].enumerated() {
                if let b = atom(i, names[1]), let cc = atom(i, names[2]), let d = atom(i, names[3]) {
                    groups[4 + chi] = ResidueConstants.frame(ex: cc - b, ey: d - cc, origin: cc)
                }
            }
            return groups
        }
    }

    /// True χ angles (radians, AlphaFold's convention) or nil where undefined or unresolved.
    func chiAngles() -> [[Double?]] {
        (0..<residues).map { i in
            guard aatype[i] < 20 else { return [nil, nil, nil, nil] }
            let chis = ResidueConstants.chiAtoms[aatype[i]]
            return (0..<4).map { k -> Double? in
                guard k < chis.count, let a = atom(i, chis[k][0]), let b = atom(i, chis[k][1]), let c = atom(i, chis[k][2]),
                      let d = atom(i, chis[k][3]) else { return nil }
                return FoldingTarget.torsion(a, b, c, d)
            }
        }
    }

    /// The torsion of d about b→c: in the frame with x along c − b and a in the xy plane, the angle of d's (y, z).
    public static func torsion(_ a: SIMD3<Double>, _ b: SIMD3<Double>, _ c: SIMD3<Double>, _ d: SIMD3<Double>) -> Double {
        let r = ResidueConstants.frame(ex: c - b, ey: a - b, origin: c).rotation, v = d - c
        return atan2(r[2] * v.x + r[5] * v.y + r[8] * v.z, r[1] * v.x + r[4] * v.y + r[7] * v.z)
    }

    /// Pseudo-β (Cβ; Cα for glycine) per residue, nil where unresolved.
    func pseudoBeta() -> [SIMD3<Double>?] {
        (0..<residues).map { atom($0, aatype[$0] == 7 ? "CA" : "CB") }
    }
}

/// The loss terms of one training pass (each already weighted) and their scaled total.
public struct FoldingLossTerms {
    public var backboneFAPE = 0.0, sideChainFAPE = 0.0, chi = 0.0, distogram = 0.0, maskedMSA = 0.0, plddt = 0.0
    public var total: Tensor
    public var scale = 1.0

    public var named: [(String, Double)] {
        [("fape_backbone", backboneFAPE), ("fape_sidechain", sideChainFAPE), ("supervised_chi", chi), ("distogram", distogram),
         ("masked_msa", maskedMSA), ("plddt", plddt)]
    }
}

public enum FoldingLosses {
    /// Weights (openfold/config.py, initial training): FAPE 1.0 (backbone 0.5, side chain 0.5),
    /// χ 1.0 (χ 0.5, angle norm 0.01), distogram 0.3, masked MSA 2.0, pLDDT 0.01.
    public static let weights = (backboneFAPE: 0.5, sideChainFAPE: 0.5, chi: 0.5, angleNorm: 0.01, distogram: 0.3, maskedMSA: 2.0, plddt: 0.01)
    public static let clamp = 10.0, lengthScale = 10.0

    /// All terms for one pass against the target (same residues), `crop` the training crop size.
    public static func compute(_ pass: AlphaFold.Pass, model: AlphaFold, features: PassFeatures, target: FoldingTarget, crop: Int) -> FoldingLossTerms {
        let n = target.residues, dtype = pass.single.dtype
        let frames = target.groupFrames()
        // Backbone FAPE: every iteration's frames against the true backbone frames, Cα points.
        let trueBackbone = frames.map { $0[0] }
        let trueCA = (0..<n).map { target.atom($0, "CA") }
        var backbone = Tensor.zeros([], dtype: dtype)
        for rigid in pass.frames {
            backbone = backbone + fape(predictedFrames: rigid, trueFrames: trueBackbone,
                                       predictedPoints: rigid.translation, truePoints: trueCA)
        }
        backbone = backbone / Double(pass.frames.count)
        // Side-chain FAPE: all 8 groups against all atoms of the last structure.
        let groups = Rigid(rotation: pass.atoms.groups.rotation.reshaped([1, n * 8, 3, 3]), translation: pass.atoms.groups.translation.reshaped([1, n * 8, 3]))
        let trueAtoms = (0..<(n * 14)).map { target.mask[$0] ? target.positions[$0] : nil }
        let sideChain = fape(predictedFrames: groups, trueFrames: frames.flatMap { $0 },
                             predictedPoints: pass.atoms.positions.reshaped([1, n * 14, 3]), truePoints: trueAtoms)
        let chi = chiLoss(pass, target: target)
        let distogram = distogramLoss(model.distogramHead(pass.pair), target: target)
        let masked = maskedMSALoss(model.maskedMSAHead(pass.msa), features: features)
        let plddt = plddtLoss(model.plddtHead(pass.single), predictedCA: pass.frames.last!.translation, target: target)
        let w = weights
        var terms = FoldingLossTerms(total: .zeros([]))
        let parts: [(Tensor, Double, WritableKeyPath<FoldingLossTerms, Double>)] = [
            (backbone, w.backboneFAPE, \.backboneFAPE), (sideChain, w.sideChainFAPE, \.sideChainFAPE), (chi, 1, \.chi),
            (distogram, w.distogram, \.distogram), (masked, w.maskedMSA, \.maskedMSA), (plddt, w.plddt, \.plddt),
        ]
        var total = Tensor.zeros([], dtype: dtype)
        for (value, weight, path) in parts {
            let weighted = value * weight
            let number = weighted.doubles[0]
            // A NaN term is logged as NaN and left out of the total, as upstream.
            terms[keyPath: path] = number
            if number.isFinite { total = total + weighted }
        }
        terms.scale = Double(min(n, crop)).squareRoot()
        terms.total = total * terms.scale
        return terms
    }

    /// Frame-aligned point error: mean over (frame, point) pairs present in the truth of
    /// min(clamp, ‖T_f⁻¹ x_p − T̂_f⁻¹ x̂_p‖) / lengthScale. Predicted frames `[1, F]`, points `[1, P, 3]`.
    static func fape(predictedFrames: Rigid, trueFrames: [RigidTransform?], predictedPoints: Tensor, truePoints: [SIMD3<Double>?]) -> Tensor {
        let (f, p, dtype) = (trueFrames.count, truePoints.count, predictedPoints.dtype)
        var rotation = [Double](), translation = [Double](), frameMask = [Double](), points = [Double](), pointMask = [Double]()
        for frame in trueFrames {
            let t = frame ?? .identity
            rotation += t.rotation
            translation += [t.translation.x, t.translation.y, t.translation.z]
            frameMask.append(frame == nil ? 0 : 1)
        }
        for point in truePoints {
            let x = point ?? .zero
            points += [x.x, x.y, x.z]
            pointMask.append(point == nil ? 0 : 1)
        }
        let truth = Rigid(rotation: Tensor(rotation, shape: [1, f, 3, 3]).cast(to: dtype), translation: Tensor(translation, shape: [1, f, 3]).cast(to: dtype))
        let trueLocal = truth.invertApply(Tensor(points, shape: [1, 1, p, 3]).cast(to: dtype))     // [1, F, P, 3]
        let predictedLocal = predictedFrames.invertApply(predictedPoints.unsqueezed(axis: 1))          // [1, F, P, 3]
        let difference = predictedLocal - trueLocal
        let distance = ((difference * difference).sum(axis: -1) + 1e-4).sqrt().clamped(max: clamp) / lengthScale  // [1, F, P]
        let pairMask = Tensor(frameMask, shape: [1, f, 1]).cast(to: dtype) * Tensor(pointMask, shape: [1, 1, p]).cast(to: dtype)
        return (distance * pairMask).sum() / (pairMask.sum().doubles[0] + 1e-8)
    }

    /// Supervised χ: squared chord distance of the predicted (sin, cos) to the truth (or to the
    /// truth + π for π-periodic angles, whichever is nearer), weight 0.5; plus 0.01 × mean
    /// |‖unnormalised‖ − 1| over all torsions.
    static func chiLoss(_ pass: AlphaFold.Pass, target: FoldingTarget) -> Tensor {
        let n = target.residues, dtype = pass.angles.dtype
        let truth = target.chiAngles()
        var sinCos = [Double](), alternative = [Double](), mask = [Double]()
        for i in 0..<n {
            for k in 0..<4 {
                let angle = truth[i][k] ?? 0
                let periodic = target.aatype[i] < 20 && ResidueConstants.chiPiPeriodic[target.aatype[i]][k]
                sinCos += [sin(angle), cos(angle)]
                alternative += periodic ? [sin(angle + .pi), cos(angle + .pi)] : [sin(angle), cos(angle)]
                mask.append(truth[i][k] == nil ? 0 : 1)
            }
        }
        let predicted = pass.angles.sliced(axis: 2, 3, 7)  // [1, N, 4, 2]
        func squaredChord(_ values: [Double]) -> Tensor {
            let d = predicted - Tensor(values, shape: [1, n, 4, 2]).cast(to: dtype)
            return (d * d).sum(axis: -1)
        }
        let error = squaredChord(sinCos).minimum(squaredChord(alternative))
        let chiMask = Tensor(mask, shape: [1, n, 4]).cast(to: dtype)
        let chi = (error * chiMask).sum() / (chiMask.sum().doubles[0] + 1e-8)
        let norm = ((pass.unnormalizedAngles * pass.unnormalizedAngles).sum(axis: -1) + 1e-12).sqrt()
        let angleNorm = (norm - 1).abs().mean()
        return chi * weights.chi + angleNorm * weights.angleNorm
    }

    /// Cross entropy of the distogram (64 bins, edges linspace(2.3125, 21.6875, 63)) against the
    /// true pseudo-β distances, over pairs with both pseudo-β resolved.
    static func distogramLoss(_ logits: Tensor, target: FoldingTarget) -> Tensor {
        let n = target.residues, bins = logits.shape[3]
        let beta = target.pseudoBeta()
        let edges = (0..<(bins - 1)).map { 2.3125 + Double($0) * (21.6875 - 2.3125) / Double(bins - 2) }
        var oneHot = [Double](repeating: 0, count: n * n * bins), mask = [Double](repeating: 0, count: n * n)
        for i in 0..<n {
            for j in 0..<n {
                guard let a = beta[i], let b = beta[j] else { continue }
                let d = a - b, squared = (d * d).sum()
                oneHot[(i * n + j) * bins + edges.filter { squared > $0 * $0 }.count] = 1
                mask[i * n + j] = 1
            }
        }
        return crossEntropy(logits, oneHot: oneHot, mask: mask)
    }

    /// Cross entropy of the masked-MSA logits `[1, S, N, 23]` at the BERT-masked positions.
    static func maskedMSALoss(_ logits: Tensor, features: PassFeatures) -> Tensor {
        let classes = logits.shape[3], positions = features.trueMSA.count
        var oneHot = [Double](repeating: 0, count: positions * classes)
        for (k, value) in features.trueMSA.enumerated() { oneHot[k * classes + value] = 1 }
        return crossEntropy(logits, oneHot: oneHot, mask: features.bertMask.map { $0 ? 1 : 0 })
    }

    /// Cross entropy of the pLDDT head (50 bins) against the per-residue lDDT-Cα of the
    /// prediction (no gradient through the target), over residues with a true Cα.
    static func plddtLoss(_ logits: Tensor, predictedCA: Tensor, target: FoldingTarget) -> Tensor {
        let n = target.residues, bins = logits.shape[2]
        let trueCA = (0..<n).map { target.atom($0, "CA") }
        let values = predictedCA.doubles
        let predicted = (0..<n).map { SIMD3(values[3 * $0], values[3 * $0 + 1], values[3 * $0 + 2]) }
        let resolved = trueCA.indices.filter { trueCA[$0] != nil }
        let scores = StructureMetrics.lddt(model: resolved.map { predicted[$0] }, reference: resolved.map { trueCA[$0]! }, sameResidue: nil).perAtom
        var oneHot = [Double](repeating: 0, count: n * bins), mask = [Double](repeating: 0, count: n)
        for (index, i) in resolved.enumerated() {
            oneHot[i * bins + min(bins - 1, Int(scores[index] * Double(bins)))] = 1
            mask[i] = 1
        }
        return crossEntropy(logits, oneHot: oneHot, mask: mask)
    }

    /// Mean over masked positions of −Σ onehot · log_softmax(logits) along the last axis.
    static func crossEntropy(_ logits: Tensor, oneHot: [Double], mask: [Double]) -> Tensor {
        let classes = logits.shape.last!, positions = mask.count, dtype = logits.dtype
        let flat = logits.reshaped([positions, classes])
        let logProbabilities = flat - flat.logSumExp(axes: [-1], keepDims: true)
        let perPosition = -(logProbabilities * Tensor(oneHot, shape: [positions, classes]).cast(to: dtype)).sum(axis: -1)
        return (perPosition * Tensor(mask, shape: [positions]).cast(to: dtype)).sum() / (mask.reduce(0, +) + 1e-8)
    }
}
