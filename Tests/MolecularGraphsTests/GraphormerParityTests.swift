// Graphormer's forward and every parameter gradient against the PyTorch twin
// (Scripts/sfm/graphormer_twin.py fixture) with the same weights, on two collated batches from
// upstream's collator: one with padding and far pairs masked to −∞, one with disconnected graphs.
import Foundation
import Testing
import TestSupport
import TensorCore
import TensorIO
@testable import MolecularGraphs

@Suite struct GraphormerParityTests {
    static let fixtures = Fixtures.packageRoot.appendingPathComponent("Tests/MolecularGraphsTests/Fixtures")

    /// The batch `name` rebuilt from its graphs by SciZoo's encodings (equal to upstream's: GraphormerEncodingTests).
    static func batch(_ name: String) throws -> GraphormerBatch {
        let (items, far) = try items(name)
        return GraphormerBatch(items, multiHopMaxDist: 5, spatialPosMax: far)
    }

    /// The graphs of batch `name` as items, and the batch's `spatial_pos_max`.
    static func items(_ name: String) throws -> ([GraphormerItem], Int) {
        let group = try HDF5File(path: fixtures.appendingPathComponent("graphormer_encodings.h5").path).root.group(name)
        guard case .int(let far) = try group.attribute("spatial_pos_max") else { throw FileError(file: name, message: "no spatial_pos_max") }
        var items: [GraphormerItem] = []
        for index in 0..<(try group.memberNames().filter { $0.hasPrefix("graph_") }.count) {
            let g = try group.group("graph_\(index)")
            let nodes = try g.dataset("node_feat").read(as: Int64.self).map(Int.init)
            let graph = MolecularGraph(nodeCount: nodes.count / 9, nodeFeatures: nodes,
                                       edgeIndex: try g.dataset("edge_index").read(as: Int64.self).map(Int.init),
                                       edgeFeatures: try g.dataset("edge_feat").read(as: Int64.self).map(Int.init))
            items.append(GraphormerItem(graph, maxHops: 5))
        }
        return (items, Int(far))
    }

    static func model(dtype: DType, file: HDF5File) throws -> GraphormerModel {
        var configuration = GraphormerConfiguration(layers: 2, embeddingDim: 16, ffnDim: 24, heads: 4)
        configuration.dropout = 0
        let model = GraphormerModel(configuration, seed: 1)
        model.eval()
        let weights = try file.root.group("weights")
        for (name, parameter) in model.namedParameters() {
            parameter.value = try weights.dataset(name).readTensor().cast(to: dtype).detached().requiringGrad()
        }
        return model
    }

    @Test(arguments: [DType.float64, .float32])
    func forwardAndGradientsEqualTheTwin(dtype: DType) throws {
        let file = try HDF5File(path: Self.fixtures.appendingPathComponent("graphormer_twin.h5").path)
        let tolerance = dtype == .float64 ? 1e-10 : 1e-5
        for name in ["batch_1", "batch_4"] {
            let model = try Self.model(dtype: dtype, file: file)
            let expected = try file.root.group("\(dtype)/\(name)")
            let output = model(try Self.batch(name))
            let reference = try expected.dataset("output").readTensor()
            #expect(output.shape == reference.shape)
            let outputError = maxRelativeError(output.doubles, reference.doubles)
            #expect(outputError < tolerance, "\(dtype) \(name): output relative error \(outputError)")
            let loss = (output * (try expected.dataset("loss_weights").readTensor().cast(to: dtype))).sum()
            try loss.backward()
            var largest = 0.0
            for (parameterName, _) in model.namedParameters() {
                largest = max(largest, try expected.dataset("grad/\(parameterName)").readTensor().doubles.map(abs).max() ?? 0)
            }
            for (parameterName, parameter) in model.namedParameters() {
                let want = try expected.dataset("grad/\(parameterName)").readTensor().doubles
                let got = parameter.grad?.doubles ?? [Double](repeating: 0, count: want.count)
                if parameterName.hasSuffix("kProj.bias") {
                    // Zero in exact arithmetic (softmax ignores a constant per row): both sides hold rounding noise.
                    let noise = got.map(abs).max() ?? 0
                    #expect(noise < tolerance * largest, "\(dtype) \(name): ∂/∂\(parameterName) should vanish, largest \(noise)")
                    continue
                }
                let error = maxRelativeError(got, want)
                #expect(error < tolerance, "\(dtype) \(name): ∂/∂\(parameterName) relative error \(error)")
            }
        }
    }

