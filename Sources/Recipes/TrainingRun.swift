// One training loop for every domain. A domain describes its run as a `TrainingTask` (the model,
// its batches, the loss of one micro-batch, validation, what a checkpoint records); TrainingRun
// owns what every run repeats: process groups and the model broadcast, the ZeRO optimiser, resume
// from shards or a consolidated file, gradient accumulation weighted by label counts across
// data-parallel ranks, the learning-rate schedule, validation cadence with early stopping,
// checkpoints (last, best, pruned shards), metrics.jsonl and the progress/ETA line.
import Foundation
import Kernels
import NeuralNetworks
import ParallelRuntime
import TensorCore
import TensorIO

/// One micro-batch's loss: `loss` is the mean over its `labels` labelled targets (tokens,
/// samples, atoms); `items` counts what the throughput reports (tokens, samples).
public struct MicroBatchLoss {
    public var loss: Tensor
    public var labels: Double
    public var items: Double
    /// The leaves that take gradients (nil: every leaf of the graph). A force-matching loss names
    /// the weights, so the positions are not differentiated a second time.
    public var leaves: [Tensor]?

    public init(loss: Tensor, labels: Double, items: Double, leaves: [Tensor]? = nil) {
        (self.loss, self.labels, self.items, self.leaves) = (loss, labels, items, leaves)
    }
}

/// A validation's outcome: the entries for metrics.jsonl, the monitored score (lower is better)
/// and the line to log once the run knows whether the score improved.
public struct Evaluation {
    public var entries: [String: Double]
    public var score: Double
    public var line: (_ improved: Bool) -> String

    public init(entries: [String: Double], score: Double, line: @escaping (_ improved: Bool) -> String) {
        (self.entries, self.score, self.line) = (entries, score, line)
    }
}

/// Where a run stands: what a checkpoint must restore for the run to continue bit for bit.
public struct TrainingProgress: Sendable, Equatable {
    public var step = 0
    public var epoch = 0
    /// Micro-batches of `epoch` already consumed.
    public var batchesInEpoch = 0
    public var bestScore: Double?
    public var checksWithoutImprovement = 0

    public init(step: Int = 0, epoch: Int = 0, batchesInEpoch: Int = 0, bestScore: Double? = nil, checksWithoutImprovement: Int = 0) {
        (self.step, self.epoch, self.batchesInEpoch) = (step, epoch, batchesInEpoch)
        (self.bestScore, self.checksWithoutImprovement) = (bestScore, checksWithoutImprovement)
    }
}

/// The training loop's own state in a checkpoint (its `run_state` attribute): how long metrics.jsonl
/// was when it was saved, and the step of the last validation before it. A run killed after the save
/// but before its next one resumes with exactly the metrics the checkpoint knew — entries written in
/// between (a final validation, a test score) are dropped and redone once, not kept and redone twice.
struct RunState {
    var metricsBytes: UInt64
    var validatedStep: Int?
    /// The step whose checkpoint best.h5 holds: when it is this checkpoint's own step, a kill may have
    /// come between writing the checkpoint and copying it to best.h5, so a resume copies it again.
    var bestStep: Int?
    /// Steps passed without an update (`--skip-non-finite`), in all and in a row.
    var skippedSteps = 0, skippedInARow = 0

    init(metricsBytes: UInt64, validatedStep: Int?, bestStep: Int?, skippedSteps: Int, skippedInARow: Int) {
        (self.metricsBytes, self.validatedStep, self.bestStep) = (metricsBytes, validatedStep, bestStep)
        (self.skippedSteps, self.skippedInARow) = (skippedSteps, skippedInARow)
    }

    init?(json: String) {
        guard let object = (try? JSONSerialization.jsonObject(with: Data(json.utf8))) as? [String: Any],
              let bytes = (object["metrics_bytes"] as? NSNumber)?.uint64Value else { return nil }
        metricsBytes = bytes
        validatedStep = (object["validated_step"] as? NSNumber)?.intValue
        bestStep = (object["best_step"] as? NSNumber)?.intValue
        skippedSteps = (object["skipped_steps"] as? NSNumber)?.intValue ?? 0
        skippedInARow = (object["skipped_in_a_row"] as? NSNumber)?.intValue ?? 0
    }

