// The DeepSpeed JSON config (deepspeed/runtime/config.py, zero/config.py, offload_config.py,
// swap_tensor/aio_config.py): DeepSpeed's *code* defaults, strict inside zero_optimization, its
// offload blocks and aio (an unknown key names the closest known one, as pydantic's
// extra="forbid" rejects it), lenient with one warning for recognised blocks this runtime does not
// act on, and the batch-size rule train = micro × accumulation × DP.
import Foundation

/// A configuration problem, naming the file and the key.
public struct ConfigurationError: Error, CustomStringConvertible {
    public let file: String
    public let message: String
    public var description: String { "\(file): \(message)" }
}

/// A JSON value as written (so 1 and true and 1.0 stay distinguishable).
public enum JSONValue: Decodable, Sendable, CustomStringConvertible {
    case bool(Bool), int(Int), double(Double), string(String), array([JSONValue]), object([String: JSONValue]), null

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() { self = .null }
        else if let value = try? container.decode(Bool.self) { self = .bool(value) }
        else if let value = try? container.decode(Int.self) { self = .int(value) }
        else if let value = try? container.decode(Double.self) { self = .double(value) }
        else if let value = try? container.decode(String.self) { self = .string(value) }
        else if let value = try? container.decode([JSONValue].self) { self = .array(value) }
        else { self = .object(try container.decode([String: JSONValue].self)) }
    }

    public var description: String {
        switch self {
        case .bool(let value): "\(value)"
        case .int(let value): "\(value)"
        case .double(let value): "\(value)"
        case .string(let value): "\"\(value)\""
        case .array(let values): "[" + values.map(\.description).joined(separator: ", ") + "]"
        case .object(let values): "{" + values.keys.sorted().map { "\"\($0)\": \(values[$0]!)" }.joined(separator: ", ") + "}"
        case .null: "null"
        }
    }
}

/// One JSON object of the config, read key by key; `finish()` rejects the keys nobody asked for.
struct ConfigSection {
    let file: String
    let path: String
    let values: [String: JSONValue]
    private(set) var known: [String] = []

    init(file: String, path: String, values: [String: JSONValue]) {
        self.file = file
        self.path = path
        self.values = values
    }

    private func name(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }
    func error(_ key: String, _ expected: String) -> ConfigurationError {
        ConfigurationError(file: file, message: "'\(name(key))' must be \(expected), got \(values[key].map(\.description) ?? "nothing")")
    }

