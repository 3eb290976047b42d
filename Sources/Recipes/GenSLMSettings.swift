// GenSLM training settings: the YAML keys of GenSLM's `ModelSettings` (genslm/config.py), so the
// published training YAMLs read as written, plus a few of SciZoo's own keys (marked below).
import Foundation
import ParallelRuntime
import TensorIO

public struct GenSLMSettings: Sendable, RecipePaths {
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

    /// Reads a GenSLM YAML file: an unknown key fails naming its line and the closest known key, a
    /// value of the wrong type naming the type expected.
    public static func load(from path: String) throws -> GenSLMSettings {
        var r = try RecipeSection.load(path, expecting: "a mapping of GenSLM settings (key: value)")
        guard let train = try r.string("train_file") else { throw FileError(file: path, key: "key 'train_file'", message: "is required") }
        guard let model = try r.string("model_config_json") else { throw FileError(file: path, key: "key 'model_config_json'", message: "is required") }
        var settings = GenSLMSettings(trainFile: train, modelConfigJSON: model)
        settings.baseDirectory = URL(fileURLWithPath: path).deletingLastPathComponent().path
        settings.valFile = try r.string("val_file")
        settings.testFile = try r.string("test_file")
        settings.tokenizerFile = try r.string("tokenizer_file")
        settings.blockSize = try r.int("block_size", minimum: 1) ?? settings.blockSize
        settings.batchSize = try r.int("batch_size", minimum: 1) ?? settings.batchSize
        settings.epochs = try r.int("epochs", minimum: 1) ?? settings.epochs
        settings.maxSteps = try r.int("max_steps") ?? settings.maxSteps
        settings.randomSeed = UInt64(try r.int("random_seed", minimum: 0) ?? 0)
        settings.smallSubset = try r.int("small_subset", minimum: 0) ?? 0
        settings.learningRate = try r.double("learning_rate") ?? settings.learningRate
        settings.gradientClipValue = try r.double("gradient_clip_value") ?? 0
        settings.accumulateGradBatches = try r.int("accumulate_grad_batches", minimum: 1) ?? 1
        settings.checkpointDir = try r.string("checkpoint_dir") ?? settings.checkpointDir
        settings.checkpointEveryNTrainSteps = try r.int("checkpoint_every_n_train_steps", minimum: 1) ?? settings.checkpointEveryNTrainSteps
        settings.valCheckInterval = try r.int("val_check_interval", minimum: 1) ?? settings.valCheckInterval
        settings.limitValBatches = try r.int("limit_val_batches", minimum: 1) ?? settings.limitValBatches
        settings.logEveryNSteps = try r.int("log_every_n_steps", minimum: 1) ?? settings.logEveryNSteps
        settings.optimizer = try r.string("optimizer", oneOf: ["adam", "adamw"]) ?? settings.optimizer
        settings.loadCheckpoint = try r.string("load_pt_checkpoint")
        settings.weightDecay = try r.double("weight_decay") ?? 0
        settings.lossIncludesPadding = try r.bool("loss_includes_padding") ?? false
        // Without deepspeed_stage, offloading recipes get upstream's default stage 3; others run stage 0.
        let offloadOptimizer = try r.bool("offload_optimizer") ?? false, offloadParameters = try r.bool("offload_parameters") ?? false
        let stage = try r.int("deepspeed_stage") ?? (offloadOptimizer || offloadParameters ? 3 : 0)
        guard (0...3).contains(stage) else { throw r.error("deepspeed_stage", expected: "0, 1, 2 or 3") }
        settings.zero.stage = stage
        settings.zero.overlapComm = stage == 3
        let offloadDevice = OffloadSettings.Device(rawValue: try r.string("offload_device", oneOf: ["cpu", "nvme"]) ?? "cpu")!
        let nvmePath = try r.string("nvme_path").map { settings.resolve($0) }
        if offloadOptimizer { (settings.zero.offloadOptimizer.device, settings.zero.offloadOptimizer.nvmePath) = (offloadDevice, nvmePath) }
        if offloadParameters { (settings.zero.offloadParam.device, settings.zero.offloadParam.nvmePath) = (offloadDevice, nvmePath) }
        if offloadDevice == .nvme && nvmePath == nil && (offloadOptimizer || offloadParameters) {
            throw r.problem("offload_device", "nvme needs nvme_path")
        }
        if offloadParameters && stage != 3 { throw r.problem("offload_parameters", "needs deepspeed_stage: 3 (stage is \(stage))") }
        if offloadOptimizer && stage == 0 { throw r.problem("offload_optimizer", "needs deepspeed_stage 1, 2 or 3") }
        settings.deepSpeedConfigFile = try r.string("deepspeed_cfg_file")
        if let budget = try r.int("memory_budget_mib", minimum: 1) { settings.zero.memoryBudget = budget << 20 }
        settings.sequenceParallelSize = try r.int("sequence_parallel_size", minimum: 1)
        settings.dataParallelSize = try r.int("data_parallel_size", minimum: 1)
        if var warm = try r.section("warm_up_lr") {
            settings.warmUpLR = (try warm.double("min_lr") ?? 5e-8, try warm.int("num_steps", minimum: 0) ?? 50_000)
            try warm.finish()
        }
        if var cosine = try r.section("lr_cosine_with_warmup") {
            settings.cosineWithWarmup = (try cosine.int("num_warmup_steps", minimum: 0) ?? 0, try cosine.double("num_cycles") ?? 0.5)
            try cosine.finish()
        }
        if var plateau = try r.section("lr_plateau") {
            _ = try plateau.string("mode", oneOf: ["min"])
            _ = try plateau.double("eps")
            settings.plateau = (try plateau.double("factor") ?? 0.1, try plateau.int("patience", minimum: 0) ?? 10, try plateau.double("threshold") ?? 1e-4)
            try plateau.finish()
        }
        let schedules = [settings.warmUpLR != nil, settings.cosineWithWarmup != nil, settings.plateau != nil].filter { $0 }.count
        guard schedules <= 1 else {
            throw FileError(file: path, message: "warm_up_lr, lr_cosine_with_warmup and lr_plateau are exclusive; set one")
        }
        guard settings.cosineWithWarmup == nil || settings.maxSteps > 0 else {
            throw r.problem("lr_cosine_with_warmup", "needs max_steps > 0, as in GenSLM")
        }
        // Keys of GenSLM's ModelSettings that act on its GPU cluster only: accepted, reported once.
        settings.ignoredKeys = inertKeys.filter { key in
            guard let node = r.value(key) else { return false }
            if case .bool(false) = node.value { return false }
            return true
        }.sorted()
        try r.finish()
        settings.json = r.json
        return settings
    }
}
