// Optimal rigid superposition (Kabsch) through LAPACK's SVD.
import CBLAS

/// A proper rotation R (row-major 3×3) and translation t: x ↦ R·x + t.
public struct RigidTransform: Sendable, Equatable {
    public var rotation: [Double]
    public var translation: SIMD3<Double>

    public static let identity = RigidTransform(rotation: [1, 0, 0, 0, 1, 0, 0, 0, 1], translation: .zero)

    public init(rotation: [Double], translation: SIMD3<Double>) {
        self.rotation = rotation
        self.translation = translation
    }

    public func apply(_ x: SIMD3<Double>) -> SIMD3<Double> {
        let r = rotation
        return SIMD3(r[0] * x.x + r[1] * x.y + r[2] * x.z, r[3] * x.x + r[4] * x.y + r[5] * x.z,
                     r[6] * x.x + r[7] * x.y + r[8] * x.z) + translation
    }
}

/// The rigid transform that moves `mobile` onto `target` with the least squared distance
/// (Kabsch 1976; the reflection case is corrected so R is a rotation). Points pair by index.
public func kabsch(_ mobile: [SIMD3<Double>], onto target: [SIMD3<Double>]) -> RigidTransform {
    precondition(mobile.count == target.count, "kabsch: \(mobile.count) mobile points for \(target.count) targets")
    guard !mobile.isEmpty else { return .identity }
    let n = Double(mobile.count)
    let mobileCentre = mobile.reduce(SIMD3<Double>.zero, +) / n, targetCentre = target.reduce(SIMD3<Double>.zero, +) / n
    // H = Σ (p − p̄)(q − q̄)ᵀ, stored column-major for LAPACK.
    var h = [Double](repeating: 0, count: 9)
    for (p, q) in zip(mobile, target) {
        let a = p - mobileCentre, b = q - targetCentre
        for row in 0..<3 {
            for column in 0..<3 { h[column * 3 + row] += a[row] * b[column] }
        }
    }
    var s = [Double](repeating: 0, count: 3), u = [Double](repeating: 0, count: 9), vt = [Double](repeating: 0, count: 9)
    var work = [Double](repeating: 0, count: 64)
    var three: Int32 = 3, lwork: Int32 = 64, info: Int32 = 0
    var all = CChar(UInt8(ascii: "A"))
    BLASGate.call { dgesvd_(&all, &all, &three, &three, &h, &three, &s, &u, &three, &vt, &three, &work, &lwork, &info, 1, 1) }
    precondition(info == 0, "kabsch: LAPACK dgesvd failed (info \(info))")
    // H = U·S·Vᵀ (column-major); R = V·diag(1, 1, d)·Uᵀ with d = sign(det(V·Uᵀ)).
    func U(_ i: Int, _ j: Int) -> Double { u[j * 3 + i] }
    func V(_ i: Int, _ j: Int) -> Double { vt[i * 3 + j] }  // V = (Vᵀ)ᵀ
    var rotation = [Double](repeating: 0, count: 9)
    func compose(_ d: Double) {
        for i in 0..<3 {
            for j in 0..<3 {
                rotation[i * 3 + j] = V(i, 0) * U(j, 0) + V(i, 1) * U(j, 1) + d * V(i, 2) * U(j, 2)
            }
        }
    }
    compose(1)
    let r = rotation
    let determinant = r[0] * (r[4] * r[8] - r[5] * r[7]) - r[1] * (r[3] * r[8] - r[5] * r[6]) + r[2] * (r[3] * r[7] - r[4] * r[6])
    if determinant < 0 { compose(-1) }
    let rotated = RigidTransform(rotation: rotation, translation: .zero).apply(mobileCentre)
    return RigidTransform(rotation: rotation, translation: targetCentre - rotated)
}
