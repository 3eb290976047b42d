// ClimaX climate projection as a TrainingTask (upstream climate_projection/module.py and train.py):
// mean squared error on the response, AdamW without decay on the embeddings, warm-up and cosine,
// val/w_mse with early stopping, then the test simulation's 2080–2100 scored with ClimateBench's
// NRMSEs beside a linear baseline. The loop itself is TrainingRun's.
import ClimateForecasting
import Foundation
import NeuralNetworks
import ParallelRuntime
import TensorCore
import TensorIO

public struct ClimateBenchSummary: Sendable {
    public var steps: Int
    public var bestValidation: Double?
    public var checkpoint: String
    public var metrics: String
    /// Test entries: the model's and the baseline's scores.
    public var test: [String: Double]
}

public typealias ClimateBenchTrainer = TrainingRun<ClimateBenchTask>

/// What a projection checkpoint records besides tensors.
struct ClimateBenchRecord: Codable {
    var step = 0, epoch = 0, batchesInEpoch = 0
    var bestScore: Double?
    var checksWithoutImprovement = 0
    var mean: [Double] = [], std: [Double] = []
    /// The dropout generator's counter, so a resumed run draws the masks the uninterrupted one would.
    var dropoutOffset: UInt64 = 0
    var recipe: String
}

public final class ClimateBenchTask: RecipeTask {
    let s: ClimateBenchSettings
    let runDirectory: String
    private(set) var network: ClimaXClimateBench!
    private var data: ClimateBenchDataset!
    private var train: [Int] = [], validation: [Int] = []
    private var mean: [Double] = [], std: [Double] = []
    private var totalSteps = 0

    public init(settings: ClimateBenchSettings, runDirectory: String) { (s, self.runDirectory) = (settings, runDirectory) }

    public var model: Module { network }

    public func prepare(groups: ProcessGroups, log: @escaping (String) -> Void) throws -> TrainingPlan {
        guard groups.world.size == 1 else {
            throw FileError(file: s.rootDir, message: "climate projection runs on one process (its data are a few hundred windows)")
        }
        let root = s.resolve(s.rootDir)
        data = try ClimateBenchDataset(folder: root + "/train_val", simulations: s.trainSimulations, variables: s.variables,
                                       outVariable: s.outVariable, history: s.timeHistory)
        guard [data.height, data.width] == s.net.imageSize else {
            throw FileError(file: root + "/train_val", message: "grid is \(data.height)×\(data.width) but model.net.init_args.img_size is \(s.net.imageSize)")
        }
        (train, validation) = data.split(trainRatio: s.trainRatio, seed: s.common.seed)
        (mean, std) = data.statistics(of: train)
        network = ClimaXClimateBench(s.net, timeHistory: s.timeHistory, seed: s.common.seed)
        let batchesPerEpoch = train.count / s.batchSize
        guard batchesPerEpoch > 0 else { throw FileError(file: root, message: "\(train.count) training windows make no batch of \(s.batchSize)") }
        let c = s.common
        totalSteps = c.maxSteps > 0 ? Swift.min(c.maxSteps, c.maxEpochs * batchesPerEpoch) : c.maxEpochs * batchesPerEpoch
        let exempt = Set(network.namedParameters().map(\.0).filter(ClimaXClimateBench.isExemptFromWeightDecay))
        let description = "ClimaXClimateBench embed \(s.net.embedDim), depth \(s.net.depth), \(s.net.numHeads) heads, patch \(s.net.patchSize), "
            + "\(s.timeHistory) years: \(network.parameterCount) parameters; \(s.variables.joined(separator: ", ")) → \(s.outVariable); "
            + "\(train.count) training / \(validation.count) validation windows of \(data.simulations.count) simulations; \(totalSteps) steps"
        var plan = TrainingPlan(totalSteps: totalSteps, adam: AdamSettings(learningRate: c.learningRate, beta1: c.beta1, beta2: c.beta2,
                                                                            weightDecay: c.weightDecay, decoupled: true, decayExempt: exempt),
                                validateEvery: c.valCheckInterval > 0 ? c.valCheckInterval : batchesPerEpoch, checkpointDirectory: runDirectory + "/checkpoints",
                                logEvery: c.logEveryNSteps, description: description)
        (plan.maxEpochs, plan.checkpointAfterValidation, plan.patience) = (c.maxEpochs, true, c.patience)
        (plan.lossKey, plan.monitorKey) = ("train/loss", "val/w_mse")
        return plan
    }

