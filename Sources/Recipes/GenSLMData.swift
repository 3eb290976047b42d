// What a GenSLM training run reads, checked against the recipe before any work: the model
// configuration, the tokenizer, the tokenised splits and the weights to start from.
import Foundation
import GenomeLM
import NeuralNetworks
import ParallelRuntime
import TensorCore
import TensorIO

struct GenSLMData {
    /// Micro-batch per rank and micro-batches per step: the recipe's, or the DeepSpeed config's batch triple.
    private(set) var batchSize: Int, accumulation: Int
    let configuration: GPTNeoXConfiguration
    let train: GenomeBatchReader
    let validation: GenomeBatchReader?

    init(settings s: GenSLMSettings, log: (String) -> Void) throws {
        (batchSize, accumulation) = (s.batchSize, s.accumulateGradBatches)
        configuration = try GPTNeoXConfiguration.load(from: s.resolve(s.modelConfigJSON))
        let tokenizer = try s.tokenizerFile.map { try CodonTokenizer.load(from: s.resolve($0)) } ?? .standard
        guard tokenizer.vocabularySize <= configuration.vocabSize else {
            throw FileError(file: s.resolve(s.modelConfigJSON),
                            message: "vocab_size \(configuration.vocabSize) is smaller than the tokenizer's \(tokenizer.vocabularySize) tokens")
        }
        train = try GenomeBatchReader(path: s.resolve(s.trainFile))
        validation = try s.valFile.map { try GenomeBatchReader(path: s.resolve($0)) }
        // Files fasta-to-h5 wrote name the tokenizer that made them: training on ids of another
        // vocabulary would learn nonsense without an error anywhere.
        for reader in [train] + (validation.map { [$0] } ?? []) where reader.file.hasAttribute("tokenizer_fingerprint") {
            guard try reader.file.attribute("tokenizer_fingerprint").stringValue == tokenizer.fingerprint else {
                let made = (try? reader.file.attribute("tokenizer"))?.stringValue ?? "another tokenizer"
                throw FileError(file: reader.file.path, message: "was tokenised with \(made), not with this recipe's \(tokenizer.name) "
                                + "(tokenizer_file); tokenise again with scizoo fasta-to-h5 --tokenizer, or set tokenizer_file to the one used")
            }
        }
        guard train.blockSize >= s.blockSize else {
            throw FileError(file: s.resolve(s.trainFile), message: "rows hold \(train.blockSize) tokens, fewer than block_size \(s.blockSize)")
        }
        guard s.blockSize <= configuration.maxPositionEmbeddings else {
            throw FileError(file: s.resolve(s.modelConfigJSON),
                              message: "block_size \(s.blockSize) exceeds max_position_embeddings \(configuration.maxPositionEmbeddings)")
        }
        if let initial = s.loadCheckpoint, !initial.hasSuffix(".safetensors") {
            throw FileError(file: s.resolve(initial), message: "load_pt_checkpoint: SciZoo reads Hugging Face .safetensors weights, "
                              + "not PyTorch pickles; convert with safetensors.torch.save_file(state_dict, 'model.safetensors')")
        }
        if !s.ignoredKeys.isEmpty { log("note: accepted but not used on this runtime: \(s.ignoredKeys.joined(separator: ", "))") }
    }

    /// ZeRO settings and gradient clipping from deepspeed_cfg_file (DeepSpeed's JSON) or GenSLM's
    /// deepspeed_stage / offload keys; the DeepSpeed batch triple replaces batch_size and
    /// accumulate_grad_batches.
    /// With them, whether the config asks for activation checkpointing, a sequence-length curriculum
    /// and 1-bit Adam (its freeze_step).
    mutating func optimization(settings s: GenSLMSettings, dataParallelSize: Int, log: (String) -> Void) throws -> GenSLMOptimization {
        guard let file = s.deepSpeedConfigFile else { return GenSLMOptimization(zero: s.zero, clipping: s.gradientClipValue) }
        let deepSpeed = try DeepSpeedConfig.load(path: s.resolve(file), dataParallelSize: dataParallelSize)
        var zero = deepSpeed.zero
        zero.memoryBudget = deepSpeed.zero.memoryBudget ?? s.zero.memoryBudget
        (batchSize, accumulation) = (deepSpeed.microBatchPerRank, deepSpeed.gradientAccumulationSteps)
        var notes = deepSpeed.warnings
        // Keys GenSLM's trainer takes from its recipe or command line instead: said, not silently dropped.
        if deepSpeed.schedulerType != nil {
            notes.append("scheduler has no effect here: GenSLM's recipe schedule (lr_cosine_with_warmup, warm_up_lr or lr_plateau) sets the learning rate")
        }
        if deepSpeed.stepsPerPrint != nil { notes.append("steps_per_print has no effect here: the recipe's log_every_n_steps sets logging") }
        if deepSpeed.sequenceParallelSize != nil || deepSpeed.dataParallelSize != nil {
            notes.append("sequence_parallel_size and data_parallel_size have no effect here: give them in the recipe or as --sequence-parallel-size / --data-parallel-size")
        }
        for note in notes { log("note: \(s.resolve(file)): \(note)") }
        log("DeepSpeed config \(s.resolve(file)): \(deepSpeed.effectiveDescription)")
        if let curriculum = deepSpeed.curriculum, curriculum.maxDifficulty > s.blockSize {
            throw FileError(file: s.resolve(file), key: "key 'curriculum_learning.max_difficulty'",
                            message: "\(curriculum.maxDifficulty) exceeds the recipe's block_size \(s.blockSize)")
        }
        return GenSLMOptimization(zero: zero, clipping: deepSpeed.gradientClipping > 0 ? deepSpeed.gradientClipping : s.gradientClipValue,
                                  checkpointing: deepSpeed.activationCheckpointing, curriculum: deepSpeed.curriculum,
                                  oneBitFreezeStep: deepSpeed.oneBitFreezeStep, bf16: deepSpeed.precision == "bf16",
                                  adam: deepSpeed.optimizerType.map { _ in
                                      AdamSettings(learningRate: deepSpeed.learningRate, beta1: deepSpeed.betas.0, beta2: deepSpeed.betas.1,
                                                   epsilon: deepSpeed.epsilon, weightDecay: deepSpeed.weightDecay,
                                                   decoupled: deepSpeed.decoupledWeightDecay)
                                  })
    }

