// GenSLM training settings: the YAML keys of GenSLM's `ModelSettings` (genslm/config.py), so the
// published training YAMLs read as written, plus a few of SciZoo's own keys (marked below).
import Foundation
import ParallelRuntime
import Yams

public struct GenSLMSettings: Sendable {
    // Data and model.
    public var trainFile: String
    public var valFile: String?
    public var testFile: String?
    public var tokenizerFile: String?
    public var modelConfigJSON: String
    public var blockSize = 512
    public var batchSize = 8
    public var epochs = 5
    public var maxSteps = -1
    public var randomSeed: UInt64 = 0
    public var smallSubset = 0
    // Optimisation.
    public var learningRate = 5e-5
    public var gradientClipValue = 0.0
    public var accumulateGradBatches = 1
    public var warmUpLR: (minLR: Double, numSteps: Int)?
    public var cosineWithWarmup: (numWarmupSteps: Int, numCycles: Double)?
    public var plateau: (factor: Double, patience: Int, threshold: Double)?
    // Cadence and outputs.
    public var checkpointDir = "checkpoints"
    public var checkpointEveryNTrainSteps = 500
    public var valCheckInterval = 500
    public var limitValBatches = 32
    public var logEveryNSteps = 50
    // SciZoo's own keys.
    /// "adam" (GenSLM's FusedAdam) or "adamw".
    public var optimizer = "adam"
    public var weightDecay = 0.0
    /// Upstream computes the loss with labels = input_ids, padding included; false predicts real tokens only.
    public var lossIncludesPadding = false
    /// GenSLM's `load_pt_checkpoint`: initial weights. SciZoo reads Hugging Face safetensors here.
    public var loadCheckpoint: String?
    /// DeepSpeed's names: ranks that split each sequence (Ulysses) and ranks that split the batch;
    /// either may be omitted (derived from the job's size under mpirun).
    public var sequenceParallelSize: Int?
    public var dataParallelSize: Int?
    /// ZeRO from GenSLM's deepspeed_stage, offload_parameters, offload_optimizer, offload_device and
    /// nvme_path (stage 0 when deepspeed_stage is absent: upstream's default of 3 gives the same
    /// numbers, at a cost one process on a laptop does not need).
    public var zero = ZeROSettings()
    /// GenSLM's deepspeed_cfg_file (unused upstream): a DeepSpeed JSON whose zero_optimization,
    /// batch triple and gradient_clipping apply.
    public var deepSpeedConfigFile: String?

    /// Every key of GenSLM's ModelSettings.
    static let upstreamKeys = [
        "wandb_active", "wandb_project_name", "wandb_entity_name", "wandb_model_tag", "checkpoint_dir", "load_pt_checkpoint",
        "load_ds_checkpoint", "node_local_path", "num_nodes", "compute_throughput", "profiling_path", "enable_perplexity",
        "log_every_n_steps", "val_check_interval", "limit_val_batches", "check_val_every_n_epoch",
        "checkpoint_every_n_train_steps", "checkpoint_every_n_epochs", "deepspeed_flops_profile", "tokenizer_file",
        "train_file", "val_file", "test_file", "kmer_size", "small_subset", "enable_blast", "blast_validation_file",
        "num_blast_seqs_per_gpu", "blast_exe_path", "random_seed", "model_config_json", "batch_size", "epochs", "max_steps",
        "gradient_clip_value", "block_size", "accumulate_grad_batches", "learning_rate", "precision", "warm_up_lr",
        "lr_plateau", "lr_cosine_with_warmup", "deepspeed_cfg_file", "deepspeed_stage", "offload_parameters",
        "offload_optimizer", "offload_device", "nvme_path", "partition_activations", "num_test_seqs_per_gpu",
        "custom_seq_name", "num_data_workers", "prefetch_factor", "pin_memory", "persistent_workers",
    ]
    static let ownKeys = ["optimizer", "weight_decay", "loss_includes_padding", "sequence_parallel_size", "data_parallel_size",
                          "memory_budget_mib"]
    /// Keys that change what upstream does on a GPU cluster but have no effect here; reported once.
    static let inertKeys: Set<String> = [
        "wandb_active", "wandb_project_name", "wandb_entity_name", "wandb_model_tag", "node_local_path", "num_nodes",
        "compute_throughput", "profiling_path", "enable_perplexity", "check_val_every_n_epoch", "checkpoint_every_n_epochs",
        "deepspeed_flops_profile", "kmer_size", "enable_blast", "blast_validation_file", "num_blast_seqs_per_gpu",
        "blast_exe_path", "precision", "partition_activations", "num_test_seqs_per_gpu", "custom_seq_name",
        "num_data_workers", "prefetch_factor", "pin_memory", "persistent_workers", "load_ds_checkpoint",
    ]

