// The DeepSpeed JSON config (deepspeed/runtime/config.py, zero/config.py, offload_config.py,
// swap_tensor/aio_config.py): DeepSpeed's *code* defaults, strict inside zero_optimization, its
// offload blocks and aio (an unknown key names the closest known one, as pydantic's
// extra="forbid" rejects it), lenient with one warning for recognised blocks this runtime does not
// act on, and the batch-size rule train = micro × accumulation × DP.
import Foundation
import TensorIO
import TensorIO

/// DeepSpeed's reading of a config key: its code default when the key is absent or null.
extension RecipeSection {
    /// One note per key present here that is read but cannot act in this runtime, with the reason.
    func inactive(_ keys: [(String, String)], in section: String) -> [String] {
        keys.filter { contains($0.0) }.map { "\(section).\($0.0) has no effect here: \($0.1)" }
    }

    mutating func int(_ key: String, _ fallback: Int, minimum: Int = 0) throws -> Int { try int(key, minimum: minimum) ?? fallback }
    mutating func optionalInt(_ key: String, minimum: Int = 1) throws -> Int? { try int(key, minimum: minimum) }
    mutating func double(_ key: String, _ fallback: Double) throws -> Double { try double(key) ?? fallback }
    mutating func bool(_ key: String, _ fallback: Bool) throws -> Bool { try bool(key) ?? fallback }
    mutating func string(_ key: String, _ fallback: String?, oneOf allowed: [String]? = nil) throws -> String? {
        guard let allowed else { return try string(key) ?? fallback }
        return try string(key, oneOf: allowed) ?? fallback
    }
}

/// `offload_param` / `offload_optimizer`.
public struct OffloadSettings: Sendable, Equatable {
    public enum Device: String, Sendable { case none, cpu, nvme }
    public var device: Device = .none
    public var nvmePath: String?
    public var bufferCount: Int
    public var bufferSize = 100_000_000
    public var maxInCPU = 1_000_000_000
    public var pinMemory = false
    public var pipelineRead = false
    public var pipelineWrite = false
    public var fastInit = false
    public var ratio = 1.0

    init(bufferCount: Int) { self.bufferCount = bufferCount }

    /// Keys of the offload blocks that tune GPU-host transfers or pinned buffers.
    static let inactiveKeys: [(String, String)] = [
        ("buffer_count", "sizes pinned GPU staging buffers; shards move between memory and files directly"),
        ("buffer_size", "sizes pinned GPU staging buffers; shards move between memory and files directly"),
        ("max_in_cpu", "bounds parameters kept in host memory before NVMe; the tier holds each shard in one place"),
        ("pin_memory", "pins host memory for GPU copies; there is no GPU"),
        ("pipeline_read", "overlaps NVMe reads with GPU work; reads here are synchronous, sub-group by sub-group"),
        ("pipeline_write", "overlaps NVMe writes with GPU work; writes here are synchronous, sub-group by sub-group"),
        ("fast_init", "speeds up GPU optimiser-state initialisation on NVMe"),
        ("ratio", "offloads a fraction of the optimiser to the CPU (ZeRO-Offload++); the whole optimiser moves"),
    ]

    static func parse(_ section: inout RecipeSection, forParameters: Bool, notes: inout [String], name: String) throws -> OffloadSettings {
        notes += section.inactive(inactiveKeys, in: "zero_optimization.\(name)")
        var settings = OffloadSettings(bufferCount: forParameters ? 5 : 4)
        settings.device = Device(rawValue: try section.string("device", "none", oneOf: ["none", "cpu", "nvme"])!.lowercased())!
        settings.nvmePath = try section.string("nvme_path", nil)
        settings.bufferCount = try section.int("buffer_count", settings.bufferCount, minimum: 1)
        settings.pinMemory = try section.bool("pin_memory", false)
        if forParameters {
            settings.bufferSize = try section.int("buffer_size", settings.bufferSize, minimum: 1)
            settings.maxInCPU = try section.int("max_in_cpu", settings.maxInCPU)
        } else {
            settings.pipelineRead = try section.bool("pipeline_read", false)
            settings.pipelineWrite = try section.bool("pipeline_write", false)
            settings.fastInit = try section.bool("fast_init", false)
            settings.ratio = try section.double("ratio", 1.0)
        }
        try section.finish()
        if settings.device == .nvme && settings.nvmePath == nil {
            throw section.problem("nvme_path", "is required when device is nvme")
        }
        return settings
    }
}

