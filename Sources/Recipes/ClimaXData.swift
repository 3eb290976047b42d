// What a ClimaX fine-tuning run reads and writes besides the loop: the data checked against the
// recipe, the checkpoint record (enough to rebuild the model, forecast and resume), and the test of
// the best checkpoint against persistence and climatology.
import ClimateForecasting
import Foundation
import ParallelRuntime
import TensorCore
import TensorIO

/// What a checkpoint records besides tensors: enough to rebuild the model and to resume.
public struct ClimaXCheckpointInfo: Codable, Sendable {
    public var net: ClimaXConfiguration
    public var variables: [String]
    public var outVariables: [String]
    public var leadHours: Int
    public var region: String?
    /// Downscaling: the inputs were seen coarsened by this factor and interpolated back.
    public var coarsenInputs: Int?
    public var step: Int
    public var epoch: Int
    /// Batches of `epoch` already trained.
    public var batchesInEpoch: Int
    public var bestScore: Double?
    public var checksWithoutImprovement: Int
    /// The dropout generator's counter (the same on every rank).
    public var dropoutOffset: UInt64 = 0
    /// The training statistics the model's inputs and outputs were normalised with (so forecasts
    /// can be made from files that carry none).
    public var mean: [String: Double] = [:]
    public var std: [String: Double] = [:]
    public var recipe: String

    public func encoded() -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: (try? encoder.encode(self)) ?? Data(), as: UTF8.self)
    }

    public static func decode(_ text: String, file: String) throws -> ClimaXCheckpointInfo {
        do { return try JSONDecoder().decode(ClimaXCheckpointInfo.self, from: Data(text.utf8)) } catch {
            throw FileError(file: file, message: "not a ClimaX checkpoint of scizoo climax-finetune (\(error))")
        }
    }
}

extension ClimaXCheckpointInfo {
    /// A checkpoint's record, which must be of this recipe's model, variables and lead time.
    static func decode(_ text: String, file: String, for s: ClimaXSettings) throws -> ClimaXCheckpointInfo {
        let saved = try decode(text, file: file)
        guard saved.net == s.net, saved.variables == s.variables, saved.outVariables == s.outVariables, saved.leadHours == s.leadHours,
              saved.coarsenInputs == s.coarsenInputs else {
            throw FileError(file: file, message: "was written for another model, variables, lead time or coarsening than this recipe's")
        }
        return saved
    }

    /// A fresh run's record: the recipe's model and data, and the training split's statistics.
    init(settings s: ClimaXSettings, statisticsOf train: ForecastDataset) {
        self.init(net: s.net, variables: s.variables, outVariables: s.outVariables, leadHours: s.leadHours, region: s.region,
                  coarsenInputs: s.coarsenInputs, step: 0, epoch: 0, batchesInEpoch: 0, bestScore: nil, checksWithoutImprovement: 0, recipe: s.json)
        for (v, name) in train.variables.enumerated() { (mean[name], std[name]) = (train.inputMean[v], train.inputStd[v]) }
        for (v, name) in train.outVariables.enumerated() { (mean[name], std[name]) = (train.outputMean[v], train.outputStd[v]) }
    }
}

extension ClimaXSettings {
    /// ZeRO from Lightning's strategy: stage 0 is plain data parallelism; stages 1–3 partition Adam's
    /// state, gradients and parameters, offloaded to the host when asked.
    var zeroSettings: ZeROSettings {
        var zero = ZeROSettings()
        zero.stage = zeroStage
        if offloadOptimizer { zero.offloadOptimizer.device = .cpu }
        if offloadParameters { zero.offloadParam.device = .cpu }
        if let paramPersistenceThreshold { zero.paramPersistenceThreshold = paramPersistenceThreshold }
        return zero
    }
}

/// The training and validation splits, checked against the recipe.
struct ClimaXData {
    let train: ForecastDataset, validation: ForecastDataset
    let region: PatchRegion?
    /// Latitudes of the grid rows the loss covers.
    let latitudes: [Double]
    let settings: ClimaXSettings

