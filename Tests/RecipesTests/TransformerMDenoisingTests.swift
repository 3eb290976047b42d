// Transformer-M's denoising term against its definition: zero when the atom head points along the
// noise, 2 per 3D-only molecule (over the batch size) when it points against it, blind to the other
// modes and to padding; the noise touches only real atoms of molecules with positions.
import Testing
import TensorCore
import MolecularGraphs
@testable import Recipes

@Suite struct TransformerMDenoisingTests {
    static func batch() throws -> GraphormerBatch {
        let graphs = try ["CCO", "c1ccccc1", "CC(=O)N"].map { try MolecularGraph.fromSMILES($0) }
        let positions: [[SIMD3<Double>]?] = [
            (0..<3).map { SIMD3(Double($0), 0.5, 0) }, nil, (0..<4).map { SIMD3(0, Double($0), 1) },
        ]
        return GraphormerBatch(graphs.map { GraphormerItem($0, maxHops: 5) }, positions: positions)
    }

    @Test func noiseTouchesOnlyRealAtomsWithPositions() throws {
        var batch = try Self.batch()
        let before = batch.positions
        let noise = TransformerMDenoising.perturb(&batch, scale: 0.2, seed: 9)
        for g in 0..<batch.graphs {
            for i in 0..<batch.nodes {
                for axis in 0..<3 {
                    let k = (g * batch.nodes + i) * 3 + axis
                    let real = batch.hasPositions[g] && i < batch.nodeCounts[g]
                    #expect((noise[k] != 0) == real, "molecule \(g) atom \(i)")
                    #expect(batch.positions[k] == before[k] + noise[k])
                }
            }
        }
        let drawn = noise.filter { $0 != 0 }
        let spread = (drawn.map { $0 * $0 }.reduce(0, +) / Double(drawn.count)).squareRoot()
        #expect(spread > 0.1 && spread < 0.3, "noise RMS \(spread) for scale 0.2")
    }

    @Test func lossCountsOnlyStructureOnlyMolecules() throws {
        var batch = try Self.batch()
        let noise = TransformerMDenoising.perturb(&batch, scale: 0.2, seed: 9)
        let shape = [batch.graphs, batch.nodes, 3]
        let along = Tensor(noise.map { $0 * 3 }, shape: shape)
        let against = Tensor(noise.map { -$0 }, shape: shape)
        // Molecule 1 has no positions, so nothing to denoise even if marked 3D only.
        let modes: [MoleculeMode] = [.structureOnly, .structureOnly, .structureOnly]
        #expect(abs(TransformerMDenoising.loss(along, noise: noise, batch: batch, modes: modes).item()) < 1e-12)
        // 1 − cos = 2 for each opposite molecule, over the batch size 3.
        let value = TransformerMDenoising.loss(against, noise: noise, batch: batch, modes: modes).item()
        #expect(abs(value - 4.0 / 3) < 1e-9, "\(value)")
        #expect(TransformerMDenoising.loss(against, noise: noise, batch: batch, modes: [.both, .graphOnly, .both]).item() == 0)
    }
}
