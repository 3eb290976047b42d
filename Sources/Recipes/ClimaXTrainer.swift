// ClimaX fine-tuning as a TrainingTask (upstream global_forecast/module.py under LightningCLI):
// latitude-weighted MSE, AdamW without decay on the variable and position embeddings, linear
// warm-up and cosine decay, val/w_rmse with early stopping, and a test of the best checkpoint
// against persistence and climatology. The loop itself is TrainingRun's.
import ClimateForecasting
import Foundation
import NeuralNetworks
import ParallelRuntime
import TensorCore
import TensorIO

public struct ClimaXRunSummary: Sendable {
    public var steps: Int
    public var stoppedEarly: Bool
    public var bestValidation: Double?
    public var checkpoint: String
    public var metrics: String
    /// Test-split entries (ClimaX's keys and the labelled extras), from the best checkpoint.
    public var test: [String: Double]
}

/// ClimaX fine-tuning: `TrainingRun` on a `ClimaXTask`.
public typealias ClimaXTrainer = TrainingRun<ClimaXTask>

public final class ClimaXTask: RecipeTask {
    let s: ClimaXSettings
    let runDirectory: String
    private(set) var network: ClimaX!
    private(set) var groups: ProcessGroups!
    private(set) var region: PatchRegion?
    private(set) var totalSteps = 0
    private var train: ForecastDataset!, validation: ForecastDataset!
    private var latitudes: [Double] = []
    private var info: ClimaXCheckpointInfo!

    public init(settings: ClimaXSettings, runDirectory: String) { (s, self.runDirectory) = (settings, runDirectory) }

    public var model: Module { network }

    public func prepare(groups: ProcessGroups, log: @escaping (String) -> Void) throws -> TrainingPlan {
        self.groups = groups
        let data = try ClimaXData(settings: s, log: log)
        (train, validation, region, latitudes) = (data.train, data.validation, data.region, data.latitudes)
        network = try data.model(dataParallelRank: groups.dataParallelRank, log: log)
        if groups.sequenceParallelSize > 1 { try network.enableSequenceParallelism(groups.sequenceParallel) }
        info = ClimaXCheckpointInfo(settings: s, statisticsOf: train)
        let batchesPerEpoch = try batches(epoch: 0).count
        guard batchesPerEpoch > 0 else {
            throw FileError(file: train.directory, message: "\(train.pairs.count) training pairs make no batch of \(s.batchSize) on each of \(groups.dataParallelSize) rank(s)")
        }
        totalSteps = s.maxSteps > 0 ? Swift.min(s.maxSteps, s.maxEpochs * batchesPerEpoch) : s.maxEpochs * batchesPerEpoch
        let exempt = Set(network.namedParameters().map(\.0).filter(ClimaX.isExemptFromWeightDecay))
        var plan = TrainingPlan(totalSteps: totalSteps, adam: AdamSettings(learningRate: s.learningRate, beta1: s.beta1, beta2: s.beta2,
                                                                            weightDecay: s.weightDecay, decoupled: true, decayExempt: exempt),
                                validateEvery: s.valCheckInterval, checkpointDirectory: runDirectory + "/checkpoints", logEvery: s.logEveryNSteps,
                                description: data.describe(network, batchesPerEpoch: batchesPerEpoch, ranks: groups.dataParallelSize, totalSteps: totalSteps))
        (plan.zero, plan.maxEpochs, plan.checkpointAfterValidation, plan.patience) = (s.zeroSettings, s.maxEpochs, true, s.patience)
        (plan.lossKey, plan.monitorKey) = ("train/w_mse", "val/w_rmse")
        return plan
    }

    public func install(hooks: (any ModuleHooks)?) { network.parameterHooks = hooks }

    public func batches(epoch: Int) throws -> [[Int]] {
        train.batches(epoch: epoch, batchSize: s.batchSize, shuffle: true, bufferSize: s.bufferSize, seed: s.seed,
                      rank: groups.dataParallelRank, ranks: groups.dataParallelSize)
    }

