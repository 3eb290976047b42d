// ClimaX fine-tuning settings: the LightningCLI YAML of upstream's configs/global_forecast_climax.yaml
// (sections seed_everything, trainer, model with net.init_args, data), read as written.
import ClimateForecasting
import Foundation
import TensorIO

public struct ClimaXSettings: Sendable, RecipePaths {
    public var seed: UInt64 = 42
    // trainer
    public var maxEpochs = 100
    public var maxSteps = -1
    /// Optimiser steps between validations (0: once per epoch).
    public var valCheckInterval = 0
    public var limitValBatches = Int.max
    public var logEveryNSteps = 50
    public var defaultRootDir: String?
    public var patience = 5
    /// ZeRO from Lightning's `trainer.strategy` (deepspeed_stage_1, _2, _2_offload, _3, _3_offload;
    /// offload puts Adam's state, and at stage 3 the parameters' master shards, in host memory).
    public var zeroStage = 0
    public var offloadOptimizer = false
    public var offloadParameters = false
    /// Stage 3: parameters with fewer elements stay whole on every rank (DeepSpeed's default 100,000).
    public var paramPersistenceThreshold: Int?
    // model
    public var learningRate = 5e-4
    public var beta1 = 0.9, beta2 = 0.99
    public var weightDecay = 1e-5
    public var warmupSteps = 10_000
    public var scheduleSteps = 100_000
    public var warmupStartLR = 1e-8
    public var etaMin = 1e-8
    public var pretrainedPath: String?
    public var net = ClimaXConfiguration.released
    // data
    public var rootDir: String
    public var variables: [String]
    public var outVariables: [String]
    public var predictRange = 72
    public var hoursEachStep = 1
    public var bufferSize = 10_000
    public var batchSize = 128
    public var region: String?
    /// Downscaling (`data.coarsen_inputs`): time-varying inputs seen as this grid coarsened by the
    /// factor and interpolated back; the targets are the fine fields at the same time (predict_range 0).
    public var coarsenInputs: Int?

    public var ignoredKeys: [String] = []
    public var baseDirectory = "."
    /// The recipe as JSON text, stored in checkpoints.
    public var json = "{}"

    public init(rootDir: String, variables: [String], outVariables: [String]) {
        self.rootDir = rootDir
        self.variables = variables
        self.outVariables = outVariables
    }

    /// Lead time in hours (predict_range steps of hrs_each_step hours).
    public var leadHours: Int { predictRange * hoursEachStep }

    /// Trainer keys that change what Lightning does on a GPU cluster but nothing here; reported once.
    static let inertTrainerKeys = ["logger", "devices", "accelerator", "precision", "num_nodes", "min_epochs", "enable_progress_bar",
                                   "sync_batchnorm", "enable_checkpointing", "benchmark", "deterministic", "resume_from_checkpoint",
                                   "fast_dev_run", "gradient_clip_val"]
    /// EarlyStopping's arguments besides monitor, mode and patience (Lightning's defaults apply).
    static let earlyStoppingKeys = ["min_delta", "verbose", "strict", "check_finite", "stopping_threshold", "divergence_threshold",
                                    "check_on_train_epoch_end", "log_rank_zero_only"]

