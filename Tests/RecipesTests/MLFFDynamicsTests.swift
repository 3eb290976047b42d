// MD on a force field trained here (SchNet, 32 features, 200 bundled frames, 10 epochs, about 5 s):
// NVE conserves energy (less than 1 meV/atom/ps over 10 ps at 0.5 fs, float64), and — a long test,
// run with SCIZOO_LONG_TESTS=1 — Langevin at 300 K samples the canonical ensemble (mean temperature
// within 2 %, kinetic energies Gamma(3/2, kT) by Kolmogorov–Smirnov) on eight ethanol molecules.
import Foundation
import Graphs
import Testing
import TestSupport
import TensorCore
@testable import MolecularDynamics
@testable import Recipes

@Suite("MD on a trained force field", .serialized)
struct MLFFDynamicsTests {
    nonisolated(unsafe) static let trained: Result<(any AtomisticModel, AtomicSystem), any Error> = Result {
        let data = Fixtures.packageRoot.appendingPathComponent("Datasets/mlff/ethanol_gfn2xtb.extxyz").path
        let recipe = """
            seed: 4
            data: {path: \(data), num_train: 200, num_val: 20, num_test: 0, batch_size: 10}
            model: {model: schnet, n_atom_basis: 32, n_interactions: 3, n_rbf: 20}
            task: {lr: 2.0e-3, ema_decay: 0.99}
            trainer: {max_epochs: 10}
            """
        let folder = try Fixtures.scratchDirectory("mlff-dynamics").path
        try recipe.write(toFile: folder + "/recipe.yaml", atomically: true, encoding: .utf8)
        let summary = try MLFFTrainer(settings: try MLFFSettings.load(from: folder + "/recipe.yaml"), runDirectory: folder + "/run",
                                      showsProgress: false, log: { _ in }).run()
        let model = try MLFFCheckpoint.load(summary.checkpoint, dtype: .float64).model
        model.eval()
        return (model, try ExtendedXYZ.read(data)[0].system)
    }

    static func potential<Model: AtomisticModel>(_ model: Model) -> MLPotential<Model> { MLPotential(model: model) }

    @Test("NVE at 0.5 fs for 10 ps: the total energy drifts less than 1 meV/atom/ps (linear fit)")
    func energyConservation() throws {
        let (model, start) = try Self.trained.get()
        var system = start
        system.thermalize(temperatureK: 300, seed: 11)
        let (slope, temperature) = try Self.nve(model, system)
        print("MLFFDynamicsTests: NVE drift \(slope * 1000 / Double(system.count)) meV/atom/ps at a mean \(temperature) K")
        #expect(abs(slope) * 1000 / Double(system.count) < 1, "drift \(slope * 1000 / Double(system.count)) meV/atom/ps")
    }

    static func nve<Model: AtomisticModel>(_ model: Model, _ system: AtomicSystem) throws -> (slope: Double, temperature: Double) {
        var dynamics = try VelocityVerlet(system: system, potential: MLPotential(model: model), timestepFS: 0.5)
        var times: [Double] = [], energies: [Double] = [], temperature = 0.0
        for step in 1...20_000 {
            try dynamics.step()
            temperature += dynamics.system.temperature / 20_000
            if step % 100 == 0 { times.append(Double(step) * 0.5 / 1000); energies.append(dynamics.totalEnergy) }
        }
        let (mt, me) = (times.reduce(0, +) / Double(times.count), energies.reduce(0, +) / Double(energies.count))
        let slope = zip(times, energies).reduce(0) { $0 + ($1.0 - mt) * ($1.1 - me) } / times.reduce(0) { $0 + ($1 - mt) * ($1 - mt) }
        return (slope, temperature)
    }

    @Test("Langevin at 300 K on eight molecules: mean temperature within 2 %, kinetic energies canonical (KS test)",
          .enabled(if: ProcessInfo.processInfo.environment["SCIZOO_LONG_TESTS"] == "1", "a long test: SCIZOO_LONG_TESTS=1"))
    func canonical() throws {
        let (model, start) = try Self.trained.get()
        // Eight copies 12 Å apart (beyond the 5 Å cutoff): independent molecules in one system.
        var numbers: [Int] = [], positions: [SIMD3<Double>] = []
        for k in 0..<8 {
            numbers += start.numbers
            positions += start.positions.map { $0 + SIMD3(Double(k % 2), Double((k / 2) % 2), Double(k / 4)) * 12 }
        }
        var system = try AtomicSystem(numbers: numbers, positions: positions)
        system.thermalize(temperatureK: 300, seed: 2)
        let (temperature, statistic, critical) = try Self.langevin(model, system)
        print("MLFFDynamicsTests: Langevin mean \(temperature) K; KS \(statistic) (critical \(critical))")
        #expect(abs(temperature - 300) < 6, "mean temperature \(temperature) K")
        #expect(statistic < critical, "KS statistic \(statistic), critical \(critical)")
    }

    static func langevin<Model: AtomisticModel>(_ model: Model, _ system: AtomicSystem) throws -> (Double, Double, Double) {
        var dynamics = try Langevin(system: system, potential: MLPotential(model: model), timestepFS: 0.5, temperatureK: 300,
                                    frictionPerFS: 0.02, fixCenterOfMass: false, seed: 5)
        for _ in 0..<2000 { try dynamics.step() }  // 1 ps, 20 friction times
        var temperatures: [Double] = [], kinetic: [Double] = []
        for step in 0..<40_000 {
            try dynamics.step()
            if step % 20 == 0 { temperatures.append(dynamics.system.temperature) }
            if step % 400 == 0 { kinetic += zip(dynamics.system.momenta, dynamics.system.masses).map { ($0 * $0).sum() / (2 * $1) } }
        }
        let (statistic, critical) = KolmogorovSmirnov.canonicalKineticEnergies(kinetic.map { $0 / (Units.kB * 300) })
        return (temperatures.reduce(0, +) / Double(temperatures.count), statistic, critical)
    }
}
