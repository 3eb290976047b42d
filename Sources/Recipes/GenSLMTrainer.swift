// The GenSLM training run: GPT-NeoX on tokenised HDF5 data with Adam/AdamW, schedules, clipping,
// accumulation, validation, atomic checkpoints with resume, metrics.jsonl and a loss curve.
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
    public let settings: GenSLMSettings
    public let runDirectory: String
    /// The job's process groups under mpirun (nil: one process).
    public let groups: ProcessGroups?
    let log: (String) -> Void
    /// Whether this rank writes progress lines.
    let showsProgress: Bool

    /// - Parameters: `groups` for data and sequence parallelism: every rank trains its DP shard of
    ///   each batch, SP ranks split each sequence, gradients are averaged over DP; rank 0 writes
    ///   metrics, the loss curve and checkpoints.
    public init(settings: GenSLMSettings, runDirectory: String, groups: ProcessGroups? = nil, showsProgress: Bool = true,
                log: @escaping (String) -> Void = { print($0) }) {
        self.settings = settings
        self.runDirectory = runDirectory
        self.groups = groups
        self.showsProgress = showsProgress
        self.log = log
    }

    public func run(resume: Bool = false) throws -> GenSLMRunSummary {
        let s = settings
        let configuration = try GPTNeoXConfiguration.load(from: s.resolve(s.modelConfigJSON))
        if let tokenizerFile = s.tokenizerFile {
            let tokenizer = try CodonTokenizer.load(from: s.resolve(tokenizerFile))
            guard tokenizer.vocabularySize <= configuration.vocabSize else {
                throw RecipeError(file: s.resolve(s.modelConfigJSON),
                                  message: "vocab_size \(configuration.vocabSize) is smaller than the tokenizer's \(tokenizer.vocabularySize) tokens")
            }
        }
        let train = try GenomeBatchReader(path: s.resolve(s.trainFile))
        let validation = try s.valFile.map { try GenomeBatchReader(path: s.resolve($0)) }
        guard train.blockSize >= s.blockSize else {
            throw RecipeError(file: s.resolve(s.trainFile), message: "rows hold \(train.blockSize) tokens, fewer than block_size \(s.blockSize)")
        }
        guard s.blockSize <= configuration.maxPositionEmbeddings else {
            throw RecipeError(file: s.resolve(s.modelConfigJSON),
                              message: "block_size \(s.blockSize) exceeds max_position_embeddings \(configuration.maxPositionEmbeddings)")
        }
        if !s.ignoredKeys.isEmpty { log("note: accepted but not used on this runtime: \(s.ignoredKeys.joined(separator: ", "))") }

        let groups = try self.groups ?? ProcessGroups(world: InProcessWorld.single())
        let isPrimary = groups.world.rank == 0
        let dataParallelSize = groups.dataParallelSize, dataParallelRank = groups.dataParallelRank
        // ZeRO from deepspeed_cfg_file (DeepSpeed's JSON) or GenSLM's deepspeed_stage / offload keys; stage 0 otherwise.
        var zeroSettings = s.zero
        var batchSize = s.batchSize, accumulation = s.accumulateGradBatches, clipping = s.gradientClipValue
        if let file = s.deepSpeedConfigFile {
            let deepSpeed = try DeepSpeedConfig.load(path: s.resolve(file), dataParallelSize: dataParallelSize)
            zeroSettings = deepSpeed.zero
            zeroSettings.memoryBudget = deepSpeed.zero.memoryBudget ?? s.zero.memoryBudget
            // The batch triple of the DeepSpeed config replaces batch_size / accumulate_grad_batches.
            (batchSize, accumulation) = (deepSpeed.microBatchPerRank, deepSpeed.gradientAccumulationSteps)
            if deepSpeed.gradientClipping > 0 { clipping = deepSpeed.gradientClipping }
            for warning in deepSpeed.warnings { log("note: \(s.resolve(file)): \(warning)") }
            log("DeepSpeed config \(s.resolve(file)): \(deepSpeed.effectiveDescription)")
        }
        let examples = s.smallSubset > 0 ? Swift.min(s.smallSubset, train.count) : train.count
        // batch_size is per rank (as in GenSLM's Lightning runs): a step consumes batch × accumulation × DP samples.
        let batchesPerEpoch = Swift.max(1, examples / (batchSize * accumulation * dataParallelSize))
        // Micro-batches one rank reads per epoch (the sampler's shard, in whole batches).
        let microBatchesPerEpoch = Swift.max(1, (examples / dataParallelSize) / batchSize)
        let totalSteps = s.maxSteps > 0 ? s.maxSteps : s.epochs * batchesPerEpoch
        let model = GPTNeoXForCausalLM(configuration, seed: RankSeeds(base: s.randomSeed).model)
        let parameters = model.namedParameters()
        if groups.world.size > 1 {
            try DataParallel.broadcastParameters(parameters, over: groups.world)
            try model.enableSequenceParallelism(groups.sequenceParallel)
        }
        func loss(_ ids: Tensor, _ mask: Tensor) throws -> Tensor {
            model.sequenceParallelGroup == nil
                ? model.loss(ids, attentionMask: mask, includePadding: s.lossIncludesPadding)
                : try model.sequenceParallelLoss(ids, attentionMask: mask, includePadding: s.lossIncludesPadding)
        }
        /// Sums over the data-parallel ranks (SP ranks of a group already agree).
        func sumOverDataParallel(_ values: [Double]) throws -> [Double] {
            guard groups.dataParallelSize > 1 else { return values }
            return try groups.dataParallel.allReduce(values, .sum)
        }
        /// Targets the loss counts in a batch (the same on every SP rank of a group).
        func labelledTokens(_ mask: Tensor) -> Double {
            let (b, length) = (mask.shape[0], mask.shape[1])
            return s.lossIncludesPadding ? Double(b * (length - 1))
                : Double(mask.sliced(axis: 1, 1).contiguous().scalars(as: Int64.self).reduce(0, +))
        }
        let plateau = s.plateau.map { ReduceLROnPlateau(rate: s.learningRate, factor: $0.factor, patience: $0.patience, threshold: $0.threshold) }
        func rate(at step: Int) -> Double {
            if let warm = s.warmUpLR {
                return WarmupLR(minimum: warm.minLR, maximum: s.learningRate, warmupSteps: warm.numSteps, type: .linear).learningRate(at: step)
            }
            if let cosine = s.cosineWithWarmup {
                return CosineWithWarmup(baseRate: s.learningRate, warmupSteps: cosine.numWarmupSteps, totalSteps: totalSteps,
                                        cycles: cosine.numCycles).learningRate(at: step)
            }
            return plateau?.rate ?? s.learningRate
        }

        let checkpointDirectory = resolveOutput(s.checkpointDir)
        if isPrimary {
            try FileManager.default.createDirectory(atPath: checkpointDirectory, withIntermediateDirectories: true)
            try FileManager.default.createDirectory(atPath: runDirectory, withIntermediateDirectories: true)
        }
        let checkpointPath = checkpointDirectory + "/last.h5"
        let zeroDirectory = checkpointDirectory + "/zero"
        if let initial = s.loadCheckpoint {
            guard initial.hasSuffix(".safetensors") else {
                throw RecipeError(file: s.resolve(initial), message: "load_pt_checkpoint: SciZoo reads Hugging Face .safetensors weights, "
                                  + "not PyTorch pickles; convert with safetensors.torch.save_file(state_dict, 'model.safetensors')")
            }
            try model.loadHuggingFace(try Safetensors.read(from: s.resolve(initial)).tensors)
            log("initial weights from \(s.resolve(initial))")
        }
        // Resuming from a consolidated checkpoint: values before the optimiser partitions them.
        var startStep = 0
        let resumeFromShards = resume && ZeROCheckpoint.latestTag(in: zeroDirectory) != nil
        var consolidated: Checkpoint?
        if resume && !resumeFromShards, FileManager.default.fileExists(atPath: checkpointPath) {
            let checkpoint = try Checkpoint.read(from: checkpointPath)
            try model.loadStateDict(checkpoint.parameters)
            consolidated = checkpoint
        }
        let optimizer = try ZeROOptimizer(parameters, settings: zeroSettings,
                                          adam: AdamSettings(learningRate: s.learningRate, weightDecay: s.weightDecay,
                                                             decoupled: s.optimizer == "adamw"),
                                          groups: groups, gradientClipping: clipping)
        model.parameterHooks = optimizer.hooks
        if resumeFromShards {
            startStep = try ZeROCheckpoint.load(optimizer, directory: zeroDirectory).step
            log("resumed from \(zeroDirectory)/\(ZeROCheckpoint.latestTag(in: zeroDirectory)!) at step \(startStep)")
        } else if let consolidated {
            try ZeROCheckpoint.load(optimizer, consolidated: consolidated, file: checkpointPath)
            startStep = consolidated.step
            log("resumed from \(checkpointPath) at step \(startStep)")
        }
        log(optimizer.memoryReport().description)
        let metricsPath = runDirectory + "/metrics.jsonl"
        let metrics = try MetricsFile(path: metricsPath, resumingAfter: startStep, writes: isPrimary)
        func record(_ fields: [String: Any]) { metrics.record(fields) }

        log("GPT-NeoX \(configuration.numHiddenLayers) layers × \(configuration.hiddenSize), \(model.parameterCount) parameters; "
            + "\(examples) training sequences of \(s.blockSize) tokens; \(totalSteps) steps of \(batchSize) × \(accumulation)"
            + " × \(groups.dataParallelSize) data-parallel rank(s), sequences split over \(groups.sequenceParallelSize); ZeRO stage \(zeroSettings.stage)")
        var trainLosses: [(Int, Double)] = [], validationLosses: [(Int, Double)] = []
        var lastValidation: Double?
        var lastLoss = Double.nan
        var tokens = 0
        let clock = ContinuousClock(), start = clock.now
        // One rewritten progress line on a terminal; under mpirun (whose output may look like a terminal) plain lines.
        let interactive = isatty(1) != 0 && showsProgress && self.groups == nil
        func rows(_ reader: GenomeBatchReader, _ indices: [Int]) throws -> (Tensor, Tensor) {
            let batch = try reader.batch(indices)
            guard reader.blockSize > s.blockSize else { return batch }
            return (batch.inputIDs.sliced(axis: 1, 0, s.blockSize).contiguous(), batch.attentionMask.sliced(axis: 1, 0, s.blockSize).contiguous())
        }
        func validate(step: Int) throws -> Double? {
            guard let validation else { return nil }
            // Batch j goes to data-parallel rank j mod DP; the sums meet at the end.
            let batches = stride(from: 0, to: validation.count, by: s.batchSize).prefix(s.limitValBatches)
                .map { Array($0..<Swift.min(validation.count, $0 + s.batchSize)) }
            var total = 0.0, count = 0.0
            for (index, batch) in batches.enumerated() where index % dataParallelSize == dataParallelRank {
                let (ids, mask) = try rows(validation, batch)
                total += try withNoGrad { try loss(ids, mask).item() }
                count += 1
            }
            let sums = try sumOverDataParallel([total, count])
            let loss = sums[0] / Swift.max(1, sums[1])
            // Perplexity of the real-token loss (upstream logs exp of the loss cast to an integer, a bug).
            record(["step": step, "val/loss": loss, "val/ppl": exp(loss)])
            validationLosses.append((step, loss))
            plateau?.step(metric: loss)
            return loss
        }
        func saveCheckpoint(step: Int) throws {
            // Every rank writes its shard; `latest` follows once all have. Rank 0 then streams them
            // into last.h5 (what generate and embed read) and keeps the two newest tags.
            try ZeROCheckpoint.save(optimizer, directory: zeroDirectory, tag: "global_step\(step)", step: step, client: s.json)
            if isPrimary {
                _ = try ZeROCheckpoint.consolidate(directory: zeroDirectory, output: checkpointPath)
                ZeROCheckpoint.removeOldTags(in: zeroDirectory, keeping: 2)
            }
            try groups.world.barrier()
        }

        // Where the data stood at startStep: micro-batches consumed so far, by epoch and position.
        let consumed = startStep * accumulation
        var epoch = consumed / microBatchesPerEpoch
        let sampler = { (epoch: Int) in
            DistributedSampler(count: examples, seed: s.randomSeed, dataParallelRank: dataParallelRank,
                               dataParallelSize: dataParallelSize).indices(epoch: epoch)
        }
        var order: [Int] = startStep > 0 ? sampler(epoch) : []
        var cursor = startStep > 0 ? (consumed % microBatchesPerEpoch) * batchSize : 0
        if startStep > 0 { epoch += 1 }
        for step in startStep..<totalSteps {
            optimizer.adam.learningRate = rate(at: step)
            model.zeroGrad()
            var stepLoss = 0.0, stepTokens = 0.0
            for _ in 0..<accumulation {
                if cursor + batchSize > order.count {
                    order = sampler(epoch)
                    epoch += 1
                    cursor = 0
                }
                let (ids, mask) = try rows(train, Array(order[cursor..<(cursor + batchSize)]))
                cursor += batchSize
                let microLoss = try loss(ids, mask)
                // Weighted by this rank's share of the labelled tokens, so that averaging gradients over
                // DP gives the loss of the combined batch (upstream averages per-rank means instead).
                let labelled = labelledTokens(mask)
                let total = try sumOverDataParallel([labelled])[0]
                let weight = total > 0 ? labelled * Double(dataParallelSize) / total : 1
                try (microLoss * (weight / Double(accumulation))).backward()
                stepLoss += microLoss.item() * weight / Double(accumulation)
                stepTokens += Double(mask.scalars(as: Int64.self).reduce(0, +))
            }
            let sums = try sumOverDataParallel([stepLoss, stepTokens])
            stepLoss = sums[0] / Double(dataParallelSize)
            tokens += Int(sums[1])
            try optimizer.step()
            lastLoss = stepLoss
            trainLosses.append((step + 1, stepLoss))
            let elapsed = clock.now - start
            let seconds = elapsed.inSeconds
            let rateTokens = Double(tokens) / Swift.max(seconds, 1e-9)
            record(["step": step + 1, "train/loss": stepLoss, "lr": optimizer.adam.learningRate, "tokens_per_second": rateTokens])
            if (step + 1) % s.logEveryNSteps == 0 || step + 1 == totalSteps {
                let remaining = Double(totalSteps - step - 1) * seconds / Double(step + 1 - startStep)
                let line = String(format: "step %d/%d  loss %.4f  lr %.2e  %.0f tok/s  ETA %.0f s", step + 1, totalSteps, stepLoss,
                                  optimizer.adam.learningRate, rateTokens, remaining)
                if interactive { print("\r" + line, terminator: ""); fflush(nil) } else { log(line) }
            }
            if (step + 1) % s.valCheckInterval == 0, let loss = try validate(step: step + 1) {
                lastValidation = loss
                if interactive { print("") }
                log(String(format: "step %d  val/loss %.4f  val/ppl %.3f", step + 1, loss, exp(loss)))
            }
            if (step + 1) % s.checkpointEveryNTrainSteps == 0 { try saveCheckpoint(step: step + 1) }
        }
        if interactive { print("") }
        if totalSteps % s.valCheckInterval != 0, let loss = try validate(step: totalSteps) {
            lastValidation = loss
            log(String(format: "final  val/loss %.4f  val/ppl %.3f", loss, exp(loss)))
        }
        try saveCheckpoint(step: totalSteps)
        let elapsed = clock.now - start
        let seconds = elapsed.inSeconds
        let curve = runDirectory + "/loss.svg"
        if isPrimary {
            try LossCurve.svg(train: trainLosses, validation: validationLosses).write(toFile: curve, atomically: true, encoding: .utf8)
        }
        return GenSLMRunSummary(steps: totalSteps, finalTrainLoss: lastLoss, finalValidationLoss: lastValidation,
                                tokensPerSecond: Double(tokens) / Swift.max(seconds, 1e-9), checkpoint: checkpointPath,
                                metrics: metricsPath, lossCurve: curve)
    }

    private func resolveOutput(_ path: String) -> String {
        path.hasPrefix("/") ? path : runDirectory + "/" + path
    }
}

