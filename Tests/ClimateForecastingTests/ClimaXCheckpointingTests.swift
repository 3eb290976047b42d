// ClimaX with activation checkpointing: the replayed ViT blocks draw the same dropout and
// stochastic-depth masks, so the gradients are the plain run's bit for bit.
import Testing
import TestSupport
@testable import ClimateForecasting
import NeuralNetworks
import TensorCore

@Suite("ClimaX activation checkpointing")
struct ClimaXCheckpointingTests {
    @Test("with dropout and drop path in training mode: loss, gradients and the generator's next draws equal the plain run's")
    func bitwise() throws {
        let variables = ClimaXModelTests.tinyVariables
        var generator = RandomGenerator(seed: 3)
        let x = generator.normal([2, variables.count, 8, 16], dtype: .float32)
        let target = generator.normal([2, 2, 8, 16], dtype: .float32)
        let lead = Tensor([0.25, 0.5] as [Double], shape: [2]).cast(to: .float32)
        func run(_ checkpoint: Bool) throws -> (Double, [[Double]], Double) {
            let model = ClimaX(ClimaXConfiguration(defaultVariables: variables, imageSize: [8, 16], patchSize: 2, embedDim: 16, depth: 3,
                                                   decoderDepth: 1, numHeads: 2, dropPath: 0.2, dropRate: 0.1), seed: 4)
            model.checkpointsActivations = checkpoint
            let prediction = model(x, leadTimes: lead, variables: variables, outVariables: ["2m_temperature", "geopotential_500"])
            let loss = ((prediction - target) * (prediction - target)).mean()
            try loss.backward()
            return (loss.item(), model.namedParameters().map { $0.1.grad?.doubles ?? [] }, model.generator.normal([1], dtype: .float64).item())
        }
        let plain = try run(false), checkpointed = try run(true)
        #expect(plain.0 == checkpointed.0)
        #expect(plain.1 == checkpointed.1)
        #expect(plain.2 == checkpointed.2)
    }
}
