// Radial bases: distances `[*]` → features `[*, K]`, each written in differentiable tensor ops
// so forces (first derivative in the distance) and force-loss training (second) work.
// Definitions and defaults as upstream:
// - Gaussian: schnetpack `nn.radial.GaussianRBF(n_rbf, cutoff, start=0)` — centres
//   linspace(start, cutoff, K), every width the centre spacing, exp(−(d − μ)² / 2σ²).
// - Bessel: schnetpack `nn.radial.BesselRBF(n_rbf, cutoff)` — sin(n π d / rc) / d for
//   n = 1 … K, with the d = 0 denominator replaced by 1 (so the value there is 0). DimeNet's
//   form multiplies by √(2 / rc); `normalized: true` gives it.
// - ExpNorm: torchmd-net's `ExpNormalSmearing` as ViSNet (AI2BMD) uses it — cosine cutoff ×
//   exp(−β (exp(α (rl − d)) − μ)²), α = 5 / (rc − rl), μ = linspace(exp(rl − rc), 1, K),
//   β = (2 (1 − exp(rl − rc)) / K)⁻².
// Upstream lets the centres and widths train (`trainable=True`); here they are fixed, as in
// every upstream default the zoo's models use (schnetpack, ViSNet `trainable_rbf=False`).
import TensorCore

#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif

/// A fixed radial basis of `count` functions.
public enum RadialBasis: Sendable, Equatable {
    case gaussian(count: Int, cutoff: Double, start: Double = 0)
    case bessel(count: Int, cutoff: Double, normalized: Bool = false)
    case expNorm(count: Int, cutoffLower: Double = 0, cutoffUpper: Double)

    /// Number of features per distance.
    public var count: Int {
        switch self {
        case .gaussian(let count, _, _), .bessel(let count, _, _), .expNorm(let count, _, _): count
        }
    }

    /// Gaussian centres μ_k (Å).
    public var gaussianCentres: [Double] {
        guard case .gaussian(let count, let cutoff, let start) = self else { return [] }
        return linspace(start, cutoff, count)
    }

    /// Features of `distances` `[*]` → `[*, count]`, in the distances' dtype.
    public func callAsFunction(_ distances: Tensor) -> Tensor {
        let d = distances.unsqueezed(axis: -1)
        func row(_ values: [Double]) -> Tensor { Tensor(values, shape: [values.count]).cast(to: distances.dtype) }
        switch self {
        case .gaussian(let count, let cutoff, let start):
            let centres = linspace(start, cutoff, count)
            let width = count > 1 ? Swift.abs(centres[1] - centres[0]) : 1
            return ((d - row(centres)).square() * (-0.5 / (width * width))).exp()
        case .bessel(let count, let cutoff, let normalized):
            let frequencies = (1...Swift.max(count, 1)).prefix(count).map { Double($0) * Double.pi / cutoff }
            let zero = (d == 0.0)
            let denominator = Tensor.where(zero, Tensor.ones([], dtype: d.dtype), d)
            let values = (d * row(frequencies)).sin() / denominator
            return normalized ? values * (2 / cutoff).squareRoot() : values
        case .expNorm(let count, let lower, let upper):
            let start = exp(lower - upper)
            let alpha = 5 / (upper - lower)
            let beta = pow(2 / Double(count) * (1 - start), -2)
            let envelope = CutoffFunction.cosine(cutoff: upper)(d)
            let shifted = ((d * -alpha) + alpha * lower).exp() - row(linspace(start, 1, count))
            return envelope * (shifted.square() * -beta).exp()
        }
    }

    /// torch.linspace(start, end, count) in Double.
    func linspace(_ start: Double, _ end: Double, _ count: Int) -> [Double] {
        guard count > 1 else { return count == 1 ? [start] : [] }
        let step = (end - start) / Double(count - 1)
        return (0..<count).map { start + Double($0) * step }
    }
}