    init(settings s: ClimaXSettings, log: (String) -> Void) throws {
        settings = s
        let root = s.resolve(s.rootDir)
        train = try ForecastDataset(directory: root + "/train", variables: s.variables, outVariables: s.outVariables, leadHours: s.leadHours,
                                    coarsenInputs: s.coarsenInputs, imageRows: s.net.imageSize[0])
        validation = try ForecastDataset(directory: root + "/val", variables: s.variables, outVariables: s.outVariables, leadHours: s.leadHours,
                                         coarsenInputs: s.coarsenInputs, imageRows: s.net.imageSize[0])
        guard [train.height, train.width] == s.net.imageSize else {
            throw FileError(file: train.files[0], message: "grid is \(train.height)×\(train.width) but model.net.init_args.img_size is \(s.net.imageSize)")
        }
        if let step = train.shards[0].hoursPerStep, Int(step) != s.hoursEachStep {
            throw FileError(file: train.files[0], message: "frames are \(step) h apart but data.hrs_each_step is \(s.hoursEachStep)")
        }
        let (latitudes, longitudes, patchSize) = (train.latitudes, train.longitudes, s.net.patchSize)
        region = try s.region.map { try ClimateRegions.patches(region: $0, latitudes: latitudes, longitudes: longitudes, patchSize: patchSize) }
        self.latitudes = (region?.rows ?? 0..<train.height).map { latitudes[$0] }
        if train.dropsLastRow {
            log("note: the grid has \(train.height + 1) rows and img_size \(train.height): its last row (latitude \(train.shards[0].grid.latitudes.last!)) is left out, as FourCastNet reads ERA5's 721")
        }
        for key in s.ignoredKeys { log("note: accepted but not used on this runtime: \(key)") }
        for warning in ClimateVariables.unitWarnings(means: train.shards[0].mean) { log("note: \(train.files[0]): \(warning)") }
    }

    /// The model: seeded by the recipe, its dropout and drop-path masks per rank (as each rank's
    /// data differs), from pretrained_path when given.
    func model(dataParallelRank: Int, log: (String) -> Void) throws -> ClimaX {
        let s = settings
        let model = ClimaX(s.net, seed: s.seed)
        model.generator = RandomGenerator(seed: RankSeeds(base: s.seed).dropout(dataParallelRank: dataParallelRank))
        if let pretrained = s.pretrainedPath {
            let path = s.resolve(pretrained)
            let loaded: ClimaXWeights.Loaded
            if path.hasSuffix(".h5") {
                // A SciZoo checkpoint (climax-finetune's best.h5 or last.h5), possibly of another grid or variables.
                let (source, _) = try ClimaXForecaster.load(checkpoint: path)
                loaded = try ClimaXWeights.load(model, tensors: ClimaXWeights.upstreamNamed(source) { $0.value.detached() },
                                                variables: source.configuration.defaultVariables, file: path)
            } else {
                loaded = try ClimaXWeights.load(model, from: path)
            }
            log("initial weights from \(path)" + (loaded.summary.isEmpty ? "" : "; " + loaded.summary))
        }
        return model
    }

    /// Per output variable: per-sample RMSE and ACC, one line.
    static func summary(_ scores: ForecastScores, variables: [String]) -> String {
        variables.map { name in
            String(format: "%@ %.4g (acc %.3f)", ClimateVariables.short(name), scores.model[name]!.rmse(.perSample), scores.model[name]!.acc)
        }.joined(separator: ", ")
    }