    mutating func value(_ key: String) -> JSONValue? {
        known.append(key)
        if case .null = values[key] { return nil }
        return values[key]
    }
    mutating func int(_ key: String, _ fallback: Int, minimum: Int = 0) throws -> Int {
        guard let value = value(key) else { return fallback }
        let number: Int
        switch value {
        case .int(let v): number = v
        case .double(let v) where v == v.rounded() && Swift.abs(v) < 9.2e18: number = Int(v)  // 5e8 is an element count
        default: throw error(key, "an integer")
        }
        guard number >= minimum else { throw error(key, "an integer ≥ \(minimum)") }
        return number
    }
    mutating func optionalInt(_ key: String, minimum: Int = 1) throws -> Int? {
        guard values[key] != nil, value(key) != nil else { known.append(key); return nil }
        return try int(key, 0, minimum: minimum)
    }
    mutating func double(_ key: String, _ fallback: Double) throws -> Double {
        switch value(key) {
        case nil: return fallback
        case .int(let v)?: return Double(v)
        case .double(let v)?: return v
        default: throw error(key, "a number")
        }
    }
    mutating func bool(_ key: String, _ fallback: Bool) throws -> Bool {
        switch value(key) {
        case nil: return fallback
        case .bool(let v)?: return v
        default: throw error(key, "true or false")
        }
    }
    mutating func string(_ key: String, _ fallback: String?, oneOf allowed: [String]? = nil) throws -> String? {
        switch value(key) {
        case nil: return fallback
        case .string(let v)?:
            if let allowed, !allowed.contains(v.lowercased()) { throw error(key, "one of \(allowed.joined(separator: ", "))") }
            return v
        default: throw error(key, allowed.map { "one of \($0.joined(separator: ", "))" } ?? "a string")
        }
    }
    mutating func section(_ key: String) throws -> ConfigSection? {
        switch value(key) {
        case nil: return nil
        case .object(let v)?: return ConfigSection(file: file, path: name(key), values: v)
        default: throw error(key, "an object")
        }
    }
    /// Keys present but never asked for: an error naming the closest known key.
    func finish(alsoAllowed: [String] = []) throws {
        let allowed = known + alsoAllowed
        for key in values.keys.sorted() where !allowed.contains(key) {
            let suggestion = KeySuggestion.closest(to: key, in: allowed).map { "; did you mean '\($0)'?" } ?? ""
            throw ConfigurationError(file: file, message: "unknown key '\(name(key))'\(suggestion)")
        }
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

    static func parse(_ section: inout ConfigSection, forParameters: Bool) throws -> OffloadSettings {
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
            throw ConfigurationError(file: section.file, message: "'\(section.path).nvme_path' is required when device is nvme")
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

    static func parse(_ value: JSONValue?, file: String) throws -> ZeROSettings {
        var settings = ZeROSettings()
        switch value {
        case nil, .null?: return settings
        case .bool(let enabled)?: settings.stage = enabled ? 1 : 0; return settings  // DeepSpeed's legacy form
        case .object(let values)?:
            var s = ConfigSection(file: file, path: "zero_optimization", values: values)
            settings.stage = try s.int("stage", 0)
            guard (0...3).contains(settings.stage) else { throw s.error("stage", "0, 1, 2 or 3") }
            settings.contiguousGradients = try s.bool("contiguous_gradients", true)
            settings.reduceScatter = try s.bool("reduce_scatter", true)
            settings.reduceBucketSize = try s.int("reduce_bucket_size", settings.reduceBucketSize, minimum: 1)
            settings.allgatherPartitions = try s.bool("allgather_partitions", true)
            settings.allgatherBucketSize = try s.int("allgather_bucket_size", settings.allgatherBucketSize, minimum: 1)
            guard settings.allgatherBucketSize % 2 == 0 else { throw s.error("allgather_bucket_size", "a multiple of 2") }
            settings.overlapComm = try s.bool("overlap_comm", settings.stage == 3)
            settings.loadFromFP32Weights = try s.bool("load_from_fp32_weights", true)
            settings.elasticCheckpoint = try s.bool("elastic_checkpoint", false)
            if var offload = try s.section("offload_param") { settings.offloadParam = try .parse(&offload, forParameters: true) }
            if var offload = try s.section("offload_optimizer") { settings.offloadOptimizer = try .parse(&offload, forParameters: false) }
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
                throw ConfigurationError(file: file, message: "'zero_optimization.offload_param' needs stage 3 (stage is \(settings.stage))")
            }
            if settings.offloadOptimizer.device != .none && settings.stage == 0 {
                throw ConfigurationError(file: file, message: "'zero_optimization.offload_optimizer' needs stage 1, 2 or 3 (stage is 0)")
            }
            return settings
        default:
            throw ConfigurationError(file: file, message: "'zero_optimization' must be an object or true/false, got \(value!)")
        }
    }
}

/// `aio`: the asynchronous I/O engine of the NVMe tier.
public struct AIOSettings: Sendable, Equatable {
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
    /// One line per recognised block that this runtime accepts but does not act on.
    public var warnings: [String] = []
    public let file: String

    static let ignoredBlocks = ["flops_profiler", "monitors", "tensorboard", "wandb", "csv_monitor", "comet", "comms_logger",
                                "autotuning", "elasticity", "compression", "compression_training", "data_efficiency",
                                "curriculum_learning", "sparse_attention", "activation_checkpointing", "amp", "wall_clock_breakdown",
                                "dump_state", "memory_breakdown", "checkpoint", "data_types", "communication_data_type",
                                "prescale_gradients", "gradient_predivide_factor", "zero_allow_untested_optimizer",
                                "zero_force_ds_cpu_optimizer", "seq_parallel_comm_data_type", "sparse_gradients", "pipeline",
                                "timers", "eigenvalue", "progressive_layer_drop", "quantize_training", "hybrid_engine", "nebula",
                                "weight_quantization", "use_data_before_expert_parallelism", "graph_harvesting", "torch_autocast"]

    /// Reads `path`; `dataParallelSize` completes the batch triple.
    public static func load(path: String, dataParallelSize: Int) throws -> DeepSpeedConfig {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ConfigurationError(file: path, message: "cannot read the DeepSpeed config")
        }
        return try parse(data, file: path, dataParallelSize: dataParallelSize)
    }

