// The ClimaX fine-tuning run (upstream global_forecast/module.py with LightningCLI): AdamW with
// linear warm-up and cosine decay, latitude-weighted MSE, validation on val/w_rmse with early
// stopping, atomic checkpoints with resume, data parallelism, metrics.jsonl, and a test of the
// best checkpoint against persistence and climatology.
import ClimateForecasting
import Foundation
import NeuralNetworks
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
            throw RecipeError(file: file, message: "not a ClimaX checkpoint of scizoo climax-finetune (\(error))")
        }
    }
}

public struct ClimaXRunSummary: Sendable {
    public var steps: Int
    public var stoppedEarly: Bool
    public var bestValidation: Double?
    public var checkpoint: String
    public var metrics: String
    /// Test-split entries (ClimaX's keys and the labelled extras), from the best checkpoint.
    public var test: [String: Double]
}

public final class ClimaXTrainer {
    public let settings: ClimaXSettings
    public let runDirectory: String
    public let groups: ProcessGroups?
    let log: (String) -> Void
    let showsProgress: Bool

    public init(settings: ClimaXSettings, runDirectory: String, groups: ProcessGroups? = nil, showsProgress: Bool = true,
                log: @escaping (String) -> Void = { print($0) }) {
        self.settings = settings
        self.runDirectory = runDirectory
        self.groups = groups
        self.showsProgress = showsProgress
        self.log = log
    }