    /// The line that opens the run.
    func describe(_ model: ClimaX, batchesPerEpoch: Int, ranks: Int, totalSteps: Int) -> String {
        let s = settings
        return "ClimaX embed \(s.net.embedDim), depth \(s.net.depth), \(s.net.numHeads) heads, patch \(s.net.patchSize): \(model.parameterCount) parameters; "
            + "\(s.variables.count) inputs → \(s.outVariables.count) outputs at \(s.leadHours) h; \(train.pairs.count) training pairs, "
            + "\(batchesPerEpoch) batches of \(s.batchSize) per epoch on each of \(ranks) rank(s); \(totalSteps) steps; ZeRO stage \(s.zeroStage)"
            + (s.offloadOptimizer ? ", optimizer state on the host" : "") + (s.offloadParameters ? ", parameter shards on the host" : "")
            + (region.map { ", region \(s.region!) (\($0.rows.count)×\($0.columns.count) cells)" } ?? "")
    }
}

/// The test split scored with the best checkpoint, as upstream's trainer.test(ckpt_path="best").
enum ClimaXTest {
    static func run(settings s: ClimaXSettings, checkpoint: String, runDirectory: String, region: PatchRegion?, groups: ProcessGroups,
                    step: Int, log: (String) -> Void) throws -> [String: Double] {
        let testDirectory = s.resolve(s.rootDir) + "/test"
        guard FileManager.default.fileExists(atPath: testDirectory) else { return [:] }
        try groups.world.barrier()
        // A fresh, whole model (under ZeRO stage 3 the trained one holds only shards).
        let tested = ClimaX(s.net)
        try tested.loadStateDict(try Checkpoint.read(from: checkpoint).parameters)
        let data = try ForecastDataset(directory: testDirectory, variables: s.variables, outVariables: s.outVariables, leadHours: s.leadHours,
                                       coarsenInputs: s.coarsenInputs, imageRows: s.net.imageSize[0])
        let ranks = groups.dataParallelSize
        let batches = data.batches(epoch: 0, batchSize: s.batchSize, shuffle: false, rank: groups.dataParallelRank, ranks: ranks, dropLast: false)
        let scores = try ForecastEvaluation.evaluate(tested, data: data, batches: batches, region: region,
                                                     combine: { ranks > 1 ? try groups.dataParallel.allReduce($0, .sum) : $0 })
        let test = scores.logEntries(split: "test", leadHours: s.leadHours, variables: s.outVariables)
        log(testTable(scores, variables: s.outVariables, leadHours: s.leadHours, samples: data.pairs.count))
        if groups.world.rank == 0 {
            let metrics = try MetricsFile(appendingTo: runDirectory + "/metrics.jsonl", writes: true)
            try metrics.record(test.merging(["step": Double(step)]) { a, _ in a })
            let json = try JSONSerialization.data(withJSONObject: test, options: [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes])
            try json.write(to: URL(fileURLWithPath: runDirectory + "/test_scores.json"), options: .atomic)
        }
        return test
    }

    /// The test table: model, persistence and climatology per variable, RMSE in both conventions and ACC.
    static func testTable(_ scores: ForecastScores, variables: [String], leadHours: Int, samples: Int) -> String {
        var lines = ["test split, \(samples) forecasts at \(leadHours) h; latitude-weighted RMSE (ClimaX per-sample mean | WeatherBench global) and ACC:",
                     "variable                     model                          " + scores.baselineName.padding(toLength: 31, withPad: " ", startingAt: 0)
                        + "climatology"]
        for name in variables {
            func cell(_ a: ClimateScoreAccumulator?) -> String {
                guard let a else { return "" }
                return String(format: "%9.4g | %9.4g  %6.3f", a.rmse(.perSample), a.rmse(.global), a.acc).padding(toLength: 31, withPad: " ", startingAt: 0)
            }
            lines.append(name.padding(toLength: 29, withPad: " ", startingAt: 0) + cell(scores.model[name]) + cell(scores.persistence[name])
                         + String(format: "%9.4g | %9.4g", scores.climatology[name]!.rmse(.perSample), scores.climatology[name]!.rmse(.global)))
        }
        return lines.joined(separator: "\n")
    }
}
