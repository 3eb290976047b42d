// Transformer-M (Graphormer plus the 3D channel and its atom head) against the PyTorch twin
// (Scripts/sfm/graphormer_twin.py fixture3d) with the same weights and positions, each molecule in
// a fixed mode (2D+3D, 2D, 3D): the prediction, the atom head's vectors and every gradient. Then
// the physics a structure channel must respect: rotating and translating a molecule leaves the
// prediction alone and rotates the atom vectors with it.
import Foundation
import Testing
import TestSupport
import TensorCore
import TensorIO
@testable import MolecularGraphs

@Suite struct TransformerMParityTests {
    static let file = GraphormerParityTests.fixtures.appendingPathComponent("transformer_m_twin.h5").path

    static func configuration() -> GraphormerConfiguration {
        var c = GraphormerConfiguration(layers: 2, embeddingDim: 16, ffnDim: 24, heads: 4)
        c.dropout = 0
        c.add3D = true
        c.gaussianKernels = 12
        return c
    }

    static func model(dtype: DType) throws -> GraphormerModel {
        let model = GraphormerModel(configuration(), seed: 1)
        model.eval()
        let weights = try HDF5File(path: file).root.group("weights")
        for (name, parameter) in model.namedParameters() {
            parameter.value = try weights.dataset(name).readTensor().cast(to: dtype).detached().requiringGrad()
        }
        return model
    }

    /// The fixture's batch with its positions.
    static func batch(_ name: String) throws -> GraphormerBatch {
        var batch = try GraphormerParityTests.batch(name)
        let positions = try HDF5File(path: file).root.dataset("positions/\(name)").read(as: Double.self)
        batch.positions = positions
        batch.hasPositions = [Bool](repeating: true, count: batch.graphs)
        return batch
    }

    @Test(arguments: [DType.float64, .float32])
    func forwardAtomVectorsAndGradientsEqualTheTwin(dtype: DType) throws {
        let file = try HDF5File(path: Self.file)
        let modes = try file.root.dataset("modes").read(as: Int64.self).map { MoleculeMode(rawValue: Int($0))! }
        let tolerance = dtype == .float64 ? 1e-10 : 1e-5
        for name in ["batch_1", "batch_4"] {
            let model = try Self.model(dtype: dtype)
            let expected = try file.root.group("\(dtype)/\(name)")
            let output = model.forward(try Self.batch(name), modes: modes)
            let atoms = try #require(output.atomVectors)
            for (got, key) in [(output.prediction, "output"), (atoms, "atom_output")] {
                let want = try expected.dataset(key).readTensor()
                #expect(got.shape == want.shape, "\(name) \(key): shape \(got.shape) vs \(want.shape)")
                let error = maxRelativeError(got.doubles, want.doubles)
                #expect(error < tolerance, "\(dtype) \(name): \(key) relative error \(error)")
            }
            let loss = (output.prediction * (try expected.dataset("loss_weights").readTensor().cast(to: dtype))).sum()
                + (atoms * (try expected.dataset("atom_loss_weights").readTensor().cast(to: dtype))).sum()
            try loss.backward()
            for (parameterName, parameter) in model.namedParameters() {
                let want = try expected.dataset("grad/\(parameterName)").readTensor().doubles
                let got = parameter.grad?.doubles ?? [Double](repeating: 0, count: want.count)
                if parameterName.hasSuffix("kProj.bias") {
                    // Zero in exact arithmetic (softmax ignores a constant per row).
                    #expect((got.map(abs).max() ?? 0) < 1e-3 * tolerance.squareRoot(), "\(dtype) \(name): ∂/∂\(parameterName) should vanish")
                    continue
                }
                let error = maxRelativeError(got, want)
                #expect(error < tolerance, "\(dtype) \(name): ∂/∂\(parameterName) relative error \(error)")
            }
        }
    }

