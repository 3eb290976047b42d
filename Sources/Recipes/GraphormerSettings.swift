// The Graphormer recipe (`scizoo graphormer-train`, `graphormer-predict`): keys follow fairseq's
// graph_prediction task and Graphormer's model arguments (arch, encoder_layers, encoder_embed_dim,
// lr, end_learning_rate, warmup_updates, total_num_update, clip_norm, …), grouped in data, model,
// task and trainer sections. Unknown keys name their line and the closest key; Docs/domains/sfm.md
// lists every key with its default.
import Foundation
import MolecularGraphs
import TensorIO

public struct GraphormerSettings: Sendable {
    // data
    /// A CSV with a `smiles` column and the target column, or an SD file with the target as a data item.
    public var dataPath = ""
    public var target = "homolumogap"
    /// A column (or SD item) naming each molecule's split (train / valid / test); else a seeded 80/10/10.
    public var splitColumn: String? = "split"
    public var batchSize = 64
    public var maxNodes = 128
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
        try data.finish()
        if var model = try r.section("model") { try s.readModel(&model) }
        if var task = try r.section("task") {
            s.loss = try task.string("loss", oneOf: ["l1", "cross_entropy"]) ?? s.loss
            s.learningRate = try task.double("lr") ?? s.learningRate
            guard s.learningRate > 0 else { throw task.problem("lr", "must be positive, got \(s.learningRate)") }
            s.endLearningRate = try task.double("end_learning_rate") ?? s.endLearningRate
            s.warmupUpdates = try task.int("warmup_updates", minimum: 0) ?? s.warmupUpdates
            s.totalNumUpdate = try task.int("total_num_update", minimum: 0) ?? s.totalNumUpdate
            s.power = try task.double("power") ?? s.power
            if let betas = try task.strings("adam_betas") {
                guard betas.count == 2, let b1 = Double(betas[0]), let b2 = Double(betas[1]) else { throw task.problem("adam_betas", "expects two numbers, e.g. [0.9, 0.999]") }
                (s.beta1, s.beta2) = (b1, b2)
            }
            s.epsilon = try task.double("adam_eps") ?? s.epsilon
            s.weightDecay = try task.double("weight_decay") ?? s.weightDecay
            s.clipNorm = try task.double("clip_norm") ?? s.clipNorm
            try task.finish()
        }
        if var trainer = try r.section("trainer") {
            s.maxEpochs = try trainer.int("max_epoch", minimum: 1) ?? s.maxEpochs
            s.maxSteps = try trainer.int("max_update", minimum: 0) ?? s.maxSteps
            s.validateIntervalUpdates = try trainer.int("validate_interval_updates", minimum: 0) ?? s.validateIntervalUpdates
            s.patience = try trainer.int("patience", minimum: 0) ?? s.patience
            s.logInterval = try trainer.int("log_interval", minimum: 1) ?? s.logInterval
            try trainer.finish()
        }
        try r.finish()
        return s
    }

    /// The model section: `arch`, then upstream's overrides.
    public mutating func readModel(_ section: inout RecipeSection) throws {
        arch = try section.string("arch", oneOf: ["graphormer_slim", "graphormer_base", "graphormer_large"]) ?? arch
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
        guard model.embeddingDim % model.heads == 0 else {
            throw section.problem("encoder_attention_heads", "must divide encoder_embed_dim \(model.embeddingDim), got \(model.heads)")
        }
        try section.finish()
    }

    public func resolve(_ path: String) -> String {
        path.hasPrefix("/") ? path : URL(fileURLWithPath: baseDirectory).appendingPathComponent(path).path
    }
}
