import Foundation
import Testing
@testable import ParallelRuntime

@Suite("DeepSpeed config")
struct DeepSpeedConfigTests {
    func parse(_ text: String, dp: Int = 2) throws -> DeepSpeedConfig {
        try DeepSpeedConfig.parse(Data(text.utf8), file: "ds.json", dataParallelSize: dp)
    }

    func message(_ text: String, dp: Int = 2) -> String {
        do { _ = try parse(text, dp: dp); return "no error" } catch { return "\(error)" }
    }

    @Test("DeepSpeed's code defaults, not its docs' defaults")
    func defaults() throws {
        let config = try parse(#"{"train_micro_batch_size_per_gpu": 2}"#)
        #expect(config.trainBatchSize == 4 && config.gradientAccumulationSteps == 1)
        #expect(config.gradientClipping == 0)  // docs: 1.0
        #expect(config.zero.stage == 0 && config.zero.subGroupSize == 1_000_000_000)  // docs example: 1e12
        #expect(config.zero.prefetchBucketSize == 50_000_000)  // docs: 5e8
        #expect(config.zero.paramPersistenceThreshold == 100_000 && config.zero.reduceBucketSize == 500_000_000)
        #expect(config.zero.overlapComm == false)
        #expect(try parse(#"{"train_batch_size": 8, "zero_optimization": {"stage": 3}}"#).zero.overlapComm == true)
        #expect(config.aio == AIOSettings() && config.aio.blockSize == 1_048_576 && config.aio.queueDepth == 8)
        #expect(try parse(#"{"train_batch_size": 8, "zero_optimization": true}"#).zero.stage == 1)
        let nvme = try parse(#"{"train_batch_size": 8, "zero_optimization": {"stage": 3, "offload_param": {"device": "nvme", "nvme_path": "/tmp/x"}, "offload_optimizer": {"device": "nvme", "nvme_path": "/tmp/x"}}}"#)
        #expect(nvme.zero.offloadParam.bufferCount == 5 && nvme.zero.offloadOptimizer.bufferCount == 4)
    }

    @Test("the batch triple: any two determine the third; inconsistent triples fail naming the keys")
    func batchTriple() throws {
        let a = try parse(#"{"train_batch_size": 16, "train_micro_batch_size_per_gpu": 2}"#, dp: 4)
        #expect(a.gradientAccumulationSteps == 2)
        let b = try parse(#"{"train_batch_size": 16, "gradient_accumulation_steps": 4}"#, dp: 2)
        #expect(b.microBatchPerRank == 2)
        let c = try parse(#"{"train_micro_batch_size_per_gpu": 3, "gradient_accumulation_steps": 2}"#, dp: 2)
        #expect(c.trainBatchSize == 12)
        #expect(message(#"{"train_batch_size": 10, "train_micro_batch_size_per_gpu": 2, "gradient_accumulation_steps": 2}"#)
            .contains("train_batch_size 10 must equal train_micro_batch_size_per_gpu 2 × gradient_accumulation_steps 2 × 2 data-parallel rank(s) = 8"))
        #expect(message(#"{"gradient_accumulation_steps": 2}"#).contains("give train_batch_size or train_micro_batch_size_per_gpu"))
        #expect(message(#"{"train_batch_size": 7}"#).contains("does not split over 2"))
    }

    @Test("unknown and ill-typed keys fail naming the key and what is allowed")
    func strictness() {
        #expect(message(#"{"train_batch_size": 8, "zero_optimization": {"stage": 2, "reduce_bucket_sise": 5}}"#)
            == "ds.json:1: unknown key 'zero_optimization.reduce_bucket_sise'; did you mean 'reduce_bucket_size'?")
        #expect(message(#"{"train_batch_size": 8, "zero_optimization": {"stage": 3, "offload_param": {"device": "cpu", "pin_memroy": true}}}"#)
            .contains("unknown key 'zero_optimization.offload_param.pin_memroy'; did you mean 'pin_memory'?"))
        #expect(message(#"{"train_batch_size": 8, "aio": {"block_size": 1048576, "queue_dept": 8}}"#).contains("unknown key 'aio.queue_dept'; did you mean 'queue_depth'?"))
        #expect(message(#"{"train_batch_size": 8, "zero_optimization": {"stage": "2"}}"#)
            == "ds.json:1: key 'zero_optimization.stage': must be an integer ≥ 0, got '2'")
        #expect(message("{\n  \"train_batch_size\": 8,\n  \"zero_optimization\": {\n    \"stage\": 2,\n    \"overlap_com\": true\n  }\n}")
            == "ds.json:5: unknown key 'zero_optimization.overlap_com'; did you mean 'overlap_comm'?")
        #expect(message(#"{"train_batch_size": 8, "zero_optimization": {"stage": 4}}"#).contains("must be 0, 1, 2 or 3"))
        #expect(message(#"{"train_batch_size": 8, "zero_optimization": {"stage": 2, "contiguous_gradients": 1}}"#)
            .contains("key 'zero_optimization.contiguous_gradients': must be true or false, got 1"))
        #expect(message(#"{"train_batch_size": 8, "zero_optimization": {"stage": 2, "offload_optimizer": {"device": "gpu"}}}"#)
            .contains("must be one of none, cpu, nvme"))
        #expect(message(#"{"train_batch_size": 8, "zero_optimization": {"stage": 3, "offload_optimizer": {"device": "nvme"}}}"#)
            .contains("key 'zero_optimization.offload_optimizer.nvme_path': is required when device is nvme"))
        #expect(message(#"{"train_batch_size": 8, "zero_optimization": {"stage": 2, "offload_param": {"device": "cpu"}}}"#)
            .contains("needs stage 3"))
        #expect(message(#"{"train_batch_size": 8, "gradient_clippin": 1.0}"#).contains("did you mean 'gradient_clipping'?"))
        #expect(message(#"{"train_batch_size": 8, "optimizer": {"type": "Lamb"}}"#).contains("Adam, AdamW or OneBitAdam"))
        #expect(message("{not json").contains("not valid YAML or JSON"))
    }

    @Test("OpenFold's deepspeed_config.json and Megatron-DeepSpeed's long-sequence template are accepted as written")
    func upstreamConfigs() throws {
        // The keys and values described in runtime-anchors.md §4.
        let openFold = try parse("""
            {"train_micro_batch_size_per_gpu": 1, "gradient_accumulation_steps": 1,
             "bfloat16": {"enabled": true},
             "zero_optimization": {"stage": 2, "cpu_offload": false, "contiguous_gradients": true,
                                   "offload_optimizer": {"device": "cpu"}},
             "activation_checkpointing": {"partition_activations": true, "cpu_checkpointing": false, "profile": false},
             "gradient_clipping": 0.1, "zero_force_ds_cpu_optimizer": false, "amp": {"enabled": false}}
            """, dp: 2)
        #expect(openFold.zero.stage == 2 && openFold.zero.offloadOptimizer.device == .cpu && openFold.precision == "bf16")
        #expect(openFold.gradientClipping == 0.1 && openFold.trainBatchSize == 2)
        #expect(openFold.warnings.contains { $0.contains("accepted but not acted on") && $0.contains("amp") })
        // activation_checkpointing acts (every block is checkpointed); its GPU and model-parallel knobs say why they cannot.
        #expect(openFold.activationCheckpointing)
        #expect(openFold.warnings.contains { $0.contains("activation_checkpointing.partition_activations has no effect") })
        #expect(!openFold.warnings.contains { $0.contains("cpu_checkpointing") })
        let knobs = try parse(#"{"train_batch_size": 2, "activation_checkpointing": {"cpu_checkpointing": true, "number_checkpoints": null, "contiguous_memory_optimization": true}}"#, dp: 1)
        #expect(knobs.activationCheckpointing && knobs.warnings.count == 2, "\(knobs.warnings)")
        #expect(try !parse(#"{"train_batch_size": 2}"#, dp: 1).activationCheckpointing)
        let megatron = try parse("""
            {"train_batch_size": 16, "train_micro_batch_size_per_gpu": 2, "steps_per_print": 1,
             "zero_optimization": {"stage": 1}, "gradient_clipping": 1.0, "prescale_gradients": false,
             "fp16": {"enabled": true, "loss_scale": 0, "loss_scale_window": 500, "hysteresis": 2, "min_loss_scale": 1,
                      "initial_scale_power": 11},
             "flops_profiler": {"enabled": true, "profile_step": 1, "module_depth": -1, "top_modules": 3, "detailed": true,
                                "output_file": null},
             "wall_clock_breakdown": false}
            """, dp: 4)
        #expect(megatron.gradientAccumulationSteps == 2 && megatron.zero.stage == 1 && megatron.precision == "fp16")
        #expect(megatron.warnings.contains { $0.contains("flops_profiler") })
    }

    /// The difficulties are DeepSpeed 0.19.8's own: `CurriculumScheduler(config).update_difficulty(step)`
    /// from deepspeed/runtime/data_pipeline/curriculum_scheduler.py, run with these configs.
    @Test("curriculum_learning (seqlen): fixed_linear, fixed_root and fixed_discrete give DeepSpeed's difficulties; other kinds are errors")
    func curriculum() throws {
        func schedule(_ json: String) throws -> CurriculumSchedule? {
            try parse(#"{"train_batch_size": 2, "curriculum_learning": "# + json + "}", dp: 1).curriculum
        }
        let linear = try #require(try schedule(#"{"enabled": true, "curriculum_type": "seqlen", "min_difficulty": 8, "max_difficulty": 256, "schedule_type": "fixed_linear", "schedule_config": {"total_curriculum_step": 60, "difficulty_step": 8}}"#))
        #expect([1, 2, 10, 30, 59, 60, 61, 100].map(linear.difficulty) == [8, 16, 48, 128, 248, 256, 256, 256])
        let root = try #require(try schedule(#"{"enabled": true, "curriculum_type": "seqlen", "min_difficulty": 16, "max_difficulty": 256, "schedule_type": "fixed_root", "schedule_config": {"total_curriculum_step": 50, "difficulty_step": 8, "root_degree": 2}}"#))
        #expect([1, 2, 10, 30, 49, 50, 51].map(root.difficulty) == [48, 64, 120, 200, 248, 256, 256])
        let discrete = try #require(try schedule(#"{"enabled": true, "curriculum_type": "seqlen", "min_difficulty": 16, "max_difficulty": 256, "schedule_type": "fixed_discrete", "schedule_config": {"difficulty": [32, 64, 256], "max_step": [5, 20]}}"#))
        #expect([1, 5, 6, 20, 21, 100].map(discrete.difficulty) == [32, 32, 64, 64, 256, 256])
        #expect(try schedule(#"{"enabled": false, "curriculum_type": "seqlen"}"#) == nil)
        func message(_ json: String) -> String {
            do { _ = try schedule(json); return "" } catch { return "\(error)" }
        }
        #expect(message(#"{"enabled": true, "curriculum_type": "vocabularyrarity", "min_difficulty": 1, "max_difficulty": 2, "schedule_type": "fixed_linear", "schedule_config": {}}"#)
            .contains("curriculum_learning.curriculum_type"))
        #expect(message(#"{"enabled": true, "curriculum_type": "seqlen", "min_difficulty": 8, "max_difficulty": 64, "schedule_type": "custom", "schedule_config": {}}"#)
            .contains("custom needs a Python function"))
        #expect(message(#"{"enabled": true, "curriculum_type": "seqlen", "min_difficulty": 8, "max_difficulty": 64, "schedule_type": "fixed_discrete", "schedule_config": {"difficulty": [8, 64], "max_step": [5, 9]}}"#)
            .contains("one more difficulty than max_step"))
        #expect(message(#"{"enabled": true, "curriculum_type": "seqlen", "min_difficulty": 8, "max_difficulty": 64, "schedule_type": "fixed_linear", "schedule_config": {"total_curriculum_step": 10, "difficulty_stp": 8}}"#)
            .contains("difficulty_step"))
    }

    @Test("OneBitAdam: freeze_step (DeepSpeed's default 100000), its backend keys read; ZeroOneAdam and OneBitLamb refused")
    func oneBitAdam() throws {
        let config = try parse(#"{"train_batch_size": 8, "optimizer": {"type": "OneBitAdam", "params": {"lr": 1e-3, "freeze_step": 400, "cuda_aware": false, "comm_backend_name": "nccl"}}}"#)
        #expect(config.oneBitFreezeStep == 400 && config.learningRate == 1e-3)
        #expect(try parse(#"{"train_batch_size": 8, "optimizer": {"type": "OneBitAdam"}}"#).oneBitFreezeStep == 100_000)
        #expect(try parse(#"{"train_batch_size": 8, "optimizer": {"type": "Adam"}}"#).oneBitFreezeStep == nil)
        do {
            _ = try parse(#"{"train_batch_size": 8, "optimizer": {"type": "ZeroOneAdam"}}"#)
            Issue.record("ZeroOneAdam must be refused")
        } catch {
            #expect("\(error)".contains("ZeroOneAdam and OneBitLamb are not"))
        }
    }

    /// Every key the parser reads either acts or is named in a note with the reason it cannot: the
    /// keys listed here are all the inactive ones of zero_optimization, its offload blocks and aio,
    /// and the recognised top-level blocks this runtime does not act on.
    @Test("no DeepSpeed key the parser accepts is unused without a note")
    func everyInactiveKeyIsNamed() throws {
        let values: [String: String] = ["contiguous_gradients": "true", "allgather_partitions": "true", "load_from_fp32_weights": "true",
            "elastic_checkpoint": "false", "stage3_model_persistence_threshold": "100", "stage3_max_live_parameters": "100",
            "stage3_max_reuse_distance": "100", "stage3_gather_16bit_weights_on_model_save": "true",
            "stage3_gather_fp16_weights_on_model_save": "true", "ignore_unused_parameters": "true", "round_robin_gradients": "false",
            "cpu_offload_use_pin_memory": "false", "stage3_module_granularity_threshold": "0", "stage3_use_all_reduce_for_fetch_params": "false",
            "zero_hpz_partition_size": "1", "zero_quantized_weights": "false", "zero_quantized_gradients": "false", "mics_shard_size": "-1",
            "log_trace_cache_warnings": "false", "memory_efficient_linear": "true"]
        #expect(Set(values.keys) == Set(ZeROSettings.inactiveKeys.map(\.0)))
        for (key, value) in values {
            let config = try parse(#"{"train_batch_size": 8, "zero_optimization": {"stage": 3, ""# + key + "\": " + value + "}}")
            #expect(config.warnings.contains { $0.contains("zero_optimization.\(key) has no effect here") }, "\(key)")
        }
        let offload = ["buffer_count": "4", "buffer_size": "1000", "max_in_cpu": "1000", "pin_memory": "true"]
        let optimizerOffload = ["buffer_count": "4", "pin_memory": "true", "pipeline_read": "false", "pipeline_write": "false",
                                "fast_init": "false", "ratio": "1.0"]
        #expect(Set(offload.keys).union(optimizerOffload.keys) == Set(OffloadSettings.inactiveKeys.map(\.0)))
        for (block, keys) in [("offload_param", offload), ("offload_optimizer", optimizerOffload)] {
            for (key, value) in keys {
                let config = try parse(#"{"train_batch_size": 8, "zero_optimization": {"stage": 3, ""# + block + #"": {"device": "cpu", ""# + key + "\": " + value + "}}}")
                #expect(config.warnings.contains { $0.contains("zero_optimization.\(block).\(key) has no effect here") }, "\(block).\(key)")
            }
        }
        for (key, _) in AIOSettings.inactiveKeys {
            let value = ["block_size": "1048576", "queue_depth": "8", "intra_op_parallelism": "1", "thread_count": "1"][key] ?? "false"
            let config = try parse(#"{"train_batch_size": 8, "aio": {""# + key + "\": " + value + "}}")
            #expect(config.warnings.contains { $0.contains("aio.\(key) has no effect here") }, "aio.\(key)")
        }
        for block in DeepSpeedConfig.ignoredBlocks {
            let config = try parse(#"{"train_batch_size": 8, ""# + block + #"": {}}"#)
            #expect(config.warnings.contains { $0.contains("accepted but not acted on") && $0.contains(block) }, "\(block)")
        }
    }
}