    public func run(resume: Bool = false) throws -> ClimaXRunSummary {
        let s = settings
        let root = s.resolve(s.rootDir)
        let lead = s.leadHours
        let train = try ForecastDataset(directory: root + "/train", variables: s.variables, outVariables: s.outVariables, leadHours: lead)
        let validation = try ForecastDataset(directory: root + "/val", variables: s.variables, outVariables: s.outVariables, leadHours: lead)
        guard [train.height, train.width] == s.net.imageSize else {
            throw RecipeError(file: train.files[0], message: "grid is \(train.height)×\(train.width) but model.net.init_args.img_size is \(s.net.imageSize)")
        }
        if let step = train.shards[0].hoursPerStep, Int(step) != s.hoursEachStep {
            throw RecipeError(file: train.files[0], message: "frames are \(step) h apart but data.hrs_each_step is \(s.hoursEachStep)")
        }
        let region = try s.region.map {
            try ClimateRegions.patches(region: $0, latitudes: train.latitudes, longitudes: train.longitudes, patchSize: s.net.patchSize)
        }
        let latitudes = (region?.rows ?? 0..<train.height).map { train.latitudes[$0] }
        for key in s.ignoredKeys { log("note: accepted but not used on this runtime: \(key)") }
        for warning in ClimateVariables.unitWarnings(means: train.shards[0].mean) { log("note: \(train.files[0]): \(warning)") }

        let groups = try self.groups ?? ProcessGroups(world: InProcessWorld.single())
        let isPrimary = groups.world.rank == 0
        let ranks = groups.dataParallelSize, rank = groups.dataParallelRank
        let model = ClimaX(s.net, seed: s.seed)
        // Dropout and drop-path masks differ per rank, as each rank's data does.
        model.generator = RandomGenerator(seed: RankSeeds(base: s.seed).dropout(dataParallelRank: rank))
        if let pretrained = s.pretrainedPath {
            let fresh = try ClimaXWeights.load(model, from: s.resolve(pretrained))
            log("initial weights from \(s.resolve(pretrained))"
                + (fresh.isEmpty ? "" : "; not in the checkpoint, initialised afresh: \(fresh.joined(separator: ", "))"))
        }
        let parameters = model.namedParameters()
        if groups.world.size > 1 { try DataParallel.broadcastParameters(parameters, over: groups.world) }
        // ZeRO stage 0 is plain data parallelism (gradients all-reduced in the step); stages 1–2 partition
        // Adam's state (and gradients) over the ranks. Upstream configure_optimizers: no weight decay
        // on the variable and position embeddings.
        var zeroSettings = ZeROSettings()
        zeroSettings.stage = s.zeroStage
        if s.offloadOptimizer { zeroSettings.offloadOptimizer.device = .cpu }
        if s.offloadParameters { zeroSettings.offloadParam.device = .cpu }
        if let threshold = s.paramPersistenceThreshold { zeroSettings.paramPersistenceThreshold = threshold }
        let checkpointDirectory = runDirectory + "/checkpoints"
        let lastPath = checkpointDirectory + "/last.h5", bestPath = checkpointDirectory + "/best.h5"
        let zeroDirectory = checkpointDirectory + "/zero"
        // A consolidated checkpoint (another world or stage) is loaded before the optimiser partitions the model.
        let resumeFromShards = resume && ZeROCheckpoint.latestTag(in: zeroDirectory) != nil
        var consolidated: Checkpoint?
        if resume && !resumeFromShards && FileManager.default.fileExists(atPath: lastPath) {
            let checkpoint = try Checkpoint.read(from: lastPath)
            try model.loadStateDict(checkpoint.parameters)
            consolidated = checkpoint
        }
        let exempt = Set(parameters.map(\.0).filter(ClimaX.isExemptFromWeightDecay))
        let optimizer = try ZeROOptimizer(parameters, settings: zeroSettings,
                                          adam: AdamSettings(learningRate: s.learningRate, beta1: s.beta1, beta2: s.beta2, weightDecay: s.weightDecay,
                                                             decoupled: true, decayExempt: exempt),
                                          groups: groups)
        model.parameterHooks = optimizer.hooks
        let schedule = LinearWarmupCosineAnnealing(baseRate: s.learningRate, warmupSteps: s.warmupSteps, totalSteps: s.scheduleSteps,
                                                   warmupStart: s.warmupStartLR, minimum: s.etaMin)

        if isPrimary { try FileManager.default.createDirectory(atPath: checkpointDirectory, withIntermediateDirectories: true) }
        try groups.world.barrier()
        var info = ClimaXCheckpointInfo(net: s.net, variables: s.variables, outVariables: s.outVariables, leadHours: lead, region: s.region,
                                        step: 0, epoch: 0, batchesInEpoch: 0, bestScore: nil, checksWithoutImprovement: 0, recipe: s.json)
        for (v, name) in train.variables.enumerated() { (info.mean[name], info.std[name]) = (train.inputMean[v], train.inputStd[v]) }
        for (v, name) in train.outVariables.enumerated() { (info.mean[name], info.std[name]) = (train.outputMean[v], train.outputStd[v]) }
        func adopt(_ saved: ClimaXCheckpointInfo, from file: String) throws {
            guard saved.net == s.net, saved.variables == s.variables, saved.outVariables == s.outVariables, saved.leadHours == lead else {
                throw RecipeError(file: file, message: "was written for another model, variables or lead time than this recipe's")
            }
            // Every rank draws masks of the same shapes, so rank 0's counter is every rank's.
            model.generator = RandomGenerator(seed: model.generator.seed, offset: saved.dropoutOffset)
            info = saved
            info.recipe = s.json
        }
        if resumeFromShards, let tag = ZeROCheckpoint.latestTag(in: zeroDirectory) {
            // The shards of the same world and stage (any other layout resumes from last.h5 below).
            let (_, client) = try ZeROCheckpoint.load(optimizer, directory: zeroDirectory)
            try adopt(try ClimaXCheckpointInfo.decode(client, file: zeroDirectory + "/" + tag), from: zeroDirectory + "/" + tag)
            log("resumed from \(zeroDirectory)/\(tag) at step \(info.step) (epoch \(info.epoch), \(info.batchesInEpoch) batches in)")
        } else if let checkpoint = consolidated {
            let saved = try ClimaXCheckpointInfo.decode(checkpoint.config, file: lastPath)
            try ZeROCheckpoint.load(optimizer, consolidated: checkpoint, file: lastPath)
            try adopt(saved, from: lastPath)
            log("resumed from \(lastPath) at step \(info.step) (epoch \(info.epoch), \(info.batchesInEpoch) batches in)")
        }
        if s.zeroStage > 0 { log(optimizer.memoryReport().description) }

        let metricsPath = runDirectory + "/metrics.jsonl"
        if isPrimary { try FileManager.default.createDirectory(atPath: runDirectory, withIntermediateDirectories: true) }
        let metrics = try MetricsFile(path: metricsPath, resumingAfter: info.step, writes: isPrimary)
        func record(_ fields: [String: Any]) { metrics.record(fields) }
        func sumOverRanks(_ values: [Double]) throws -> [Double] {
            ranks > 1 ? try groups.dataParallel.allReduce(values, .sum) : values
        }
        /// Every rank writes its shard (the step, data position and dropout counter ride along); rank 0
        /// then streams them into last.h5, copies it to best.h5 when asked, and keeps the two newest tags.
        func saveCheckpoint(best: Bool) throws {
            info.dropoutOffset = model.generator.offset
            try ZeROCheckpoint.save(optimizer, directory: zeroDirectory, tag: "global_step\(info.step)", step: info.step, client: info.encoded())
            if isPrimary {
                _ = try ZeROCheckpoint.consolidate(directory: zeroDirectory, output: lastPath)
                if best {
                    let temporary = bestPath + ".tmp-\(getpid())"
                    try? FileManager.default.removeItem(atPath: temporary)
                    try FileManager.default.copyItem(atPath: lastPath, toPath: temporary)
                    guard rename(temporary, bestPath) == 0 else { throw RecipeError(file: bestPath, message: "cannot rename \(temporary) into place") }
                }
                ZeROCheckpoint.removeOldTags(in: zeroDirectory, keeping: 2)
            }
            try groups.world.barrier()
        }
        func validate() throws -> Bool {
            let batches = Array(validation.batches(epoch: 0, batchSize: s.batchSize, shuffle: false, rank: rank, ranks: ranks, dropLast: false)
                .prefix(s.limitValBatches))
            let scores = try ForecastEvaluation.evaluate(model, data: validation, batches: batches, region: region, combine: sumOverRanks)
            let entries = scores.logEntries(split: "val", leadHours: lead, variables: s.outVariables)
            record(entries.merging(["step": Double(info.step)]) { a, _ in a })
            let score = entries["val/w_rmse"]!
            let improved = info.bestScore.map { score < $0 } ?? true
            if improved { info.bestScore = score; info.checksWithoutImprovement = 0 } else { info.checksWithoutImprovement += 1 }
            let parts = s.outVariables.map { name in
                String(format: "%@ %.4g (acc %.3f)", ClimateVariables.short(name), scores.model[name]!.rmse(.perSample), scores.model[name]!.acc)
            }
            log(String(format: "step %d  val/w_rmse %.4g%@  ", info.step, score, improved ? " (best)" : "") + parts.joined(separator: ", "))
            try saveCheckpoint(best: improved)
            // Lightning's EarlyStopping: stop once `patience` checks in a row did not improve.
            return info.checksWithoutImprovement >= s.patience
        }

        let batchesPerEpoch = train.batches(epoch: 0, batchSize: s.batchSize, shuffle: true, bufferSize: s.bufferSize, seed: s.seed,
                                            rank: rank, ranks: ranks).count
        guard batchesPerEpoch > 0 else {
            throw RecipeError(file: root + "/train", message: "\(train.pairs.count) training pairs make no batch of \(s.batchSize) on each of \(ranks) rank(s)")
        }
        let totalSteps = s.maxSteps > 0 ? Swift.min(s.maxSteps, s.maxEpochs * batchesPerEpoch) : s.maxEpochs * batchesPerEpoch
        log("ClimaX embed \(s.net.embedDim), depth \(s.net.depth), \(s.net.numHeads) heads, patch \(s.net.patchSize): \(model.parameterCount) parameters; "
            + "\(s.variables.count) inputs → \(s.outVariables.count) outputs at \(lead) h; \(train.pairs.count) training pairs, "
            + "\(batchesPerEpoch) batches of \(s.batchSize) per epoch on each of \(ranks) rank(s); \(totalSteps) steps; ZeRO stage \(s.zeroStage)"
            + (s.offloadOptimizer ? ", optimizer state on the host" : "") + (s.offloadParameters ? ", parameter shards on the host" : "")
            + (region.map { ", region \(s.region!) (\($0.rows.count)×\($0.columns.count) cells)" } ?? ""))
        let clock = ContinuousClock(), start = clock.now
        let startStep = info.step
        var stoppedEarly = false, lastLoss = Double.nan
        let interactive = isatty(1) != 0 && showsProgress && self.groups == nil
        training: while info.step < totalSteps && info.epoch < s.maxEpochs {
            let batches = train.batches(epoch: info.epoch, batchSize: s.batchSize, shuffle: true, bufferSize: s.bufferSize, seed: s.seed,
                                        rank: rank, ranks: ranks)
            for batch in batches.dropFirst(info.batchesInEpoch) {
                let rate = schedule.learningRate(at: info.step)
                optimizer.adam.learningRate = rate
                model.zeroGrad()
                model.train()
                let (inputs, targets, leadTimes) = train.batch(batch, region: region)
                let forecast = model(inputs, leadTimes: leadTimes, variables: train.variables, outVariables: train.outVariables, region: region)
                let loss = LatitudeWeights.meanSquaredError(forecast, targets, latitudes: latitudes)
                try loss.backward()
                try optimizer.step()
                lastLoss = try sumOverRanks([loss.item()])[0] / Double(ranks)
                info.step += 1
                info.batchesInEpoch += 1
                let seconds = (clock.now - start).inSeconds
                let samplesPerSecond = Double((info.step - startStep) * s.batchSize * ranks) / Swift.max(seconds, 1e-9)
                record(["step": info.step, "epoch": info.epoch, "train/w_mse": lastLoss, "lr": rate, "samples_per_second": samplesPerSecond])
                if info.step % s.logEveryNSteps == 0 || info.step == totalSteps {
                    let remaining = Double(totalSteps - info.step) * seconds / Double(info.step - startStep)
                    let line = String(format: "epoch %d  step %d/%d  train/w_mse %.4f  lr %.2e  %.1f samples/s  ETA %.0f s", info.epoch, info.step,
                                      totalSteps, lastLoss, rate, samplesPerSecond, remaining)
                    if interactive { print("\r" + line, terminator: ""); fflush(nil) } else { log(line) }
                }
                if s.valCheckInterval > 0 && info.step % s.valCheckInterval == 0 {
                    if interactive { print("") }
                    if try validate() { stoppedEarly = true; break training }
                }
                if info.step >= totalSteps { break }
            }
            if info.batchesInEpoch >= batches.count { info.epoch += 1; info.batchesInEpoch = 0 }
            if s.valCheckInterval == 0 || info.step >= totalSteps {
                if interactive { print("") }
                if s.valCheckInterval == 0 || info.step % s.valCheckInterval != 0 {
                    if try validate() { stoppedEarly = true; break training }
                }
            }
        }
        if interactive { print("") }
        if stoppedEarly { log("early stopping: val/w_rmse did not improve for \(s.patience) validations") }

        // Test with the best checkpoint, as upstream's trainer.test(ckpt_path="best").
        var test: [String: Double] = [:]
        let testDirectory = root + "/test"
        if FileManager.default.fileExists(atPath: testDirectory) {
            try groups.world.barrier()
            // A fresh, whole model (under ZeRO stage 3 the trained one holds only shards).
            let tested = ClimaX(s.net)
            try tested.loadStateDict(try Checkpoint.read(from: FileManager.default.fileExists(atPath: bestPath) ? bestPath : lastPath).parameters)
            let testData = try ForecastDataset(directory: testDirectory, variables: s.variables, outVariables: s.outVariables, leadHours: lead)
            let batches = testData.batches(epoch: 0, batchSize: s.batchSize, shuffle: false, rank: rank, ranks: ranks, dropLast: false)
            let scores = try ForecastEvaluation.evaluate(tested, data: testData, batches: batches, region: region, combine: sumOverRanks)
            test = scores.logEntries(split: "test", leadHours: lead, variables: s.outVariables)
            record(test.merging(["step": Double(info.step)]) { a, _ in a })
            log(Self.testTable(scores, variables: s.outVariables, leadHours: lead, samples: testData.pairs.count))
            if isPrimary {
                let data = try JSONSerialization.data(withJSONObject: test, options: [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes])
                try data.write(to: URL(fileURLWithPath: runDirectory + "/test_scores.json"), options: .atomic)
            }
        }
        return ClimaXRunSummary(steps: info.step, stoppedEarly: stoppedEarly, bestValidation: info.bestScore, checkpoint: bestPath,
                                metrics: metricsPath, test: test)
    }

