// The Graphormer recipe (`scizoo graphormer-train`, `graphormer-predict`): keys follow fairseq's
// graph_prediction task and Graphormer's model arguments (arch, encoder_layers, encoder_embed_dim,
// lr, end_learning_rate, warmup_updates, total_num_update, clip_norm, …), grouped in data, model,
// task and trainer sections. Unknown keys name their line and the closest key; Docs/domains/sfm.md
// lists every key with its default.
import Foundation
import MolecularGraphs
import ParallelRuntime
import TensorIO

public struct GraphormerSettings: Sendable, RecipePaths {
    // data
    /// A CSV with a `smiles` column and the target column, or an SD file with the target as a data item.
    public var dataPath = ""
    public var target = "homolumogap"
    /// A column (or SD item) naming each molecule's split (train / valid / test); else a seeded 80/10/10.
    public var splitColumn: String? = "split"
    public var batchSize = 64
    public var maxNodes = 128
    /// Transformer-M: give validation and test molecules their positions too (off: they are seen as
    /// graphs, as PCQM4Mv2's valid and test molecules are, which come without structures).
    public var evaluateWithPositions = false
    // model
    public var arch = "graphormer_slim"
    public var model = GraphormerConfiguration.architecture("graphormer_slim")!
    // task
    public var loss = "l1"
    public var learningRate = 2e-4
    public var endLearningRate = 1e-9
    public var warmupUpdates = 0
    /// Updates the polynomial decay spans (0: the run's total steps).
    public var totalNumUpdate = 0
    public var power = 1.0
    public var beta1 = 0.9, beta2 = 0.999, epsilon = 1e-8, weightDecay = 0.0
    public var clipNorm = 5.0
    // trainer
    public var maxEpochs = 100
    public var maxSteps = 0
    /// Validate every this many updates (0: every epoch).
    public var validateIntervalUpdates = 0
    public var patience = 0
    public var logInterval = 10
    public var seed: UInt64 = 1
    public var baseDirectory = "."
    public var json = "{}"

    public init() {}

    public static func load(from path: String) throws -> GraphormerSettings {
        var r = try RecipeSection.load(path, expecting: "a Graphormer recipe (sections data, model, task, trainer)")
        var s = GraphormerSettings()
        s.baseDirectory = URL(fileURLWithPath: path).deletingLastPathComponent().path
        s.json = r.json
        s.seed = UInt64(try r.int("seed", minimum: 0) ?? 1)
        guard var data = try r.section("data") else { throw r.problem("data", "is required (data.path names the molecules)") }
        guard let dataPath = try data.string("path") else { throw data.problem("path", "is required: a .csv with a smiles column or an .sdf") }
        s.dataPath = dataPath
        s.target = try data.string("target") ?? s.target
        if data.contains("split_column") { s.splitColumn = try data.string("split_column") }
        s.batchSize = try data.int("batch_size", minimum: 1) ?? s.batchSize
        s.maxNodes = try data.int("max_nodes", minimum: 1) ?? s.maxNodes
        s.evaluateWithPositions = try data.bool("evaluate_with_positions") ?? s.evaluateWithPositions
        try data.finish()
        if var model = try r.section("model") { try s.readModel(&model) }
        if var task = try r.section("task") { try s.readTask(&task) }
        if var trainer = try r.section("trainer") { try s.readTrainer(&trainer) }
        try r.finish()
        return s
    }

    /// The task section: loss, fairseq's polynomial_decay and Adam.
    public mutating func readTask(_ task: inout RecipeSection) throws {
        loss = try task.string("loss", oneOf: ["l1", "cross_entropy"]) ?? loss
        learningRate = try task.double("lr") ?? learningRate
        guard learningRate > 0 else { throw task.problem("lr", "must be positive, got \(learningRate)") }
        endLearningRate = try task.double("end_learning_rate") ?? endLearningRate
        warmupUpdates = try task.int("warmup_updates", minimum: 0) ?? warmupUpdates
        totalNumUpdate = try task.int("total_num_update", minimum: 0) ?? totalNumUpdate
        power = try task.double("power") ?? power
        if let betas = try task.strings("adam_betas") {
            guard betas.count == 2, let b1 = Double(betas[0]), let b2 = Double(betas[1]) else { throw task.problem("adam_betas", "expects two numbers, e.g. [0.9, 0.999]") }
            (beta1, beta2) = (b1, b2)
        }
        epsilon = try task.double("adam_eps") ?? epsilon
        weightDecay = try task.double("weight_decay") ?? weightDecay
        clipNorm = try task.double("clip_norm") ?? clipNorm
        try task.finish()
    }

