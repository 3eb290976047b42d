// Lennard-Jones and velocity Verlet against ASE (committed fixture made by
// Fixtures/make_ase_argon_nve.py), and the analytic forces and stress against autograd through the
// shared graph layer (the reference twin) in float64.
import Foundation
import Graphs
import Testing
import TestSupport
import TensorCore
import TensorIO
@testable import MolecularDynamics

@Suite("Lennard-Jones and velocity Verlet")
struct LennardJonesTests {
    static let fixture = Fixtures.packageRoot.appendingPathComponent("Tests/MolecularDynamicsTests/Fixtures/ase_argon_nve.npz").path

    static func vectors(_ values: [Double]) -> [SIMD3<Double>] {
        (0..<(values.count / 3)).map { SIMD3(values[3 * $0], values[3 * $0 + 1], values[3 * $0 + 2]) }
    }

    static func argon() throws -> (AtomicSystem, NumpyArchive) {
        let archive = try NumpyArchive(contentsOf: fixture)
        func doubles(_ name: String) throws -> [Double] { try archive.array(name).tensor().doubles }
        let cell = try PeriodicCell(vectors: vectors(try doubles("cell")), pbc: [true, true, true])
        let system = try AtomicSystem(numbers: try archive.array("numbers").integers(), positions: vectors(try doubles("start_positions")),
                                      cell: cell, masses: try doubles("masses"), momenta: vectors(try doubles("start_momenta")))
        return (system, archive)
    }

    @Test("units and masses are ASE's (CODATA 2014)")
    func units() {
        #expect(Units.fs == 0.09822694788464063 && Units.kB == 8.617330337217213e-05)
        #expect(Elements.mass(of: 18) == 39.948 && Elements.mass(of: 1) == 1.008 && Elements.number(of: "Au") == 79 && Elements.symbols[79] == "Au")
    }

    @Test("fcc argon, 864 atoms: energy, forces and stress equal ASE's LennardJones")
    func aseParity() throws {
        let (system, archive) = try Self.argon()
        #expect(system.count == 864 && system.masses.allSatisfy { $0 == 39.948 })
        var lj = LennardJones(sigma: 3.405, epsilon: 0.010323)
        let result = try lj.evaluate(system)
        let energy = try archive.array("energy0").tensor().item()
        #expect(abs(result.energy - energy) <= 1e-10 * abs(energy), "\(result.energy) vs ASE \(energy)")
        let forces = try archive.array("forces0").tensor().doubles
        #expect(closeness(result.forces.flatMap { [$0.x, $0.y, $0.z] }, forces, Tolerance(rtol: 1e-9, atol: 1e-12)).passed)
        let stress = try archive.array("stress0").tensor().doubles
        #expect(closeness(try #require(result.stress), stress, Tolerance(rtol: 1e-9, atol: 1e-14)).passed, "\(result.stress!) vs \(stress)")
    }

    @Test("NVE, 100 steps of 5 fs: the positions of ASE's VelocityVerlet within 1e-8 Å, energies step by step")
    func aseTrajectory() throws {
        let (system, archive) = try Self.argon()
        var dynamics = try VelocityVerlet(system: system, potential: LennardJones(sigma: 3.405, epsilon: 0.010323), timestepFS: 5)
        let potential = try archive.array("potential").tensor().doubles, kinetic = try archive.array("kinetic").tensor().doubles
        var worstEnergy = 0.0
        for step in 0..<100 {
            try dynamics.step()
            worstEnergy = max(worstEnergy, abs(dynamics.current.energy - potential[step]), abs(dynamics.system.kineticEnergy - kinetic[step]))
        }
        let final = try archive.array("final_positions").tensor().doubles
        let ours = dynamics.system.positions.flatMap { [$0.x, $0.y, $0.z] }
        let worst = zip(ours, final).map { abs($0 - $1) }.max()!
        print("LennardJonesTests: after 100 steps positions within \(worst) Å of ASE's, energies within \(worstEnergy) eV")
        #expect(worst < 1e-8, "positions differ from ASE's by \(worst) Å after 100 steps")
        #expect(worstEnergy < 1e-8, "energies differ from ASE's by \(worstEnergy) eV")
        // NVE: the total energy stays (the shifted potential's force jump at rc costs a little).
        let start = potential[0] + kinetic[0]
        #expect(abs(dynamics.totalEnergy - start) / Double(system.count) < 1e-3)
    }