/// A loss curve as a self-contained SVG (train in blue, validation in orange).
enum LossCurve {
    static func svg(train: [(Int, Double)], validation: [(Int, Double)]) -> String {
        let width = 640.0, height = 400.0, margin = 50.0
        let all = train + validation
        let maxStep = Double(all.map(\.0).max() ?? 1), minStep = Double(all.map(\.0).min() ?? 0)
        let finite = all.map(\.1).filter(\.isFinite)
        let top = finite.max() ?? 1, bottom = Swift.min(finite.min() ?? 0, top - 1e-9)
        func x(_ step: Int) -> Double { margin + (Double(step) - minStep) / Swift.max(1, maxStep - minStep) * (width - 2 * margin) }
        func y(_ loss: Double) -> Double { height - margin - (loss - bottom) / (top - bottom) * (height - 2 * margin) }
        func path(_ points: [(Int, Double)]) -> String {
            points.filter { $0.1.isFinite }.map { String(format: "%.1f,%.1f", x($0.0), y($0.1)) }.joined(separator: " ")
        }
        return """
            <svg xmlns="http://www.w3.org/2000/svg" width="\(Int(width))" height="\(Int(height))" font-family="sans-serif" font-size="12">
            <rect width="100%" height="100%" fill="white"/>
            <line x1="\(margin)" y1="\(height - margin)" x2="\(width - margin)" y2="\(height - margin)" stroke="black"/>
            <line x1="\(margin)" y1="\(margin)" x2="\(margin)" y2="\(height - margin)" stroke="black"/>
            <text x="\(width / 2)" y="\(height - 12)" text-anchor="middle">step</text>
            <text x="14" y="\(height / 2)" transform="rotate(-90 14 \(height / 2))" text-anchor="middle">loss</text>
            <text x="\(margin - 4)" y="\(margin + 4)" text-anchor="end">\(String(format: "%.3g", top))</text>
            <text x="\(margin - 4)" y="\(height - margin)" text-anchor="end">\(String(format: "%.3g", bottom))</text>
            <polyline fill="none" stroke="#1f77b4" stroke-width="1.5" points="\(path(train))"/>
            <polyline fill="none" stroke="#ff7f0e" stroke-width="2" points="\(path(validation))"/>
            <text x="\(width - margin)" y="\(margin)" text-anchor="end" fill="#1f77b4">train</text>
            <text x="\(width - margin)" y="\(margin + 16)" text-anchor="end" fill="#ff7f0e">validation</text>
            </svg>

            """
    }
}

