// Force-field training as a TrainingTask (schnetpack's AtomisticTask): the loss
// w_E·MSE(E) + w_F·MSE(F) with forces −∂E/∂R taken with a graph so the force loss reaches the
// weights (double backward), AdamW, linear warm-up then ReduceLROnPlateau on the validation loss,
// an EMA of the weights (torch-ema's schedule, as schnetpack's callback) used for validation and
// kept beside each checkpoint, and early stopping on the validation force MAE. Energies are
// standardised as schnetpack 2 does: the mean energy per atom of the training frames (after the
// reference energies) is added back per atom.
import Foundation
import MolecularDynamics
import NeuralNetworks
import ParallelRuntime
import TensorCore
import TensorIO

public struct MLFFRunSummary: Sendable {
    public var steps: Int
    public var stoppedEarly: Bool
    /// Best validation force MAE (eV/Å).
    public var bestValidation: Double?
    public var checkpoint: String
    public var metrics: String
    /// The test split's scores with the best checkpoint (eV, eV/Å).
    public var test: ForceFieldScores?
}

/// Force-field training: `TrainingRun` on an `MLFFTask`.
public typealias MLFFTrainer = TrainingRun<MLFFTask>

public final class MLFFTask: RecipeTask {
    let s: MLFFSettings
    let runDirectory: String
    private(set) var network: (any AtomisticModel)!
    private(set) var frames: (any FrameSource)!
    private(set) var split: FrameSplit!
    private var groups: ProcessGroups!
    private var totalSteps = 0
    private var ema: WeightAverage?
    /// The network's parameters, looked up once (their values change, the handles do not).
    private var parameters: [Parameter] = []
    private var plateau: ReduceLROnPlateau!
    private var record = MLFFCheckpointRecord()

    public init(settings: MLFFSettings, runDirectory: String) { (s, self.runDirectory) = (settings, runDirectory) }

    public var model: Module { network }

    public func prepare(groups: ProcessGroups, log: @escaping (String) -> Void) throws -> TrainingPlan {
        self.groups = groups
        frames = try ForceFieldData.open(s.resolve(s.dataPath))
        split = try MLFFData.split(s, frames: frames)
        if groups.world.rank == 0 { try writeSplit() }
        network = s.makeModel()
        let named = network.namedParameters()
        parameters = named.map(\.1)
        record.recipe = s.json
        record.energyPerAtom = try MLFFData.configureOutput(network.energyScale, settings: s, frames: frames, train: split.train)
        ema = s.emaDecay > 0 ? WeightAverage(named, decay: s.emaDecay) : nil
        plateau = ReduceLROnPlateau(rate: s.learningRate, factor: s.plateauFactor, patience: s.plateauPatience, threshold: 0,
                                    cooldown: s.plateauCooldown, minimumRate: s.minLearningRate)
        let ranks = groups.dataParallelSize
        let perEpoch = split.train.count / (s.batchSize * ranks)
        guard perEpoch > 0 else {
            throw FileError(file: frames.path, message: "\(split.train.count) training frames make no batch of \(s.batchSize) on each of \(ranks) rank(s)")
        }
        totalSteps = s.maxSteps > 0 ? Swift.min(s.maxSteps, s.maxEpochs * perEpoch) : s.maxEpochs * perEpoch
        let parameterCount = network.namedParameters().reduce(0) { $0 + $1.1.value.count }
        var plan = TrainingPlan(totalSteps: totalSteps,
                                adam: AdamSettings(learningRate: s.learningRate, weightDecay: s.weightDecay, decoupled: true),
                                validateEvery: s.valCheckInterval, checkpointDirectory: runDirectory + "/checkpoints", logEvery: s.logEveryNSteps,
                                description: "\(s.modelDescription), \(parameterCount) parameters; \(frames.path): \(split.train.count) train, "
                                    + "\(split.validation.count) val, \(split.test.count) test frames; batch \(s.batchSize) × \(ranks) rank(s), "
                                    + "\(perEpoch) steps per epoch, \(totalSteps) steps; loss \(s.energyWeight)·MSE(E) + \(s.forcesWeight)·MSE(F)"
                                    + (ema.map { "; EMA \($0.decay)" } ?? ""))
        (plan.maxEpochs, plan.checkpointAfterValidation, plan.patience) = (s.maxEpochs, true, s.patience > 0 ? s.patience : nil)
        (plan.lossKey, plan.monitorKey, plan.gradientClipping) = ("train/loss", "val/forces_mae", s.gradientClipVal)
        (plan.throughputKey, plan.throughputUnit) = ("molecules_per_second", "molecules/s")
        return plan
    }

    /// Plain data parallelism (ZeRO stage 0): force fields are small, every rank holds them whole.
    public func install(hooks: (any ModuleHooks)?) {}

