// Force-field training on the bundled GFN2-xTB ethanol frames: the validation force error falls, a stopped run
// resumed gives the uninterrupted run's metrics bit for bit (EMA and plateau state included),
// the checkpoint reads back as a model whose scores are the run's own, and the force loss's
// gradient in the weights agrees with finite differences (double backward) in Double.
import Foundation
import ParallelRuntime
import Testing
import TestSupport
import TensorCore
import TensorIO
@testable import MolecularDynamics
@testable import Recipes

@Suite("Force-field training")
struct MLFFTrainingTests {
    static func settings(model: String = "schnet", dtype: DType = .float32) throws -> MLFFSettings {
        let recipe = """
            seed: 11
            data: {path: \(Fixtures.packageRoot.path)/Datasets/mlff/ethanol_gfn2xtb.extxyz, num_train: 40, num_val: 10, num_test: 10, batch_size: 5}
            model: {model: \(model), cutoff: 4.0, n_atom_basis: 32, n_interactions: 2, n_rbf: 8, dtype: \(dtype == .float64 ? "float64" : "float32")}
            task: {lr: 5.0e-3, ema_decay: 0.9, lr_patience: 0, lr_factor: 0.5}
            trainer: {max_epochs: 10, val_check_interval: 8, log_every_n_steps: 100}
            """
        let path = try Fixtures.scratchDirectory().path + "/recipe.yaml"
        try recipe.write(toFile: path, atomically: true, encoding: .utf8)
        return try MLFFSettings.load(from: path)
    }

    static func metrics(_ directory: String) throws -> [String] {
        try String(contentsOfFile: directory + "/metrics.jsonl", encoding: .utf8).split(separator: "\n").map(String.init)
    }

    /// The metrics lines without the throughput (the one field that depends on the clock).
    static func metricsWithoutTiming(_ directory: String) throws -> [String] {
        try metrics(directory).map { $0.replacingOccurrences(of: #""molecules_per_second":[0-9.e+-]+,"#, with: "", options: .regularExpression) }
    }

    @Test("SchNet and PaiNN learn; stop + resume = one run, bit for bit; the best checkpoint scores as the run did")
    func trainResumeEvaluate() throws {
        for model in ["schnet", "painn"] {
            let s = try Self.settings(model: model), root = try Fixtures.scratchDirectory("train-\(model)").path
            let whole = try MLFFTrainer(settings: s, runDirectory: root + "/whole", showsProgress: false, log: { _ in }).run()
            #expect(whole.steps == 80 && whole.test != nil)
            let scores = try Self.metrics(root + "/whole").compactMap { try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Double] }
                .compactMap { $0["val/forces_mae"] }
            #expect(scores.count == 10 && scores.last! < 0.6 * scores.first!, "\(model): val/forces_mae \(scores)")

            _ = try MLFFTrainer(settings: s, runDirectory: root + "/split", showsProgress: false, log: { _ in }).run(stopAtStep: 10)
            _ = try MLFFTrainer(settings: s, runDirectory: root + "/split", showsProgress: false, log: { _ in }).run(resume: true)
            let (resumed, uninterrupted) = (try Self.metricsWithoutTiming(root + "/split"), try Self.metricsWithoutTiming(root + "/whole"))
            #expect(resumed == uninterrupted, "\(model): resumed metrics differ")

            // The best checkpoint, read back, scores the test split as the run reported.
            let report = try MLFFEvaluation.run(checkpoint: whole.checkpoint, data: s.resolve(s.dataPath))
            let (_, loaded) = try MLFFCheckpoint.load(whole.checkpoint)
            let frames = try ForceFieldData.open(s.resolve(s.dataPath)), split = try MLFFData.split(s, frames: frames)
            let test = try MLFFData.score(loaded, frames: frames, indices: split.test, settings: s, groups: nil)  // the run's batches
            #expect(abs(test.forcesMAE - whole.test!.forcesMAE) < 1e-9 && report.frames == 2000)
        }
    }

    @Test("the force loss's gradient in every weight agrees with finite differences (Double, a batch of 3 frames)")
    func forceLossGradient() throws {
        for model in ["schnet", "painn"] {
            let s = try Self.settings(model: model, dtype: .float64)
            let task = MLFFTask(settings: s, runDirectory: try Fixtures.scratchDirectory("grad-\(model)").path)
            _ = try task.prepare(groups: try .init(world: InProcessWorld.single()), log: { _ in })
            let comparisons = try GradientCheck.parameters(task.model, h: 1e-5, elements: { [0, $0 / 2, $0 - 1] }) {
                try task.loss([0, 7, 19]).loss
            }
            for c in comparisons {
                #expect(abs(c.computed - c.numeric) <= 1e-6 + 1e-5 * abs(c.numeric), "\(model) \(c.name)[\(c.element)]: \(c.computed) vs \(c.numeric)")
            }
        }
    }

    @Test("data parallel: 2 ranks of batch 5 give the curve of one process of batch 10 (train loss and validation scores)")
    func dataParallel() throws {
        var s = try Self.settings()
        (s.batchSize, s.maxEpochs, s.valCheckInterval, s.emaDecay) = (10, 2, 4, 0.9)
        let root = try Fixtures.scratchDirectory().path
        let single = try MLFFTrainer(settings: s, runDirectory: root + "/one", showsProgress: false, log: { _ in }).run()
        s.batchSize = 5
        let settings = s
        try InProcessWorld.run(size: 2) { world in
            _ = try MLFFTrainer(settings: settings, runDirectory: root + "/two", groups: try ProcessGroups(world: world), showsProgress: false, log: { _ in }).run()
        }
        func curve(_ directory: String) throws -> [Double] {
            try Self.metrics(directory).compactMap { try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Double] }
                .compactMap { $0["train/loss"] ?? $0["val/forces_mae"] }
        }
        let (one, two) = (try curve(root + "/one"), try curve(root + "/two"))
        #expect(single.steps == 8 && one.count == 8 + 2 && one.count == two.count, "\(one.count) vs \(two.count) entries")
        for (a, b) in zip(one, two) { #expect(abs(a - b) <= 1e-5 * abs(a), "\(a) vs \(b)") }
    }
}

@Suite("Non-finite steps")
struct NonFiniteStepTests {
    @Test("a learning rate that blows the weights up stops training at the first non-finite step, naming it, before its update")
    func stopsAtTheStep() throws {
        var s = try MLFFTrainingTests.settings()
        s.learningRate = 1e30
        let root = try Fixtures.scratchDirectory("nonfinite").path
        do {
            _ = try MLFFTrainer(settings: s, runDirectory: root, showsProgress: false, log: { _ in }).run()
            Issue.record("training with a learning rate of 1e30 must stop at a non-finite step")
        } catch let error as NonFiniteStep {
            #expect(error.step > 1 && error.step < 80, "\(error)")
            #expect(error.description.hasPrefix("step \(error.step): ") && error.description.contains("is not finite") || error.description.contains("overflowed"),
                    "\(error)")
            // The metrics stop at the step before; nothing was written for the failed one.
            let steps = try MLFFTrainingTests.metrics(root).compactMap { try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
                .compactMap { $0["step"] as? Int }
            #expect(steps.allSatisfy { $0 < error.step })
        }
        // Gradients of a finite model are finite: the check names nothing.
        #expect(MLFFTrainer.firstNonFiniteGradient([]) == nil)
    }
}