    /// Reads a ClimaX fine-tuning YAML (LightningCLI's sections seed_everything, trainer, model, data):
    /// an unknown key fails naming its line and the closest known key, a value of the wrong type
    /// naming the type expected.
    public static func load(from path: String) throws -> ClimaXSettings {
        var top = try RecipeSection.load(path, expecting: "the sections seed_everything, trainer, model and data")
        var trainer = try top.section("trainer"), model = try top.section("model")
        guard var data = try top.section("data") else { throw FileError(file: path, key: "key 'data'", message: "is required") }
        var net = try model?.section("net")
        var netArgs = try net?.section("init_args")
        _ = try net?.string("class_path")
        guard let root = try data.string("root_dir") else { throw data.problem("root_dir", "is required") }
        let variables = try data.strings("variables") ?? ClimateVariables.defaultVariables
        let outVariables = try data.strings("out_variables") ?? variables
        var s = ClimaXSettings(rootDir: root, variables: variables.map(ClimateVariables.canonical),
                               outVariables: outVariables.map(ClimateVariables.canonical))
        s.baseDirectory = URL(fileURLWithPath: path).deletingLastPathComponent().path
        if let seed = try top.int("seed_everything", minimum: 0) { s.seed = UInt64(seed) }
        if var t = trainer {
            try readTrainer(&t, into: &s, monitor: "val/w_rmse")
            trainer = t
        }
        if var m = model {
            try readOptimiser(&m, into: &s)
            try m.finish()
        }
        var configuration = ClimaXConfiguration.released
        if var args = netArgs {
            configuration.defaultVariables = try args.strings("default_vars")?.map(ClimateVariables.canonical) ?? configuration.defaultVariables
            try readArchitecture(&args, into: &configuration)
            if try args.bool("parallel_patch_embed") != nil { s.ignoredKeys.append("model.net.init_args.parallel_patch_embed (always the grouped form)") }
            try args.finish()
            netArgs = args
        }
        try net?.finish()
        let problems = configuration.problems()
        guard problems.isEmpty else { throw FileError(file: path, key: "model.net.init_args", message: problems.joined(separator: "; ")) }
        s.net = configuration
        // Checked as the recipe spells them, so the error repeats the user's names.
        for (key, names) in [("variables", variables), ("out_variables", outVariables)] {
            if case .failure(let error) = configuration.variableIndices(names) { throw data.problem(key, "\(error)") }
        }
        s.coarsenInputs = try data.int("coarsen_inputs", minimum: 2)
        s.predictRange = try data.int("predict_range", minimum: 0) ?? s.predictRange
        if s.predictRange == 0 && s.coarsenInputs == nil {
            throw data.problem("predict_range", "is 0, which only downscaling (data.coarsen_inputs) uses; a forecast needs a lead of 1 step or more")
        }
        s.hoursEachStep = try data.int("hrs_each_step", minimum: 1) ?? s.hoursEachStep
        s.bufferSize = try data.int("buffer_size", minimum: 1) ?? s.bufferSize
        s.batchSize = try data.int("batch_size", minimum: 1) ?? s.batchSize
        s.region = try data.string("region").flatMap { $0 == "Global" ? nil : $0 }
        if let region = s.region, ClimateRegions.boundaries[region] == nil {
            throw data.problem("region", "'\(region)' is not one of \(ClimateRegions.boundaries.keys.sorted().joined(separator: ", ")), Global")
        }
        if let workers = try data.int("num_workers", minimum: 0), workers > 1 { s.ignoredKeys.append("data.num_workers (shards are read once into memory)") }
        _ = try data.bool("pin_memory")
        try data.finish()
        try top.finish()
        s.json = top.json
        return s
    }

    /// `model.net.init_args`' architecture keys, shared by ClimaX and its ClimateBench form.
    static func readArchitecture(_ args: inout RecipeSection, into configuration: inout ClimaXConfiguration) throws {
        if let size = try args.ints("img_size") {
            guard size.count == 2 else { throw args.error("img_size", expected: "[H, W]") }
            configuration.imageSize = size
        }
        configuration.patchSize = try args.int("patch_size", minimum: 1) ?? configuration.patchSize
        configuration.embedDim = try args.int("embed_dim", minimum: 1) ?? configuration.embedDim
        configuration.depth = try args.int("depth", minimum: 0) ?? configuration.depth
        configuration.decoderDepth = try args.int("decoder_depth", minimum: 0) ?? configuration.decoderDepth
        configuration.numHeads = try args.int("num_heads", minimum: 1) ?? configuration.numHeads
        configuration.mlpRatio = try args.double("mlp_ratio") ?? configuration.mlpRatio
        configuration.dropPath = try args.double("drop_path") ?? configuration.dropPath
        configuration.dropRate = try args.double("drop_rate") ?? configuration.dropRate
    }

    /// LightningCLI's `trainer` section: steps, validation, logging, the run folder, the strategy and
    /// EarlyStopping on `monitor` (the score validation computes).
    static func readTrainer(_ t: inout RecipeSection, into s: inout ClimaXSettings, monitor: String) throws {
        s.maxEpochs = try t.int("max_epochs", minimum: 1) ?? s.maxEpochs
        s.maxSteps = try t.int("max_steps") ?? s.maxSteps
        s.valCheckInterval = try t.int("val_check_interval", minimum: 0) ?? s.valCheckInterval
        s.limitValBatches = try t.int("limit_val_batches", minimum: 1) ?? s.limitValBatches
        s.logEveryNSteps = try t.int("log_every_n_steps", minimum: 1) ?? s.logEveryNSteps
        s.defaultRootDir = try t.string("default_root_dir")
        try readStrategy(&t, into: &s)
        try readCallbacks(&t, into: &s, monitor: monitor)
        s.ignoredKeys += inertTrainerKeys.filter { t.value($0) != nil }.map { "trainer.\($0)" }
        try t.finish()
    }