    var json: String {
        "{\"metrics_bytes\": \(metricsBytes)" + (validatedStep.map { ", \"validated_step\": \($0)" } ?? "")
            + (bestStep.map { ", \"best_step\": \($0)" } ?? "")
            + ", \"skipped_steps\": \(skippedSteps), \"skipped_in_a_row\": \(skippedInARow)}"
    }
}

/// How a task wants to be trained, decided once its data and model are known.
public struct TrainingPlan {
    public var totalSteps: Int
    /// Micro-batches per optimiser step.
    public var accumulation = 1
    /// Also stop after this many epochs (Lightning's max_epochs).
    public var maxEpochs: Int?
    public var zero = ZeROSettings()
    public var adam: AdamSettings
    public var gradientClipping = 0.0
    /// Validate every this many steps (0: at the end of every epoch), and at the end.
    public var validateEvery: Int
    /// Save every this many steps (nil: only after validations and at the end).
    public var checkpointEvery: Int?
    /// Save after every validation, and copy to best.h5 when the score improved.
    public var checkpointAfterValidation = false
    /// Stop once this many validations in a row did not improve (Lightning's EarlyStopping).
    public var patience: Int?
    public var checkpointDirectory: String
    public var logEvery: Int
    /// metrics.jsonl key of the training loss, and the throughput's key and unit.
    public var lossKey = "train/loss"
    /// The validation entry whose improvement early stopping and best.h5 follow.
    public var monitorKey = "val/loss"
    public var throughputKey = "samples_per_second", throughputUnit = "samples/s"
    /// Checkpoint every block's activations (DeepSpeed's `activation_checkpointing` section).
    public var activationCheckpointing = false
    /// Matrix products in bf16 with float32 sums for the run (DeepSpeed's `bf16` section).
    public var matmulPrecision = MatmulPrecision.float32
    /// The line that opens the run (model, data, parallel layout).
    public var description: String

    public init(totalSteps: Int, adam: AdamSettings, validateEvery: Int, checkpointDirectory: String, logEvery: Int, description: String) {
        (self.totalSteps, self.adam, self.validateEvery) = (totalSteps, adam, validateEvery)
        (self.checkpointDirectory, self.logEvery, self.description) = (checkpointDirectory, logEvery, description)
    }
}

/// A training option the model or the run cannot honour.
public struct TrainingConfigurationError: Error, CustomStringConvertible, Sendable {
    public var message: String
    public var description: String { message }
}

/// What a domain implements to be trained by `TrainingRun`.
public protocol TrainingTask: AnyObject {
    associatedtype Batch
    /// What the run returns to its caller, made by `finish`.
    associatedtype Summary

    /// The model being trained (valid after `prepare`).
    var model: Module { get }
    /// Loads the data, builds the model (with any weights to start from) and plans the run.
    func prepare(groups: ProcessGroups, log: @escaping (String) -> Void) throws -> TrainingPlan
    /// Installs the optimiser's parameter hooks (ZeRO stage 3 gathers parameters through them).
    func install(hooks: (any ModuleHooks)?)
    /// This rank's micro-batches of `epoch`, in order.
    func batches(epoch: Int) throws -> [Batch]
    /// The loss of one micro-batch (the model in training mode).
    func loss(_ batch: Batch) throws -> MicroBatchLoss
    func learningRate(at step: Int) -> Double
    /// Validation after `step` (nil: the task has no validation data).
    func evaluate(step: Int) throws -> Evaluation?
    /// The checkpoint's client record (JSON) at `progress`, and the progress read back from one.
    func checkpointRecord(_ progress: TrainingProgress) -> String
    func restore(record: String, step: Int, file: String) throws -> TrainingProgress
    /// Called before the micro-batches of step `step` (1-based): a curriculum sets its length here.
    func willStep(_ step: Int)
    /// Called once the optimiser has taken step `step` (an EMA of the weights updates here).
    func afterStep(_ step: Int)
    /// Extra metrics entries and log text for the step just taken (`gradientNorm`: before clipping).
    func stepReport(step: Int, gradientNorm: Double) -> (entries: [String: Double], text: String)
    /// After the last step: what the domain does with a finished run (a loss curve, a test split).
    func finish(_ outcome: TrainingOutcome, groups: ProcessGroups, log: (String) -> Void) throws -> Summary
}

extension TrainingTask {
    public func willStep(_ step: Int) {}
    public func afterStep(_ step: Int) {}
    public func stepReport(step: Int, gradientNorm: Double) -> (entries: [String: Double], text: String) { ([:], "") }
}

