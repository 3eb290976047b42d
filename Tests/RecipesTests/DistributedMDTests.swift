// MD by spatial decomposition against one rank: slabs on 2 and 3 in-process ranks (threads with
// the MPI collectives' semantics) follow the single-process velocity-Verlet trajectory, for
// Lennard-Jones argon (halo = cutoff) and for a SchNet with 2 interactions (halo = 2 × cutoff),
// in a cell thinner than the halo; atoms migrate between slabs on the way.
import Foundation
import Graphs
import ParallelRuntime
import Testing
import TestSupport
import TensorCore
@testable import MolecularDynamics
@testable import Recipes

@Suite("Distributed MD")
struct DistributedMDTests {
    /// 108 argon atoms (fcc, a = 5.26 Å) at 120 K, jittered, in a slightly skewed periodic cell.
    static func argon() throws -> AtomicSystem {
        var positions: [SIMD3<Double>] = []
        let a = 5.26
        for i in 0..<3 { for j in 0..<3 { for k in 0..<3 {
            for b in [SIMD3<Double>(0, 0, 0), SIMD3(0.5, 0.5, 0), SIMD3(0.5, 0, 0.5), SIMD3(0, 0.5, 0.5)] {
                positions.append((SIMD3(Double(i), Double(j), Double(k)) + b) * a)
            }
        } } }
        var generator = RandomGenerator(seed: 2)
        let jitter = generator.normal([positions.count * 3], std: 0.05, dtype: .float64).doubles
        positions = positions.enumerated().map { $1 + SIMD3(jitter[3 * $0], jitter[3 * $0 + 1], jitter[3 * $0 + 2]) }
        let cell = try PeriodicCell(vectors: [SIMD3(3 * a, 0, 0), SIMD3(0.4, 3 * a, 0), SIMD3(0, 0, 3 * a)], pbc: [true, true, true])
        var system = try AtomicSystem(numbers: Array(repeating: 18, count: positions.count), positions: positions, cell: cell)
        system.thermalize(temperatureK: 120, seed: 5)
        return system
    }

    /// The model shared by the rank threads, read-only (evaluation mode).
    final class Shared<Model>: @unchecked Sendable { let model: Model; init(_ model: Model) { self.model = model } }

    final class Results: @unchecked Sendable {
        var positions: [SIMD3<Double>] = [], energy = 0.0, migrated = false
        let lock = NSLock()
    }

    static func compare<Model: AtomisticModel>(_ model: Model, depth: Int, ranks: Int, steps: Int, timestepFS: Double) throws -> Double {
        let system = try argon()
        var single = try VelocityVerlet(system: system, potential: MLPotential(model: model, skin: 0), timestepFS: timestepFS)
        for _ in 0..<steps { try single.step() }
        let results = Results(), shared = Shared(model)
        try InProcessWorld.run(size: ranks) { world in
            let engine = try DistributedVerlet(model: shared.model, system: system, world: world, timestepFS: timestepFS, depth: depth)
            let before = Set(engine.atoms.ids)
            for _ in 0..<steps { try engine.step() }
            let (whole, _) = try engine.gathered(template: system)
            let moved = try world.allReduce([before == Set(engine.atoms.ids) ? 0.0 : 1.0], .sum)[0] > 0
            if world.rank == 0 { results.lock.withLock { (results.positions, results.energy, results.migrated) = (whole.positions, engine.potentialEnergy, moved) } }
        }
        #expect(results.migrated, "no atom changed slab: the test would not exercise migration")
        #expect(abs(results.energy - single.current.energy) < 1e-9 * max(1, abs(single.current.energy)))
        return zip(results.positions, single.system.positions).map { p in ((p.0 - p.1) * (p.0 - p.1)).sum().squareRoot() }.max()!
    }

    @Test("Lennard-Jones argon on 2 and 3 slabs: the one-rank trajectory after 300 steps of 5 fs (1e-9 Å)", arguments: [2, 3])
    func lennardJones(ranks: Int) throws {
        let worst = try Self.compare(LennardJonesModel(sigma: 3.405, epsilon: 0.010323), depth: 1, ranks: ranks, steps: 300, timestepFS: 5)
        #expect(worst < 1e-9, "\(ranks) slabs: positions differ by \(worst) Å")
    }

    @Test("a SchNet with 2 interactions (halo 2 × cutoff) on 2 slabs: the one-rank trajectory after 40 steps")
    func schnet() throws {
        var c = SchNetConfiguration()
        (c.nAtomBasis, c.nInteractions, c.nRBF, c.cutoff, c.dtype) = (8, 2, 6, 4.0, .float64)
        let model = SchNet(c, seed: 3)
        model.energyScale.stddev = 0.05  // gentle forces: a random model, 1 fs steps
        let worst = try Self.compare(model, depth: 2, ranks: 2, steps: 40, timestepFS: 1)
        #expect(worst < 1e-9, "positions differ by \(worst) Å")
    }

    @Test("a 2-slab run stopped at step 60 and resumed writes the uninterrupted run's trajectory and log, byte for byte")
    func resume() throws {
        var settings = try MDSettings.load(from: Fixtures.packageRoot.appendingPathComponent("Recipes/md/smoke.yaml").path)
        (settings.steps, settings.writeEvery, settings.restartEvery) = (100, 20, 50)
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("scizoo-dmd-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let (whole, split) = (directory + "/whole", directory + "/split"), shared = Shared(settings)
        try InProcessWorld.run(size: 2) { world in _ = try DistributedMD.run(shared.model, output: whole, world: world, log: { _ in }) }
        try InProcessWorld.run(size: 2) { world in
            _ = try DistributedMD.run(shared.model, output: split, world: world, stopAtStep: 60, log: { _ in })
        }
        #expect(!FileManager.default.fileExists(atPath: split + "/trajectory.extxyz"), "a stopped run leaves no finished trajectory behind the final name")
        try InProcessWorld.run(size: 2) { world in
            _ = try DistributedMD.run(shared.model, output: split, world: world, resume: true, log: { _ in })
        }
        for file in ["trajectory.extxyz", "thermo.jsonl"] {
            let a = try Data(contentsOf: URL(fileURLWithPath: whole + "/" + file)), b = try Data(contentsOf: URL(fileURLWithPath: split + "/" + file))
            #expect(!a.isEmpty && a == b, "\(file) differs after stop and resume")
        }
    }
}