    /// A seeded shuffle per epoch; each step's global batch (batch_size × ranks frames) split in rank order.
    public func batches(epoch: Int) throws -> [[Int]] {
        EpochBatches.of(split.train, epoch: epoch, seed: s.seed, batchSize: s.batchSize, rank: groups.dataParallelRank, ranks: groups.dataParallelSize)
    }

    public func loss(_ batch: [Int]) throws -> MicroBatchLoss {
        network.train()
        let loaded = try MLFFData.load(batch, from: frames, cutoff: s.cutoff, maxNeighbours: network.maxNeighbours, dtype: s.dtype)
        let (energies, forces) = try MLFFData.predict(network, loaded.graph, createGraph: true)
        let energyError = energies - loaded.energies, forceError = forces - loaded.forces
        let loss = energyError.square().mean() * s.energyWeight + forceError.square().mean() * s.forcesWeight
        return MicroBatchLoss(loss: loss, labels: Double(batch.count), items: Double(batch.count), leaves: parameters.map(\.value))
    }

    public func learningRate(at step: Int) -> Double {
        let warmup = s.warmupSteps > 0 ? Swift.min(1, Double(step + 1) / Double(s.warmupSteps)) : 1
        return plateau.rate * warmup
    }

    public func afterStep(_ step: Int) { ema?.update() }

    public func evaluate(step: Int) throws -> Evaluation? {
        guard !split.validation.isEmpty else { return nil }
        let scores = try withAveragedWeights {
            try MLFFData.score(network, frames: frames, indices: split.validation, settings: s, groups: groups)
        }
        let loss = s.energyWeight * scores.energyMSE + s.forcesWeight * scores.forcesMSE
        plateau.step(metric: loss)
        var entries = scores.entries(prefix: "val")
        entries["val/loss"] = loss
        let score = scores.forcesMAE
        if score < (record.bestForcesMAE ?? .infinity) { (record.bestForcesMAE, record.bestStep) = (score, step) }
        return Evaluation(entries: entries, score: score) { improved in
            String(format: "step %d  val/forces_mae %.4g eV/Å%@  energy_mae %.4g eV  loss %.4g", step, score, improved ? " (best)" : "",
                   scores.energyMAE, loss)
        }
    }

    /// The test split scored with the best checkpoint's (averaged) weights.
    public func finish(_ outcome: TrainingOutcome, groups: ProcessGroups, log: (String) -> Void) throws -> MLFFRunSummary {
        var test: ForceFieldScores?
        if !split.test.isEmpty && (outcome.steps >= totalSteps || outcome.stoppedEarly) {
            let best = try MLFFCheckpoint.load(outcome.bestCheckpoint)
            test = try MLFFData.score(best.model, frames: frames, indices: split.test, settings: s, groups: groups)
            log("test (\(split.test.count) frames, best checkpoint): " + test!.summary)
            if groups.world.rank == 0 {
                let data = try JSONSerialization.data(withJSONObject: test!.entries(prefix: "test"), options: [.sortedKeys, .prettyPrinted])
                try data.write(to: URL(fileURLWithPath: runDirectory + "/test_scores.json"), options: .atomic)
            }
        }
        return MLFFRunSummary(steps: outcome.steps, stoppedEarly: outcome.stoppedEarly, bestValidation: outcome.bestValidation,
                              checkpoint: outcome.bestCheckpoint, metrics: outcome.metrics, test: test)
    }