/// `zero_optimization`, with DeepSpeed's code defaults.
public struct ZeROSettings: Sendable, Equatable {
    public var stage = 0
    public var contiguousGradients = true
    public var reduceScatter = true
    public var reduceBucketSize = 500_000_000
    public var allgatherPartitions = true
    public var allgatherBucketSize = 500_000_000
    /// DeepSpeed: None → true for stage 3, false otherwise.
    public var overlapComm = false
    public var loadFromFP32Weights = true
    public var elasticCheckpoint = false
    public var offloadParam = OffloadSettings(bufferCount: 5)
    public var offloadOptimizer = OffloadSettings(bufferCount: 4)
    public var subGroupSize = 1_000_000_000
    public var prefetchBucketSize = 50_000_000
    public var paramPersistenceThreshold = 100_000
    public var modelPersistenceThreshold = Int.max
    public var maxLiveParameters = 1_000_000_000
    public var maxReuseDistance = 1_000_000_000
    public var gatherWeightsOnModelSave = false
    public var ignoreUnusedParameters = true
    public var roundRobinGradients = false
    /// SciZoo's memory budget for resident model states, bytes (the config's top-level
    /// `memory_budget_mib`, which DeepSpeed ignores): a layout that would exceed it is refused.
    public var memoryBudget: Int?

    public init() {}

    /// Keys read from `zero_optimization` that cannot act here, each with the reason.
    static let inactiveKeys: [(String, String)] = [
        ("contiguous_gradients", "copies GPU gradients into one buffer against fragmentation; the flat gradient is built once per step anyway"),
        ("allgather_partitions", "chooses all-gather over broadcasts; partitions are always all-gathered"),
        ("load_from_fp32_weights", "chooses fp32 or fp16 weights on resume; model states are float32 only"),
        ("elastic_checkpoint", "stores checkpoints for a changing GPU count; checkpoints here always resume on any rank count"),
        ("stage3_model_persistence_threshold", "bounds all persistent parameters together; only stage3_param_persistence_threshold applies"),
        ("stage3_max_live_parameters", "bounds gathered parameters; each module's parameters are released after it runs"),
        ("stage3_max_reuse_distance", "keeps gathered parameters for reuse; each module's parameters are released after it runs"),
        ("stage3_gather_16bit_weights_on_model_save", "writes fp16 weights; checkpoints and consolidation are float32"),
        ("stage3_gather_fp16_weights_on_model_save", "writes fp16 weights; checkpoints and consolidation are float32"),
        ("ignore_unused_parameters", "tolerates parameters without gradients; they always count as zeros"),
        ("round_robin_gradients", "spreads gradient copies over GPU streams"),
        ("cpu_offload_use_pin_memory", "pins host memory for GPU copies; there is no GPU"),
        ("stage3_module_granularity_threshold", "groups small modules into leaves for hooks; every module gathers its own"),
        ("stage3_use_all_reduce_for_fetch_params", "fetches parameters by all-reduce; all-gather is used"),
        ("zero_hpz_partition_size", "ZeRO++'s hierarchical partitioning is not implemented"),
        ("zero_quantized_weights", "ZeRO++'s quantised weight communication is not implemented"),
        ("zero_quantized_gradients", "ZeRO++'s quantised gradient communication is not implemented"),
        ("mics_shard_size", "MiCS sharding is not implemented"),
        ("log_trace_cache_warnings", "stage 3's trace is reported by `scizoo bench zero` instead"),
        ("memory_efficient_linear", "a GPU memory optimisation of linear layers"),
    ]

