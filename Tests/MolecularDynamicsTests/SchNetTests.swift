// SchNet: forces by autograd against finite differences, the force loss's parameter gradient
// (double backward) against finite differences, symmetries, and periodic images (a supercell's
// energy is the cell's times its size), all in float64.
import Foundation
import Graphs
import NeuralNetworks
import Testing
import TestSupport
import TensorCore
@testable import MolecularDynamics

@Suite("SchNet")
struct SchNetTests {
    static func small() -> SchNet {
        var c = SchNetConfiguration()
        (c.nAtomBasis, c.nInteractions, c.nRBF, c.cutoff, c.maxZ, c.dtype) = (8, 2, 6, 3.5, 10, .float64)
        let model = SchNet(c, seed: 5)
        (model.energyScale.mean, model.energyScale.stddev) = (-0.3, 1.7)
        model.energyScale.atomReference[1] = -13.6
        model.energyScale.atomReference[8] = -2040.0
        return model
    }

    /// A water dimer-like cluster: O, H, H, O, H, H.
    static let numbers = [8, 1, 1, 8, 1, 1]
    static let positions: [SIMD3<Double>] = [SIMD3(0, 0, 0), SIMD3(0.96, 0, 0), SIMD3(-0.24, 0.93, 0),
                                            SIMD3(2.9, 0.1, 0.2), SIMD3(3.3, 0.9, 0.1), SIMD3(3.2, -0.5, 0.8)]

    static func tensor(_ r: [SIMD3<Double>]) -> Tensor { Tensor(r.flatMap { [$0.x, $0.y, $0.z] }, shape: [r.count, 3]) }

    @Test("forces and second derivatives: gradcheck and gradgradcheck of the energy in the positions")
    func forces() throws {
        let model = Self.small()
        let pairs = try NeighbourList.build(positions: Self.positions, cutoff: 3.5)
        let energy: ([Tensor]) -> Tensor = { model.energy(numbers: Self.numbers, positions: $0[0], pairs: pairs) }
        #expect(gradcheck(energy, inputs: [Self.tensor(Self.positions)]).passed)
        #expect(gradgradcheck(energy, inputs: [Self.tensor(Self.positions)]).passed)
    }

    @Test("the force loss's gradient in the parameters (double backward) equals finite differences")
    func forceLossGradient() throws {
        let model = Self.small()
        let pairs = try NeighbourList.build(positions: Self.positions, cutoff: 3.5)
        let reference = Tensor((0..<18).map { sin(Double($0)) }, shape: [6, 3])
        func loss() throws -> Tensor {
            let r = Self.tensor(Self.positions).requiringGrad()
            let e = model.energy(numbers: Self.numbers, positions: r, pairs: pairs)
            let forces = -(try grad(of: e, wrt: r, createGraph: true))
            return (forces - reference).square().mean() * 0.95 + (e - (-4107.0)).square() * 0.05
        }
        let h = 1e-4  // the energy term sits on ~4,000 eV of reference energies: smaller steps drown in rounding
        for c in try GradientCheck.parameters(model, h: h, elements: { [0, $0 / 2, $0 - 1] }, loss: loss) {
            #expect(abs(c.numeric - c.computed) <= 1e-6 + 1e-4 * abs(c.numeric), "\(c.name)[\(c.element)]: \(c.computed) vs \(c.numeric)")
        }
    }