    /// The test table: model, persistence and climatology per variable, RMSE in both conventions and ACC.
    public static func testTable(_ scores: ForecastScores, variables: [String], leadHours: Int, samples: Int) -> String {
        var lines = ["test split, \(samples) forecasts at \(leadHours) h; latitude-weighted RMSE (ClimaX per-sample mean | WeatherBench global) and ACC:",
                     "variable                     model                          persistence                    climatology"]
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

/// A run's metrics.jsonl, shared by the training recipes: one JSON object per line, written by one
/// rank. A fresh run starts the file; a resumed one keeps it and drops entries of steps after the
/// resume point (written before a kill, redone after the resume).
final class MetricsFile {
    private let handle: FileHandle?

    /// - Parameter writes: false on ranks that do not write (every call is then a no-op).
    init(path: String, resumingAfter step: Int, writes: Bool) throws {
        guard writes else { handle = nil; return }
        if step > 0 { try Self.truncate(path, after: step) }
        if step == 0 || !FileManager.default.fileExists(atPath: path) {
            guard FileManager.default.createFile(atPath: path, contents: nil) else {
                throw RecipeError(file: path, message: "cannot create the metrics file")
            }
        }
        handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        try handle?.seekToEnd()
    }

    deinit { try? handle?.close() }

    func record(_ fields: [String: Any]) {
        if let handle, let data = try? JSONSerialization.data(withJSONObject: fields, options: [.sortedKeys, .withoutEscapingSlashes]) {
            handle.write(data + Data("\n".utf8))
        }
    }

    static func truncate(_ path: String, after step: Int) throws {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return }
        let kept = text.split(separator: "\n").filter { line in
            guard let data = line.data(using: .utf8), let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
                  let lineStep = (object["step"] as? NSNumber)?.doubleValue else { return true }
            return lineStep <= Double(step)
        }
        try (kept.joined(separator: "\n") + (kept.isEmpty ? "" : "\n")).write(toFile: path, atomically: true, encoding: .utf8)
    }
}