    public static func parse(_ data: Data, file: String, dataParallelSize: Int) throws -> DeepSpeedConfig {
        let root: JSONValue
        do { root = try JSONDecoder().decode(JSONValue.self, from: data) } catch {
            throw ConfigurationError(file: file, message: "not valid JSON (\(error))")
        }
        guard case .object(let values) = root else { throw ConfigurationError(file: file, message: "expected a JSON object") }
        var s = ConfigSection(file: file, path: "", values: values)
        var config = DeepSpeedConfig(trainBatchSize: 0, microBatchPerRank: 0, gradientAccumulationSteps: 0, file: file)

        // Batch triple: train = micro × accumulation × DP; any two determine the third.
        let train = try s.optionalInt("train_batch_size"), micro = try s.optionalInt("train_micro_batch_size_per_gpu")
        let accumulation = try s.optionalInt("gradient_accumulation_steps")
        let dp = dataParallelSize
        switch (train, micro, accumulation) {
        case let (t?, m?, a?):
            guard t == m * a * dp else {
                throw ConfigurationError(file: file, message: "train_batch_size \(t) must equal train_micro_batch_size_per_gpu \(m) × "
                                         + "gradient_accumulation_steps \(a) × \(dp) data-parallel rank(s) = \(m * a * dp)")
            }
            (config.trainBatchSize, config.microBatchPerRank, config.gradientAccumulationSteps) = (t, m, a)
        case let (t?, m?, nil):
            guard t % (m * dp) == 0 else {
                throw ConfigurationError(file: file, message: "train_batch_size \(t) is not a multiple of train_micro_batch_size_per_gpu \(m) × \(dp) data-parallel rank(s)")
            }
            (config.trainBatchSize, config.microBatchPerRank, config.gradientAccumulationSteps) = (t, m, t / (m * dp))
        case let (t?, nil, a?):
            guard t % (a * dp) == 0 else {
                throw ConfigurationError(file: file, message: "train_batch_size \(t) is not a multiple of gradient_accumulation_steps \(a) × \(dp) data-parallel rank(s)")
            }
            (config.trainBatchSize, config.microBatchPerRank, config.gradientAccumulationSteps) = (t, t / (a * dp), a)
        case let (nil, m?, a?): (config.trainBatchSize, config.microBatchPerRank, config.gradientAccumulationSteps) = (m * a * dp, m, a)
        case let (t?, nil, nil):
            guard t % dp == 0 else {
                throw ConfigurationError(file: file, message: "train_batch_size \(t) does not split over \(dp) data-parallel rank(s)")
            }
            (config.trainBatchSize, config.microBatchPerRank, config.gradientAccumulationSteps) = (t, t / dp, 1)
        case let (nil, m?, nil): (config.trainBatchSize, config.microBatchPerRank, config.gradientAccumulationSteps) = (m * dp, m, 1)
        default:
            throw ConfigurationError(file: file, message: "give train_batch_size or train_micro_batch_size_per_gpu (with or without gradient_accumulation_steps)")
        }

        if var optimizer = try s.section("optimizer") {
            let type = try optimizer.string("type", nil)
            guard let type else { throw optimizer.error("type", "an optimizer name (Adam, AdamW)") }
            guard ["adam", "adamw"].contains(type.lowercased()) else {
                throw optimizer.error("type", "Adam or AdamW (the optimisers this runtime implements)")
            }
            config.optimizerType = type
            if var parameters = try optimizer.section("params") {
                config.learningRate = try parameters.double("lr", 1e-3)
                if case .array(let betas)? = parameters.value("betas"), betas.count == 2,
                   let b1 = betas[0].number, let b2 = betas[1].number {
                    config.betas = (b1, b2)
                } else if parameters.values["betas"] != nil {
                    throw parameters.error("betas", "two numbers")
                }
                config.epsilon = try parameters.double("eps", 1e-8)
                config.weightDecay = try parameters.double("weight_decay", 0)
                let adamWMode = try parameters.bool("adam_w_mode", true)
                config.decoupledWeightDecay = type.lowercased() == "adamw" || adamWMode
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
                for key in parameters.values.keys.sorted() {
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
        if config.precision != "fp32" {
            config.warnings.append("\(config.precision) requested: SciZoo's CPU kernels compute and keep model states in float32")
        }
        config.zero = try ZeROSettings.parse(s.value("zero_optimization"), file: file)
        if var aio = try s.section("aio") {
            config.aio.blockSize = try aio.int("block_size", config.aio.blockSize, minimum: 512)
            config.aio.queueDepth = try aio.int("queue_depth", config.aio.queueDepth, minimum: 1)
            config.aio.intraOpParallelism = try aio.int("intra_op_parallelism", try aio.int("thread_count", 1, minimum: 1), minimum: 1)
            config.aio.singleSubmit = try aio.bool("single_submit", false)
            config.aio.overlapEvents = try aio.bool("overlap_events", true)
            config.aio.useGDS = try aio.bool("use_gds", false)
            try aio.finish()
        }
        if let budget = try s.optionalInt("memory_budget_mib") { config.zero.memoryBudget = budget << 20 }
        config.sequenceParallelSize = try s.optionalInt("sequence_parallel_size")
        config.dataParallelSize = try s.optionalInt("data_parallel_size")
        config.stepsPerPrint = try s.optionalInt("steps_per_print")
        let present = ignoredBlocks.filter { values[$0] != nil }
        for key in present { _ = s.value(key) }
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

extension JSONValue {
    var number: Double? {
        switch self {
        case .int(let v): Double(v)
        case .double(let v): v
        default: nil
        }
    }
}