    /// A rigid motion of the positions leaves the prediction unchanged and, with the equivariant atom
    /// head (one bias-free projection for the three axes), turns the atom vectors with the molecule.
    @Test func predictionIsInvariantAndAtomVectorsRotateWithTheMolecule() throws {
        var configuration = Self.configuration()
        configuration.equivariantAtomHead = true
        let model = GraphormerModel(configuration, seed: 21)
        model.eval()
        for (_, parameter) in model.namedParameters() { parameter.value = parameter.value.cast(to: .float64).detached().requiringGrad() }
        #expect(model.atomHead!.forceProjections.count == 1 && model.atomHead!.forceProjections[0].bias == nil)
        let batch = try Self.batch("batch_4")
        let before = model.forward(batch)
        // A rotation about (1, 2, 2)/3 by 0.7 rad, then a shift.
        let (u, angle) = (SIMD3<Double>(1, 2, 2) / 3, 0.7)
        let (c, s) = (cos(angle), sin(angle))
        func rotate(_ v: SIMD3<Double>) -> SIMD3<Double> {
            let cross = SIMD3(u.y * v.z - u.z * v.y, u.z * v.x - u.x * v.z, u.x * v.y - u.y * v.x)
            return v * c + cross * s + u * ((u * v).sum() * (1 - c))
        }
        var moved = batch
        for g in 0..<batch.graphs {
            for i in 0..<batch.nodeCounts[g] {
                let k = (g * batch.nodes + i) * 3
                let p = rotate(SIMD3(batch.positions[k], batch.positions[k + 1], batch.positions[k + 2])) + SIMD3(3.5, -1.25, 0.5)
                (moved.positions[k], moved.positions[k + 1], moved.positions[k + 2]) = (p.x, p.y, p.z)
            }
        }
        let after = model.forward(moved)
        #expect(maxRelativeError(after.prediction.doubles, before.prediction.doubles) < 1e-9)
        let (a, b) = (before.atomVectors!.doubles, after.atomVectors!.doubles)
        var worst = 0.0
        for g in 0..<batch.graphs {
            for i in 0..<batch.nodeCounts[g] {
                let k = (g * batch.nodes + i) * 3
                let want = rotate(SIMD3(a[k], a[k + 1], a[k + 2]))
                worst = max(worst, abs(want.x - b[k]), abs(want.y - b[k + 1]), abs(want.z - b[k + 2]))
            }
        }
        #expect(worst < 1e-9, "atom vectors moved by \(worst) off the rotated ones")
    }

    /// A molecule padded into a batch gives what it gives alone, in every mode; no padding makes NaN.
    @Test func paddedBatchesEqualSingleMoleculesInEveryMode() throws {
        let model = try Self.model(dtype: .float64)
        let batch = try Self.batch("batch_4")
        let (items, far) = try GraphormerParityTests.items("batch_4")
        for mode in MoleculeMode.allCases {
            let modes = [MoleculeMode](repeating: mode, count: batch.graphs)
            let together = model.forward(batch, modes: modes)
            let finite = together.prediction.doubles + (together.atomVectors?.doubles ?? [])
            #expect(finite.allSatisfy { $0.isFinite })
            for g in 0..<batch.graphs {
                let m = batch.nodeCounts[g]
                let positions = (0..<m).map { i -> SIMD3<Double> in
                    let k = (g * batch.nodes + i) * 3
                    return SIMD3(batch.positions[k], batch.positions[k + 1], batch.positions[k + 2])
                }
                let alone = model.forward(GraphormerBatch([items[g]], positions: [positions], multiHopMaxDist: 5, spatialPosMax: far), modes: [mode])
                #expect(abs(alone.prediction.doubles[0] - together.prediction.doubles[g]) < 1e-12, "\(mode) molecule \(g)")
                if let vectors = alone.atomVectors?.doubles, let all = together.atomVectors?.doubles {
                    let offset = g * batch.nodes * 3
                    var gap = 0.0
                    for k in 0..<(m * 3) { gap = max(gap, abs(vectors[k] - all[offset + k])) }
                    #expect(gap < 1e-12, "\(mode) molecule \(g): atom vectors differ by \(gap)")
                }
            }
        }
    }

    /// The training draw follows `mode_prob`, and molecules without positions always see the graph only.
    @Test func modesAreDrawnWithTheirProbabilities() throws {
        let model = GraphormerModel(Self.configuration(), seed: 3)
        var batch = try Self.batch("batch_4")
        var counts = [0, 0, 0]
        for round in 0..<400 {
            model.dropout.reseed(UInt64(round))
            for mode in model.drawModes(batch) { counts[mode.rawValue] += 1 }
        }
        let total = Double(counts.reduce(0, +))
        for (mode, p) in zip(MoleculeMode.allCases, [0.2, 0.2, 0.6]) {
            #expect(abs(Double(counts[mode.rawValue]) / total - p) < 0.03, "\(mode): \(counts)")
        }
        batch.hasPositions[1] = false
        #expect(model.drawModes(batch)[1] == .graphOnly)
        #expect(model.defaultModes(batch) == [.both, .graphOnly, .both, .both, .both])
    }
}
