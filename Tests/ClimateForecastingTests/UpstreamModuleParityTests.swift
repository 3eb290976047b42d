import Foundation
import Testing
import TestSupport
@testable import ClimateForecasting
import NeuralNetworks
import TensorCore
import TensorIO

/// ClimaX against upstream's own modules (microsoft/ClimaX `arch.py` with timm 0.6.13's Block,
/// `utils/metrics.py`'s lat_weighted_mse), run by Scripts/climax/make_upstream_parity_fixture.py:
/// every stage of the forward pass, the training loss and the gradient of every parameter, with
/// the same weights (read through `ClimaXWeights.load`) on the same batch.
@Suite("ClimaX against upstream's modules")
struct UpstreamModuleParityTests {
    static let folder = Fixtures.packageRoot.appendingPathComponent("Tests/ClimateForecastingTests/Fixtures").path

    /// max |a − b| / max |b|.
    static func relative(_ a: Tensor, _ b: Tensor) -> Double {
        let x = a.doubles, y = b.doubles
        precondition(x.count == y.count, "\(a.shape) vs \(b.shape)")
        let scale = Swift.max(y.map(abs).max() ?? 0, 1e-30)
        return zip(x, y).map { abs($0 - $1) }.max()! / scale
    }

    /// Each parameter's gradient of `loss` (zero for one the loss does not reach).
    static func gradients(of loss: Tensor, _ model: Module, dtype: DType) throws -> (Parameter) -> Tensor {
        let parameters = model.namedParameters().map(\.1)
        let gradients = try grad(of: [loss], wrt: parameters.map(\.value), allowUnused: true)
        var byParameter: [ObjectIdentifier: Tensor] = [:]
        for (parameter, gradient) in zip(parameters, gradients) {
            byParameter[ObjectIdentifier(parameter)] = gradient ?? Tensor.zeros(parameter.shape, dtype: dtype)
        }
        return { byParameter[ObjectIdentifier($0)]! }
    }

    @Test("every forward stage, the loss and every parameter's gradient equal upstream's (1e-12 in float64, 1e-5 in float32)",
          arguments: [DType.float64, .float32])
    func stagesLossAndGradients(dtype: DType) throws {
        let file = try HDF5File(path: Self.folder + "/climax_upstream_parity.h5")
        let root = try file.root
        func text(_ name: String) throws -> [String] {
            guard case .string(let value) = try root.attribute(name) else { throw FileError(file: file.path, message: "attribute \(name)") }
            return value.split(separator: ",").map(String.init)
        }
        func stored(_ name: String) throws -> Tensor { try root.dataset(name).readTensor() }
        let (variables, inputs, outputs) = (try text("variables"), try text("inputs"), try text("outputs"))
        let model = ClimaX(ClimaXConfiguration(defaultVariables: variables, imageSize: [8, 16], patchSize: 2, embedDim: 16, depth: 2,
                                               decoderDepth: 1, numHeads: 2, dropPath: 0, dropRate: 0), seed: 9)
        try ClimaXWeights.load(model, from: Self.folder + "/climax_upstream_weights.safetensors")
        for (_, parameter) in model.namedParameters() { parameter.value = parameter.value.cast(to: dtype).detached().requiringGrad() }
        model.train()
        let limit = dtype == .float64 ? 1e-12 : 1e-5
        let x = try stored("x").cast(to: dtype), y = try stored("y").cast(to: dtype), lead = try stored("lead").cast(to: dtype)
        let latitudes = try stored("latitudes").doubles
        let (b, v, l, d) = (x.shape[0], inputs.count, 32, 16)

        // The stages, through our modules one at a time.
        let tokens = model.tokenEmbeds(x, variableIDs: model.ids(inputs))                    // [B, L, V, D]
        var stages: [(String, Tensor)] = [("tokens", tokens.permuted([0, 2, 1, 3]))]           // upstream: [B, V, L, D]
        var h = model.varAgg(tokens.reshaped([b * l, v, d])).reshaped([b, l, d])
        stages.append(("aggregated", h))
        h = model.positions(h, leadTimes: lead, tokenIDs: nil)
        stages.append(("embedded", h))
        for (index, block) in model.blocks.enumerated() {
            h = block(h, generator: &model.generator)
            stages.append(("block\(index)", h))
        }
        h = model.norm(h)
        stages.append(("normed", h))
        var head = h
        for layer in model.head.dropLast() { head = layer(head).gelu() }
        stages.append(("head", model.head[model.head.count - 1](head)))
        let predictions = model(x, leadTimes: lead, variables: inputs, outVariables: outputs)
        stages.append(("predictions", predictions))
        for (name, ours) in stages {
            let error = Self.relative(ours, try stored("stages/" + name))
            #expect(error <= limit, "\(dtype) \(name): relative error \(error)")
        }

        let loss = LatitudeWeights.meanSquaredError(predictions, y, latitudes: latitudes)
        #expect(abs(loss.item() - (try stored("loss")).item()) <= limit * abs(loss.item()), "\(dtype) loss \(loss.item())")
        let named = ClimaXWeights.upstreamNamed(model, try Self.gradients(of: loss, model, dtype: dtype))
        let expected = try root.group("gradients").memberNames()
        #expect(Set(named.map(\.0)) == Set(expected))
        for (name, ours) in named {
            let error = Self.relative(ours, try stored("gradients/" + name))
            #expect(error <= limit, "\(dtype) gradient of \(name): relative error \(error)")
        }
    }
}