    public func loss(_ batch: [Int]) throws -> MicroBatchLoss {
        network.train()
        let (inputs, targets, leadTimes) = try train.batch(batch, region: region)
        let forecast = network(inputs, leadTimes: leadTimes, variables: train.variables, outVariables: train.outVariables, region: region)
        let loss = LatitudeWeights.meanSquaredError(forecast, targets, latitudes: latitudes)
        return MicroBatchLoss(loss: loss, labels: Double(batch.count), items: Double(batch.count))
    }

    public func learningRate(at step: Int) -> Double {
        LinearWarmupCosineAnnealing(baseRate: s.learningRate, warmupSteps: s.warmupSteps, totalSteps: s.scheduleSteps,
                                    warmupStart: s.warmupStartLR, minimum: s.etaMin).learningRate(at: step)
    }

    public func evaluate(step: Int) throws -> Evaluation? {
        let ranks = groups.dataParallelSize
        let batches = Array(validation.batches(epoch: 0, batchSize: s.batchSize, shuffle: false, rank: groups.dataParallelRank, ranks: ranks,
                                               dropLast: false).prefix(s.limitValBatches))
        let groups = self.groups!
        // Ranks may hold one batch fewer (the last is not dropped); under ZeRO stage 3 they must still run alike.
        let most = network.parameterHooks != nil && ranks > 1 ? Int(try groups.dataParallel.allReduce([Double(batches.count)], .max)[0]) : batches.count
        let scores = try ForecastEvaluation.evaluate(network, data: validation, batches: batches, region: region,
                                                     combine: { ranks > 1 ? try groups.dataParallel.allReduce($0, .sum) : $0 },
                                                     idleForwards: most - batches.count)
        let entries = scores.logEntries(split: "val", leadHours: s.leadHours, variables: s.outVariables)
        let score = entries["val/w_rmse"]!, summary = ClimaXData.summary(scores, variables: s.outVariables)
        return Evaluation(entries: entries, score: score) { improved in
            String(format: "step %d  val/w_rmse %.4g%@  ", step, score, improved ? " (best)" : "") + summary
        }
    }

    /// The test split scored with the best checkpoint (after a completed or early-stopped run).
    public func finish(_ outcome: TrainingOutcome, groups: ProcessGroups, log: (String) -> Void) throws -> ClimaXRunSummary {
        let test = outcome.steps < totalSteps && !outcome.stoppedEarly ? [:]
            : try ClimaXTest.run(settings: s, checkpoint: outcome.bestCheckpoint, runDirectory: runDirectory, region: region,
                                 groups: groups, step: outcome.steps, log: log)
        return ClimaXRunSummary(steps: outcome.steps, stoppedEarly: outcome.stoppedEarly, bestValidation: outcome.bestValidation,
                                checkpoint: outcome.bestCheckpoint, metrics: outcome.metrics, test: test)
    }

    public func checkpointRecord(_ progress: TrainingProgress) -> String {
        (info.step, info.epoch, info.batchesInEpoch) = (progress.step, progress.epoch, progress.batchesInEpoch)
        (info.bestScore, info.checksWithoutImprovement) = (progress.bestScore, progress.checksWithoutImprovement)
        info.dropoutOffset = network.generator.offset
        return info.encoded()
    }

    public func restore(record: String, step: Int, file: String) throws -> TrainingProgress {
        let saved = try ClimaXCheckpointInfo.decode(record, file: file, for: s)
        // Every rank draws masks of the same shapes, so rank 0's counter is every rank's.
        network.generator = RandomGenerator(seed: network.generator.seed, offset: saved.dropoutOffset)
        (info, info.recipe) = (saved, s.json)
        return TrainingProgress(step: saved.step, epoch: saved.epoch, batchesInEpoch: saved.batchesInEpoch, bestScore: saved.bestScore,
                                checksWithoutImprovement: saved.checksWithoutImprovement)
    }
}