    static func parse(_ root: inout RecipeSection, notes: inout [String]) throws -> ZeROSettings {
        var settings = ZeROSettings()
        if case .bool(let enabled)? = root.value("zero_optimization")?.value {  // DeepSpeed's legacy form
            settings.stage = enabled ? 1 : 0
            return settings
        }
        // A mapping, or the legacy true/false above; anything else is a type error naming both forms.
        if let node = root.value("zero_optimization") {
            guard case .mapping = node.value else { throw root.error("zero_optimization", expected: "a mapping or true/false") }
        }
        switch try root.section("zero_optimization") {
        case nil: return settings
        case var s?:
            notes += s.inactive(inactiveKeys, in: "zero_optimization")
            settings.stage = try s.int("stage", 0)
            guard (0...3).contains(settings.stage) else { throw s.error("stage", expected: "0, 1, 2 or 3") }
            settings.contiguousGradients = try s.bool("contiguous_gradients", true)
            settings.reduceScatter = try s.bool("reduce_scatter", true)
            settings.reduceBucketSize = try s.int("reduce_bucket_size", settings.reduceBucketSize, minimum: 1)
            settings.allgatherPartitions = try s.bool("allgather_partitions", true)
            settings.allgatherBucketSize = try s.int("allgather_bucket_size", settings.allgatherBucketSize, minimum: 1)
            guard settings.allgatherBucketSize % 2 == 0 else { throw s.error("allgather_bucket_size", expected: "a multiple of 2") }
            settings.overlapComm = try s.bool("overlap_comm", settings.stage == 3)
            settings.loadFromFP32Weights = try s.bool("load_from_fp32_weights", true)
            settings.elasticCheckpoint = try s.bool("elastic_checkpoint", false)
            if var offload = try s.section("offload_param") {
                settings.offloadParam = try .parse(&offload, forParameters: true, notes: &notes, name: "offload_param")
            }
            if var offload = try s.section("offload_optimizer") {
                settings.offloadOptimizer = try .parse(&offload, forParameters: false, notes: &notes, name: "offload_optimizer")
            }
            // Deprecated spellings, mapped as DeepSpeed maps them.
            if try s.bool("cpu_offload", false) { settings.offloadOptimizer.device = .cpu }
            if try s.bool("cpu_offload_param", false) { settings.offloadParam.device = .cpu }
            _ = try s.bool("cpu_offload_use_pin_memory", false)
            settings.subGroupSize = try s.int("sub_group_size", settings.subGroupSize, minimum: 1)
            settings.prefetchBucketSize = try s.int("stage3_prefetch_bucket_size", settings.prefetchBucketSize)
            settings.paramPersistenceThreshold = try s.int("stage3_param_persistence_threshold", settings.paramPersistenceThreshold)
            settings.modelPersistenceThreshold = try s.int("stage3_model_persistence_threshold", settings.modelPersistenceThreshold)
            settings.maxLiveParameters = try s.int("stage3_max_live_parameters", settings.maxLiveParameters)
            settings.maxReuseDistance = try s.int("stage3_max_reuse_distance", settings.maxReuseDistance)
            let gather16 = try s.bool("stage3_gather_16bit_weights_on_model_save", false)
            let gatherFP16 = try s.bool("stage3_gather_fp16_weights_on_model_save", false)
            settings.gatherWeightsOnModelSave = gather16 || gatherFP16
            settings.ignoreUnusedParameters = try s.bool("ignore_unused_parameters", true)
            settings.roundRobinGradients = try s.bool("round_robin_gradients", false)
            // Accepted with their defaults (ZeRO++, MiCS and tuning knobs this runtime has no use for).
            _ = try s.int("stage3_module_granularity_threshold", 0)
            _ = try s.bool("stage3_use_all_reduce_for_fetch_params", false)
            _ = try s.int("zero_hpz_partition_size", 1, minimum: 1)
            _ = try s.bool("zero_quantized_weights", false)
            _ = try s.bool("zero_quantized_gradients", false)
            _ = try s.int("mics_shard_size", -1, minimum: -1)
            _ = try s.bool("log_trace_cache_warnings", false)
            _ = try s.bool("memory_efficient_linear", true)
            try s.finish()
            if settings.offloadParam.device != .none && settings.stage != 3 {
                throw s.problem("offload_param", "needs stage 3 (stage is \(settings.stage))")
            }
            if settings.offloadOptimizer.device != .none && settings.stage == 0 {
                throw s.problem("offload_optimizer", "needs stage 1, 2 or 3 (stage is 0)")
            }
            return settings
        }
    }
}

