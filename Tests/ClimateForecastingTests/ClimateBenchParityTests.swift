import Foundation
import Testing
import TestSupport
@testable import ClimateForecasting
import NeuralNetworks
import TensorCore
import TensorIO

/// ClimaXClimateBench against upstream's own module (microsoft/ClimaX climate_projection/arch.py,
/// its training loss utils/metrics.py `mse`), run by Scripts/climax/make_climatebench_parity_fixture.py:
/// the encoder's pooled summary, the prediction, the loss and every parameter's gradient, with the
/// same weights on the same forcing histories.
@Suite("ClimaX ClimateBench projection against upstream's module")
struct ClimateBenchParityTests {
    static let file = Fixtures.packageRoot.appendingPathComponent("Tests/ClimateForecastingTests/Fixtures/climax_climatebench_parity.h5").path

    @Test("the summary, prediction, loss and every gradient equal upstream's (1e-12 in float64, 1e-5 in float32)", arguments: [DType.float64, .float32])
    func forwardLossAndGradients(dtype: DType) throws {
        let file = try HDF5File(path: Self.file)
        let root = try file.root
        func text(_ name: String) throws -> [String] {
            guard case .string(let value) = try root.attribute(name) else { throw FileError(file: file.path, message: "attribute \(name)") }
            return value.split(separator: ",").map(String.init)
        }
        func stored(_ name: String) throws -> Tensor { try root.dataset(name).readTensor() }
        let (variables, inputs) = (try text("variables"), try text("inputs"))
        let model = ClimaXClimateBench(ClimaXConfiguration(defaultVariables: variables, imageSize: [8, 16], patchSize: 2, embedDim: 16, depth: 2,
                                                           decoderDepth: 1, numHeads: 2, dropPath: 0, dropRate: 0), timeHistory: 3, seed: 4)
        let weights = try root.group("weights").memberNames().map { ($0, try stored("weights/" + $0)) }
        try ClimaXWeights.load(model, tensors: weights, file: Self.file)
        for (_, parameter) in model.namedParameters() { parameter.value = parameter.value.cast(to: dtype).detached().requiringGrad() }
        model.train()
        let limit = dtype == .float64 ? 1e-12 : 1e-5
        let x = try stored("x").cast(to: dtype), y = try stored("y").cast(to: dtype), lead = try stored("lead").cast(to: dtype)
        let predictions = model(x, leadTimes: lead, variables: inputs)
        #expect(UpstreamModuleParityTests.relative(predictions, try stored("predictions")) <= limit)
        // The summary before the head: upstream forward_encoder's [B, 1, D].
        let (b, t, d) = (2, 3, 16)
        let years = x.reshaped([b * t, 4, 8, 16])
        let tokens = model.backbone.encode(years, leadTimes: Tensor.zeros([b * t], dtype: dtype), variables: inputs,
                                           added: model.timePosEmbed.value.expanded(to: [b, t, d]).contiguous().reshaped([b * t, 1, d]))
        let summary = model.timeAgg(tokens.mean(axis: 1).reshaped([b, t, d]))
        #expect(UpstreamModuleParityTests.relative(summary, try stored("encoded").reshaped([b, d])) <= limit)
        // Upstream's training loss: the plain mean squared error.
        let loss = (predictions - y).square().mean()
        #expect(abs(loss.item() - (try stored("loss")).item()) <= limit * abs(loss.item()), "\(dtype) loss \(loss.item())")
        let named = ClimaXWeights.upstreamNamed(model, try UpstreamModuleParityTests.gradients(of: loss, model, dtype: dtype))
        #expect(Set(named.map(\.0)) == Set(try root.group("gradients").memberNames()))
        for (name, ours) in named {
            let error = UpstreamModuleParityTests.relative(ours, try stored("gradients/" + name))
            #expect(error <= limit, "\(dtype) gradient of \(name): relative error \(error)")
        }
    }
}