    /// The trainer section: epochs, updates, validation interval, patience, logging.
    public mutating func readTrainer(_ trainer: inout RecipeSection) throws {
        maxEpochs = try trainer.int("max_epoch", minimum: 1) ?? maxEpochs
        maxSteps = try trainer.int("max_update", minimum: 0) ?? maxSteps
        validateIntervalUpdates = try trainer.int("validate_interval_updates", minimum: 0) ?? validateIntervalUpdates
        patience = try trainer.int("patience", minimum: 0) ?? patience
        logInterval = try trainer.int("log_interval", minimum: 1) ?? logInterval
        try trainer.finish()
    }

    /// The model section: `arch`, then upstream's overrides.
    public mutating func readModel(_ section: inout RecipeSection) throws {
        arch = try section.string("arch", oneOf: ["graphormer_slim", "graphormer_base", "graphormer_large",
                                                  "transformer_m_l12", "transformer_m_l18"]) ?? arch
        model = GraphormerConfiguration.architecture(arch)!
        model.layers = try section.int("encoder_layers", minimum: 1) ?? model.layers
        model.embeddingDim = try section.int("encoder_embed_dim", minimum: 1) ?? model.embeddingDim
        model.ffnDim = try section.int("encoder_ffn_embed_dim", minimum: 1) ?? model.ffnDim
        model.heads = try section.int("encoder_attention_heads", minimum: 1) ?? model.heads
        model.dropout = try section.double("dropout") ?? model.dropout
        model.activationDropout = try section.double("act_dropout") ?? model.activationDropout
        model.preLayerNorm = try section.bool("pre_layernorm") ?? model.preLayerNorm
        model.multiHopMaxDist = try section.int("multi_hop_max_dist", minimum: 1) ?? model.multiHopMaxDist
        model.spatialPosMax = try section.int("spatial_pos_max", minimum: 1) ?? model.spatialPosMax
        model.classes = try section.int("num_classes", minimum: 1) ?? model.classes
        // Transformer-M's keys.
        model.add3D = try section.bool("add_3d") ?? model.add3D
        model.no2D = try section.bool("no_2d") ?? model.no2D
        model.gaussianKernels = try section.int("num_3d_bias_kernel", minimum: 1) ?? model.gaussianKernels
        model.noiseScale = try section.double("noise_scale") ?? model.noiseScale
        model.dropPath = try section.double("droppath_prob") ?? model.dropPath
        model.equivariantAtomHead = try section.bool("equivariant_atom_head") ?? model.equivariantAtomHead
        guard (0..<1).contains(model.dropPath) else { throw section.problem("droppath_prob", "must be in [0, 1), got \(model.dropPath)") }
        if let text = try section.string("mode_prob") {
            // Upstream falls back to 0.2,0.2,0.6 without a word when the string is malformed.
            let p = text.split(separator: ",").map { Double($0.trimmingCharacters(in: .whitespaces)) }
            guard p.count == 3, p.allSatisfy({ $0 != nil && $0! >= 0 }), abs(p.reduce(0) { $0 + $1! } - 1) < 1e-9 else {
                throw section.problem("mode_prob", "expects three probabilities for 2D+3D, 2D and 3D summing to 1, e.g. \"0.2,0.2,0.6\"; got '\(text)'")
            }
            model.modeProbabilities = p.map { $0! }
        }
        if model.no2D && !model.add3D { throw section.problem("no_2d", "leaves no channel without add_3d: true") }
        guard model.embeddingDim % model.heads == 0 else {
            throw section.problem("encoder_attention_heads", "must divide encoder_embed_dim \(model.embeddingDim), got \(model.heads)")
        }
        try section.finish()
    }

    /// The run fairseq's keys ask for at `perEpoch` steps per epoch: Adam, clipping, validation and
    /// checkpoints after each validation, patience; `description` gets the total step count.
    func plan(perEpoch: Int, runDirectory: String, monitor: String, throughput: (key: String, unit: String),
              description: (Int) -> String) -> TrainingPlan {
        let total = maxSteps > 0 ? Swift.min(maxSteps, maxEpochs * perEpoch) : maxEpochs * perEpoch
        let adam = AdamSettings(learningRate: learningRate, beta1: beta1, beta2: beta2, epsilon: epsilon, weightDecay: weightDecay)
        var plan = TrainingPlan(totalSteps: total, adam: adam, validateEvery: validateIntervalUpdates,
                                checkpointDirectory: runDirectory + "/checkpoints", logEvery: logInterval, description: description(total))
        (plan.maxEpochs, plan.checkpointAfterValidation, plan.patience) = (maxEpochs, true, patience > 0 ? patience : nil)
        (plan.lossKey, plan.monitorKey, plan.gradientClipping) = ("train/loss", monitor, clipNorm)
        (plan.throughputKey, plan.throughputUnit) = throughput
        return plan
    }

    /// fairseq's polynomial_decay at `step` of a run of `runSteps` steps.
    func learningRate(at step: Int, runSteps: Int) -> Double {
        polynomialDecay(step: step, peak: learningRate, end: endLearningRate, warmup: warmupUpdates,
                        total: totalNumUpdate > 0 ? totalNumUpdate : runSteps, power: power)
    }
}
