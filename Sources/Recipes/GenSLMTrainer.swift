// GenSLM training as a TrainingTask: GPT-NeoX on tokenised HDF5 data (GenSLM's ModelSettings keys),
// Adam/AdamW with its schedules, DeepSpeed's batch triple and ZeRO keys, validation loss and
// perplexity, and the loss curve. The loop itself is TrainingRun's.
import Foundation
import GenomeLM
import NeuralNetworks
import ParallelRuntime
import TensorCore
import TensorIO

/// What a finished run produced.
public struct GenSLMRunSummary: Sendable {
    public var steps: Int
    public var finalTrainLoss: Double
    public var finalValidationLoss: Double?
    public var tokensPerSecond: Double
    public var checkpoint: String
    public var metrics: String
    public var lossCurve: String
}

/// GenSLM training: `TrainingRun` on a `GenSLMTask`.
public typealias GenSLMTrainer = TrainingRun<GenSLMTask>

public final class GenSLMTask: RecipeTask {
    /// The recipe, with a DeepSpeed config's optimizer parameters applied in `prepare`.
    var s: GenSLMSettings
    let runDirectory: String
    private(set) var network: GPTNeoXForCausalLM!
    private var train: GenomeBatchReader!, validation: GenomeBatchReader?
    private var groups: ProcessGroups!
    private var batchSize = 0, accumulation = 1, examples = 0, totalSteps = 0
    private var plateau: ReduceLROnPlateau?
    /// DeepSpeed's sequence-length curriculum, and the step being trained (its length follows from it).
    private var curriculum: CurriculumSchedule?
    private var step = 1

    public init(settings: GenSLMSettings, runDirectory: String) { (s, self.runDirectory) = (settings, runDirectory) }

    public var model: Module { network }

    public func prepare(groups: ProcessGroups, log: @escaping (String) -> Void) throws -> TrainingPlan {
        self.groups = groups
        var data = try GenSLMData(settings: s, log: log)
        (train, validation) = (data.train, data.validation)
        let optimization = try data.optimization(settings: s, dataParallelSize: groups.dataParallelSize, log: log)
        if let adam = optimization.adam {
            // DeepSpeed's optimizer block replaces the recipe's optimiser, as Lightning's DeepSpeedStrategy does.
            (s.learningRate, s.weightDecay, s.optimizer) = (adam.learningRate, adam.weightDecay, adam.decoupled ? "adamw" : "adam")
        }
        let (zero, clipping) = (optimization.zero, optimization.clipping)
        curriculum = optimization.curriculum
        (batchSize, accumulation) = (data.batchSize, data.accumulation)
        (examples, totalSteps) = try data.schedule(settings: s, dataParallelSize: groups.dataParallelSize)
        network = try data.model(settings: s, groups: groups, partitioned: zero.stage == 3, log: log)
        plateau = s.plateau.map { ReduceLROnPlateau(rate: s.learningRate, factor: $0.factor, patience: $0.patience, threshold: $0.threshold) }
        let description = data.describe(network, settings: s, examples: examples, totalSteps: totalSteps, groups: groups, stage: zero.stage)
        var plan = TrainingPlan(totalSteps: totalSteps, adam: optimization.adam ?? AdamSettings(learningRate: s.learningRate, weightDecay: s.weightDecay,
                                                                                                 decoupled: s.optimizer == "adamw"),
                                validateEvery: s.valCheckInterval, checkpointDirectory: s.checkpointDir.hasPrefix("/") ? s.checkpointDir
                                    : runDirectory + "/" + s.checkpointDir, logEvery: s.logEveryNSteps, description: description)
        (plan.accumulation, plan.zero, plan.gradientClipping, plan.checkpointEvery) = (accumulation, zero, clipping, s.checkpointEveryNTrainSteps)
        (plan.throughputKey, plan.throughputUnit) = ("tokens_per_second", "tok/s")
        plan.activationCheckpointing = optimization.checkpointing
        if optimization.bf16 { plan.matmulPrecision = .bf16 }
        plan.adam.oneBitFreezeStep = optimization.oneBitFreezeStep
        return plan
    }

    public func install(hooks: (any ModuleHooks)?) { network.parameterHooks = hooks }

    public func batches(epoch: Int) throws -> [[Int]] {
        let order = DistributedSampler(count: examples, seed: s.randomSeed, dataParallelRank: groups.dataParallelRank,
                                       dataParallelSize: groups.dataParallelSize).indices(epoch: epoch)
        return stride(from: 0, through: order.count - batchSize, by: batchSize).map { Array(order[$0..<($0 + batchSize)]) }
    }

    public func willStep(_ step: Int) { self.step = step }