/// A trained model ready for generation or embeddings, found from its recipe and run folder.
public struct GenSLMTrainedModel {
    public let model: GPTNeoXForCausalLM
    public let tokenizer: CodonTokenizer
    public let blockSize: Int
    public let checkpoint: String

    /// Loads `checkpoint` (default: the run's checkpoint_dir/last.h5) into the recipe's model.
    public static func load(settings: GenSLMSettings, runDirectory: String, checkpoint: String? = nil) throws -> GenSLMTrainedModel {
        let configuration = try GPTNeoXConfiguration.load(from: settings.resolve(settings.modelConfigJSON))
        let tokenizer = try settings.tokenizerFile.map { try CodonTokenizer.load(from: settings.resolve($0)) } ?? .standard
        let directory = settings.checkpointDir.hasPrefix("/") ? settings.checkpointDir : runDirectory + "/" + settings.checkpointDir
        let path = checkpoint ?? directory + "/last.h5"
        guard FileManager.default.fileExists(atPath: path) else {
            throw RecipeError(file: path, message: "no checkpoint here; train first (scizoo genslm-train) or pass --checkpoint")
        }
        let model = GPTNeoXForCausalLM(configuration)
        try model.loadStateDict(try Checkpoint.read(from: path).parameters)
        return GenSLMTrainedModel(model: model, tokenizer: tokenizer, blockSize: settings.blockSize, checkpoint: path)
    }
}