    @Test("energies are invariant under rotation, translation and permutation; forces rotate with the molecule")
    func symmetries() throws {
        let model = Self.small()
        var potential = SchNetPotential(model: model)
        let system = try AtomicSystem(numbers: Self.numbers, positions: Self.positions)
        let base = try potential.evaluate(system)
        // A rotation about a skew axis, then a translation.
        let (c, s) = (cos(0.7), sin(0.7))
        let axis = SIMD3<Double>(1, 2, 2) / 3
        func rotate(_ v: SIMD3<Double>) -> SIMD3<Double> {
            let cross = SIMD3(axis.y * v.z - axis.z * v.y, axis.z * v.x - axis.x * v.z, axis.x * v.y - axis.y * v.x)
            return v * c + cross * s + axis * ((axis * v).sum()) * (1 - c)
        }
        var moved = SchNetPotential(model: model)
        let rotated = try moved.evaluate(try AtomicSystem(numbers: Self.numbers, positions: Self.positions.map { rotate($0) + SIMD3(5, -3, 2) }))
        #expect(abs(rotated.energy - base.energy) < 1e-9 * abs(base.energy))
        for (f, g) in zip(base.forces, rotated.forces) { #expect(((rotate(f) - g) * (rotate(f) - g)).sum().squareRoot() < 1e-9) }
        let order = [3, 0, 5, 1, 4, 2]
        var permuted = SchNetPotential(model: model)
        let swapped = try permuted.evaluate(try AtomicSystem(numbers: order.map { Self.numbers[$0] }, positions: order.map { Self.positions[$0] }))
        #expect(abs(swapped.energy - base.energy) < 1e-9 * abs(base.energy))
        for (k, atom) in order.enumerated() { #expect(((swapped.forces[k] - base.forces[atom]) * (swapped.forces[k] - base.forces[atom])).sum() < 1e-18) }
    }

    @Test("stress of a periodic cell equals finite differences of the energy under strain (ASE's sign)")
    func stress() throws {
        let model = Self.small()
        let rows: [SIMD3<Double>] = [SIMD3(4.1, 0, 0), SIMD3(0.5, 3.8, 0), SIMD3(-0.3, 0.4, 4.3)]
        let positions = [SIMD3<Double>(0.2, 0.1, 0.3), SIMD3(1.6, 1.4, 1.5), SIMD3(2.9, 0.7, 2.2)]
        func evaluate(_ strain: [Double]) throws -> PotentialResult {
            func deform(_ v: SIMD3<Double>) -> SIMD3<Double> {
                SIMD3(v.x * (1 + strain[0]) + v.y * strain[3] + v.z * strain[6],
                      v.x * strain[1] + v.y * (1 + strain[4]) + v.z * strain[7],
                      v.x * strain[2] + v.y * strain[5] + v.z * (1 + strain[8]))
            }
            var potential = SchNetPotential(model: model)
            let cell = try PeriodicCell(vectors: rows.map(deform), pbc: [true, true, true])
            return try potential.evaluate(try AtomicSystem(numbers: [8, 1, 1], positions: positions.map(deform), cell: cell))
        }
        let stress = try #require(try evaluate(Array(repeating: 0, count: 9)).stress)
        let volume = try PeriodicCell(vectors: rows, pbc: [true, true, true]).volume
        let h = 1e-5
        // Voigt component k ↔ symmetric strain entries.
        for (k, entries) in [[0], [4], [8], [5, 7], [2, 6], [1, 3]].enumerated() {
            var plus = [Double](repeating: 0, count: 9), minus = plus
            for e in entries { plus[e] = h / Double(entries.count); minus[e] = -h / Double(entries.count) }
            let numeric = (try evaluate(plus).energy - (try evaluate(minus).energy)) / (2 * h) / volume
            #expect(abs(numeric - stress[k]) < 1e-7 + 1e-5 * abs(numeric), "stress[\(k)] \(stress[k]) vs \(numeric)")
        }
    }

    @Test("periodic images: a 2×2×2 supercell's energy is 8 times the cell's, and forces repeat")
    func supercell() throws {
        let model = Self.small()
        let a = 3.1  // smaller than twice the cutoff: each atom sees several images of its neighbours
        let cell = try PeriodicCell.box(a, a, a)
        let unit = [SIMD3<Double>(0.2, 0.1, 0.3), SIMD3(1.6, 1.4, 1.5)]
        var potential = SchNetPotential(model: model)
        let one = try potential.evaluate(try AtomicSystem(numbers: [8, 1], positions: unit, cell: cell))
        var superPotential = SchNetPotential(model: model)
        let eight = try superPotential.evaluate(try ModelChecks.supercell(numbers: [8, 1], positions: unit, edge: a))
        #expect(abs(eight.energy - 8 * one.energy) < 1e-9 * abs(eight.energy), "\(eight.energy) vs 8 × \(one.energy)")
        for (k, f) in eight.forces.enumerated() { #expect(((f - one.forces[k % 2]) * (f - one.forces[k % 2])).sum() < 1e-18) }
    }
}