/// `aio`: the asynchronous I/O engine of the NVMe tier.
public struct AIOSettings: Sendable, Equatable {
    /// The NVMe tier here reads and writes with pread/pwrite (O_DIRECT where the file system allows)
    /// one sub-group at a time; libaio's knobs have no counterpart.
    static let inactiveKeys: [(String, String)] = [
        ("block_size", "libaio's request size; files are read and written one sub-group per call"),
        ("queue_depth", "libaio's queue; I/O is synchronous pread/pwrite"),
        ("intra_op_parallelism", "libaio's threads; I/O is synchronous pread/pwrite"),
        ("thread_count", "libaio's threads; I/O is synchronous pread/pwrite"),
        ("single_submit", "libaio's submission mode; I/O is synchronous pread/pwrite"),
        ("overlap_events", "libaio's event overlap; I/O is synchronous pread/pwrite"),
        ("use_gds", "GPUDirect Storage; there is no GPU"),
    ]

    public var blockSize = 1_048_576
    public var queueDepth = 8
    public var intraOpParallelism = 1
    public var singleSubmit = false
    public var overlapEvents = true
    public var useGDS = false
    public init() {}
}

/// The whole config, resolved for a data-parallel size.
public struct DeepSpeedConfig: Sendable {
    public var trainBatchSize: Int
    public var microBatchPerRank: Int
    public var gradientAccumulationSteps: Int
    public var optimizerType: String?
    public var learningRate = 1e-3
    public var betas = (0.9, 0.999)
    public var epsilon = 1e-8
    public var weightDecay = 0.0
    /// Adam's `adam_w_mode` (default true: decoupled weight decay); type AdamW forces it.
    public var decoupledWeightDecay = true
    public var schedulerType: String?
    public var schedulerParameters: [String: Double] = [:]
    public var gradientClipping = 0.0
    /// "fp32", "fp16" or "bf16": what the config asks for (SciZoo's CPU kernels compute in float32).
    public var precision = "fp32"
    public var zero = ZeROSettings()
    public var aio = AIOSettings()
    public var sequenceParallelSize: Int?
    public var dataParallelSize: Int?
    public var stepsPerPrint: Int?
    /// `activation_checkpointing` is present: every transformer block is checkpointed (the model
    /// code's `checkpoint_activations` in Megatron-DeepSpeed, implied here by the section).
    public var activationCheckpointing = false
    /// `OneBitAdam`'s `freeze_step` (nil: not 1-bit Adam). Its `cuda_aware` and
    /// `comm_backend_name` are read; the compressed collectives run over MPI here.
    public var oneBitFreezeStep: Int?
    /// `curriculum_learning` (enabled, seqlen): the sequence length of each step.
    public var curriculum: CurriculumSchedule?
    /// One line per recognised block that this runtime accepts but does not act on.
    public var warnings: [String] = []
    public let file: String

    static let ignoredBlocks = ["flops_profiler", "monitors", "tensorboard", "wandb", "csv_monitor", "comet", "comms_logger",
                                "autotuning", "elasticity", "compression", "compression_training", "data_efficiency",
                                "sparse_attention", "amp", "wall_clock_breakdown",
                                "dump_state", "memory_breakdown", "checkpoint", "data_types", "communication_data_type",
                                "prescale_gradients", "gradient_predivide_factor", "zero_allow_untested_optimizer",
                                "zero_force_ds_cpu_optimizer", "seq_parallel_comm_data_type", "sparse_gradients", "pipeline",
                                "timers", "eigenvalue", "progressive_layer_drop", "quantize_training", "hybrid_engine", "nebula",
                                "weight_quantization", "use_data_before_expert_parallelism", "graph_harvesting", "torch_autocast"]

