// Structure-comparison metrics of a model against a reference (residues paired by number),
// with the definitions of reference/openfold-genslm.md §A6:
//   lDDT (Mariani et al. 2013): superposition-free; pairs closer than 15 Å in the reference,
//     thresholds 0.5/1/2/4 Å. lDDT-Cα pairs Cα atoms (i ≠ j); all-atom lDDT pairs atoms of
//     different residues, as the official tool does. Global scores weight every pair equally.
//   Cα-RMSD after one Kabsch superposition on all paired Cα.
//   GDT_TS (1/2/4/8 Å) and GDT_HA (0.5/1/2/4 Å): per cutoff, the largest fraction of residues
//     within it over a search of superpositions (below), as LGA maximises per cutoff.
//   TM-score: (1/L_ref)·max Σ 1/(1 + (d/d0)²), d0 = 1.24·(L_ref − 15)^(1/3) − 1.8 (≥ 0.5),
//     maximised over the same kind of search, as the TM-score program does.
//   dRMSD: superposition-free RMS of Cα–Cα distance differences over pairs i < j.
// Superposition search: seeds are contiguous windows of L, L/2, L/4, … ≥ 4 residues at every
// position (step window/2); each seed is superposed, then refined up to 20 times on the residues
// within the current cutoff (TM-score: within clamp(d0, 4.5, 8) − 1 Å, widening by 0.5 Å while
// fewer than 3 remain, as the TM-score program does).
import Foundation
import Kernels
import TensorIO

public struct StructureComparison: Sendable, Codable, Equatable {
    public var pairedResidues: Int
    public var referenceResidues: Int
    public var lddtCA: Double
    public var lddtAllAtom: Double
    public var rmsdCA: Double
    public var gdtTS: Double
    public var gdtHA: Double
    public var tmScore: Double
    public var drmsdCA: Double
    /// lDDT-Cα per paired residue, in residue order.
    public var perResidueLDDT: [Double]
}

public enum StructureMetrics {
    public static let lddtCutoff = 15.0
    public static let lddtThresholds = [0.5, 1, 2, 4]

    /// Compares `model` with `reference`, pairing residues by number.
    public static func compare(model: ProteinChain, reference: ProteinChain) throws -> StructureComparison {
        let modelCA = model.alphaCarbons, referenceCA = reference.alphaCarbons
        let numbers = referenceCA.keys.filter { modelCA[$0] != nil }.sorted()
        guard numbers.count >= 3 else {
            throw FileError(file: "", line: 0, message: "only \(numbers.count) residues pair by number between model and reference (need 3)")
        }
        let x = numbers.map { modelCA[$0]! }, y = numbers.map { referenceCA[$0]! }
        let (global, perResidue) = lddt(model: x, reference: y, sameResidue: nil)
        // All-atom pairs: every atom name present in both residues.
        var atomsX: [SIMD3<Double>] = [], atomsY: [SIMD3<Double>] = [], owners: [Int] = []
        let modelResidues = Dictionary(model.residues.map { ($0.number, $0) }, uniquingKeysWith: { first, _ in first })
        for residue in reference.residues {
            guard let other = modelResidues[residue.number] else { continue }
            for (name, position) in residue.atoms.sorted(by: { $0.key < $1.key }) {
                if let mine = other.atoms[name] {
                    atomsX.append(mine)
                    atomsY.append(position)
                    owners.append(residue.number)
                }
            }
        }
        let allAtom = lddt(model: atomsX, reference: atomsY, sameResidue: owners).global
        let superposed = kabsch(x, onto: y)
        let rmsd = (zip(x, y).map { simdLengthSquared(superposed.apply($0.0) - $0.1) }.reduce(0, +) / Double(x.count)).squareRoot()
        let referenceLength = referenceCA.count
        return StructureComparison(
            pairedResidues: numbers.count, referenceResidues: referenceLength, lddtCA: global, lddtAllAtom: allAtom, rmsdCA: rmsd,
            gdtTS: gdt(x, y, cutoffs: [1, 2, 4, 8], referenceLength: referenceLength),
            gdtHA: gdt(x, y, cutoffs: [0.5, 1, 2, 4], referenceLength: referenceLength),
            tmScore: tmScore(x, y, referenceLength: referenceLength), drmsdCA: drmsd(x, y), perResidueLDDT: perResidue)
    }