    /// Training sequences used and optimiser steps. batch_size is per rank (as in GenSLM's Lightning
    /// runs): a step consumes batch × accumulation × DP samples.
    func schedule(settings s: GenSLMSettings, dataParallelSize: Int) throws -> (examples: Int, steps: Int) {
        let examples = s.smallSubset > 0 ? Swift.min(s.smallSubset, train.count) : train.count
        guard examples / dataParallelSize >= batchSize else {
            throw FileError(file: s.resolve(s.trainFile),
                            message: "\(examples) sequences make no batch of \(batchSize) on each of \(dataParallelSize) data-parallel rank(s)")
        }
        let stepsPerEpoch = Swift.max(1, examples / (batchSize * accumulation * dataParallelSize))
        return (examples, s.maxSteps > 0 ? s.maxSteps : s.epochs * stepsPerEpoch)
    }

    /// The model: seeded alike on every rank, split over the sequence-parallel group, from load_pt_checkpoint when given.
    /// `partitioned` (ZeRO stage 3 from random weights) builds it as rules, so that each rank makes only its own shards.
    func model(settings s: GenSLMSettings, groups: ProcessGroups, partitioned: Bool, log: (String) -> Void) throws -> GPTNeoXForCausalLM {
        let seed = RankSeeds(base: s.randomSeed).model
        let model = partitioned && s.loadCheckpoint == nil
            ? Parameter.deferringValues { GPTNeoXForCausalLM(configuration, seed: seed) } : GPTNeoXForCausalLM(configuration, seed: seed)
        if groups.world.size > 1 { try model.enableSequenceParallelism(groups.sequenceParallel) }
        if let initial = s.loadCheckpoint {
            try model.loadHuggingFace(try Safetensors.read(from: s.resolve(initial)).tensors)
            log("initial weights from \(s.resolve(initial))")
        }
        return model
    }

    /// The line that opens the run.
    func describe(_ model: GPTNeoXForCausalLM, settings s: GenSLMSettings, examples: Int, totalSteps: Int, groups: ProcessGroups,
                  stage: Int) -> String {
        "GPT-NeoX \(configuration.numHiddenLayers) layers × \(configuration.hiddenSize), \(model.parameterCount) parameters; \(examples) "
            + "training sequences of \(s.blockSize) tokens; \(totalSteps) steps of \(batchSize) × \(accumulation) × "
            + "\(groups.dataParallelSize) data-parallel rank(s), sequences split over \(groups.sequenceParallelSize); ZeRO stage \(stage)"
    }

    /// The validation batches: consecutive rows, limit_val_batches of them.
    static func validationBatches(_ reader: GenomeBatchReader, settings s: GenSLMSettings) -> [[Int]] {
        stride(from: 0, to: reader.count, by: s.batchSize).prefix(s.limitValBatches).map { Array($0..<Swift.min(reader.count, $0 + s.batchSize)) }
    }

    /// Token ids and attention mask of `indices`, cut to `blockSize` tokens.
    static func rows(_ reader: GenomeBatchReader, _ indices: [Int], blockSize: Int) throws -> (Tensor, Tensor) {
        let batch = try reader.batch(indices)
        guard reader.blockSize > blockSize else { return batch }
        return (batch.inputIDs.sliced(axis: 1, 0, blockSize).contiguous(), batch.attentionMask.sliced(axis: 1, 0, blockSize).contiguous())
    }
}

extension GenSLMSettings {
    /// The learning rate at `step`: GenSLM's warm_up_lr or lr_cosine_with_warmup schedule, or the plateau scheduler's rate.
    func learningRate(at step: Int, totalSteps: Int, plateau: ReduceLROnPlateau?) -> Double {
        if let warm = warmUpLR {
            return WarmupLR(minimum: warm.minLR, maximum: learningRate, warmupSteps: warm.numSteps, type: .linear).learningRate(at: step)
        }
        if let cosine = cosineWithWarmup {
            return CosineWithWarmup(baseRate: learningRate, warmupSteps: cosine.numWarmupSteps, totalSteps: totalSteps,
                                    cycles: cosine.numCycles).learningRate(at: step)
        }
        return plateau?.rate ?? learningRate
    }
}

/// What GenSLM's DeepSpeed config (or its recipe keys) asks of the optimiser and the loop.
struct GenSLMOptimization {
    var zero: ZeROSettings
    var clipping: Double
    var checkpointing = false
    var curriculum: CurriculumSchedule?
    var oneBitFreezeStep: Int?
    /// `bf16: {enabled: true}`: bf16 matrix products.
    var bf16 = false
    /// The DeepSpeed config's optimizer block (type, lr, betas, eps, weight_decay), when it has one.
    var adam: AdamSettings?
}
