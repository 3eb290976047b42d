// Cutoff functions f(r): 1 at r = 0, 0 from the cutoff on, smooth in between, so energies
// stay continuous as atoms cross the cutoff. Each has its tensor form (autograd, any order)
// and closed-form value, first and second derivative in Double: the reference twin the
// tests hold autograd's derivatives against, and what an MD engine's analytic potential uses.
// - cosine: ½ (cos(π r / rc) + 1) for r < rc (Behler; schnetpack `CosineCutoff`, torchmd-net
//   and ViSNet with lower cutoff 0). Its second derivative jumps at rc.
// - polynomial(p): 1 − (p+1)(p+2)/2 x^p + p(p+2) x^(p+1) − p(p+1)/2 x^(p+2), x = r / rc < 1
//   (DimeNet's envelope numerator, NequIP's and MACE's `PolynomialCutoff`, default p = 6):
//   value, first and second derivatives all vanish at rc.
import TensorCore

#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif

public enum CutoffFunction: Sendable, Equatable {
    case cosine(cutoff: Double)
    case polynomial(cutoff: Double, exponent: Int = 6)

    public var cutoff: Double {
        switch self { case .cosine(let rc), .polynomial(let rc, _): rc }
    }

    /// f(distances), same shape and dtype; zero where r ≥ rc.
    public func callAsFunction(_ distances: Tensor) -> Tensor {
        let inside = (distances < cutoff).cast(to: distances.dtype)
        switch self {
        case .cosine(let rc):
            return ((distances * (Double.pi / rc)).cos() + 1) * 0.5 * inside
        case .polynomial(let rc, let p):
            let x = distances * (1 / rc) * inside  // x stays below 1, so no power overflows outside
            let q = Double(p)
            let a = (q + 1) * (q + 2) / 2, b = q * (q + 2), c = q * (q + 1) / 2
            let terms: Tensor = x.pow(q + 1) * b - x.pow(q) * a - x.pow(q + 2) * c
            return (terms + 1) * inside
        }
    }

    /// f(r), f′(r) and f″(r) in closed form.
    public func derivatives(_ r: Double) -> (value: Double, first: Double, second: Double) {
        guard r < cutoff else { return (0, 0, 0) }
        switch self {
        case .cosine(let rc):
            let k = Double.pi / rc
            return (0.5 * (cos(k * r) + 1), -0.5 * k * sin(k * r), -0.5 * k * k * cos(k * r))
        case .polynomial(let rc, let p):
            let x = r / rc, q = Double(p)
            let a = (q + 1) * (q + 2) / 2, b = q * (q + 2), c = q * (q + 1) / 2
            let x0: Double = pow(x, q), x1: Double = pow(x, q + 1), x2: Double = pow(x, q + 2)
            let value: Double = 1 - a * x0 + b * x1 - c * x2
            let firstInX: Double = -a * q * pow(x, q - 1) + b * (q + 1) * x0 - c * (q + 2) * x1
            let secondInX: Double = -a * q * (q - 1) * pow(x, q - 2) + b * (q + 1) * q * pow(x, q - 1) - c * (q + 2) * (q + 1) * x0
            return (value, firstInX / rc, secondInX / (rc * rc))
        }
    }
}
