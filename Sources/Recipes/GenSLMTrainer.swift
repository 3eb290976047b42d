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

public final class GenSLMTrainer {
    let task: GenSLMTask
    let run: TrainingRun<GenSLMTask>

    public init(settings: GenSLMSettings, runDirectory: String, groups: ProcessGroups? = nil, showsProgress: Bool = true,
                log: @escaping (String) -> Void = { print($0) }) {
        task = GenSLMTask(settings: settings, runDirectory: runDirectory)
        run = TrainingRun(task: task, runDirectory: runDirectory, groups: groups, showsProgress: showsProgress, log: log)
    }

    public func run(resume: Bool = false, stopAtStep: Int? = nil) throws -> GenSLMRunSummary {
        let outcome = try run.run(resume: resume, stopAtStep: stopAtStep)
        let curve = run.runDirectory + "/loss.svg"
        if run.groups.map({ $0.world.rank == 0 }) ?? true {
            try LossCurve.svg(train: outcome.trainLosses, validation: outcome.validationScores).write(toFile: curve, atomically: true, encoding: .utf8)
        }
        return GenSLMRunSummary(steps: outcome.steps, finalTrainLoss: outcome.lastLoss, finalValidationLoss: outcome.lastValidation,
                                tokensPerSecond: outcome.throughput, checkpoint: outcome.lastCheckpoint, metrics: outcome.metrics, lossCurve: curve)
    }
}

final class GenSLMTask: TrainingTask {
    let s: GenSLMSettings
    let runDirectory: String
    private(set) var network: GPTNeoXForCausalLM!
    private var train: GenomeBatchReader!, validation: GenomeBatchReader?
    private var groups: ProcessGroups!
    private var batchSize = 0, accumulation = 1, examples = 0, totalSteps = 0
    private var plateau: ReduceLROnPlateau?

    init(settings: GenSLMSettings, runDirectory: String) { (s, self.runDirectory) = (settings, runDirectory) }

    var model: Module { network }

    func prepare(groups: ProcessGroups, log: @escaping (String) -> Void) throws -> TrainingPlan {
        self.groups = groups
        var data = try GenSLMData(settings: s, log: log)
        (train, validation) = (data.train, data.validation)
        let (zero, clipping) = try data.optimization(settings: s, dataParallelSize: groups.dataParallelSize, log: log)
        (batchSize, accumulation) = (data.batchSize, data.accumulation)
        examples = s.smallSubset > 0 ? Swift.min(s.smallSubset, train.count) : train.count
        guard examples / groups.dataParallelSize >= batchSize else {
            throw FileError(file: s.resolve(s.trainFile), message: "\(examples) sequences make no batch of \(batchSize) on each of \(groups.dataParallelSize) data-parallel rank(s)")
        }
        // batch_size is per rank (as in GenSLM's Lightning runs): a step consumes batch × accumulation × DP samples.
        let stepsPerEpoch = Swift.max(1, examples / (batchSize * accumulation * groups.dataParallelSize))
        totalSteps = s.maxSteps > 0 ? s.maxSteps : s.epochs * stepsPerEpoch
        network = GPTNeoXForCausalLM(data.configuration, seed: RankSeeds(base: s.randomSeed).model)
        if groups.world.size > 1 { try network.enableSequenceParallelism(groups.sequenceParallel) }
        if let initial = s.loadCheckpoint {
            try network.loadHuggingFace(try Safetensors.read(from: s.resolve(initial)).tensors)
            log("initial weights from \(s.resolve(initial))")
        }
        plateau = s.plateau.map { ReduceLROnPlateau(rate: s.learningRate, factor: $0.factor, patience: $0.patience, threshold: $0.threshold) }
        let description = "GPT-NeoX \(data.configuration.numHiddenLayers) layers × \(data.configuration.hiddenSize), \(network.parameterCount) "
            + "parameters; \(examples) training sequences of \(s.blockSize) tokens; \(totalSteps) steps of \(batchSize) × \(accumulation) × "
            + "\(groups.dataParallelSize) data-parallel rank(s), sequences split over \(groups.sequenceParallelSize); ZeRO stage \(zero.stage)"
        var plan = TrainingPlan(totalSteps: totalSteps, adam: AdamSettings(learningRate: s.learningRate, weightDecay: s.weightDecay,
                                                                            decoupled: s.optimizer == "adamw"),
                                validateEvery: s.valCheckInterval, checkpointDirectory: s.checkpointDir.hasPrefix("/") ? s.checkpointDir
                                    : runDirectory + "/" + s.checkpointDir, logEvery: s.logEveryNSteps, description: description)
        (plan.accumulation, plan.zero, plan.gradientClipping, plan.checkpointEvery) = (accumulation, zero, clipping, s.checkpointEveryNTrainSteps)
        (plan.throughputKey, plan.throughputUnit) = ("tokens_per_second", "tok/s")
        return plan
    }