    /// Global (pair-weighted) and per-atom lDDT. `sameResidue` (owner of each atom) excludes
    /// pairs within one residue; nil excludes only i = j.
    public static func lddt(model x: [SIMD3<Double>], reference y: [SIMD3<Double>], sameResidue: [Int]?) -> (global: Double, perAtom: [Double]) {
        var scoreSum = 0.0, pairCount = 0
        var perAtom = [Double](repeating: 0, count: x.count)
        for i in 0..<x.count {
            var score = 0.0, pairs = 0
            for j in 0..<x.count where j != i {
                if let owners = sameResidue, owners[i] == owners[j] { continue }
                let reference = simdLength(y[i] - y[j])
                guard reference < lddtCutoff else { continue }
                let difference = abs(simdLength(x[i] - x[j]) - reference)
                score += Double(lddtThresholds.filter { difference < $0 }.count) / Double(lddtThresholds.count)
                pairs += 1
            }
            perAtom[i] = pairs > 0 ? score / Double(pairs) : 0
            scoreSum += score
            pairCount += pairs
        }
        return (pairCount > 0 ? scoreSum / Double(pairCount) : 0, perAtom)
    }

    /// Squared distances of the superposed model to the reference.
    static func squaredDistances(_ transform: RigidTransform, _ x: [SIMD3<Double>], _ y: [SIMD3<Double>]) -> [Double] {
        zip(x, y).map { simdLengthSquared(transform.apply($0.0) - $0.1) }
    }

    /// Seed windows of the superposition search: (start, length) pairs.
    static func seeds(_ count: Int) -> [(Int, Int)] {
        var result: [(Int, Int)] = []
        var length = count
        while length >= 4 {
            let step = Swift.max(1, length / 2)
            var start = 0
            while start + length <= count {
                result.append((start, length))
                start += step
            }
            if start - step + length < count { result.append((count - length, length)) }
            length /= 2
        }
        if result.isEmpty { result.append((0, count)) }
        return result
    }

    /// Superposes on `subset`, then repeatedly on the residues that `keep` selects, until the
    /// selection stops changing; calls `score` on every superposition tried.
    static func refine(_ x: [SIMD3<Double>], _ y: [SIMD3<Double>], from subset: [Int], keep: ([Double]) -> [Int],
                       score: ([Double]) -> Void) {
        var current = subset
        for _ in 0..<20 {
            let transform = kabsch(current.map { x[$0] }, onto: current.map { y[$0] })
            let distances = squaredDistances(transform, x, y)
            score(distances)
            let next = keep(distances)
            if next == current || next.count < 3 { break }
            current = next
        }
    }

    public static func gdt(_ x: [SIMD3<Double>], _ y: [SIMD3<Double>], cutoffs: [Double], referenceLength: Int) -> Double {
        var total = 0.0
        for cutoff in cutoffs {
            var best = 0
            for (start, length) in seeds(x.count) {
                refine(x, y, from: Array(start..<start + length), keep: { d in d.indices.filter { d[$0] <= cutoff * cutoff } },
                       score: { d in best = Swift.max(best, d.filter { $0 <= cutoff * cutoff }.count) })
            }
            total += Double(best) / Double(referenceLength)
        }
        return total / Double(cutoffs.count)
    }

    /// TM-score's length scale for a reference of `length` residues.
    public static func d0(_ length: Int) -> Double {
        Swift.max(0.5, 1.24 * pow(Double(Swift.max(length, 16) - 15), 1.0 / 3) - 1.8)
    }

    public static func tmScore(_ x: [SIMD3<Double>], _ y: [SIMD3<Double>], referenceLength: Int) -> Double {
        let scale = d0(referenceLength)
        var best = 0.0
        for (start, length) in seeds(x.count) {
            refine(x, y, from: Array(start..<start + length), keep: { d in
                // TM-score's search radius: d0 clamped to [4.5, 8] Å, less 1, widened in 0.5 Å steps.
                var radius = Swift.min(8, Swift.max(4.5, scale)) - 1
                var chosen = d.indices.filter { d[$0] <= radius * radius }
                while chosen.count < 3 && radius < 20 {
                    radius += 0.5
                    chosen = d.indices.filter { d[$0] <= radius * radius }
                }
                return chosen
            }, score: { d in
                best = Swift.max(best, d.map { 1 / (1 + $0 / (scale * scale)) }.reduce(0, +) / Double(referenceLength))
            })
        }
        return best
    }

    public static func drmsd(_ x: [SIMD3<Double>], _ y: [SIMD3<Double>]) -> Double {
        var total = 0.0, pairs = 0
        for i in 0..<x.count {
            for j in (i + 1)..<x.count {
                let difference = simdLength(x[i] - x[j]) - simdLength(y[i] - y[j])
                total += difference * difference
                pairs += 1
            }
        }
        return pairs > 0 ? (total / Double(pairs)).squareRoot() : 0
    }
}

@inline(__always) func simdLength(_ v: SIMD3<Double>) -> Double { (v * v).sum().squareRoot() }
@inline(__always) func simdLengthSquared(_ v: SIMD3<Double>) -> Double { (v * v).sum() }
