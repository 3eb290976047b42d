// PaiNN: forces and second derivatives by autograd against finite differences, the force loss's
// parameter gradient, rotation equivariance, periodic images and stress, in float64.
import Foundation
import Graphs
import NeuralNetworks
import Testing
import TestSupport
import TensorCore
@testable import MolecularDynamics

@Suite("PaiNN")
struct PaiNNTests {
    static func small() -> PaiNN {
        var c = PaiNNConfiguration()
        (c.nAtomBasis, c.nInteractions, c.nRBF, c.cutoff, c.maxZ, c.dtype) = (6, 2, 5, 3.5, 10, .float64)
        let model = PaiNN(c, seed: 8)
        (model.energyScale.mean, model.energyScale.stddev) = (0.2, 1.3)
        return model
    }

    @Test("forces and second derivatives: gradcheck and gradgradcheck of the energy in the positions")
    func forces() throws {
        let model = Self.small()
        let pairs = try NeighbourList.build(positions: SchNetTests.positions, cutoff: 3.5)
        let energy: ([Tensor]) -> Tensor = { model.energy(numbers: SchNetTests.numbers, positions: $0[0], pairs: pairs) }
        #expect(gradcheck(energy, inputs: [SchNetTests.tensor(SchNetTests.positions)]).passed)
        #expect(gradgradcheck(energy, inputs: [SchNetTests.tensor(SchNetTests.positions)]).passed)
    }

    @Test("the force loss's gradient in the parameters equals finite differences")
    func forceLossGradient() throws {
        let model = Self.small()
        let pairs = try NeighbourList.build(positions: SchNetTests.positions, cutoff: 3.5)
        let reference = Tensor((0..<18).map { cos(Double($0)) }, shape: [6, 3])
        func loss() throws -> Tensor {
            let r = SchNetTests.tensor(SchNetTests.positions).requiringGrad()
            let forces = -(try grad(of: model.energy(numbers: SchNetTests.numbers, positions: r, pairs: pairs), wrt: r, createGraph: true))
            return (forces - reference).square().mean()
        }
        for c in try GradientCheck.parameters(model, h: 1e-5, elements: { [$0 / 3] }, loss: loss) {
            #expect(abs(c.numeric - c.computed) <= 1e-7 + 1e-4 * abs(c.numeric), "\(c.name)[\(c.element)]: \(c.computed) vs \(c.numeric)")
        }
    }

    @Test("rotation and translation leave the energy and rotate the forces; a 2×2×2 supercell has 8× the energy; stress by strain")
    func symmetriesAndCells() throws {
        let model = Self.small()
        var potential = PaiNNPotential(model: model)
        let base = try potential.evaluate(try AtomicSystem(numbers: SchNetTests.numbers, positions: SchNetTests.positions))
        let (c, s) = (cos(1.1), sin(1.1))
        func rotate(_ v: SIMD3<Double>) -> SIMD3<Double> { SIMD3(c * v.x - s * v.y, s * v.x + c * v.y, v.z) }
        var moved = PaiNNPotential(model: model)
        let rotated = try moved.evaluate(try AtomicSystem(numbers: SchNetTests.numbers, positions: SchNetTests.positions.map { rotate($0) + SIMD3(1, 2, 3) }))
        #expect(abs(rotated.energy - base.energy) < 1e-10 * max(1, abs(base.energy)))
        for (f, g) in zip(base.forces, rotated.forces) { #expect(((rotate(f) - g) * (rotate(f) - g)).sum().squareRoot() < 1e-9) }

        let a = 3.2, unit = [SIMD3<Double>(0.2, 0.1, 0.3), SIMD3(1.6, 1.4, 1.5)]
        var one = PaiNNPotential(model: model)
        let cellResult = try one.evaluate(try AtomicSystem(numbers: [8, 1], positions: unit, cell: try PeriodicCell.box(a, a, a)))
        var eight = PaiNNPotential(model: model)
        let superResult = try eight.evaluate(try ModelChecks.supercell(numbers: [8, 1], positions: unit, edge: a))
        #expect(abs(superResult.energy - 8 * cellResult.energy) < 1e-9 * max(1, abs(superResult.energy)))
        // The stress of the cell and of its supercell agree (an intensive quantity).
        let s1 = try #require(cellResult.stress), s8 = try #require(superResult.stress)
        #expect(closeness(s8, s1, Tolerance(rtol: 1e-8, atol: 1e-12)).passed, "\(s8) vs \(s1)")
        // Hydrostatic check: −(1/3)·trace(stress) = −dE/dV, by finite differences of the box edge.
        let h = 1e-5
        var up = PaiNNPotential(model: model), down = PaiNNPotential(model: model)
        func scaled(_ f: Double) throws -> AtomicSystem {
            try AtomicSystem(numbers: [8, 1], positions: unit.map { $0 * f }, cell: try PeriodicCell.box(a * f, a * f, a * f))
        }
        let dEdV = (try up.evaluate(scaled(1 + h)).energy - (try down.evaluate(scaled(1 - h)).energy)) / (pow(a * (1 + h), 3) - pow(a * (1 - h), 3))
        #expect(abs((s1[0] + s1[1] + s1[2]) / 3 - dEdV) < 1e-7 + 1e-5 * abs(dEdV), "trace/3 \((s1[0] + s1[1] + s1[2]) / 3) vs dE/dV \(dEdV)")
    }
}