/// A task made from a recipe (GenSLM's YAML, ClimaX's LightningCLI YAML).
public protocol RecipeTask: TrainingTask {
    associatedtype Settings
    init(settings: Settings, runDirectory: String)
}

extension TrainingRun where Task: RecipeTask {
    /// The run of a recipe's task, in `runDirectory` (metrics, checkpoints).
    public convenience init(settings: Task.Settings, runDirectory: String, groups: ProcessGroups? = nil, showsProgress: Bool = true,
                            log: @escaping (String) -> Void = { print($0) }) {
        self.init(task: Task(settings: settings, runDirectory: runDirectory), runDirectory: runDirectory, groups: groups,
                  showsProgress: showsProgress, log: log)
    }
}

/// What a finished run did.
public struct TrainingOutcome {
    public var steps: Int
    public var lastLoss: Double
    public var lastValidation: Double?
    public var bestValidation: Double?
    public var stoppedEarly: Bool
    /// Throughput over this process's steps, in the plan's unit.
    public var throughput: Double
    public var trainLosses: [(Int, Double)]
    public var validationScores: [(Int, Double)]
    public var lastCheckpoint: String
    public var bestCheckpoint: String
    public var metrics: String
}

/// A step whose loss or gradients are not finite (NaN or ±Inf). Training stops there, before the
/// update; checkpoints written before it are untouched.
public struct NonFiniteStep: Error, CustomStringConvertible {
    public let step: Int
    public let detail: String
    public var description: String { "step \(step): \(detail); training stopped before this step's update (checkpoints from earlier steps are intact)" }
}

public final class TrainingRun<Task: TrainingTask> {
    public let task: Task
    public let runDirectory: String
    /// The job's process groups under mpirun (nil: one process).
    public let groups: ProcessGroups?
    let showsProgress: Bool
    let log: (String) -> Void

    public init(task: Task, runDirectory: String, groups: ProcessGroups? = nil, showsProgress: Bool = true,
                log: @escaping (String) -> Void = { print($0) }) {
        (self.task, self.runDirectory, self.groups, self.showsProgress, self.log) = (task, runDirectory, groups, showsProgress, log)
    }

    /// Trains to the plan's end (or `stopAtStep`, leaving a checkpoint to `resume` from), then
    /// lets the task finish. A step whose loss or gradients are not finite stops the run
    /// (`NonFiniteStep`), or with `skipNonFinite` passes without an update, logged and marked
    /// `"skipped": true` in metrics.jsonl, as DeepSpeed's loss scaler skips an overflowed step.
    /// `activationCheckpointing` (or the plan's) recomputes every block in the backward pass: the
    /// same gradients, bit for bit, in less memory.
    public func run(resume: Bool = false, stopAtStep: Int? = nil, skipNonFinite: Bool = false,
                    activationCheckpointing: Bool = false) throws -> Task.Summary {
        let groups = try self.groups ?? ProcessGroups(world: InProcessWorld.single())
        let outcome = try train(groups: groups, resume: resume, stopAtStep: stopAtStep, skipNonFinite: skipNonFinite,
                                activationCheckpointing: activationCheckpointing)
        return try task.finish(outcome, groups: groups, log: log)
    }

    /// The first parameter (in the model's order) whose gradient holds a NaN or an infinity, named.
    static func firstNonFiniteGradient(_ parameters: [(String, Parameter)]) -> String? {
        for (name, parameter) in parameters {
            guard let gradient = parameter.value.grad, let bad = firstNonFinite(gradient) else { continue }
            return "the gradient of \(name) \(parameter.shape) is not finite (\(bad))"
        }
        return nil
    }

    /// What a non-finite loss says about the model: the first parameter holding a NaN or an
    /// infinity, or, when all are finite, that an input or an activation overflowed.
    static func nonFiniteLossDetail(_ loss: Double, _ parameters: [(String, Parameter)]) -> String {
        // ZeRO stage 3's partitioned parameters are released between uses: only whole ones are read.
        for (name, parameter) in parameters where !parameter.value.storage.isReleased {
            if let bad = firstNonFinite(parameter.value) { return "the loss is \(loss): parameter \(name) \(parameter.shape) is not finite (\(bad))" }
        }
        return "the loss is \(loss) with every parameter finite: an input or an activation overflowed"
    }

