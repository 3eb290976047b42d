// Berendsen and the Nosé–Hoover chain against ASE's NVTBerendsen and NoseHooverChainNVT from the
// same start (Fixtures/make_ase_thermostats.py): 200 steps of 5 fs on 108 argon atoms heated
// from 60 K towards 120 K, positions and momenta compared, and the chain's conserved energy.
import Foundation
import Graphs
import Testing
import TestSupport
import TensorCore
import TensorIO
@testable import MolecularDynamics

@Suite("Thermostats")
struct ThermostatTests {
    static func start() throws -> (AtomicSystem, NumpyArchive) {
        let archive = try NumpyArchive(contentsOf: Fixtures.packageRoot.appendingPathComponent("Tests/MolecularDynamicsTests/Fixtures/ase_thermostats.npz").path)
        func vectors(_ name: String) throws -> [SIMD3<Double>] { LennardJonesTests.vectors(try archive.array(name).tensor().doubles) }
        let cell = try PeriodicCell(vectors: try vectors("cell"), pbc: [true, true, true])
        let system = try AtomicSystem(numbers: try archive.array("numbers").integers(), positions: try vectors("start_positions"), cell: cell,
                                      momenta: try vectors("start_momenta"))
        return (system, archive)
    }

    static func worst(_ ours: [SIMD3<Double>], _ archive: NumpyArchive, _ name: String) throws -> Double {
        let reference = try archive.array(name).tensor().doubles
        return zip(ours.flatMap { [$0.x, $0.y, $0.z] }, reference).map { abs($0 - $1) }.max()!
    }

    @Test("Berendsen: ASE's NVTBerendsen trajectory after 200 steps (positions within 1e-8 Å)")
    func berendsen() throws {
        let (system, archive) = try Self.start()
        var dynamics = try Berendsen(system: system, potential: LennardJones(sigma: 3.405, epsilon: 0.010323), timestepFS: 5,
                                     temperatureK: 120, relaxationFS: 100)
        let temperatures = try archive.array("berendsen_temperature").tensor().doubles
        for step in 0..<200 {
            try dynamics.step()
            #expect(abs(dynamics.system.temperature - temperatures[step]) < 1e-6, "step \(step + 1)")
        }
        #expect(try Self.worst(dynamics.system.positions, archive, "berendsen_positions") < 1e-8)
        #expect(try Self.worst(dynamics.system.momenta, archive, "berendsen_momenta") < 1e-8)
    }

    @Test("Nosé–Hoover chain: ASE's NoseHooverChainNVT trajectory after 200 steps, and its conserved energy")
    func noseHoover() throws {
        let (system, archive) = try Self.start()
        var dynamics = try NoseHooverChain(system: system, potential: LennardJones(sigma: 3.405, epsilon: 0.010323), timestepFS: 5,
                                           temperatureK: 120, dampingFS: 100)
        let initial = dynamics.conservedEnergy
        for _ in 0..<200 { try dynamics.step() }
        #expect(try Self.worst(dynamics.system.positions, archive, "nose_hoover_positions") < 1e-8)
        #expect(try Self.worst(dynamics.system.momenta, archive, "nose_hoover_momenta") < 1e-8)
        let conserved = try archive.array("nose_hoover_conserved").tensor().item()
        #expect(abs(dynamics.conservedEnergy - conserved) < 1e-8)
        #expect(abs(dynamics.conservedEnergy - initial) / Double(system.count) < 1e-4, "conserved energy drifted")
        #expect(abs(dynamics.system.temperature - 120) < 30)
    }
}
