// ClimaX with its tokens split over ranks (Ulysses attention in every ViT block) against one process.
import Foundation
import Testing
import TestSupport
@testable import ClimateForecasting
import NeuralNetworks
@testable import ParallelRuntime
import TensorCore

@Suite("ClimaX under sequence parallelism")
struct ClimaXSequenceParallelTests {
    /// 32 tokens over 2 ranks, and over 3 (padded to 33; heads 2 over 3 ranks leave one rank without
    /// a head), float64: the prediction on every rank equals one process's, and the gradients,
    /// summed over the group as data parallelism does, equal one process's.
    @Test("predictions and gradients equal one process (2 and 3 ranks, padded tokens, float64)", arguments: [2, 3])
    func matchesOneProcess(ranks: Int) throws {
        let variables = ClimaXModelTests.tinyVariables
        let configuration = ClimaXConfiguration(defaultVariables: variables, imageSize: [8, 16], patchSize: 2, embedDim: 16, depth: 2,
                                                decoderDepth: 2, numHeads: 4, dropPath: 0, dropRate: 0)
        var generator = RandomGenerator(seed: 3)
        let x = generator.normal([2, variables.count, 8, 16], dtype: .float64)
        let target = generator.normal([2, 2, 8, 16], dtype: .float64)
        let lead = Tensor([0.25, 0.5] as [Double], shape: [2])
        let outputs = ["2m_temperature", "geopotential_500"]
        @Sendable func loss(_ model: ClimaX) -> (Tensor, Tensor) {
            let prediction = model(x, leadTimes: lead, variables: variables, outVariables: outputs)
            return (prediction, ((prediction - target) * (prediction - target)).mean())
        }
        let single = ClimaX(configuration, seed: 4)
        ClimaXModelTests.toDouble(single)
        let (expectedPrediction, expectedLoss) = loss(single)
        try expectedLoss.backward()
        let expected = single.namedParameters().map { ($0.0, $0.1.grad?.doubles ?? []) }
        let failures = RankMessages()
        try InProcessWorld.run(size: ranks) { world in
            let groups = try ProcessGroups(world: world, sequenceParallelSize: ranks)
            let model = ClimaX(configuration, seed: 4)
            ClimaXModelTests.toDouble(model)
            try model.enableSequenceParallelism(groups.sequenceParallel)
            let (prediction, ours) = loss(model)
            let check = closeness(prediction.doubles, expectedPrediction.doubles, Tolerance(rtol: 1e-12, atol: 1e-12))
            if !check.passed { failures.add(["rank \(world.rank): prediction \(check)"]) }
            try ours.backward()
            try DataParallel.allReduceGradients(model.namedParameters(), groups: groups)
            for ((path, parameter), (_, reference)) in zip(model.namedParameters(), expected) {
                let check = closeness(parameter.grad?.doubles ?? [], reference, Tolerance(rtol: 1e-10, atol: 1e-12))
                if !check.passed { failures.add(["rank \(world.rank): \(path): \(check)"]) }
            }
        }
        let found = failures.all
        #expect(found.isEmpty, "\(found.count) mismatches, first: \(found.prefix(3))")
    }
}
