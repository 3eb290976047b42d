// ViSNet: forces and second derivatives by autograd against finite differences, the force loss's
// parameter gradient, rotation, translation and permutation symmetry, periodic images and stress
// (a 2×2×2 supercell; trace of the stress against dE/dV), in float64, lmax 1 and 2.
import Foundation
import Graphs
import NeuralNetworks
import Testing
import TestSupport
import TensorCore
@testable import MolecularDynamics

@Suite("ViSNet")
struct ViSNetTests {
    static func small(lmax: Int = 2) -> ViSNet {
        var c = ViSNetConfiguration()
        (c.hiddenChannels, c.numLayers, c.numHeads, c.numRBF, c.lmax, c.cutoff, c.maxZ, c.dtype) = (8, 3, 2, 6, lmax, 3.5, 10, .float64)
        let model = ViSNet(c, seed: 4)
        (model.energyScale.mean, model.energyScale.stddev) = (-0.1, 1.2)
        // Non-zero biases, so that none can hide a wrong index.
        var generator = RandomGenerator(seed: 9)
        for (name, parameter) in model.namedParameters() where name.hasSuffix("bias") {
            parameter.value = generator.normal(parameter.value.shape, std: 0.2, dtype: .float64).requiringGrad()
        }
        return model
    }

    @Test("forces and second derivatives: gradcheck and gradgradcheck of the energy in the positions (lmax 1 and 2)")
    func forces() throws {
        for lmax in [1, 2] {
            let model = Self.small(lmax: lmax)
            let pairs = try NeighbourList.build(positions: SchNetTests.positions, cutoff: 3.5)
            let energy: ([Tensor]) -> Tensor = { model.energy(numbers: SchNetTests.numbers, positions: $0[0], pairs: pairs) }
            #expect(gradcheck(energy, inputs: [SchNetTests.tensor(SchNetTests.positions)]).passed, "lmax \(lmax)")
            #expect(gradgradcheck(energy, inputs: [SchNetTests.tensor(SchNetTests.positions)]).passed, "lmax \(lmax)")
        }
    }

    @Test("the force loss's gradient in every weight equals finite differences")
    func forceLossGradient() throws {
        let model = Self.small()
        let comparisons = try ModelChecks.forceLossGradient(model, elements: { [0, $0 / 2, $0 - 1] })
        #expect(comparisons.count == model.namedParameters().count * 3)
        for c in comparisons {
            #expect(abs(c.numeric - c.computed) <= 1e-7 + 1e-4 * abs(c.numeric), "\(c.name)[\(c.element)]: \(c.computed) vs \(c.numeric)")
        }
    }

    @Test("rotation, translation and permutation leave the energy and carry the forces; supercell and stress")
    func symmetriesAndCells() throws {
        let model = Self.small()
        let (c, s) = (cos(0.7), sin(0.7))
        try ModelChecks.rigidMotion(model, rotate: { SIMD3(c * $0.x + s * $0.z, $0.y, -s * $0.x + c * $0.z) }, shift: SIMD3(-1, 2, 0.5))
        var potential = ViSNetPotential(model: model), permutedPotential = ViSNetPotential(model: model)
        let base = try potential.evaluate(try AtomicSystem(numbers: SchNetTests.numbers, positions: SchNetTests.positions))
        let order = [3, 0, 5, 1, 4, 2]
        let permuted = try permutedPotential.evaluate(try AtomicSystem(numbers: order.map { SchNetTests.numbers[$0] }, positions: order.map { SchNetTests.positions[$0] }))
        #expect(abs(permuted.energy - base.energy) < 1e-10 * max(1, abs(base.energy)))
        for (k, atom) in order.enumerated() { #expect(((permuted.forces[k] - base.forces[atom]) * (permuted.forces[k] - base.forces[atom])).sum() < 1e-20) }
        try ModelChecks.periodicCell(model)
    }

    @Test("spherical harmonics are e3nn's: orthogonal components under the uniform measure, Y(−r̂) = −Y₁, Y₂")
    func harmonics() {
        var generator = RandomGenerator(seed: 3)
        let raw = generator.normal([20000, 3], dtype: .float64)
        let unit = raw / raw.square().sum(axis: -1, keepDims: true).sqrt()
        let y = SphericalHarmonics.real(unit, lmax: 2).doubles
        // e3nn's "component" normalisation: each component has mean square 1/3·(2l+1)/(2l+1)… = 1/3 for l = 1 and 1/3·… for l = 2.
        var gram = [Double](repeating: 0, count: 64)
        for row in 0..<20000 { for a in 0..<8 { for b in 0..<8 { gram[a * 8 + b] += y[row * 8 + a] * y[row * 8 + b] / 20000 } } }
        for a in 0..<8 { for b in 0..<8 where a != b { #expect(abs(gram[a * 8 + b]) < 0.02, "⟨Y\(a), Y\(b)⟩ = \(gram[a * 8 + b])") } }
        for a in 0..<3 { #expect(abs(gram[a * 9] - 1.0 / 3) < 0.02) }
        for a in 3..<8 { #expect(abs(gram[a * 9] - gram[27]) < 0.02, "component \(a): \(gram[a * 9]) vs \(gram[27])") }
        let flipped = SphericalHarmonics.real(-unit, lmax: 2).doubles
        for k in 0..<80 { #expect(abs(flipped[k] - (k % 8 < 3 ? -y[k] : y[k])) < 1e-14) }
    }
}

/// AI2BMD's own ViSNet (Fixtures/make_visnet_fixture.py runs microsoft/AI2BMD's model code in
/// float64 with plain-torch stand-ins for its compiled scatter and radius-graph helpers).
@Suite("ViSNet parity with AI2BMD")
struct ViSNetParityTests {
    struct Reference: Decodable {
        struct Structure: Decodable { let numbers: [Int]; let positions: [[Double]] }
        struct Output: Decodable { let energy: Double; let forces: [[Double]] }
        let configuration: [String: Double]
        let structures: [String: Structure]
        let outputs: [String: Output]
    }

    @Test("AI2BMD's weights by their names give AI2BMD's energies and forces (float64, 1e-10)")
    func parity() throws {
        let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")
        let r = try JSONDecoder().decode(Reference.self, from: Data(contentsOf: folder.appendingPathComponent("visnet_reference.json")))
        var c = ViSNetConfiguration()
        c.lmax = Int(r.configuration["lmax"]!)
        (c.numHeads, c.numLayers) = (Int(r.configuration["num_heads"]!), Int(r.configuration["num_layers"]!))
        (c.hiddenChannels, c.numRBF, c.cutoff, c.dtype) = (Int(r.configuration["embedding_dimension"]!), Int(r.configuration["num_rbf"]!),
                                                        r.configuration["cutoff"]!, .float64)
        let model = ViSNet(c)
        try ViSNetWeights.load(folder.appendingPathComponent("visnet.safetensors").path, into: model)
        for (name, s) in r.structures {
            var potential = ViSNetPotential(model: model)
            let result = try potential.evaluate(try AtomicSystem(numbers: s.numbers, positions: s.positions.map { SIMD3($0[0], $0[1], $0[2]) }))
            let expected = r.outputs[name]!
            #expect(abs(result.energy - expected.energy) <= 1e-10 * max(1, abs(expected.energy)), "\(name): \(result.energy) vs \(expected.energy)")
            let worst = zip(result.forces.flatMap { [$0.x, $0.y, $0.z] }, expected.forces.flatMap { $0 }).map { abs($0 - $1) }.max()!
            #expect(worst < 1e-10, "\(name): forces differ by \(worst)")
        }
    }
}
