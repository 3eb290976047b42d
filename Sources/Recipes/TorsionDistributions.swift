// How DiG's samples are judged: distributions of named torsions (φ/ψ for a dipeptide) of sampled
// conformations against held-out MD, as Jensen–Shannon divergences of binned histograms (bits, so
// 0 = the same distribution and 1 = disjoint), beside the same numbers for a baseline; and a
// Ramachandran-style picture of the joint distribution of the first two torsions.
import Foundation
import TensorIO

public enum TorsionDistributions {
    /// The dihedral angle p0–p1–p2–p3 in degrees, (−180, 180] (IUPAC sign convention).
    public static func dihedral(_ p0: SIMD3<Double>, _ p1: SIMD3<Double>, _ p2: SIMD3<Double>, _ p3: SIMD3<Double>) -> Double {
        func cross(_ a: SIMD3<Double>, _ b: SIMD3<Double>) -> SIMD3<Double> { SIMD3(a.y * b.z - a.z * b.y, a.z * b.x - a.x * b.z, a.x * b.y - a.y * b.x) }
        let b0 = p0 - p1, b1 = p2 - p1, b2 = p3 - p2
        let axis = b1 / (b1 * b1).sum().squareRoot()
        let v = b0 - axis * (b0 * axis).sum(), w = b2 - axis * (b2 * axis).sum()
        return atan2((cross(axis, v) * w).sum(), (v * w).sum()) * 180 / .pi
    }

    public static func angles(_ conformations: [[SIMD3<Double>]], atoms a: [Int]) -> [Double] {
        conformations.map { dihedral($0[a[0]], $0[a[1]], $0[a[2]], $0[a[3]]) }
    }

    /// Normalised histogram of points in [−180, 180)^d over `bins` per axis (d = 1 or 2).
    public static func histogram(_ points: [[Double]], bins: Int) -> [Double] {
        let d = points.first?.count ?? 1
        var counts = [Double](repeating: 0, count: Int(pow(Double(bins), Double(d))))
        for point in points {
            var index = 0
            for value in point {
                let wrapped = (value + 180).truncatingRemainder(dividingBy: 360)
                index = index * bins + Swift.min(bins - 1, Int((wrapped < 0 ? wrapped + 360 : wrapped) / 360 * Double(bins)))
            }
            counts[index] += 1
        }
        let total = counts.reduce(0, +)
        return total > 0 ? counts.map { $0 / total } : counts
    }

    /// Jensen–Shannon divergence of two distributions over the same bins, in bits.
    public static func jensenShannon(_ p: [Double], _ q: [Double]) -> Double {
        precondition(p.count == q.count)
        var total = 0.0
        for (a, b) in zip(p, q) {
            let m = (a + b) / 2
            if a > 0 { total += 0.5 * a * log2(a / m) }
            if b > 0 { total += 0.5 * b * log2(b / m) }
        }
        return Swift.max(0, total)
    }

    /// One line per comparison: the joint divergence of all torsions (2D histogram of the first two
    /// when there are two or more) and each torsion's own.
    public struct Report: Sendable {
        public var joint: Double?
        public var perTorsion: [(name: String, divergence: Double)]
    }

    public static func compare(_ samples: [[SIMD3<Double>]], with reference: [[SIMD3<Double>]], torsions: [(name: String, atoms: [Int])], bins: Int = 36) -> Report {
        let s = torsions.map { angles(samples, atoms: $0.atoms) }, r = torsions.map { angles(reference, atoms: $0.atoms) }
        let per = torsions.indices.map { k in
            (torsions[k].name, jensenShannon(histogram(s[k].map { [$0] }, bins: bins), histogram(r[k].map { [$0] }, bins: bins)))
        }
        var joint: Double?
        if torsions.count >= 2 {
            joint = jensenShannon(histogram(zip(s[0], s[1]).map { [$0, $1] }, bins: bins), histogram(zip(r[0], r[1]).map { [$0, $1] }, bins: bins))
        }
        return Report(joint: joint, perTorsion: per)
    }

    /// Panels side by side, one per conformation set: the joint histogram of the first two torsions
    /// (x the first, y the second, −180° to 180°, 0° marked by grey lines), darker = more frequent.
    public static func writePicture(_ sets: [[[SIMD3<Double>]]], torsions: [(name: String, atoms: [Int])], to path: String, bins: Int = 72) throws {
        let cell = 3, panel = bins * cell, gap = 12
        let width = sets.count * panel + (sets.count + 1) * gap, height = panel + 2 * gap
        var pixels = [UInt8](repeating: 255, count: width * height * 3)
        func set(_ x: Int, _ y: Int, _ rgb: (UInt8, UInt8, UInt8)) {
            let k = (y * width + x) * 3
            (pixels[k], pixels[k + 1], pixels[k + 2]) = rgb
        }
        for (p, conformations) in sets.enumerated() {
            let first = angles(conformations, atoms: torsions[0].atoms), second = angles(conformations, atoms: torsions[1].atoms)
            let density = histogram(zip(first, second).map { [$0, $1] }, bins: bins)
            let peak = density.max() ?? 1
            let left = gap + p * (panel + gap), top = gap
            for row in 0..<bins {
                for column in 0..<bins {
                    // Log scale over three decades; ψ (the second torsion) grows upwards.
                    let value = density[column * bins + row]
                    let shade = value > 0 ? Swift.max(0.08, 1 + log10(value / peak) / 3) : 0
                    let rgb = (UInt8(255 * (1 - 0.9 * shade)), UInt8(255 * (1 - 0.7 * shade)), UInt8(255 * (1 - 0.25 * shade)))
                    for dy in 0..<cell { for dx in 0..<cell { set(left + column * cell + dx, top + (bins - 1 - row) * cell + dy, rgb) } }
                }
            }
            for t in 0..<panel {
                for (x, y) in [(left + t, top), (left + t, top + panel - 1), (left, top + t), (left + panel - 1, top + t)] { set(x, y, (0, 0, 0)) }
                for (x, y) in [(left + panel / 2, top + t), (left + t, top + panel / 2)] where pixels[(y * width + x) * 3] == 255 { set(x, y, (170, 170, 170)) }
            }
        }
        try PNG.write(width: width, height: height, rgb: pixels, to: path)
    }
}