    /// "element k is nan" for the first non-finite element of a float tensor.
    private static func firstNonFinite(_ tensor: Tensor) -> String? {
        func scan<T: BinaryFloatingPoint>(_: T.Type) -> String? where T: TensorElement {
            tensor.withElements(as: T.self) { values in values.firstIndex { !$0.isFinite }.map { "element \($0) is \(values[$0])" } }
        }
        switch tensor.dtype {
        case .float32: return scan(Float.self)
        case .float64: return scan(Double.self)
        default: return nil
        }
    }

    /// Skipped steps in a row after which a run with `skipNonFinite` stops all the same: the model
    /// or the data is broken, and skipping would only spend the step budget.
    public static var consecutiveSkipLimit: Int { 20 }

    private func train(groups: ProcessGroups, resume: Bool, stopAtStep: Int?, skipNonFinite: Bool,
                       activationCheckpointing: Bool) throws -> TrainingOutcome {
        let isPrimary = groups.world.rank == 0, ranks = groups.dataParallelSize
        let plan = try task.prepare(groups: groups, log: log)
        // The recipe's memory_budget_mib holds the whole process, from the model's construction on (VmHWM).
        let budgetWatch = plan.zero.memoryBudget.map {
            MemoryBudgetWatch(budget: $0, label: groups.world.size > 1 ? "rank \(groups.world.rank)" : "the run")
        }
        defer { budgetWatch?.stop() }
        let previousPrecision = MatmulPrecision.current
        if plan.matmulPrecision == .bf16 {
            if BF16GEMM.isAvailable {
                MatmulPrecision.current = .bf16
                if isPrimary { log("bf16: matrix products in bf16 with float32 sums (AVX512-BF16); weights, gradients and Adam in float32") }
            } else if isPrimary {
                log("warning: bf16 requested but this CPU has no AVX512-BF16: matrix products stay float32")
            }
        }
        defer { MatmulPrecision.current = previousPrecision }
        let model = task.model
        if activationCheckpointing || plan.activationCheckpointing {
            guard let blocks = model as? ActivationCheckpointing else {
                throw TrainingConfigurationError(message: "activation checkpointing: \(type(of: model)) has no blocks to checkpoint "
                                                 + "(GPT-NeoX, ClimaX and AlphaFold have)")
            }
            blocks.checkpointsActivations = true
            if isPrimary { log("activation checkpointing: each block keeps its inputs only and runs again in the backward pass") }
        }
        let parameters = model.namedParameters()
        if groups.world.size > 1 { try DataParallel.broadcastParameters(parameters, over: groups.world) }

        let directory = plan.checkpointDirectory
        let lastPath = directory + "/last.h5", bestPath = directory + "/best.h5", shardDirectory = directory + "/zero"
        // Under mpirun, the shards of the newest tag; otherwise (one process, or no shards) last.h5,
        // loaded before the optimiser partitions the model.
        let resumeFromShards = resume && groups.world.size > 1 && ZeROCheckpoint.latestTag(in: shardDirectory) != nil
        var consolidated: Checkpoint?
        if resume && !resumeFromShards && FileManager.default.fileExists(atPath: lastPath) {
            let checkpoint = try Checkpoint.read(from: lastPath)
            try model.loadStateDict(checkpoint.parameters)
            consolidated = checkpoint
        }
        let optimizer = try ZeROOptimizer(parameters, settings: plan.zero, adam: plan.adam, groups: groups,
                                          gradientClipping: plan.gradientClipping)
        task.install(hooks: optimizer.hooks)
        var progress = TrainingProgress()
        var resumedState: RunState?
        if resumeFromShards, let tag = ZeROCheckpoint.latestTag(in: shardDirectory) {
            let (step, record, state) = try ZeROCheckpoint.load(optimizer, directory: shardDirectory)
            progress = try task.restore(record: record, step: step, file: shardDirectory + "/" + tag)
            resumedState = state.flatMap(RunState.init(json:))
            log("resumed from \(shardDirectory)/\(tag) at step \(progress.step) (epoch \(progress.epoch), \(progress.batchesInEpoch) batches in)")
        } else if let consolidated {
            try ZeROCheckpoint.load(optimizer, consolidated: consolidated, file: lastPath)
            progress = try task.restore(record: consolidated.config, step: consolidated.step, file: lastPath)
            resumedState = consolidated.runState.flatMap(RunState.init(json:))
            log("resumed from \(lastPath) at step \(progress.step) (epoch \(progress.epoch), \(progress.batchesInEpoch) batches in)")
        }
        if plan.zero.stage > 0 { log(optimizer.memoryReport().description) }
        if isPrimary {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            // A kill mid-save leaves its temporary (`last.h5.tmp-PID`) behind: never a good name, but disk.
            for name in (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [] where name.contains(".tmp-") {
                try? FileManager.default.removeItem(atPath: directory + "/" + name)
            }
            try FileManager.default.createDirectory(atPath: runDirectory, withIntermediateDirectories: true)
        }
        try groups.world.barrier()
        let metricsPath = runDirectory + "/metrics.jsonl"
        let metrics = try MetricsFile(path: metricsPath, resumingAfter: progress.step, keepingBytes: resumedState?.metricsBytes, writes: isPrimary)
        func sumOverRanks(_ values: [Double]) throws -> [Double] {
            ranks > 1 ? try groups.dataParallel.allReduce(values, .sum) : values
        }

        var savedAt: Int?
        // A checkpoint saved after its step's validation says so: resumed, that validation is not redone.
        var validatedAt = resumedState?.validatedStep == progress.step ? progress.step : nil
        // Skipped non-finite steps count across resumes (20 in a row still stop the run).
        var skippedSteps = resumedState?.skippedSteps ?? 0, skippedInARow = resumedState?.skippedInARow ?? 0
        var bestStep = resumedState?.bestStep
        /// One process writes last.h5 directly. Under mpirun every rank writes its shard (the task's
        /// record rides along) and rank 0 streams them into last.h5 and keeps the two newest tags.
        /// best.h5 is a copy of last.h5 when asked.
        func save(best: Bool) throws {
            let record = task.checkpointRecord(progress)
            if best { bestStep = progress.step }
            let state = RunState(metricsBytes: metrics.length, validatedStep: validatedAt, bestStep: bestStep, skippedSteps: skippedSteps,
                                 skippedInARow: skippedInARow).json
            if groups.world.size == 1 {
                try ZeROCheckpoint.saveConsolidated(optimizer, output: lastPath, step: progress.step, client: record, runState: state)
            } else {
                try ZeROCheckpoint.save(optimizer, directory: shardDirectory, tag: "global_step\(progress.step)", step: progress.step, client: record,
                                        runState: state)
                if isPrimary {
                    _ = try ZeROCheckpoint.consolidate(directory: shardDirectory, output: lastPath)
                    ZeROCheckpoint.removeOldTags(in: shardDirectory, keeping: 2)
                }
            }
            if isPrimary && best {
                FaultInjection.checkBeforeBestCopy(step: progress.step, rank: groups.world.rank)
                try Self.copyAtomically(lastPath, to: bestPath)
            }
            try groups.world.barrier()
            savedAt = progress.step
        }
        // Killed after saving a best checkpoint but before best.h5 became its copy: save it again, whole.
        if resumedState?.bestStep == progress.step && progress.step > 0 {
            let copied = (try? HDF5File(path: lastPath).attribute("step").intValue) == Int64(progress.step)
                && FileManager.default.contentsEqual(atPath: lastPath, andPath: bestPath)
            let mend = isPrimary && !copied ? 1.0 : 0
            if try (groups.world.size > 1 ? groups.world.allReduce([mend], .max)[0] : mend) > 0 {
                try save(best: true)
                log("best.h5 copied again from the step-\(progress.step) checkpoint (the last run stopped before copying it)")
            }
        }
        var validations: [(Int, Double)] = []
        /// Validates, records, saves when the plan says so; true when early stopping ends the run.
        func validate() throws -> Bool {
            validatedAt = progress.step
            guard let evaluation = try task.evaluate(step: progress.step) else { return false }
            try metrics.record(evaluation.entries.merging(["step": Double(progress.step)]) { a, _ in a })
            // A NaN or infinite score is never an improvement (a first validation's NaN once became the best checkpoint).
            let improved = evaluation.score.isFinite && (progress.bestScore.map { evaluation.score < $0 } ?? true)
            if improved { progress.bestScore = evaluation.score; progress.checksWithoutImprovement = 0 } else { progress.checksWithoutImprovement += 1 }
            validations.append((progress.step, evaluation.score))
            log(evaluation.line(improved))
            if plan.checkpointAfterValidation { try save(best: improved) }
            return plan.patience.map { progress.checksWithoutImprovement >= $0 } ?? false
        }

        log(plan.description)
        var trainLosses: [(Int, Double)] = []
        // SCIZOO_CHECKPOINT_EVERY=N saves every N steps whatever the recipe says: the kill tests
        // (Scripts/kill-resume) use it so that a SIGKILL can land in any step's save.
        let checkpointEvery = ProcessInfo.processInfo.environment["SCIZOO_CHECKPOINT_EVERY"].flatMap(Int.init).flatMap { $0 > 0 ? $0 : nil }
            ?? plan.checkpointEvery
        var lastLoss = Double.nan, items = 0.0, stoppedEarly = false
        let clock = ContinuousClock(), start = clock.now, startStep = progress.step
        let endStep = Swift.min(plan.totalSteps, stopAtStep ?? plan.totalSteps)
        // One rewritten progress line on a terminal; under mpirun (whose output may look like a terminal) plain lines.
        let interactive = isatty(1) != 0 && showsProgress && self.groups == nil
        var batches: [Task.Batch] = [], loadedEpoch = -1
        /// This epoch's micro-batches, read when an epoch starts.
        func epochBatches() throws -> [Task.Batch] {
            if loadedEpoch != progress.epoch { (batches, loadedEpoch) = (try task.batches(epoch: progress.epoch), progress.epoch) }
            return batches
        }
        /// Moves to the next epoch once this one's micro-batches are used up.
        func advanceIfEpochEnded() throws {
            guard progress.batchesInEpoch >= (try epochBatches()).count else { return }
            progress.epoch += 1
            progress.batchesInEpoch = 0
        }
        try advanceIfEpochEnded()  // a checkpoint written at the last batch of an epoch
        training: while progress.step < endStep && plan.maxEpochs.map({ progress.epoch < $0 }) ?? true {
            optimizer.adam.learningRate = task.learningRate(at: progress.step)
            task.willStep(progress.step + 1)
            model.zeroGrad()
            var stepLoss = 0.0, stepItems = 0.0
            for _ in 0..<plan.accumulation {
                try advanceIfEpochEnded()
                let micro = try task.loss(try epochBatches()[progress.batchesInEpoch])
                progress.batchesInEpoch += 1
                // Weighted by this rank's share of the labels, so that averaging gradients over the
                // data-parallel ranks gives the loss of the combined batch.
                let total = try sumOverRanks([micro.labels])[0]
                let weight = total > 0 ? micro.labels * Double(ranks) / total : 1
                try (micro.loss * (weight / Double(plan.accumulation))).backward(inputs: micro.leaves)
                stepLoss += micro.loss.item() * weight / Double(plan.accumulation)
                stepItems += micro.items
            }
            if FaultInjection.poisonsLoss(step: progress.step + 1, rank: groups.world.rank) { stepLoss = .nan }
            // A non-finite loss or gradient on any rank stops every rank before the update, so the
            // weights and the checkpoints written so far stay finite; or, asked to, every rank skips it.
            let fault = stepLoss.isFinite ? Self.firstNonFiniteGradient(parameters) : Self.nonFiniteLossDetail(stepLoss, parameters)
            let sums = try sumOverRanks([stepLoss, stepItems, fault == nil ? 0 : 1])
            let skipped = sums[2] > 0
            if skipped {
                let error = NonFiniteStep(step: progress.step + 1, detail: fault ?? "another rank's loss or gradients are not finite")
                guard skipNonFinite else { throw error }
                skippedSteps += 1
                skippedInARow += 1
                if skippedInARow >= Self.consecutiveSkipLimit {
                    throw NonFiniteStep(step: progress.step + 1, detail: "\(skippedInARow) steps in a row were not finite (the last: \(error.detail)); "
                                        + "--skip-non-finite stops there")
                }
                if interactive { print("") }
                log("step \(progress.step + 1) skipped, no update (--skip-non-finite): \(error.detail); \(skippedSteps) skipped in this run")
            } else {
                skippedInARow = 0
                try optimizer.step()
                if !optimizer.lastGradientNorm.isFinite {
                    throw NonFiniteStep(step: progress.step + 1, detail: "the reduced gradient's norm is \(optimizer.lastGradientNorm)")
                }
            }
            progress.step += 1
            try FaultInjection.check(step: progress.step, rank: groups.world.rank)
            if !skipped { task.afterStep(progress.step) }  // an EMA follows updates, not skipped steps
            lastLoss = sums[0] / Double(ranks)
            items += sums[1]
            trainLosses.append((progress.step, lastLoss))
            let seconds = (clock.now - start).inSeconds
            let throughput = items / Swift.max(seconds, 1e-9)
            let report = task.stepReport(step: progress.step, gradientNorm: optimizer.lastGradientNorm)
            var fields: [String: Any] = ["step": progress.step, "epoch": progress.epoch, plan.lossKey: lastLoss,
                                         "lr": optimizer.adam.learningRate, plan.throughputKey: throughput]
            for (key, value) in report.entries { fields[key] = value }
            if skipped { fields["skipped"] = true }
            try metrics.record(fields)
            if progress.step % plan.logEvery == 0 || progress.step == plan.totalSteps {
                let remaining = Double(plan.totalSteps - progress.step) * seconds / Double(progress.step - startStep)
                let line = String(format: "epoch %d  step %d/%d  %@ %.4f  lr %.2e  %.1f %@  ETA %.0f s", progress.epoch, progress.step,
                                  plan.totalSteps, plan.lossKey, lastLoss, optimizer.adam.learningRate, throughput, plan.throughputUnit, remaining)
                    + (report.text.isEmpty ? "" : "  " + report.text)
                if interactive { print("\r" + line, terminator: ""); fflush(nil) } else { log(line) }
            }
            if plan.validateEvery > 0 && progress.step % plan.validateEvery == 0 {
                if interactive { print("") }
                if try validate() { stoppedEarly = true; break training }
            }
            let epochEnded = progress.batchesInEpoch >= batches.count
            try advanceIfEpochEnded()
            if epochEnded && plan.validateEvery == 0 {
                if interactive { print("") }
                if try validate() { stoppedEarly = true; break training }
            }
            if let every = checkpointEvery, progress.step % every == 0, savedAt != progress.step { try save(best: false) }
        }
        if interactive { print("") }
        if stoppedEarly {
            log("early stopping: \(plan.monitorKey) did not improve for \(plan.patience!) validations")
        } else if progress.step < plan.totalSteps && progress.step == stopAtStep {
            log("stopped at step \(progress.step) as asked; continue with --resume")
        } else if validatedAt != progress.step, try validate() {
            stoppedEarly = true
        }
        if savedAt != progress.step { try save(best: false) }
        if let budgetWatch {
            let peaks = try groups.world.allGather([Double(budgetWatch.peak)])
            if isPrimary {
                log("peak resident memory per rank " + peaks.map { String(format: "%.0f MiB", $0 / 1_048_576) }.joined(separator: ", ")
                    + " within memory_budget_mib \(budgetWatch.budget >> 20)")
            }
        }
        return TrainingOutcome(steps: progress.step, lastLoss: lastLoss, lastValidation: validations.last?.1, bestValidation: progress.bestScore,
                               stoppedEarly: stoppedEarly, throughput: items / Swift.max((clock.now - start).inSeconds, 1e-9),
                               trainLosses: trainLosses, validationScores: validations, lastCheckpoint: lastPath,
                               bestCheckpoint: FileManager.default.fileExists(atPath: bestPath) ? bestPath : lastPath, metrics: metricsPath)
    }

    /// Copies `source` to `destination` through a temporary name, synced before the rename, so a
    /// kill or a full disk never leaves half a file there (nor the half-written temporary beside it).
    static func copyAtomically(_ source: String, to destination: String) throws {
        let temporary = destination + ".tmp-\(getpid())"
        try? FileManager.default.removeItem(atPath: temporary)
        do {
            try FileManager.default.copyItem(atPath: source, toPath: temporary)
            let descriptor = open(temporary, O_RDONLY)
            defer { if descriptor >= 0 { close(descriptor) } }
            guard descriptor >= 0, fsync(descriptor) == 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
        } catch {
            unlink(temporary)
            let previous = FileManager.default.fileExists(atPath: destination) ? "the previous \((destination as NSString).lastPathComponent) is intact" : "nothing was written"
            throw FileError(file: destination, message: "cannot write a copy of \(source): \(systemReason(error)); \(previous)")
        }
        guard rename(temporary, destination) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(temporary)
            throw FileError(file: destination, message: "cannot rename \(temporary) into place: \(reason)")
        }
    }
}
