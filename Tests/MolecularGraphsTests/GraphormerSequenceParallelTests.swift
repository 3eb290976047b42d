// Graphormer with each molecule's tokens split over ranks (Ulysses on EvoformerAttention) against
// one process.
import Foundation
import Testing
import TestSupport
@testable import MolecularGraphs
@testable import ParallelRuntime
import TensorCore

@Suite struct GraphormerSequenceParallelTests {
    /// Batch 1 of the parity fixture (padded molecules, far pairs masked) on 2 and 3 ranks, float64:
    /// every rank's prediction equals one process's, and the gradients summed over the group do too.
    @Test(arguments: [2, 3])
    func matchesOneProcess(ranks: Int) throws {
        let configuration = {
            var configuration = GraphormerConfiguration(layers: 2, embeddingDim: 16, ffnDim: 24, heads: 4)
            configuration.dropout = 0
            return configuration
        }()
        let batch = try GraphormerParityTests.batch("batch_1")
        @Sendable func model() -> GraphormerModel {
            let model = GraphormerModel(configuration, seed: 7)
            for (_, parameter) in model.namedParameters() { parameter.value = parameter.value.cast(to: .float64).detached().requiringGrad() }
            return model
        }
        let single = model()
        let expectedPrediction = single(batch)
        try (expectedPrediction * 1.5).sum().backward()
        let expected = single.namedParameters().map { ($0.0, $0.1.grad?.doubles ?? []) }
        let failures = RankMessages()
        try InProcessWorld.run(size: ranks) { world in
            let groups = try ProcessGroups(world: world, sequenceParallelSize: ranks)
            let parallel = model()
            try parallel.enableSequenceParallelism(groups.sequenceParallel)
            let prediction = parallel(batch)
            let check = closeness(prediction.doubles, expectedPrediction.doubles, Tolerance(rtol: 1e-12, atol: 1e-12))
            if !check.passed { failures.add(["rank \(world.rank): prediction \(check)"]) }
            try (prediction * 1.5).sum().backward()
            try DataParallel.allReduceGradients(parallel.namedParameters(), groups: groups)
            for ((path, parameter), (_, reference)) in zip(parallel.namedParameters(), expected) {
                let check = closeness(parameter.grad?.doubles ?? [], reference, Tolerance(rtol: 1e-10, atol: 1e-12))
                if !check.passed { failures.add(["rank \(world.rank): \(path): \(check)"]) }
            }
        }
        #expect(failures.all.isEmpty, "\(failures.all.count) mismatches, first: \(failures.all.prefix(3))")
    }
}
