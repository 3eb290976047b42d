// The Kolmogorov–Smirnov check of kinetic energies against the canonical ensemble, shared by the
// thermostat tests: per-atom kinetic energy over kT is Gamma(3/2, 1) distributed.
import Foundation

public enum KolmogorovSmirnov {
    /// The KS statistic of `samples` (E/kT) against Gamma(3/2, 1), F(x) = erf(√x) − 2√(x/π)·e^(−x),
    /// and the critical value at the 1 % level.
    public static func canonicalKineticEnergies(_ samples: [Double]) -> (statistic: Double, critical: Double) {
        let sorted = samples.sorted()
        var statistic = 0.0
        for (index, x) in sorted.enumerated() {
            let cdf = erf(x.squareRoot()) - 2 * (x / Double.pi).squareRoot() * exp(-x)
            statistic = max(statistic, abs(cdf - Double(index) / Double(sorted.count)), abs(cdf - Double(index + 1) / Double(sorted.count)))
        }
        return (statistic, 1.63 / Double(sorted.count).squareRoot())
    }
}