    /// The reference twin: `LennardJonesModel`, the same energy in tensor ops over the graph layer's
    /// edge geometry, so autograd gives forces (−∂E/∂R) and the stress ((1/V)·cellᵀ·∂E/∂cell).
    static func twinEnergy(positions: Tensor, cell: Tensor, pairs: NeighbourPairs, sigma: Double, epsilon: Double, rc: Double,
                           ro: Double, smooth: Bool) -> Tensor {
        let graph = AtomisticGraph(numbers: Array(repeating: 18, count: positions.shape[0]), positions: positions, pairs: pairs, cell: cell)
        return LennardJonesModel(sigma: sigma, epsilon: epsilon, rc: rc, ro: ro, smooth: smooth).atomicEnergies(graph).sum()
    }

    @Test("analytic forces and stress equal autograd's through the graph layer (float64), shifted and smooth", arguments: [false, true])
    func autogradTwin(smooth: Bool) throws {
        let rows: [Double] = [6.1, 0, 0, 0.7, 5.8, 0, -0.4, 0.5, 6.4]
        let vectors = Self.vectors(rows)
        let cell = try PeriodicCell(vectors: vectors, pbc: [true, true, true])
        var generator = RandomGenerator(seed: 3)
        // Eight atoms on a jittered lattice (no overlaps), in a cell smaller than twice the cutoff.
        var f: [Double] = []
        for i in 0..<2 { for j in 0..<2 { for k in 0..<2 { f += [Double(i) / 2, Double(j) / 2, Double(k) / 2] } } }
        f = zip(f, generator.uniform([24], low: -0.04, high: 0.04, dtype: .float64).doubles).map(+)
        let fractions = Tensor(f, shape: [8, 3])
        let positions = Self.vectors(fractions.matmul(Tensor(rows, shape: [3, 3])).doubles)
        let (sigma, epsilon) = (2.0, 0.02)
        var lj = LennardJones(sigma: sigma, epsilon: epsilon, rc: 4.5, ro: 3.2, smooth: smooth)
        let result = try lj.evaluate(try AtomicSystem(numbers: Array(repeating: 18, count: 8), positions: positions, cell: cell))
        let pairs = try NeighbourList.build(positions: positions, cutoff: 4.5, cell: cell)
        #expect(pairs.count > 100)  // several images of each neighbour
        let cellTensor = Tensor(rows, shape: [3, 3]).requiringGrad()
        let positionLeaf = fractions.matmul(Tensor(rows, shape: [3, 3])).requiringGrad()
        // Forces: E as a function of the positions, the cell fixed.
        let energy = Self.twinEnergy(positions: positionLeaf, cell: Tensor(rows, shape: [3, 3]), pairs: pairs, sigma: sigma, epsilon: epsilon,
                                     rc: 4.5, ro: 3.2, smooth: smooth)
        #expect(abs(energy.item() - result.energy) < 1e-12 * max(1, abs(result.energy)), "\(energy.item()) vs \(result.energy)")
        let forces = try grad(of: energy, wrt: positionLeaf).doubles.map { -$0 }
        #expect(closeness(result.forces.flatMap { [$0.x, $0.y, $0.z] }, forces, Tolerance(rtol: 1e-9, atol: 1e-12)).passed)
        // Stress: E of the cell with fractional coordinates fixed.
        let strained = Self.twinEnergy(positions: fractions.matmul(cellTensor), cell: cellTensor, pairs: pairs, sigma: sigma, epsilon: epsilon, rc: 4.5, ro: 3.2, smooth: smooth)
        let dE = try grad(of: strained, wrt: cellTensor)
        let sigmaFull = Tensor(rows, shape: [3, 3]).transposed().matmul(dE).doubles.map { $0 / cell.volume }
        let voigt = [sigmaFull[0], sigmaFull[4], sigmaFull[8], sigmaFull[5], sigmaFull[2], sigmaFull[1]]
        #expect(closeness(try #require(result.stress), voigt, Tolerance(rtol: 1e-9, atol: 1e-14)).passed, "\(result.stress!) vs \(voigt)")
    }
}