    public func install(hooks: (any ModuleHooks)?) {}

    public func batches(epoch: Int) throws -> [[Int]] {
        var generator = RandomGenerator(seed: s.common.seed &+ 17 &+ UInt64(epoch))
        let order = generator.permutation(train.count).map { train[$0] }
        return (0..<(order.count / s.batchSize)).map { Array(order[($0 * s.batchSize)..<(($0 + 1) * s.batchSize)]) }
    }

    public func loss(_ batch: [Int]) throws -> MicroBatchLoss {
        network.train()
        let (inputs, targets) = data.batch(batch, mean: mean, std: std)
        let predictions = network(inputs, leadTimes: Tensor.zeros([batch.count]), variables: s.variables)
        return MicroBatchLoss(loss: (predictions - targets).square().mean(), labels: Double(batch.count), items: Double(batch.count))
    }

    public func learningRate(at step: Int) -> Double {
        let c = s.common
        return LinearWarmupCosineAnnealing(baseRate: c.learningRate, warmupSteps: c.warmupSteps, totalSteps: c.scheduleSteps,
                                           warmupStart: c.warmupStartLR, minimum: c.etaMin).learningRate(at: step)
    }

    /// Predictions `[N][H·W]` of `windows` of `dataset`, in evaluation mode.
    func predict(_ windows: [Int], of dataset: ClimateBenchDataset, with model: ClimaXClimateBench) -> [[Float]] {
        let wasTraining = model.isTraining
        model.eval()
        defer { model.train(wasTraining) }
        let cells = dataset.height * dataset.width
        return Swift.stride(from: 0, to: windows.count, by: 8).flatMap { start -> [[Float]] in
            let chunk = Array(windows[start..<Swift.min(windows.count, start + 8)])
            let inputs = dataset.batch(chunk, mean: mean, std: std).inputs
            let values = withNoGrad { model(inputs, leadTimes: Tensor.zeros([chunk.count]), variables: s.variables) }.scalars(as: Float.self)
            return chunk.indices.map { Array(values[($0 * cells)..<(($0 + 1) * cells)]) }
        }
    }

    func truths(_ windows: [Int], of dataset: ClimateBenchDataset) -> [[Float]] { windows.map { Array(dataset.target(of: $0)) } }

    public func evaluate(step: Int) throws -> Evaluation? {
        let scores = ClimateBenchScores.score(predict(validation, of: data, with: network), truths: truths(validation, of: data),
                                              latitudes: data.latitudes, width: data.width)
        let entries = ["val/w_mse": scores["w_mse"]!, "val/w_rmse": scores["w_rmse"]!]
        return Evaluation(entries: entries, score: scores["w_mse"]!) { improved in
            String(format: "step %d  val/w_mse %.4g%@  val/w_rmse %.4g", step, scores["w_mse"]!, improved ? " (best)" : "", scores["w_rmse"]!)
        }
    }

