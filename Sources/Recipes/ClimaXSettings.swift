// ClimaX fine-tuning settings: the LightningCLI YAML of upstream's configs/global_forecast_climax.yaml
// (sections seed_everything, trainer, model with net.init_args, data), read as written.
import ClimateForecasting
import Foundation
import Yams

public struct ClimaXSettings: Sendable {
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

    static let trainerKeys = ["default_root_dir", "max_epochs", "max_steps", "val_check_interval", "limit_val_batches",
                              "log_every_n_steps", "callbacks", "logger", "devices", "accelerator", "strategy", "precision",
                              "num_nodes", "min_epochs", "enable_progress_bar", "sync_batchnorm", "enable_checkpointing",
                              "resume_from_checkpoint", "fast_dev_run", "benchmark", "deterministic", "gradient_clip_val"]
    static let inertTrainerKeys: Set<String> = ["logger", "devices", "accelerator", "precision", "num_nodes", "min_epochs",
                                                "enable_progress_bar", "sync_batchnorm", "enable_checkpointing", "benchmark",
                                                "deterministic", "resume_from_checkpoint", "fast_dev_run", "gradient_clip_val"]
    static let modelKeys = ["lr", "beta_1", "beta_2", "weight_decay", "warmup_epochs", "max_epochs", "warmup_start_lr", "eta_min",
                            "pretrained_path", "net"]
    static let netKeys = ["default_vars", "img_size", "patch_size", "embed_dim", "depth", "decoder_depth", "num_heads", "mlp_ratio",
                          "drop_path", "drop_rate", "parallel_patch_embed"]
    static let dataKeys = ["root_dir", "variables", "out_variables", "predict_range", "hrs_each_step", "buffer_size", "batch_size",
                           "num_workers", "pin_memory", "region"]

