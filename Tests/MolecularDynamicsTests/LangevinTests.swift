// Langevin dynamics samples the canonical ensemble: on independent harmonic wells the mean
// temperature is within 2 % of the target and each atom's kinetic energy follows the canonical
// Gamma(3/2, kT) distribution (Kolmogorov–Smirnov at the 1 % level). Maxwell–Boltzmann starts
// have zero total momentum.
import Foundation
import Testing
import TestSupport
@testable import MolecularDynamics

/// Independent isotropic harmonic wells around fixed sites: E = ½k Σ|r − r₀|².
struct HarmonicWells: Potential {
    let sites: [SIMD3<Double>]
    let k: Double
    mutating func evaluate(_ system: AtomicSystem) throws -> PotentialResult {
        var energy = 0.0
        let forces = zip(system.positions, sites).map { r, r0 -> SIMD3<Double> in
            let d = r - r0
            energy += 0.5 * k * (d * d).sum()
            return -k * d
        }
        return PotentialResult(energy: energy, forces: forces, stress: nil)
    }
}

@Suite("Langevin")
struct LangevinTests {
    @Test("Maxwell–Boltzmann start: zero total momentum, about the requested temperature")
    func maxwellBoltzmann() throws {
        let sites = (0..<2000).map { (index: Int) -> SIMD3<Double> in
            SIMD3<Double>(Double(index % 20), Double(index / 20 % 10), Double(index / 200)) * 3
        }
        var system = try AtomicSystem(numbers: Array(repeating: 18, count: sites.count), positions: sites)
        system.thermalize(temperatureK: 300, seed: 4)
        let total: SIMD3<Double> = system.momenta.reduce(SIMD3<Double>.zero, +)
        let size: Double = (total * total).sum().squareRoot()
        #expect(size < 1e-9)
        let temperature = system.temperature
        #expect(abs(temperature - 300) < 15, "\(temperature) K")
    }

    @Test("harmonic wells at 300 K: mean temperature within 2 %, kinetic energies canonical (KS test)")
    func canonical() throws {
        let n = 400
        let sites = (0..<n).map { (index: Int) -> SIMD3<Double> in SIMD3<Double>(Double(index % 20), Double(index / 20), 0) * 4 }
        var system = try AtomicSystem(numbers: Array(repeating: 6, count: n), positions: sites)
        system.thermalize(temperatureK: 300, seed: 1)
        var dynamics = try Langevin(system: system, potential: HarmonicWells(sites: sites, k: 2.0), timestepFS: 1, temperatureK: 300,
                                    frictionPerFS: 0.02, seed: 9)
        for _ in 0..<500 { try dynamics.step() }  // equilibrate (1/friction = 50 fs)
        var temperatures: [Double] = [], kinetic: [Double] = []
        for step in 0..<3000 {
            try dynamics.step()
            if step % 10 == 0 { temperatures.append(dynamics.system.temperature) }
            if step % 300 == 0 {  // well separated samples of every atom
                kinetic += zip(dynamics.system.momenta, dynamics.system.masses).map { ($0 * $0).sum() / (2 * $1) }
            }
        }
        let mean = temperatures.reduce(0, +) / Double(temperatures.count)
        #expect(abs(mean - 300) < 6, "mean temperature \(mean) K")
        let kT = Units.kB * 300
        let (statistic, critical) = KolmogorovSmirnov.canonicalKineticEnergies(kinetic.map { $0 / kT })
        print("LangevinTests: mean temperature \(mean) K; KS statistic \(statistic) over \(kinetic.count) samples (critical \(critical))")
        #expect(statistic < critical, "KS statistic \(statistic) over \(kinetic.count) samples (critical \(critical))")
    }
}
