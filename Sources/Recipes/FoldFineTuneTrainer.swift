// OpenFold fine-tuning on one query with its known structure, as a TrainingTask: each step is one
// crop (drawn from the seed and the step), AlphaFold's training losses, Adam with upstream's
// ε 1e-5, linear warm-up and clipping by global norm on the production optimiser path. The per-step
// report names every loss term and how many parameter tensors the gradient reached.
import Foundation
import NeuralNetworks
import ParallelRuntime
import ProteinFolding
import TensorCore

public final class FoldFineTuneTask: TrainingTask {
    let alphaFold: AlphaFold
    let raw: RawFeatures, target: FoldingTarget
    let settings: FoldFineTuneSettings
    let runDirectory: String
    private var terms: [(String, Double)] = [], crop = 0..<0

    public init(model: AlphaFold, raw: RawFeatures, target: FoldingTarget, settings: FoldFineTuneSettings, runDirectory: String) {
        (alphaFold, self.raw, self.target, self.settings, self.runDirectory) = (model, raw, target, settings, runDirectory)
    }

    public var model: Module { alphaFold }

    public func prepare(groups: ProcessGroups, log: @escaping (String) -> Void) throws -> TrainingPlan {
        var plan = TrainingPlan(totalSteps: settings.steps, adam: AdamSettings(learningRate: settings.learningRate, epsilon: settings.adamEpsilon),
                                validateEvery: settings.steps, checkpointDirectory: runDirectory + "/checkpoints", logEvery: 1,
                                description: "AlphaFold \(alphaFold.parameterCount) parameters; \(raw.residues) residues, \(raw.rows) MSA rows, "
                                    + "crop \(Swift.min(settings.crop, raw.residues)); \(settings.steps) steps")
        (plan.gradientClipping, plan.throughputKey, plan.throughputUnit) = (settings.clipNorm, "residues_per_second", "residues/s")
        return plan
    }

    public func install(hooks: (any ModuleHooks)?) {}

    /// One crop per epoch: epoch k is step k.
    public func batches(epoch: Int) throws -> [Int] { [epoch] }

    public func loss(_ step: Int) throws -> MicroBatchLoss {
        alphaFold.train()
        let (window, losses) = FoldFineTune.losses(model: alphaFold, raw: raw, target: target, settings: settings, step: step)
        (crop, terms) = (window, losses.named)
        return MicroBatchLoss(loss: losses.total, labels: 1, items: Double(window.count))
    }

    public func learningRate(at step: Int) -> Double { FoldFineTune.learningRate(at: step, settings: settings) }

    public func evaluate(step: Int) throws -> Evaluation? { nil }

    public func stepReport(step: Int, gradientNorm: Double) -> (entries: [String: Double], text: String) {
        let parameters = alphaFold.namedParameters()
        let without = FoldFineTune.withoutGradient(parameters)
        var entries = ["gradient_norm": gradientNorm, "crop_start": Double(crop.lowerBound), "crop_end": Double(crop.upperBound),
                       "parameters_with_gradient": Double(parameters.count - without.count), "parameters": Double(parameters.count)]
        for (name, value) in terms where value.isFinite { entries[name] = value }
        let text = "(" + terms.map { String(format: "%@ %.4f", $0.0, $0.1) }.joined(separator: ", ")
            + String(format: "); gradient norm %.3g; %d/%d parameter tensors with a gradient", gradientNorm, parameters.count - without.count, parameters.count)
            + (step == 1 && !without.isEmpty ? "\n  no gradient (no loss reaches them here): " + without.joined(separator: ", ") : "")
        return (entries, text)
    }

    public func finish(_ outcome: TrainingOutcome, groups: ProcessGroups, log: (String) -> Void) throws -> TrainingOutcome {
        alphaFold.eval()
        return outcome
    }

    public func checkpointRecord(_ progress: TrainingProgress) -> String { "{\"task\": \"fold-finetune\"}" }

    public func restore(record: String, step: Int, file: String) throws -> TrainingProgress {
        TrainingProgress(step: step, epoch: step, batchesInEpoch: 0)
    }
}