    /// The test simulation's last 21 years (2080–2100 for ssp245), as ClimateBench scores them.
    public func finish(_ outcome: TrainingOutcome, groups: ProcessGroups, log: (String) -> Void) throws -> ClimateBenchSummary {
        let root = s.resolve(s.rootDir)
        let test = try ClimateBenchDataset(folder: root + "/test", simulations: s.testSimulations, variables: s.variables,
                                           outVariable: s.outVariable, history: s.timeHistory)
        let windows = Array(test.windows.indices.suffix(21))
        let best = ClimaXClimateBench(s.net, timeHistory: s.timeHistory)
        try best.loadStateDict(try Checkpoint.read(from: outcome.bestCheckpoint).parameters)
        let truth = truths(windows, of: test)
        let predictions = predict(windows, of: test, with: best)
        let model = ClimateBenchScores.score(predictions, truths: truth, latitudes: test.latitudes, width: test.width)
        let regression = ForcingRegression(data: data, windows: train)
        let regressionMaps = windows.map { regression.predict(test, window: $0) }
        let baseline = ClimateBenchScores.score(regressionMaps, truths: truth, latitudes: test.latitudes, width: test.width)
        var entries: [String: Double] = ["step": Double(outcome.steps)]
        for (key, value) in model { entries["test/\(key)_\(s.outVariable)"] = value }
        for (key, value) in baseline { entries["test/regression_\(key)_\(s.outVariable)"] = value }
        let years = windows.map { test.year(of: $0) }
        var lines = ["test: \(s.testSimulations.joined(separator: ", ")) \(years.first!)–\(years.last!) (\(windows.count) years), \(s.outVariable); "
                     + "ClimateBench's scores over all test years at once:",
                     "                               NRMSE_s   NRMSE_g   NRMSE (s + 5 g)   lat-weighted RMSE"]
        for (name, scores) in [("model", model), ("linear regression on forcings", baseline)] {
            lines.append(name.padding(toLength: 29, withPad: " ", startingAt: 0)
                         + String(format: "  %8.4f  %8.4f  %16.4f  %18.4g", scores["nrmse_s"]!, scores["nrmse_g"]!, scores["nrmse"]!, scores["w_rmse"]!))
        }
        log(lines.joined(separator: "\n"))
        // The maps behind the scores: [year, lat, lon] for the model, the baseline and the truth.
        let (h, w) = (test.height, test.width)
        try HDF5File.writeAtomically(to: runDirectory + "/test_predictions.h5") { file in
            let root = try file.root
            try root.setAttribute("checkpoint", .string(outcome.bestCheckpoint))
            try root.write("year", years.map(Double.init), shape: [years.count])
            try root.write("lat", test.latitudes, shape: [h])
            try root.write("lon", test.longitudes, shape: [w])
            try root.write(s.outVariable, predictions.flatMap { $0 }, shape: [years.count, h, w])
            try root.write(s.outVariable + "_regression", regressionMaps.flatMap { $0 }, shape: [years.count, h, w])
            try root.write(s.outVariable + "_truth", truth.flatMap { $0 }, shape: [years.count, h, w])
        }
        let json = try JSONSerialization.data(withJSONObject: entries, options: [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes])
        try json.write(to: URL(fileURLWithPath: runDirectory + "/test_scores.json"), options: .atomic)
        try MetricsFile(appendingTo: runDirectory + "/metrics.jsonl", writes: true).record(entries)
        return ClimateBenchSummary(steps: outcome.steps, bestValidation: outcome.bestValidation, checkpoint: outcome.bestCheckpoint,
                                   metrics: outcome.metrics, test: entries)
    }

    public func checkpointRecord(_ progress: TrainingProgress) -> String {
        let record = ClimateBenchRecord(step: progress.step, epoch: progress.epoch, batchesInEpoch: progress.batchesInEpoch, bestScore: progress.bestScore,
                                        checksWithoutImprovement: progress.checksWithoutImprovement, mean: mean, std: std,
                                        dropoutOffset: network.backbone.generator.offset, recipe: s.json)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: (try? encoder.encode(record)) ?? Data(), as: UTF8.self)
    }

    public func restore(record: String, step: Int, file: String) throws -> TrainingProgress {
        guard let saved = try? JSONDecoder().decode(ClimateBenchRecord.self, from: Data(record.utf8)), saved.recipe == s.json else {
            throw FileError(file: file, message: "not a checkpoint of this climate-projection recipe")
        }
        network.backbone.generator = RandomGenerator(seed: network.backbone.generator.seed, offset: saved.dropoutOffset)
        return TrainingProgress(step: saved.step, epoch: saved.epoch, batchesInEpoch: saved.batchesInEpoch, bestScore: saved.bestScore,
                                checksWithoutImprovement: saved.checksWithoutImprovement)
    }
}