    public func checkpointRecord(_ progress: TrainingProgress) -> String {
        record.progress = progress
        record.plateau = plateau.state
        if let ema {
            // The averaged weights of this step beside the checkpoint (rank 0 writes them: every
            // rank holds the same average); the ones of the last two saves and of the best stay.
            let name = "ema-step\(progress.step).h5", directory = runDirectory + "/checkpoints"
            if groups.world.rank == 0 {
                try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
                try? Checkpoint(parameters: ema.state, step: progress.step, config: "{}").write(to: directory + "/" + name)
                record.emaUpdates = ema.updates
                let keep = Set([name, record.emaFile, record.bestStep.map { "ema-step\($0).h5" }].compactMap { $0 })
                for file in (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
                where file.hasPrefix("ema-step") && file.hasSuffix(".h5") && !keep.contains(file) {
                    try? FileManager.default.removeItem(atPath: directory + "/" + file)
                }
            }
            record.emaFile = name
            record.emaUpdates = ema.updates
        }
        return record.encoded()
    }

    public func restore(record text: String, step: Int, file: String) throws -> TrainingProgress {
        let saved = try MLFFCheckpointRecord.decode(text, file: file)
        guard saved.recipe == s.json else {
            throw FileError(file: file, message: "was written by another recipe; resume with the recipe that started the run")
        }
        plateau.state = saved.plateau
        if let ema, let name = saved.emaFile {
            let path = URL(fileURLWithPath: file).deletingLastPathComponent().appendingPathComponent(name).path
            try ema.restore(try Checkpoint.read(from: path).parameters, updates: saved.emaUpdates, file: path)
        }
        record = saved
        return saved.progress
    }

    /// The split as frame indices (split.json in the run folder), so other tools can train and test on the same frames.
    private func writeSplit() throws {
        try FileManager.default.createDirectory(atPath: runDirectory, withIntermediateDirectories: true)
        let json: [String: Any] = ["data": frames.path, "train": split.train, "val": split.validation, "test": split.test]
        try JSONSerialization.data(withJSONObject: json, options: [.sortedKeys]).write(to: URL(fileURLWithPath: runDirectory + "/split.json"), options: .atomic)
    }

    /// Runs `body` with the averaged weights in the model (the raw ones otherwise), then puts the raw ones back.
    private func withAveragedWeights<R>(_ body: () throws -> R) throws -> R {
        guard let ema else { return try body() }
        let raw = network.stateDict()
        try network.loadStateDict(ema.state)
        defer { try? network.loadStateDict(raw) }
        return try body()
    }
}

/// torch-ema's ExponentialMovingAverage as schnetpack's EMA callback uses it: after update n the
/// average moves by (1 − d) with d = min(decay, (1 + n)/(10 + n)).
final class WeightAverage {
    let decay: Double
    private(set) var updates = 0
    private var shadow: [(String, Tensor)]
    /// The parameters averaged, in the shadow's order (the trainer's handles: reflection per step
    /// cost a tenth of a small model's step).
    private let parameters: [Parameter]

    /// `named`: the model's parameters by path, as `Module.namedParameters()` gives them.
    init(_ named: [(String, Parameter)], decay: Double) {
        self.decay = decay
        shadow = named.map { ($0.0, $0.1.value.detached()) }
        parameters = named.map(\.1)
    }

    var state: [(String, Tensor)] { shadow }

    func update() {
        updates += 1
        let d = Swift.min(decay, Double(1 + updates) / Double(10 + updates))
        for k in shadow.indices {
            let value = parameters[k].value.detached()
            shadow[k].1 = shadow[k].1 - (shadow[k].1 - value) * (1 - d)
        }
    }

    func restore(_ values: [(String, Tensor)], updates: Int, file: String) throws {
        guard values.map(\.0) == shadow.map(\.0) else {
            throw FileError(file: file, message: "holds averaged weights of another model (\(values.count) tensors, expected \(shadow.count))")
        }
        (shadow, self.updates) = (values, updates)
    }
}

/// What an MLFF checkpoint records beside the weights: the recipe, the output standardisation,
/// where the run stands, the plateau scheduler and the EMA file.
struct MLFFCheckpointRecord: CheckpointRecordCoding {
    var recipe = "{}"
    var energyPerAtom = 0.0
    var progress = TrainingProgress()
    var plateau = ReduceLROnPlateau.State(rate: 0, best: .infinity, badEpochs: 0, cooldownLeft: 0)
    var emaFile: String?
    var emaUpdates = 0
    var bestForcesMAE: Double?
    var bestStep: Int?

    static let kind = "a force-field checkpoint"
}

/// A checkpoint's client record as JSON (sorted keys; infinities and NaN as strings).
protocol CheckpointRecordCoding: Codable {
    /// What the record belongs to, for the error when another file's record does not read.
    static var kind: String { get }
}

extension CheckpointRecordCoding {
    func encoded() -> String {
        let encoder = JSONEncoder()
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        encoder.outputFormatting = .sortedKeys
        return String(decoding: (try? encoder.encode(self)) ?? Data("{}".utf8), as: UTF8.self)
    }

    static func decode(_ text: String, file: String) throws -> Self {
        let decoder = JSONDecoder()
        decoder.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        do { return try decoder.decode(Self.self, from: Data(text.utf8)) } catch {
            throw FileError(file: file, message: "is not \(kind) (its record does not read: \(error))")
        }
    }
}

extension TrainingProgress: Codable {
    enum CodingKeys: String, CodingKey { case step, epoch, batchesInEpoch, bestScore, checksWithoutImprovement }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(step: try c.decode(Int.self, forKey: .step), epoch: try c.decode(Int.self, forKey: .epoch),
                  batchesInEpoch: try c.decode(Int.self, forKey: .batchesInEpoch), bestScore: try c.decodeIfPresent(Double.self, forKey: .bestScore),
                  checksWithoutImprovement: try c.decode(Int.self, forKey: .checksWithoutImprovement))
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(step, forKey: .step)
        try c.encode(epoch, forKey: .epoch)
        try c.encode(batchesInEpoch, forKey: .batchesInEpoch)
        try c.encodeIfPresent(bestScore, forKey: .bestScore)
        try c.encode(checksWithoutImprovement, forKey: .checksWithoutImprovement)
    }
}