    /// The sequence length of the current step: the curriculum's, or the whole block.
    var sequenceLength: Int { curriculum.map { Swift.min($0.difficulty(step: step), s.blockSize) } ?? s.blockSize }

    public func stepReport(step: Int, gradientNorm: Double) -> (entries: [String: Double], text: String) {
        guard curriculum != nil else { return ([:], "") }
        return (["curriculum_seqlen": Double(sequenceLength)], "seqlen \(sequenceLength)")
    }

    public func loss(_ batch: [Int]) throws -> MicroBatchLoss {
        var (ids, mask) = try GenSLMData.rows(train, batch, blockSize: s.blockSize)
        if sequenceLength < s.blockSize {
            // Megatron-DeepSpeed's curriculum_seqlen: the first tokens of every sequence.
            (ids, mask) = (ids.sliced(axis: 1, 0, sequenceLength).contiguous(), mask.sliced(axis: 1, 0, sequenceLength).contiguous())
        }
        let targets = s.lossIncludesPadding ? Double(mask.shape[0] * (mask.shape[1] - 1))
            : Double(mask.sliced(axis: 1, 1).contiguous().scalars(as: Int64.self).reduce(0, +))
        return MicroBatchLoss(loss: try loss(ids, mask), labels: targets, items: Double(mask.scalars(as: Int64.self).reduce(0, +)))
    }

    public func learningRate(at step: Int) -> Double { s.learningRate(at: step, totalSteps: totalSteps, plateau: plateau) }

    public func evaluate(step: Int) throws -> Evaluation? {
        guard let validation else { return nil }
        // Batch j goes to data-parallel rank j mod DP; the sums meet at the end. Under ZeRO stage 3 a
        // forward pass is collective (each module all-gathers its parameters), so a rank left without
        // a batch in the last round runs the first one again and counts nothing.
        var sums = [0.0, 0.0]
        let batches = GenSLMData.validationBatches(validation, settings: s), ranks = groups.dataParallelSize
        let rounds = (batches.count + ranks - 1) / ranks
        for round in 0..<rounds {
            let index = round * ranks + groups.dataParallelRank
            guard index < batches.count || network.parameterHooks != nil else { break }
            let (ids, mask) = try GenSLMData.rows(validation, batches[index < batches.count ? index : 0], blockSize: s.blockSize)
            let value = try withNoGrad { try loss(ids, mask).item() }
            if index < batches.count { (sums[0], sums[1]) = (sums[0] + value, sums[1] + 1) }
        }
        if groups.dataParallelSize > 1 { sums = try groups.dataParallel.allReduce(sums, .sum) }
        let mean = sums[0] / Swift.max(1, sums[1])
        plateau?.step(metric: mean)
        // Perplexity of the real-token loss (upstream logs exp of the loss cast to an integer, a bug).
        return Evaluation(entries: ["val/loss": mean, "val/ppl": exp(mean)], score: mean) { _ in
            String(format: "step %d  val/loss %.4f  val/ppl %.3f", step, mean, exp(mean))
        }
    }

    /// The loss curve beside the metrics (rank 0), and the run's summary.
    public func finish(_ outcome: TrainingOutcome, groups: ProcessGroups, log: (String) -> Void) throws -> GenSLMRunSummary {
        let curve = runDirectory + "/loss.svg"
        if groups.world.rank == 0 {
            try LossCurve.svg(train: outcome.trainLosses, validation: outcome.validationScores).write(toFile: curve, atomically: true, encoding: .utf8)
        }
        return GenSLMRunSummary(steps: outcome.steps, finalTrainLoss: outcome.lastLoss, finalValidationLoss: outcome.lastValidation,
                                tokensPerSecond: outcome.throughput, checkpoint: outcome.lastCheckpoint, metrics: outcome.metrics, lossCurve: curve)
    }

    /// GenSLM's checkpoints carry the recipe; where the data stood follows from the step.
    public func checkpointRecord(_ progress: TrainingProgress) -> String { s.json }

    public func restore(record: String, step: Int, file: String) throws -> TrainingProgress {
        let consumed = step * accumulation, perEpoch = Swift.max(1, (examples / groups.dataParallelSize) / batchSize)
        return TrainingProgress(step: step, epoch: consumed / perEpoch, batchesInEpoch: consumed % perEpoch)
    }

    private func loss(_ ids: Tensor, _ mask: Tensor) throws -> Tensor {
        network.sequenceParallelGroup == nil ? network.loss(ids, attentionMask: mask, includePadding: s.lossIncludesPadding)
            : try network.sequenceParallelLoss(ids, attentionMask: mask, includePadding: s.lossIncludesPadding)
    }
}
