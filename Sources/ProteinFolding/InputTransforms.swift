// AlphaFold's predict-mode input transforms (openfold/data/data_transforms.py and
// input_pipeline.py), one sample per recycling pass, with SciZoo's seedable Philox generator
// (upstream draws from torch's; the streams differ, the distributions do not):
//   restype-ordered MSA → profile → sample_msa (row 0 kept, the rest shuffled, the first
//   `maxClusters` rows are cluster centres) → BERT masking of the centres (applied at inference
//   too) → nearest-neighbour assignment of every extra row to a centre → cluster profile and
//   deletion mean → extra-MSA crop → msa_feat (49), target_feat (22), extra features (25).
// Sizes are not padded: the model takes the real N, S_c and E.
import Foundation
import TensorCore

/// Options of the transforms (upstream's `data.common` / `data.predict` config).
public struct InputTransformOptions: Sendable, Equatable {
    /// Cluster centres (`max_msa_clusters`, 512 in the monomer presets).
    public var maxClusters = 512
    /// Extra rows kept after clustering (`max_extra_msa`: 1,024, or 5,120 for model_1/2).
    public var maxExtra = 1024
    /// BERT masking of the centres (`masked_msa`): selection and replacement probabilities.
    public var replaceFraction = 0.15
    public var uniformProbability = 0.1, profileProbability = 0.1, sameProbability = 0.1

    public init(maxClusters: Int = 512, maxExtra: Int = 1024) {
        self.maxClusters = maxClusters
        self.maxExtra = maxExtra
    }
}

/// The model inputs of one recycling pass. N residues, C cluster centres, E extra rows.
public struct PassFeatures: Sendable {
    /// `[N, 22]`: has_break (0 for a monomer) + restype one-hot (21).
    public var targetFeat: Tensor
    /// `[C, N, 49]`: one-hot (23) + has_deletion + deletion_value + cluster_profile (23) + deletion_mean_value.
    public var msaFeat: Tensor
    /// `[E, N, 25]`: one-hot (23) + has_deletion + deletion_value.
    public var extraMSAFeat: Tensor
    /// `[N]` restype index, `[N]` residue index.
    public var aatype: [Int], residueIndex: [Int]
    /// `[C, N]`: the centres before masking (restype order, gap 21), and which positions were masked.
    public var trueMSA: [Int], bertMask: [Bool]
    /// `[E]`: the centre each extra row joined (before the crop).
    public var extraAssignment: [Int]
    /// The raw MSA rows in `sample_msa`'s order (the first C are the centres, the rest the extra
    /// rows), and which of those extra rows the crop kept, in order: the draws, for replaying them elsewhere.
    public var rowOrder: [Int], extraKept: [Int]
    public var clusters: Int { msaFeat.shape[0] }
    public var extraRows: Int { extraMSAFeat.shape[0] }
}

public enum InputTransforms {
    /// 2/π·atan(d/3): how the pipeline squashes deletion counts.
    @inline(__always) static func deletionValue(_ d: Double) -> Double { 2 / Double.pi * atan(d / 3) }

