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
        #expect(message(#"{"train_batch_size": 8, "optimizer": {"type": "Lamb"}}"#).contains("Adam or AdamW"))
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
        #expect(openFold.warnings.contains { $0.contains("activation_checkpointing") && $0.contains("amp") })
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
}
