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
        for c in try ModelChecks.forceLossGradient(Self.small(), elements: { [$0 / 3] }) {
            #expect(abs(c.numeric - c.computed) <= 1e-7 + 1e-4 * abs(c.numeric), "\(c.name)[\(c.element)]: \(c.computed) vs \(c.numeric)")
        }
    }

    @Test("rotation and translation leave the energy and rotate the forces; a 2×2×2 supercell has 8× the energy; stress by strain")
    func symmetriesAndCells() throws {
        let model = Self.small()
        let (c, s) = (cos(1.1), sin(1.1))
        try ModelChecks.rigidMotion(model, rotate: { SIMD3(c * $0.x - s * $0.y, s * $0.x + c * $0.y, $0.z) }, shift: SIMD3(1, 2, 3))
        try ModelChecks.periodicCell(model)
    }
}