    /// One pass of the transforms; `pass` selects the pass's own random stream.
    public static func features(_ raw: RawFeatures, options: InputTransformOptions = .init(), seed: UInt64, pass: Int) -> PassFeatures {
        let n = raw.residues, rows = raw.rows
        var generator = RandomGenerator(seed: seed, offset: UInt64(pass) << 40)
        let msa = raw.msa.map { ResidueAlphabet.hhblitsToRestype[Int($0)] }
        let deletions = raw.deletionMatrixInt.map(Double.init)
        let aatype = (0..<n).map { i in (0..<21).first { raw.aatype[i * 21 + $0] != 0 } ?? ResidueAlphabet.unknown }

        // hhblits_profile: the mean 22-class one-hot over all rows.
        var profile = [Double](repeating: 0, count: n * 22)
        for r in 0..<rows { for i in 0..<n { profile[i * 22 + msa[r * n + i]] += 1 } }
        for k in profile.indices { profile[k] /= Double(rows) }

        // sample_msa: row 0 first, the others in random order.
        let order = [0] + generator.permutation(rows - 1).map { $0 + 1 }
        let clusters = Swift.min(options.maxClusters, rows)
        let centres = Array(order[..<clusters]), extra = Array(order[clusters...])

        // make_masked_msa on the centres.
        let trueMSA = centres.flatMap { r in msa[r * n..<(r + 1) * n] }
        var masked = trueMSA
        var bertMask = [Bool](repeating: false, count: clusters * n)
        let selection = generator.uniform([clusters * n], dtype: .float64).doubles
        let choice = generator.uniform([clusters * n], dtype: .float64).doubles
        let maskProbability = 1 - options.uniformProbability - options.profileProbability - options.sameProbability
        for k in 0..<(clusters * n) where selection[k] < options.replaceFraction {
            bertMask[k] = true
            let i = k % n
            // Categorical over 23 classes: uniform over the 20 amino acids, the profile, the residue itself, the mask token.
            var probabilities = [Double](repeating: 0, count: 23)
            for a in 0..<20 { probabilities[a] += options.uniformProbability * 0.05 }
            for c in 0..<22 { probabilities[c] += options.profileProbability * profile[i * 22 + c] }
            probabilities[trueMSA[k]] += options.sameProbability
            probabilities[ResidueAlphabet.mask] += maskProbability
            var remaining = choice[k] * probabilities.reduce(0, +), picked = 22
            for (c, p) in probabilities.enumerated() {
                if remaining < p {
                    picked = c
                    break
                }
                remaining -= p
            }
            masked[k] = picked
        }

        // nearest_neighbor_clusters: agreement counts matching amino acids and X (gap and mask weigh 0).
        var assignment = [Int](repeating: 0, count: extra.count)
        for (e, row) in extra.enumerated() {
            var best = -1, bestCentre = 0
            for c in 0..<clusters {
                var agreement = 0
                for i in 0..<n {
                    let a = msa[row * n + i]
                    if a <= ResidueAlphabet.unknown && a == masked[c * n + i] { agreement += 1 }
                }
                if agreement > best {
                    best = agreement
                    bestCentre = c
                }
            }
            assignment[e] = bestCentre
        }

        // summarize_clusters: profile (23) and deletion mean over each centre and its members.
        var clusterProfile = [Double](repeating: 0, count: clusters * n * 23)
        var deletionMean = [Double](repeating: 0, count: clusters * n)
        var members = [Double](repeating: 1, count: clusters)
        for c in 0..<clusters {
            for i in 0..<n {
                clusterProfile[(c * n + i) * 23 + masked[c * n + i]] += 1
                deletionMean[c * n + i] += deletions[centres[c] * n + i]
            }
        }
        for (e, row) in extra.enumerated() {
            let c = assignment[e]
            members[c] += 1
            for i in 0..<n {
                clusterProfile[(c * n + i) * 23 + msa[row * n + i]] += 1
                deletionMean[c * n + i] += deletions[row * n + i]
            }
        }
        for c in 0..<clusters {
            for i in 0..<n {
                for k in 0..<23 { clusterProfile[(c * n + i) * 23 + k] /= members[c] }
                deletionMean[c * n + i] /= members[c]
            }
        }

        // crop_extra_msa, after clustering (clustering sees every extra row).
        let kept = generator.permutation(extra.count).prefix(options.maxExtra)

        // make_msa_feat.
        var targetFeat = [Float](repeating: 0, count: n * 22)
        for i in 0..<n { targetFeat[i * 22 + 1 + aatype[i]] = 1 }
        var msaFeat = [Float](repeating: 0, count: clusters * n * 49)
        for c in 0..<clusters {
            for i in 0..<n {
                let base = (c * n + i) * 49, d = deletions[centres[c] * n + i]
                msaFeat[base + masked[c * n + i]] = 1
                msaFeat[base + 23] = d > 0 ? 1 : 0
                msaFeat[base + 24] = Float(deletionValue(d))
                for k in 0..<23 { msaFeat[base + 25 + k] = Float(clusterProfile[(c * n + i) * 23 + k]) }
                msaFeat[base + 48] = Float(deletionValue(deletionMean[c * n + i]))
            }
        }
        var extraFeat = [Float](repeating: 0, count: kept.count * n * 25)
        for (e, index) in kept.enumerated() {
            let row = extra[index]
            for i in 0..<n {
                let base = (e * n + i) * 25, d = deletions[row * n + i]
                extraFeat[base + msa[row * n + i]] = 1
                extraFeat[base + 23] = d > 0 ? 1 : 0
                extraFeat[base + 24] = Float(deletionValue(d))
            }
        }
        return PassFeatures(targetFeat: Tensor(targetFeat, shape: [n, 22]), msaFeat: Tensor(msaFeat, shape: [clusters, n, 49]),
                            extraMSAFeat: Tensor(extraFeat, shape: [kept.count, n, 25]), aatype: aatype,
                            residueIndex: raw.residueIndex.map(Int.init), trueMSA: trueMSA, bertMask: bertMask, extraAssignment: assignment,
                            rowOrder: order, extraKept: Array(kept))
    }
}
