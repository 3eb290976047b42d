// Checks every force-field model goes through, written once: rigid motions of a molecule, and a
// periodic cell against its 2×2×2 supercell with the stress against dE/dV (the parameter-gradient
// check is TestSupport's GradientCheck).
import Foundation
import Graphs
import NeuralNetworks
import TensorCore
import Testing
import TestSupport
@testable import MolecularDynamics

enum ModelChecks {
    /// The atoms of a cubic cell of edge `a`, repeated 2×2×2, in a box of edge 2a.
    static func supercell(numbers: [Int], positions: [SIMD3<Double>], edge a: Double) throws -> AtomicSystem {
        var big: [SIMD3<Double>] = [], repeated: [Int] = []
        for i in 0..<2 { for j in 0..<2 { for k in 0..<2 {
            for (n, r) in zip(numbers, positions) { repeated.append(n); big.append(r + SIMD3(Double(i), Double(j), Double(k)) * a) }
        } } }
        return try AtomicSystem(numbers: repeated, positions: big, cell: try PeriodicCell.box(2 * a, 2 * a, 2 * a))
    }

    /// The energy of `SchNetTests`' molecule is unchanged and the forces rotate when it is rotated
    /// by `rotate` and moved by `shift`.
    static func rigidMotion<Model: AtomisticModel>(_ model: Model, rotate: (SIMD3<Double>) -> SIMD3<Double>, shift: SIMD3<Double>) throws {
        var potential = MLPotential(model: model), moved = MLPotential(model: model)
        let base = try potential.evaluate(try AtomicSystem(numbers: SchNetTests.numbers, positions: SchNetTests.positions))
        let rotated = try moved.evaluate(try AtomicSystem(numbers: SchNetTests.numbers, positions: SchNetTests.positions.map { rotate($0) + shift }))
        #expect(abs(rotated.energy - base.energy) < 1e-10 * max(1, abs(base.energy)))
        for (f, g) in zip(base.forces, rotated.forces) { #expect(((rotate(f) - g) * (rotate(f) - g)).sum().squareRoot() < 1e-9) }
    }

    /// A two-atom cubic cell: its 2×2×2 supercell has 8× its energy and the same stress, and
    /// −(1/3)·trace(stress) equals −dE/dV by finite differences of the box edge.
    static func periodicCell<Model: AtomisticModel>(_ model: Model) throws {
        let a = 3.2, unit = [SIMD3<Double>(0.2, 0.1, 0.3), SIMD3(1.6, 1.4, 1.5)]
        var one = MLPotential(model: model), eight = MLPotential(model: model)
        let cellResult = try one.evaluate(try AtomicSystem(numbers: [8, 1], positions: unit, cell: try PeriodicCell.box(a, a, a)))
        let superResult = try eight.evaluate(try supercell(numbers: [8, 1], positions: unit, edge: a))
        #expect(abs(superResult.energy - 8 * cellResult.energy) < 1e-9 * max(1, abs(superResult.energy)))
        let s1 = try #require(cellResult.stress), s8 = try #require(superResult.stress)
        #expect(closeness(s8, s1, Tolerance(rtol: 1e-8, atol: 1e-12)).passed, "\(s8) vs \(s1)")
        let h = 1e-5
        var up = MLPotential(model: model), down = MLPotential(model: model)
        func scaled(_ f: Double) throws -> AtomicSystem {
            try AtomicSystem(numbers: [8, 1], positions: unit.map { $0 * f }, cell: try PeriodicCell.box(a * f, a * f, a * f))
        }
        let dEdV = (try up.evaluate(scaled(1 + h)).energy - (try down.evaluate(scaled(1 - h)).energy)) / (pow(a * (1 + h), 3) - pow(a * (1 - h), 3))
        #expect(abs((s1[0] + s1[1] + s1[2]) / 3 - dEdV) < 1e-7 + 1e-5 * abs(dEdV), "trace/3 \((s1[0] + s1[1] + s1[2]) / 3) vs dE/dV \(dEdV)")
    }

    /// A force loss on `SchNetTests`' molecule (MSE against fixed forces, cutoff 3.5 Å): its
    /// gradient in each weight at `elements` against central differences.
    static func forceLossGradient<Model: AtomisticModel>(_ model: Model, elements: (Int) -> [Int]) throws -> [GradientCheck.Comparison] {
        let pairs = try NeighbourList.build(positions: SchNetTests.positions, cutoff: 3.5)
        let reference = Tensor((0..<18).map { cos(Double($0)) }, shape: [6, 3])
        func loss() throws -> Tensor {
            let r = SchNetTests.tensor(SchNetTests.positions).requiringGrad()
            let forces = -(try grad(of: model.energy(numbers: SchNetTests.numbers, positions: r, pairs: pairs), wrt: r, createGraph: true))
            return (forces - reference).square().mean()
        }
        return try GradientCheck.parameters(model, h: 1e-5, elements: elements, loss: loss)
    }
}
