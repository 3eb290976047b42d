// schnetpack's own SchNet and PaiNN (2.1.1, float32, seeded weights with non-zero biases; made by
// Fixtures/make_schnetpack_fixture.py) loaded by their state_dict names give schnetpack's energies,
// forces and stress on an ethanol frame and on a skewed periodic cell smaller than twice the cutoff.
import Foundation
import Graphs
import Testing
import TestSupport
import TensorCore
import TensorIO
@testable import MolecularDynamics

@Suite("schnetpack parity")
struct SchnetpackParityTests {
    struct Reference: Decodable {
        struct Structure: Decodable { let numbers: [Int]; let positions: [[Double]]; let cell: [[Double]]; let pbc: [Bool] }
        struct Output: Decodable { let energy: Double; let forces: [[Double]]; let stress: [[Double]]? }
        let cutoff: Double
        let n_atom_basis: Int, n_interactions: Int, n_rbf: Int
        let structures: [String: Structure]
        let outputs: [String: Output]
    }

    static let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")

    static func model(_ kind: String, _ r: Reference) -> any AtomisticModel {
        if kind == "painn" {
            var c = PaiNNConfiguration()
            (c.nAtomBasis, c.nInteractions, c.nRBF, c.cutoff) = (r.n_atom_basis, r.n_interactions, r.n_rbf, r.cutoff)
            return PaiNN(c)
        }
        var c = SchNetConfiguration()
        (c.nAtomBasis, c.nInteractions, c.nRBF, c.cutoff) = (r.n_atom_basis, r.n_interactions, r.n_rbf, r.cutoff)
        return SchNet(c)
    }

    static func evaluate<Model: AtomisticModel>(_ model: Model, _ system: AtomicSystem) throws -> PotentialResult {
        var potential = MLPotential(model: model)
        return try potential.evaluate(system)
    }

    @Test("imported SchNet and PaiNN weights give schnetpack's energies, forces and stress within 1e-5 relative (float32)")
    func parity() throws {
        let r = try JSONDecoder().decode(Reference.self, from: Data(contentsOf: Self.folder.appendingPathComponent("schnetpack_reference.json")))
        for kind in ["schnet", "painn"] {
            let model = Self.model(kind, r)
            try SchnetpackWeights.load(Self.folder.appendingPathComponent("schnetpack_\(kind).safetensors").path, into: model)
            for (name, s) in r.structures.sorted(by: { $0.key < $1.key }) {
                let cell = try PeriodicCell(vectors: s.cell.map { SIMD3($0[0], $0[1], $0[2]) }, pbc: s.pbc)
                let system = try AtomicSystem(numbers: s.numbers, positions: s.positions.map { SIMD3($0[0], $0[1], $0[2]) }, cell: cell)
                let result = try Self.evaluate(model, system), expected = r.outputs["\(kind)/\(name)"]!
                #expect(abs(result.energy - expected.energy) <= 1e-5 * abs(expected.energy), "\(kind)/\(name): E \(result.energy) vs \(expected.energy)")
                let forces = result.forces.flatMap { [$0.x, $0.y, $0.z] }, reference = expected.forces.flatMap { $0 }
                let scale = reference.map(abs).max()!
                let worst = zip(forces, reference).map { abs($0 - $1) }.max()!
                #expect(worst <= 1e-5 * scale, "\(kind)/\(name): forces differ by \(worst) (scale \(scale))")
                if let stress = expected.stress, let ours = result.stress {
                    let voigt = [stress[0][0], stress[1][1], stress[2][2], stress[1][2], stress[0][2], stress[0][1]]
                    let scale = voigt.map(abs).max()!
                    #expect(zip(ours, voigt).allSatisfy { abs($0 - $1) <= 1e-5 * scale }, "\(kind)/\(name): stress \(ours) vs \(voigt)")
                }
            }
        }
    }

    @Test("strict loading: a missing key, an extra key and another cutoff are each named in one error")
    func strict() throws {
        let r = try JSONDecoder().decode(Reference.self, from: Data(contentsOf: Self.folder.appendingPathComponent("schnetpack_reference.json")))
        let (tensors, _) = try Safetensors.read(from: Self.folder.appendingPathComponent("schnetpack_schnet.safetensors").path)
        let scratch = try Fixtures.scratchDirectory().path + "/edited.safetensors"
        var edited = tensors.filter { $0.0 != "representation.interactions.1.in2f.weight" }
        edited.append(("representation.extra.weight", Tensor.zeros([2])))
        try Safetensors.write(edited, to: scratch)
        do {
            try SchnetpackWeights.load(scratch, into: Self.model("schnet", r))
            Issue.record("an edited state_dict must be refused")
        } catch let error as FileError {
            #expect(error.file == scratch && error.message.contains("missing representation.interactions.1.in2f.weight")
                    && error.message.contains("unexpected representation.extra.weight"), "\(error)")
        }
        var other = SchNetConfiguration()
        (other.nAtomBasis, other.nInteractions, other.nRBF, other.cutoff) = (r.n_atom_basis, r.n_interactions, r.n_rbf, 5.0)
        #expect(throws: FileError.self) { try SchnetpackWeights.load(Self.folder.appendingPathComponent("schnetpack_schnet.safetensors").path, into: SchNet(other)) }
    }
}