    func install(hooks: (any ModuleHooks)?) { network.parameterHooks = hooks }

    func batches(epoch: Int) throws -> [[Int]] {
        let order = DistributedSampler(count: examples, seed: s.randomSeed, dataParallelRank: groups.dataParallelRank,
                                       dataParallelSize: groups.dataParallelSize).indices(epoch: epoch)
        return stride(from: 0, through: order.count - batchSize, by: batchSize).map { Array(order[$0..<($0 + batchSize)]) }
    }

    func loss(_ batch: [Int]) throws -> MicroBatchLoss {
        let (ids, mask) = try GenSLMData.rows(train, batch, blockSize: s.blockSize)
        let targets = s.lossIncludesPadding ? Double(mask.shape[0] * (mask.shape[1] - 1))
            : Double(mask.sliced(axis: 1, 1).contiguous().scalars(as: Int64.self).reduce(0, +))
        return MicroBatchLoss(loss: try loss(ids, mask), labels: targets, items: Double(mask.scalars(as: Int64.self).reduce(0, +)))
    }

    func learningRate(at step: Int) -> Double { s.learningRate(at: step, totalSteps: totalSteps, plateau: plateau) }

    func evaluate(step: Int) throws -> Evaluation? {
        guard let validation else { return nil }
        // Batch j goes to data-parallel rank j mod DP; the sums meet at the end.
        let batches = stride(from: 0, to: validation.count, by: s.batchSize).prefix(s.limitValBatches)
            .map { Array($0..<Swift.min(validation.count, $0 + s.batchSize)) }
        var sums = [0.0, 0.0]
        for (index, batch) in batches.enumerated() where index % groups.dataParallelSize == groups.dataParallelRank {
            let (ids, mask) = try GenSLMData.rows(validation, batch, blockSize: s.blockSize)
            sums[0] += try withNoGrad { try loss(ids, mask).item() }
            sums[1] += 1
        }
        if groups.dataParallelSize > 1 { sums = try groups.dataParallel.allReduce(sums, .sum) }
        let mean = sums[0] / Swift.max(1, sums[1])
        plateau?.step(metric: mean)
        // Perplexity of the real-token loss (upstream logs exp of the loss cast to an integer, a bug).
        return Evaluation(entries: ["val/loss": mean, "val/ppl": exp(mean)], score: mean) { _ in
            String(format: "step %d  val/loss %.4f  val/ppl %.3f", step, mean, exp(mean))
        }
    }

    /// GenSLM's checkpoints carry the recipe; where the data stood follows from the step.
    func checkpointRecord(_ progress: TrainingProgress) -> String { s.json }

    func restore(record: String, step: Int, file: String) throws -> TrainingProgress {
        let consumed = step * accumulation, perEpoch = Swift.max(1, (examples / groups.dataParallelSize) / batchSize)
        return TrainingProgress(step: step, epoch: consumed / perEpoch, batchesInEpoch: consumed % perEpoch)
    }

    private func loss(_ ids: Tensor, _ mask: Tensor) throws -> Tensor {
        network.sequenceParallelGroup == nil ? network.loss(ids, attentionMask: mask, includePadding: s.lossIncludesPadding)
            : try network.sequenceParallelLoss(ids, attentionMask: mask, includePadding: s.lossIncludesPadding)
    }
}