    /// Keys present in the file that SciZoo accepts but does not act on (one warning line).
    public var ignoredKeys: [String] = []
    /// The file's folder: relative paths in the recipe are relative to it.
    public var baseDirectory = "."
    /// The recipe as JSON text, stored in checkpoints.
    public var json = "{}"

    public init(trainFile: String, modelConfigJSON: String) {
        self.trainFile = trainFile
        self.modelConfigJSON = modelConfigJSON
    }

    /// Reads a GenSLM YAML file; unknown keys fail naming the closest known key.
    public static func load(from path: String) throws -> GenSLMSettings {
        let text: String
        do { text = try String(contentsOfFile: path, encoding: .utf8) } catch {
            throw RecipeError(file: path, message: "cannot read the recipe (\(error.localizedDescription))")
        }
        let parsed: Any?
        do { parsed = try Yams.load(yaml: text) } catch {
            throw RecipeError(file: path, message: "not valid YAML: \(error)")
        }
        guard let values = parsed as? [String: Any] else {
            throw RecipeError(file: path, message: "expected a mapping of GenSLM settings (key: value)")
        }
        try checkKeys(Array(values.keys), known: upstreamKeys + ownKeys, file: path)

        func fail(_ key: String, _ expected: String) -> RecipeError {
            RecipeError(file: path, message: "key '\(key)' must be \(expected), got \(String(describing: values[key]!))")
        }
        func string(_ key: String) throws -> String? {
            guard let value = values[key], !(value is NSNull) else { return nil }
            guard let text = value as? String else { throw fail(key, "a string") }
            return text
        }
        func int(_ key: String) throws -> Int? {
            guard let value = values[key], !(value is NSNull) else { return nil }
            if let number = value as? Int { return number }
            throw fail(key, "an integer")
        }
        func double(_ key: String) throws -> Double? {
            guard let value = values[key], !(value is NSNull) else { return nil }
            if let number = value as? Double { return number }
            if let number = value as? Int { return Double(number) }
            throw fail(key, "a number")
        }
        func flag(_ key: String) throws -> Bool {
            guard let value = values[key], !(value is NSNull) else { return false }
            guard let flag = value as? Bool else { throw fail(key, "true or false") }
            return flag
        }
        func section(_ key: String, _ known: [String]) throws -> [String: Any]? {
            guard let value = values[key], !(value is NSNull) else { return nil }
            guard let mapping = value as? [String: Any] else { throw fail(key, "a mapping") }
            try checkKeys(Array(mapping.keys), known: known, file: path, section: key)
            return mapping
        }
        guard let train = try string("train_file") else { throw RecipeError(file: path, message: "missing required key 'train_file'") }
        guard let model = try string("model_config_json") else {
            throw RecipeError(file: path, message: "missing required key 'model_config_json'")
        }
        var settings = GenSLMSettings(trainFile: train, modelConfigJSON: model)
        settings.baseDirectory = URL(fileURLWithPath: path).deletingLastPathComponent().path
        settings.valFile = try string("val_file")
        settings.testFile = try string("test_file")
        settings.tokenizerFile = try string("tokenizer_file")
        settings.blockSize = try int("block_size") ?? settings.blockSize
        settings.batchSize = try int("batch_size") ?? settings.batchSize
        settings.epochs = try int("epochs") ?? settings.epochs
        settings.maxSteps = try int("max_steps") ?? settings.maxSteps
        settings.randomSeed = UInt64(try int("random_seed") ?? 0)
        settings.smallSubset = try int("small_subset") ?? 0
        settings.learningRate = try double("learning_rate") ?? settings.learningRate
        settings.gradientClipValue = try double("gradient_clip_value") ?? 0
        settings.accumulateGradBatches = try int("accumulate_grad_batches") ?? 1
        settings.checkpointDir = try string("checkpoint_dir") ?? settings.checkpointDir
        settings.checkpointEveryNTrainSteps = try int("checkpoint_every_n_train_steps") ?? settings.checkpointEveryNTrainSteps
        settings.valCheckInterval = try int("val_check_interval") ?? settings.valCheckInterval
        settings.limitValBatches = try int("limit_val_batches") ?? settings.limitValBatches
        settings.logEveryNSteps = try int("log_every_n_steps") ?? settings.logEveryNSteps
        settings.optimizer = try string("optimizer") ?? settings.optimizer
        settings.loadCheckpoint = try string("load_pt_checkpoint")
        settings.weightDecay = try double("weight_decay") ?? 0
        settings.lossIncludesPadding = try flag("loss_includes_padding")
        // Without deepspeed_stage, offloading recipes get upstream's default stage 3; others run stage 0.
        let requestsOffload = try flag("offload_optimizer") || flag("offload_parameters")
        let stage = try int("deepspeed_stage") ?? (requestsOffload ? 3 : 0)
        guard (0...3).contains(stage) else { throw fail("deepspeed_stage", "0, 1, 2 or 3") }
        settings.zero.stage = stage
        settings.zero.overlapComm = stage == 3
        let device = try string("offload_device") ?? "cpu"
        guard let offloadDevice = OffloadSettings.Device(rawValue: device), offloadDevice != .none else { throw fail("offload_device", "cpu or nvme") }
        let nvmePath = try string("nvme_path").map { settings.resolve($0) }
        if try flag("offload_optimizer") {
            settings.zero.offloadOptimizer.device = offloadDevice
            settings.zero.offloadOptimizer.nvmePath = nvmePath
        }
        if try flag("offload_parameters") {
            settings.zero.offloadParam.device = offloadDevice
            settings.zero.offloadParam.nvmePath = nvmePath
        }
        if offloadDevice == .nvme && nvmePath == nil && requestsOffload {
            throw RecipeError(file: path, message: "offload_device nvme needs nvme_path")
        }
        if settings.zero.offloadParam.device != .none && settings.zero.stage != 3 {
            throw RecipeError(file: path, message: "offload_parameters needs deepspeed_stage: 3 (stage is \(settings.zero.stage))")
        }
        if settings.zero.offloadOptimizer.device != .none && settings.zero.stage == 0 {
            throw RecipeError(file: path, message: "offload_optimizer needs deepspeed_stage 1, 2 or 3")
        }
        settings.deepSpeedConfigFile = try string("deepspeed_cfg_file")
        if let budget = try int("memory_budget_mib") { settings.zero.memoryBudget = budget << 20 }
        settings.sequenceParallelSize = try int("sequence_parallel_size")
        settings.dataParallelSize = try int("data_parallel_size")
        if let warm = try section("warm_up_lr", ["min_lr", "num_steps"]) {
            settings.warmUpLR = ((warm["min_lr"] as? Double) ?? 5e-8, (warm["num_steps"] as? Int) ?? 50_000)
        }
        if let cosine = try section("lr_cosine_with_warmup", ["num_warmup_steps", "num_cycles"]) {
            settings.cosineWithWarmup = ((cosine["num_warmup_steps"] as? Int) ?? 0, (cosine["num_cycles"] as? Double) ?? 0.5)
        }
        if let plateau = try section("lr_plateau", ["mode", "factor", "patience", "threshold", "eps"]) {
            settings.plateau = ((plateau["factor"] as? Double) ?? 0.1, (plateau["patience"] as? Int) ?? 10,
                                (plateau["threshold"] as? Double) ?? 1e-4)
        }
        let schedules = [settings.warmUpLR != nil, settings.cosineWithWarmup != nil, settings.plateau != nil].filter { $0 }.count
        guard schedules <= 1 else {
            throw RecipeError(file: path, message: "warm_up_lr, lr_cosine_with_warmup and lr_plateau are exclusive; set one")
        }
        guard settings.cosineWithWarmup == nil || settings.maxSteps > 0 else {
            throw RecipeError(file: path, message: "lr_cosine_with_warmup needs max_steps > 0, as in GenSLM")
        }
        guard ["adam", "adamw"].contains(settings.optimizer) else { throw fail("optimizer", "adam or adamw") }
        for (key, value) in [("block_size", settings.blockSize), ("batch_size", settings.batchSize),
                             ("accumulate_grad_batches", settings.accumulateGradBatches), ("epochs", settings.epochs),
                             ("log_every_n_steps", settings.logEveryNSteps)] where value < 1 {
            throw RecipeError(file: path, message: "key '\(key)' must be at least 1, got \(value)")
        }
        settings.ignoredKeys = values.keys.filter { inertKeys.contains($0) && !(values[$0] is NSNull) && values[$0] as? Bool != false }.sorted()
        let sanitized = values.mapValues { value -> Any in value is NSNull ? NSNull() : value }
        if let data = try? JSONSerialization.data(withJSONObject: sanitized, options: [.sortedKeys, .withoutEscapingSlashes]) {
            settings.json = String(decoding: data, as: UTF8.self)
        }
        return settings
    }

    /// A recipe path resolved against the recipe's folder.
    public func resolve(_ path: String) -> String {
        path.hasPrefix("/") ? path : URL(fileURLWithPath: baseDirectory).appendingPathComponent(path).standardized.path
    }
}
