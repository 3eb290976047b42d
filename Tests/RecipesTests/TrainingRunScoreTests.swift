// A validation that comes out NaN is recorded (as null: metrics.jsonl stays strict JSON) and is
// never the best: best.h5 waits for the first finite score.
import Foundation
import Testing
import NeuralNetworks
import ParallelRuntime
import TensorCore
import TestSupport
@testable import Recipes

@Suite struct TrainingRunScoreTests {
    /// One weight fitted to 2 by squared error; validation scores scripted per call.
    final class ScriptedTask: TrainingTask {
        let layer: Linear
        var scores: [Double]
        let directory: String
        init(scores: [Double], directory: String) {
            var generator = RandomGenerator(seed: 1)
            layer = Linear(1, 1, bias: false, generator: &generator)
            (self.scores, self.directory) = (scores, directory)
        }
        var model: Module { layer }
        func prepare(groups: ProcessGroups, log: @escaping (String) -> Void) throws -> TrainingPlan {
            var plan = TrainingPlan(totalSteps: 6, adam: AdamSettings(learningRate: 0.1), validateEvery: 2,
                                    checkpointDirectory: directory + "/checkpoints", logEvery: 1, description: "scripted")
            plan.checkpointAfterValidation = true
            return plan
        }
        func install(hooks: (any ModuleHooks)?) {}
        func batches(epoch: Int) throws -> [Int] { [0, 1, 2] }
        func loss(_ batch: Int) throws -> MicroBatchLoss {
            let y = layer(Tensor([1.0], shape: [1, 1]).cast(to: layer.weight.value.dtype))
            return MicroBatchLoss(loss: (y - 2).square().mean(), labels: 1, items: 1)
        }
        func learningRate(at step: Int) -> Double { 0.1 }
        func evaluate(step: Int) throws -> Evaluation? {
            let score = scores.removeFirst()
            return Evaluation(entries: ["val/loss": score], score: score) { improved in "val \(score)\(improved ? " (best)" : "")" }
        }
        func checkpointRecord(_ progress: TrainingProgress) -> String { "{}" }
        func restore(record: String, step: Int, file: String) throws -> TrainingProgress { TrainingProgress() }
        func finish(_ outcome: TrainingOutcome, groups: ProcessGroups, log: (String) -> Void) throws -> TrainingOutcome { outcome }
    }

    @Test func aNaNValidationIsRecordedAsNullAndNeverBest() throws {
        let folder = try Fixtures.scratchDirectory().path
        var lines: [String] = []
        let task = ScriptedTask(scores: [.nan, 0.5, 0.7, 0.9], directory: folder)
        let outcome = try TrainingRun(task: task, runDirectory: folder, showsProgress: false, log: { lines.append($0) }).run()
        #expect(lines.contains("val nan") && lines.contains("val 0.5 (best)") && lines.contains("val 0.7"), "\(lines)")
        #expect(outcome.bestValidation == 0.5)
        let entries = try String(contentsOfFile: folder + "/metrics.jsonl", encoding: .utf8).split(separator: "\n").map {
            try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])
        }
        let validations = entries.filter { $0["val/loss"] != nil }
        #expect(validations.count == 3, "\(entries)")
        #expect(validations.first?["val/loss"] is NSNull)
        #expect(entries.filter { $0["train/loss"] != nil }.count == 6)
    }
}