    /// Reads a ClimaX fine-tuning YAML; unknown keys fail naming the closest known key.
    public static func load(from path: String) throws -> ClimaXSettings {
        let text: String
        do { text = try String(contentsOfFile: path, encoding: .utf8) } catch {
            throw RecipeError(file: path, message: "cannot read the recipe (\(error.localizedDescription))")
        }
        let parsed: Any?
        do { parsed = try Yams.load(yaml: text) } catch { throw RecipeError(file: path, message: "not valid YAML: \(error)") }
        guard let top = parsed as? [String: Any] else {
            throw RecipeError(file: path, message: "expected the sections seed_everything, trainer, model and data")
        }
        try checkKeys(Array(top.keys), known: ["seed_everything", "trainer", "model", "data"], file: path)
        func section(_ values: [String: Any], _ key: String, _ known: [String], name: String) throws -> [String: Any] {
            guard let value = values[key], !(value is NSNull) else { return [:] }
            guard let mapping = value as? [String: Any] else { throw RecipeError(file: path, message: "'\(name)' must be a mapping") }
            try checkKeys(Array(mapping.keys), known: known, file: path, section: name)
            return mapping
        }
        let trainer = try section(top, "trainer", trainerKeys, name: "trainer")
        let model = try section(top, "model", modelKeys, name: "model")
        let data = try section(top, "data", dataKeys, name: "data")
        var netArgs: [String: Any] = [:]
        if let net = model["net"] as? [String: Any] {
            try checkKeys(Array(net.keys), known: ["class_path", "init_args"], file: path, section: "model.net")
            netArgs = try section(net, "init_args", netKeys, name: "model.net.init_args")
        }
        func value<T>(_ values: [String: Any], _ key: String, _ name: String, _ expected: String, _ convert: (Any) -> T?) throws -> T? {
            guard let raw = values[key], !(raw is NSNull) else { return nil }
            guard let converted = convert(raw) else { throw RecipeError(file: path, message: "key '\(name).\(key)' must be \(expected), got \(raw)") }
            return converted
        }
        func int(_ values: [String: Any], _ key: String, _ name: String) throws -> Int? {
            try value(values, key, name, "an integer") { $0 as? Int }
        }
        func double(_ values: [String: Any], _ key: String, _ name: String) throws -> Double? {
            try value(values, key, name, "a number") { ($0 as? Double) ?? ($0 as? Int).map(Double.init) ?? ($0 as? String).flatMap(Double.init) }
        }
        func string(_ values: [String: Any], _ key: String, _ name: String) throws -> String? {
            try value(values, key, name, "a string") { $0 as? String }
        }
        func strings(_ values: [String: Any], _ key: String, _ name: String) throws -> [String]? {
            try value(values, key, name, "a list of names") { $0 as? [String] }
        }
        guard let root = try string(data, "root_dir", "data") else { throw RecipeError(file: path, message: "missing required key 'data.root_dir'") }
        let variables = try strings(data, "variables", "data") ?? ClimateVariables.defaultVariables
        let outVariables = try strings(data, "out_variables", "data") ?? variables
        var s = ClimaXSettings(rootDir: root, variables: variables.map(ClimateVariables.canonical),
                               outVariables: outVariables.map(ClimateVariables.canonical))
        s.baseDirectory = URL(fileURLWithPath: path).deletingLastPathComponent().path
        if let seed = try value(top, "seed_everything", "seed_everything" , "an integer", { $0 as? Int }) { s.seed = UInt64(max(0, seed)) }
        s.maxEpochs = try int(trainer, "max_epochs", "trainer") ?? s.maxEpochs
        s.maxSteps = try int(trainer, "max_steps", "trainer") ?? s.maxSteps
        s.valCheckInterval = try int(trainer, "val_check_interval", "trainer") ?? s.valCheckInterval
        s.limitValBatches = try int(trainer, "limit_val_batches", "trainer") ?? s.limitValBatches
        s.logEveryNSteps = try int(trainer, "log_every_n_steps", "trainer") ?? s.logEveryNSteps
        s.defaultRootDir = try string(trainer, "default_root_dir", "trainer")
        if let strategy = trainer["strategy"] as? [String: Any] {
            // Lightning's long form: {class_path: …DeepSpeedStrategy, init_args: {stage, offload_optimizer, …}}.
            try checkKeys(Array(strategy.keys), known: ["class_path", "init_args"], file: path, section: "trainer.strategy")
            guard (strategy["class_path"] as? String)?.hasSuffix("DeepSpeedStrategy") == true else {
                throw RecipeError(file: path, message: "trainer.strategy.class_path must name DeepSpeedStrategy (or give a strategy name)")
            }
            let args = try section(strategy, "init_args", ["stage", "offload_optimizer", "offload_parameters", "param_persistence_threshold"],
                                   name: "trainer.strategy.init_args")
            s.zeroStage = try int(args, "stage", "trainer.strategy.init_args") ?? 2
            guard (0...3).contains(s.zeroStage) else { throw RecipeError(file: path, message: "trainer.strategy.init_args.stage must be 0–3") }
            s.offloadOptimizer = (args["offload_optimizer"] as? Bool) ?? false
            s.offloadParameters = (args["offload_parameters"] as? Bool) ?? false
            if s.offloadParameters && s.zeroStage != 3 {
                throw RecipeError(file: path, message: "trainer.strategy.init_args.offload_parameters needs stage 3")
            }
            s.paramPersistenceThreshold = try int(args, "param_persistence_threshold", "trainer.strategy.init_args")
        } else {
        switch try string(trainer, "strategy", "trainer") ?? "auto" {
        case "auto", "ddp", "ddp_spawn", "ddp_find_unused_parameters_false", "ddp_find_unused_parameters_true", "dp", "single_device":
            s.zeroStage = 0
        case "deepspeed_stage_1": s.zeroStage = 1
        case "deepspeed", "deepspeed_stage_2": s.zeroStage = 2
        case "deepspeed_stage_2_offload": (s.zeroStage, s.offloadOptimizer) = (2, true)
        case "deepspeed_stage_3": s.zeroStage = 3
        case "deepspeed_stage_3_offload": (s.zeroStage, s.offloadOptimizer, s.offloadParameters) = (3, true, true)
        case let other:
            throw RecipeError(file: path, message: "trainer.strategy '\(other)' is not one of auto, ddp, deepspeed_stage_1, deepspeed_stage_2, "
                              + "deepspeed_stage_2_offload, deepspeed_stage_3, deepspeed_stage_3_offload (or Lightning's DeepSpeedStrategy mapping)")
        }
        }
        if let callbacks = trainer["callbacks"] as? [[String: Any]] {
            for callback in callbacks where (callback["class_path"] as? String)?.hasSuffix("EarlyStopping") == true {
                if let args = callback["init_args"] as? [String: Any], let patience = args["patience"] as? Int { s.patience = patience }
            }
        }
        s.learningRate = try double(model, "lr", "model") ?? s.learningRate
        s.beta1 = try double(model, "beta_1", "model") ?? s.beta1
        s.beta2 = try double(model, "beta_2", "model") ?? s.beta2
        s.weightDecay = try double(model, "weight_decay", "model") ?? s.weightDecay
        s.warmupSteps = try int(model, "warmup_epochs", "model") ?? s.warmupSteps
        s.scheduleSteps = try int(model, "max_epochs", "model") ?? s.scheduleSteps
        s.warmupStartLR = try double(model, "warmup_start_lr", "model") ?? s.warmupStartLR
        s.etaMin = try double(model, "eta_min", "model") ?? s.etaMin
        s.pretrainedPath = try string(model, "pretrained_path", "model").flatMap { $0.isEmpty ? nil : $0 }
        var net = ClimaXConfiguration.released
        net.defaultVariables = try strings(netArgs, "default_vars", "model.net.init_args")?.map(ClimateVariables.canonical) ?? net.defaultVariables
        net.imageSize = try value(netArgs, "img_size", "model.net.init_args", "[H, W]") { $0 as? [Int] } ?? net.imageSize
        net.patchSize = try int(netArgs, "patch_size", "model.net.init_args") ?? net.patchSize
        net.embedDim = try int(netArgs, "embed_dim", "model.net.init_args") ?? net.embedDim
        net.depth = try int(netArgs, "depth", "model.net.init_args") ?? net.depth
        net.decoderDepth = try int(netArgs, "decoder_depth", "model.net.init_args") ?? net.decoderDepth
        net.numHeads = try int(netArgs, "num_heads", "model.net.init_args") ?? net.numHeads
        net.mlpRatio = try double(netArgs, "mlp_ratio", "model.net.init_args") ?? net.mlpRatio
        net.dropPath = try double(netArgs, "drop_path", "model.net.init_args") ?? net.dropPath
        net.dropRate = try double(netArgs, "drop_rate", "model.net.init_args") ?? net.dropRate
        let problems = net.problems()
        guard problems.isEmpty else { throw RecipeError(file: path, message: "model.net.init_args: " + problems.joined(separator: "; ")) }
        s.net = net
        // Checked as the recipe spells them, so the error repeats the user's names.
        for names in [variables, outVariables] {
            if case .failure(let error) = net.variableIndices(names) { throw RecipeError(file: path, message: "data: \(error)") }
        }
        s.predictRange = try int(data, "predict_range", "data") ?? s.predictRange
        s.hoursEachStep = try int(data, "hrs_each_step", "data") ?? s.hoursEachStep
        s.bufferSize = try int(data, "buffer_size", "data") ?? s.bufferSize
        s.batchSize = try int(data, "batch_size", "data") ?? s.batchSize
        s.region = try string(data, "region", "data").flatMap { $0 == "Global" ? nil : $0 }
        if let region = s.region, ClimateRegions.boundaries[region] == nil {
            throw RecipeError(file: path, message: "data.region '\(region)' is not one of \(ClimateRegions.boundaries.keys.sorted().joined(separator: ", ")), Global")
        }
        for (key, number) in [("data.batch_size", s.batchSize), ("data.predict_range", s.predictRange), ("data.hrs_each_step", s.hoursEachStep),
                              ("trainer.max_epochs", s.maxEpochs), ("trainer.log_every_n_steps", s.logEveryNSteps)] where number < 1 {
            throw RecipeError(file: path, message: "key '\(key)' must be at least 1, got \(number)")
        }
        if let workers = data["num_workers"] as? Int, workers > 1 { s.ignoredKeys.append("data.num_workers (shards are read once into memory)") }
        s.ignoredKeys += trainer.keys.filter { inertTrainerKeys.contains($0) }.sorted().map { "trainer.\($0)" }
        if netArgs["parallel_patch_embed"] != nil { s.ignoredKeys.append("model.net.init_args.parallel_patch_embed (always the grouped form)") }
        if let data = try? JSONSerialization.data(withJSONObject: top, options: [.sortedKeys, .withoutEscapingSlashes]) {
            s.json = String(decoding: data, as: UTF8.self)
        }
        return s
    }

    /// A recipe path resolved against the recipe's folder.
    public func resolve(_ path: String) -> String {
        path.hasPrefix("/") ? path : URL(fileURLWithPath: baseDirectory).appendingPathComponent(path).standardized.path
    }
}