    /// A freshly built model trains every parameter: each one is a gradient leaf and one backward
    /// reaches it (a weight re-drawn without staying a leaf once froze every Linear layer).
    @Test func everyParameterOfANewModelTakesAGradient() throws {
        var configuration = GraphormerConfiguration(layers: 2, embeddingDim: 16, ffnDim: 24, heads: 4)
        configuration.dropout = 0
        let model = GraphormerModel(configuration, seed: 7)
        let batch = try Self.batch("batch_1")
        try (model(batch) * 1.5).sum().backward()
        for (name, parameter) in model.namedParameters() {
            #expect(parameter.value.requiresGrad, "\(name) is not a gradient leaf")
            let largest = parameter.grad?.doubles.map(abs).max() ?? 0
            #expect(largest > 0 || name.hasSuffix("kProj.bias"), "\(name) took no gradient")
        }
    }

    /// A graph padded into a batch gives the output it gives alone; no padding pattern makes NaN.
    @Test func paddedBatchesEqualSingleGraphs() throws {
        let file = try HDF5File(path: Self.fixtures.appendingPathComponent("graphormer_twin.h5").path)
        let model = try Self.model(dtype: .float64, file: file)
        let graphs = try ["CC(=O)Nc1ccc(O)cc1", "C", "[Na+].[Cl-]", "c1ccc2ccccc2c1CCCCCC"].map { try MolecularGraph.fromSMILES($0) }
        let items = graphs.map { GraphormerItem($0, maxHops: 5) }
        let together = model(GraphormerBatch(items)).doubles
        #expect(together.allSatisfy { $0.isFinite })
        for (index, item) in items.enumerated() {
            let alone = model(GraphormerBatch([item])).doubles
            #expect(abs(alone[0] - together[index]) < 1e-12, "graph \(index): alone \(alone[0]), in a batch \(together[index])")
        }
    }

    /// Activation checkpointing with dropout, attention dropout and drop path in training mode: the
    /// replayed layers draw the same masks, so the loss and every gradient are the plain run's bits.
    @Test func activationCheckpointingIsBitwise() throws {
        var configuration = GraphormerConfiguration(layers: 3, embeddingDim: 16, ffnDim: 24, heads: 4)
        (configuration.dropout, configuration.dropPath) = (0.1, 0.2)
        let batch = try Self.batch("batch_1")
        func run(_ checkpoint: Bool) throws -> (Double, [[Double]], RandomGenerator) {
            let model = GraphormerModel(configuration, seed: 7)
            model.checkpointsActivations = checkpoint
            model.dropout.reseed(11)
            let loss = (model(batch) * 1.5).sum()
            try loss.backward()
            return (loss.item(), model.namedParameters().map { $0.1.grad?.doubles ?? [] }, model.dropout.generator)
        }
        let plain = try run(false), checkpointed = try run(true)
        #expect(plain.0 == checkpointed.0 && plain.1 == checkpointed.1 && plain.2 == checkpointed.2)
    }
}

/// max |a − b| / max(max |b|, 10⁻³): the error relative to the reference's scale.
func maxRelativeError(_ a: [Double], _ b: [Double]) -> Double {
    guard a.count == b.count else { return .infinity }
    let scale = Swift.max(b.map(abs).max() ?? 0, 1e-3)
    return zip(a, b).map { abs($0 - $1) }.max().map { $0 / scale } ?? 0
}