    /// Reads `path`; `dataParallelSize` completes the batch triple.
    public static func load(path: String, dataParallelSize: Int) throws -> DeepSpeedConfig {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw FileError(file: path, message: "cannot read the DeepSpeed config")
        }
        return try parse(data, file: path, dataParallelSize: dataParallelSize)
    }

    public static func parse(_ data: Data, file: String, dataParallelSize: Int) throws -> DeepSpeedConfig {
        var s = try RecipeSection.parse(String(decoding: data, as: UTF8.self), file: file, expecting: "a JSON object of DeepSpeed settings")
        var config = DeepSpeedConfig(trainBatchSize: 0, microBatchPerRank: 0, gradientAccumulationSteps: 0, file: file)

        // Batch triple: train = micro × accumulation × DP; any two determine the third.
        let train = try s.optionalInt("train_batch_size"), micro = try s.optionalInt("train_micro_batch_size_per_gpu")
        let accumulation = try s.optionalInt("gradient_accumulation_steps")
        // Products of these must not overflow: no batch has 2³¹ samples.
        for (key, value) in [("train_batch_size", train), ("train_micro_batch_size_per_gpu", micro), ("gradient_accumulation_steps", accumulation)] {
            if let value, value > 1 << 31 { throw FileError(file: file, key: "key '\(key)'", message: "\(value) is beyond any batch (at most 2³¹)") }
        }
        let dp = dataParallelSize
        switch (train, micro, accumulation) {
        case let (t?, m?, a?):
            guard t == m * a * dp else {
                throw FileError(file: file, message: "train_batch_size \(t) must equal train_micro_batch_size_per_gpu \(m) × "
                                         + "gradient_accumulation_steps \(a) × \(dp) data-parallel rank(s) = \(m * a * dp)")
            }
            (config.trainBatchSize, config.microBatchPerRank, config.gradientAccumulationSteps) = (t, m, a)
        case let (t?, m?, nil):
            guard t % (m * dp) == 0 else {
                throw FileError(file: file, message: "train_batch_size \(t) is not a multiple of train_micro_batch_size_per_gpu \(m) × \(dp) data-parallel rank(s)")
            }
            (config.trainBatchSize, config.microBatchPerRank, config.gradientAccumulationSteps) = (t, m, t / (m * dp))
        case let (t?, nil, a?):
            guard t % (a * dp) == 0 else {
                throw FileError(file: file, message: "train_batch_size \(t) is not a multiple of gradient_accumulation_steps \(a) × \(dp) data-parallel rank(s)")
            }
            (config.trainBatchSize, config.microBatchPerRank, config.gradientAccumulationSteps) = (t, t / (a * dp), a)
        case let (nil, m?, a?): (config.trainBatchSize, config.microBatchPerRank, config.gradientAccumulationSteps) = (m * a * dp, m, a)
        case let (t?, nil, nil):
            guard t % dp == 0 else {
                throw FileError(file: file, message: "train_batch_size \(t) does not split over \(dp) data-parallel rank(s)")
            }
            (config.trainBatchSize, config.microBatchPerRank, config.gradientAccumulationSteps) = (t, t / dp, 1)
        case let (nil, m?, nil): (config.trainBatchSize, config.microBatchPerRank, config.gradientAccumulationSteps) = (m * dp, m, 1)
        default:
            throw FileError(file: file, message: "give train_batch_size or train_micro_batch_size_per_gpu (with or without gradient_accumulation_steps)")
        }

        if var optimizer = try s.section("optimizer") {
            let type = try optimizer.string("type", nil)
            guard let type else { throw optimizer.error("type", expected: "an optimizer name (Adam, AdamW)") }
            guard ["adam", "adamw", "onebitadam"].contains(type.lowercased()) else {
                throw optimizer.error("type", expected: "Adam, AdamW or OneBitAdam (the optimisers this runtime implements; ZeroOneAdam and OneBitLamb are not)")
            }
            config.optimizerType = type
            if type.lowercased() == "onebitadam" && config.oneBitFreezeStep == nil { config.oneBitFreezeStep = 100_000 }
            if var parameters = try optimizer.section("params") {
                config.learningRate = try parameters.double("lr", 1e-3)
                if case .list(let betas)? = parameters.value("betas")?.value, betas.count == 2,
                   let b1 = betas[0].number, let b2 = betas[1].number {
                    config.betas = (b1, b2)
                } else if parameters.contains("betas") {
                    throw parameters.error("betas", expected: "two numbers")
                }
                config.epsilon = try parameters.double("eps", 1e-8)
                config.weightDecay = try parameters.double("weight_decay", 0)
                let adamWMode = try parameters.bool("adam_w_mode", true)
                config.decoupledWeightDecay = type.lowercased() == "adamw" || adamWMode
                if type.lowercased() == "onebitadam" {
                    config.oneBitFreezeStep = try parameters.int("freeze_step", 100_000, minimum: 0)  // DeepSpeed's default
                    _ = try parameters.bool("cuda_aware", false)
                    _ = try parameters.string("comm_backend_name", nil, oneOf: ["nccl", "mpi", "hccl", "compressed"])
                }
                _ = try parameters.bool("torch_adam", false)
                _ = try parameters.bool("amsgrad", false)
                _ = try parameters.bool("bias_correction", true)
                try parameters.finish()
            }
            try optimizer.finish()
        }
        if var scheduler = try s.section("scheduler") {
            config.schedulerType = try scheduler.string("type", nil, oneOf: ["warmuplr", "warmupdecaylr", "warmupcosinelr", "onecycle", "lrrangetest"])
            if var parameters = try scheduler.section("params") {
                for key in parameters.keys.sorted() {
                    if key == "warmup_type" { _ = try parameters.string(key, nil, oneOf: ["log", "linear"]); continue }
                    config.schedulerParameters[key] = try parameters.double(key, 0)
                }
                try parameters.finish()
            }
            try scheduler.finish()
        }
        config.gradientClipping = try s.double("gradient_clipping", 0)  // DeepSpeed's code default (its docs say 1.0)
        for (key, name) in [("fp16", "fp16"), ("bf16", "bf16"), ("bfloat16", "bf16")] {
            guard var block = try s.section(key) else { continue }
            if try block.bool("enabled", false) { config.precision = name }
            // Loss-scaling knobs are accepted (no loss scaling is needed in float32).
            for knob in ["auto_cast", "consecutive_hysteresis"] { _ = try block.bool(knob, false) }
            for knob in ["loss_scale", "initial_scale_power", "loss_scale_window", "hysteresis", "min_loss_scale"] { _ = try block.double(knob, 0) }
            _ = try block.bool("immediate_grad_update", false)
            try block.finish()
        }
        if config.precision == "fp16" {
            config.warnings.append("fp16 requested: SciZoo's CPU kernels compute and keep model states in float32")
        } else if config.precision == "bf16" {
            config.warnings.append("bf16: GenSLM's trainer runs matrix products in bf16 with float32 sums where the CPU has AVX512-BF16; "
                                   + "model states stay float32 (DeepSpeed's bf16 keeps float32 master weights too)")
        }
        config.zero = try ZeROSettings.parse(&s, notes: &config.warnings)
        if var aio = try s.section("aio") {
            config.warnings += aio.inactive(AIOSettings.inactiveKeys, in: "aio")
            config.aio.blockSize = try aio.int("block_size", config.aio.blockSize, minimum: 512)
            config.aio.queueDepth = try aio.int("queue_depth", config.aio.queueDepth, minimum: 1)
            config.aio.intraOpParallelism = try aio.int("intra_op_parallelism", try aio.int("thread_count", 1, minimum: 1), minimum: 1)
            config.aio.singleSubmit = try aio.bool("single_submit", false)
            config.aio.overlapEvents = try aio.bool("overlap_events", true)
            config.aio.useGDS = try aio.bool("use_gds", false)
            try aio.finish()
        }
        if var curriculum = try s.section("curriculum_learning") {
            config.curriculum = try CurriculumSchedule.parse(&curriculum)
            try curriculum.finish()
        }
        if var checkpointing = try s.section("activation_checkpointing") {
            config.activationCheckpointing = true
            // DeepSpeed's knobs for GPUs and model parallelism: each is read, and each that cannot act here says why.
            let reasons: [(String, String)] = [
                ("partition_activations", "splits checkpoints over tensor-model-parallel ranks, and SciZoo has no tensor parallelism (Ulysses already shards activations by sequence)"),
                ("contiguous_memory_optimization", "packs GPU checkpoints against allocator fragmentation; SciZoo's buffers are pooled host memory"),
                ("synchronize_checkpoint_boundary", "synchronises CUDA streams; there are none"),
                ("profile", "times checkpoint forwards and backwards; SCIZOO_PROFILE_AUTOGRAD reports the replays as \"checkpoint\""),
            ]
            for (key, reason) in reasons where try checkpointing.bool(key, false) {
                config.warnings.append("activation_checkpointing.\(key) has no effect: it \(reason)")
            }
            if try checkpointing.bool("cpu_checkpointing", false) {
                config.warnings.append("activation_checkpointing.cpu_checkpointing holds already: checkpoints live in host memory")
            }
            if case .null? = checkpointing.value("number_checkpoints")?.value {
                checkpointing.accept(["number_checkpoints"])  // DeepSpeed's default
            } else if let count = try checkpointing.optionalInt("number_checkpoints") {
                config.warnings.append("activation_checkpointing.number_checkpoints \(count) has no effect: it sizes the contiguous GPU buffers; every block is checkpointed")
            }
            try checkpointing.finish()
        }
        if let budget = try s.optionalInt("memory_budget_mib") { config.zero.memoryBudget = budget << 20 }
        config.sequenceParallelSize = try s.optionalInt("sequence_parallel_size")
        config.dataParallelSize = try s.optionalInt("data_parallel_size")
        config.stepsPerPrint = try s.optionalInt("steps_per_print")
        let present = ignoredBlocks.filter { s.contains($0) }
        s.accept(present)
        try s.finish()
        if !present.isEmpty { config.warnings.append("accepted but not acted on by this runtime: \(present.joined(separator: ", "))") }
        return config
    }

    /// The effective configuration, one line, logged at start.
    public var effectiveDescription: String {
        let z = zero
        return "train_batch_size \(trainBatchSize) = micro \(microBatchPerRank) × accumulation \(gradientAccumulationSteps) × DP; "
            + "optimizer \(optimizerType ?? "none") lr \(learningRate) betas (\(betas.0), \(betas.1)) eps \(epsilon) weight_decay \(weightDecay)"
            + "\(decoupledWeightDecay ? " (decoupled)" : ""); gradient_clipping \(gradientClipping); precision \(precision); "
            + "zero stage \(z.stage), reduce_bucket_size \(z.reduceBucketSize), allgather_bucket_size \(z.allgatherBucketSize), "
            + "overlap_comm \(z.overlapComm), sub_group_size \(z.subGroupSize), offload_optimizer \(z.offloadOptimizer.device.rawValue)"
            + "\(z.offloadOptimizer.nvmePath.map { " (\($0))" } ?? ""), offload_param \(z.offloadParam.device.rawValue), "
            + "stage3_param_persistence_threshold \(z.paramPersistenceThreshold), stage3_prefetch_bucket_size \(z.prefetchBucketSize); "
            + "aio block_size \(aio.blockSize) queue_depth \(aio.queueDepth)"
    }
}

extension RecipeNode {
    var number: Double? {
        switch value {
        case .int(let v): Double(v)
        case .double(let v): v
        default: nil
        }
    }
}