    /// The `model` section's optimiser and schedule keys (AdamW, linear warm-up, cosine) and pretrained_path.
    static func readOptimiser(_ m: inout RecipeSection, into s: inout ClimaXSettings) throws {
        s.learningRate = try m.double("lr") ?? s.learningRate
        s.beta1 = try m.double("beta_1") ?? s.beta1
        s.beta2 = try m.double("beta_2") ?? s.beta2
        s.weightDecay = try m.double("weight_decay") ?? s.weightDecay
        s.warmupSteps = try m.int("warmup_epochs", minimum: 0) ?? s.warmupSteps
        s.scheduleSteps = try m.int("max_epochs", minimum: 1) ?? s.scheduleSteps
        s.warmupStartLR = try m.double("warmup_start_lr") ?? s.warmupStartLR
        s.etaMin = try m.double("eta_min") ?? s.etaMin
        s.pretrainedPath = try m.string("pretrained_path").flatMap { $0.isEmpty ? nil : $0 }
    }

    /// Lightning's `trainer.strategy`: a name (deepspeed_stage_2, …) or DeepSpeedStrategy's mapping.
    private static func readStrategy(_ trainer: inout RecipeSection, into s: inout ClimaXSettings) throws {
        if var strategy = try? trainer.section("strategy") {
            // Lightning's long form: {class_path: …DeepSpeedStrategy, init_args: {stage, offload_optimizer, …}}.
            guard try strategy.string("class_path")?.hasSuffix("DeepSpeedStrategy") == true else {
                throw strategy.problem("class_path", "must name DeepSpeedStrategy (or give trainer.strategy a strategy name)")
            }
            var args = try strategy.section("init_args")
            s.zeroStage = try args?.int("stage", minimum: 0) ?? 2
            guard s.zeroStage <= 3 else { throw args!.error("stage", expected: "0, 1, 2 or 3") }
            s.offloadOptimizer = try args?.bool("offload_optimizer") ?? false
            s.offloadParameters = try args?.bool("offload_parameters") ?? false
            if s.offloadParameters && s.zeroStage != 3 { throw args!.problem("offload_parameters", "needs stage 3") }
            s.paramPersistenceThreshold = try args?.int("param_persistence_threshold", minimum: 0)
            try args?.finish()
            try strategy.finish()
            return
        }
        switch try trainer.string("strategy") ?? "auto" {
        case "auto", "ddp", "ddp_spawn", "ddp_find_unused_parameters_false", "ddp_find_unused_parameters_true", "dp", "single_device":
            s.zeroStage = 0
        case "deepspeed_stage_1": s.zeroStage = 1
        case "deepspeed", "deepspeed_stage_2": s.zeroStage = 2
        case "deepspeed_stage_2_offload": (s.zeroStage, s.offloadOptimizer) = (2, true)
        case "deepspeed_stage_3": s.zeroStage = 3
        case "deepspeed_stage_3_offload": (s.zeroStage, s.offloadOptimizer, s.offloadParameters) = (3, true, true)
        case let other:
            throw trainer.problem("strategy", "'\(other)' is not one of auto, ddp, deepspeed_stage_1, deepspeed_stage_2, deepspeed_stage_2_offload, "
                                  + "deepspeed_stage_3, deepspeed_stage_3_offload (or Lightning's DeepSpeedStrategy mapping)")
        }
    }

    /// `trainer.callbacks`: EarlyStopping sets the patience (on `expected`, minimised); the others
    /// (checkpointing, progress bars, learning-rate monitors) are Lightning's concern, reported as unused.
    private static func readCallbacks(_ trainer: inout RecipeSection, into s: inout ClimaXSettings, monitor expected: String) throws {
        for var callback in try trainer.sections("callbacks") ?? [] {
            let name = try callback.string("class_path") ?? ""
            guard var args = try callback.section("init_args") else { try callback.finish(); continue }
            if name.hasSuffix("EarlyStopping") {
                if let monitor = try args.string("monitor"), monitor != expected { throw args.problem("monitor", "must be \(expected), the score validation computes") }
                _ = try args.string("mode", oneOf: ["min"])
                s.patience = try args.int("patience", minimum: 1) ?? s.patience
                args.accept(earlyStoppingKeys)
            } else {
                args.accept(args.keys)
                s.ignoredKeys.append("\(callback.path) (\(name.split(separator: ".").last.map(String.init) ?? name))")
            }
            try args.finish()
            try callback.finish()
        }
    }
}
