import Foundation
import Kernels
import Testing
import TestSupport
@testable import GenomeLM
import TensorCore
@testable import Recipes
import TensorIO

@Suite("GenSLM recipes")
struct GenSLMRecipeTests {
    static let yamls = Fixtures.shared("genslm/training_yaml")

    /// A scratch folder with 16 genes of four repeated codon pairs, tokenised in blocks of 32 (genes_train.h5, genes_val.h5).
    static func repeatedGenes(_ name: String) throws -> URL {
        let directory = try Fixtures.scratchDirectory(name)
        let fasta = (0..<16).map { ">g\($0)\nATG" + String(repeating: ["GCTGAA", "AAACTG", "GGCTTT", "CCGGCT"][$0 % 4], count: 8) + "TAA\n" }.joined()
        try fasta.write(toFile: directory.appendingPathComponent("genes.fa").path, atomically: true, encoding: .utf8)
        try GenomeDatasetWriter.convert(fasta: directory.appendingPathComponent("genes.fa").path, tokenizer: .standard,
                                        blockSize: 32, outputDirectory: directory.path)
        return directory
    }

    @Test("GenSLM's published training YAMLs read as written; the unknown key is named with a suggestion")
    func publishedRecipes() throws {
        for name in ["25M_foundation", "250M_foundation", "2B_foundation", "25B_foundation", "25M_finetune_first_year"] {
            let settings = try GenSLMSettings.load(from: GenSLMRecipeTests.yamls.appendingPathComponent("\(name).yaml").path)
            #expect(settings.learningRate > 0 && settings.batchSize >= 1, "\(name)")
        }
        let settings = try GenSLMSettings.load(from: GenSLMRecipeTests.yamls.appendingPathComponent("25M_foundation.yaml").path)
        #expect(settings.blockSize == 2048 && settings.batchSize == 8 && settings.epochs == 5 && settings.learningRate == 5e-5)
        #expect(settings.valCheckInterval == 500 && settings.limitValBatches == 32 && settings.checkpointEveryNTrainSteps == 500)
        #expect(settings.ignoredKeys.contains("wandb_active") && settings.ignoredKeys.contains("precision"))
        let broken = GenSLMRecipeTests.yamls.appendingPathComponent("250M_finetune_first_year.yaml").path
        do {
            _ = try GenSLMSettings.load(from: broken)
            Issue.record("the unknown key must be refused")
        } catch let error as FileError {
            #expect(error.description.hasPrefix(broken))
            #expect(error.description.contains("unknown key 'check_val_every_n_steps'; did you mean 'check_val_every_n_epoch'?"))
        }
    }

    @Test("typos, missing keys, wrong types and conflicting schedules fail naming the key")
    func badRecipes() throws {
        let directory = try Fixtures.scratchDirectory("badrecipes")
        func check(_ yaml: String, _ expected: String) throws {
            let path = directory.appendingPathComponent("r\(abs(yaml.hashValue)).yaml").path
            try yaml.write(toFile: path, atomically: true, encoding: .utf8)
            do {
                _ = try GenSLMSettings.load(from: path)
                Issue.record("expected an error for \(yaml)")
            } catch let error as FileError {
                #expect(error.description.contains(expected), "\(error)")
            }
        }
        let base = "train_file: a.h5\nmodel_config_json: m.json\n"
        try check(base + "learning_rte: 0.1\n", ".yaml:3: unknown key 'learning_rte'; did you mean 'learning_rate'?")
        try check("model_config_json: m.json\n", "key 'train_file': is required")
        try check(base + "batch_size: eight\n", ".yaml:3: key 'batch_size': must be an integer ≥ 1, got 'eight'")
        try check(base + "warm_up_lr:\n  min_lr: low\n", ".yaml:4: key 'warm_up_lr.min_lr': must be a number, got 'low'")
        try check(base + "learning_rate: \"1e-3\"\n", "key 'learning_rate': must be a number")
        try check(base + "warm_up_lr:\n  min_lr: 0.1\n  num_step: 5\n", "unknown key 'warm_up_lr.num_step'; did you mean 'num_steps'?")
        try check(base + "max_steps: 10\nwarm_up_lr: {min_lr: 0.0, num_steps: 5}\nlr_cosine_with_warmup: {num_warmup_steps: 2}\n", "exclusive")
        try check(base + "lr_cosine_with_warmup: {num_warmup_steps: 2}\n", "needs max_steps")
        try check("- a\n- b\n", "expected a mapping")
    }

    @Test("each position embedding named in config.json (rotary scaled or interleaved, ALiBi, T5 buckets) trains from a recipe and reloads")
    func positionEmbeddings() throws {
        let directory = try Self.repeatedGenes("positions")
        let variants = [
            "alibi": #", "pos_emb": "alibi""#,
            "rpe": #", "pos_emb": "rpe", "rpe_num_buckets": 8, "rpe_max_distance": 32"#,
            "llama3": #", "rope_scaling": {"rope_type": "llama3", "factor": 4, "low_freq_factor": 1, "high_freq_factor": 4, "original_max_position_embeddings": 16}"#,
            "gptj-dynamic": #", "rotary_interleaved": true, "rope_scaling": {"type": "dynamic", "factor": 2}"#,
        ]
        for (name, keys) in variants.sorted(by: { $0.key < $1.key }) {
            try (#"{"vocab_size": 69, "hidden_size": 16, "num_hidden_layers": 1, "num_attention_heads": 2, "intermediate_size": 32, "hidden_act": "gelu_fast", "rotary_pct": 0.5, "max_position_embeddings": 32"#
                + keys + "}").write(toFile: directory.appendingPathComponent("\(name).json").path, atomically: true, encoding: .utf8)
            let recipe = directory.appendingPathComponent("\(name).yaml").path
            try "train_file: genes_train.h5\nval_file: genes_val.h5\nmodel_config_json: \(name).json\nblock_size: 32\nbatch_size: 4\nmax_steps: 4\nlearning_rate: 0.01\nval_check_interval: 4\noptimizer: adamw\n"
                .write(toFile: recipe, atomically: true, encoding: .utf8)
            let settings = try GenSLMSettings.load(from: recipe)
            let run = directory.appendingPathComponent("run-\(name)").path
            let summary = try GenSLMTrainer(settings: settings, runDirectory: run) { _ in }.run()
            #expect(summary.steps == 4 && summary.finalTrainLoss.isFinite && summary.finalValidationLoss?.isFinite == true, "\(name)")
            let trained = try GenSLMTrainedModel.load(settings: settings, runDirectory: run)
            #expect((trained.model.relativeAttentionBias != nil) == (name == "rpe"), "\(name)")
            #expect(trained.model.layers[0].attention.alibiSlopes?.count == (name == "alibi" ? 2 : nil), "\(name)")
        }
    }

    @Test("DeepSpeed's bf16: products in bf16 for the run only (losses close to float32's, not equal), float32 again after; refused politely without AVX512-BF16")
    func bf16Training() throws {
        let directory = try Self.repeatedGenes("bf16")
        try #"{"vocab_size": 69, "hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 64, "hidden_act": "gelu_fast", "rotary_pct": 0.5}"#
            .write(toFile: directory.appendingPathComponent("model.json").path, atomically: true, encoding: .utf8)
        func losses(bf16: Bool) throws -> (train: [Double], lines: [String]) {
            let name = bf16 ? "bf16" : "fp32"
            try "{\"train_batch_size\": 4, \"bf16\": {\"enabled\": \(bf16)}}".write(toFile: directory.appendingPathComponent(name + ".json").path,
                                                                                    atomically: true, encoding: .utf8)
            let recipe = directory.appendingPathComponent(name + ".yaml").path
            try "train_file: genes_train.h5\nval_file: genes_val.h5\nmodel_config_json: model.json\ndeepspeed_cfg_file: \(name).json\nblock_size: 32\nmax_steps: 12\nlearning_rate: 0.01\nval_check_interval: 12\nlog_every_n_steps: 1\noptimizer: adamw\n"
                .write(toFile: recipe, atomically: true, encoding: .utf8)
            var lines: [String] = []
            let run = directory.appendingPathComponent("run-" + name).path
            _ = try GenSLMTrainer(settings: try GenSLMSettings.load(from: recipe), runDirectory: run) { lines.append($0) }.run()
            let metrics = try String(contentsOfFile: run + "/metrics.jsonl", encoding: .utf8).split(separator: "\n")
                .map { try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any] }
            return (metrics.compactMap { $0["train/loss"] as? Double }, lines)
        }
        let (float32, _) = try losses(bf16: false)
        let (bf16, lines) = try losses(bf16: true)
        #expect(MatmulPrecision.current == .float32, "the run restores float32 products")
        #expect(float32.count == 12 && bf16.count == 12)
        if BF16GEMM.isAvailable {
            #expect(lines.contains { $0.hasPrefix("bf16: matrix products in bf16") })
            #expect(bf16 != float32, "bf16 products change the numbers")
            #expect(zip(bf16, float32).allSatisfy { abs($0 - $1) <= 0.02 * abs($1) }, "\(bf16) vs \(float32)")
        } else {
            #expect(lines.contains { $0.contains("no AVX512-BF16") } && bf16 == float32)
        }
    }

    @Test("DeepSpeed's sequence-length curriculum: each step trains on the scheduled first tokens (metrics say which); a resumed run continues the schedule; activation checkpointing and the optimizer block from the same config")
    func curriculum() throws {
        let directory = try Self.repeatedGenes("curriculum")
        try #"{"vocab_size": 69, "hidden_size": 16, "num_hidden_layers": 1, "num_attention_heads": 2, "intermediate_size": 32, "hidden_act": "gelu_fast", "rotary_pct": 0.5}"#
            .write(toFile: directory.appendingPathComponent("model.json").path, atomically: true, encoding: .utf8)
        try #"{"train_batch_size": 4, "optimizer": {"type": "AdamW", "params": {"lr": 0.002, "weight_decay": 0.1}}, "scheduler": {"type": "WarmupLR"}, "activation_checkpointing": {}, "curriculum_learning": {"enabled": true, "curriculum_type": "seqlen", "min_difficulty": 8, "max_difficulty": 32, "schedule_type": "fixed_linear", "schedule_config": {"total_curriculum_step": 6, "difficulty_step": 8}}}"#
            .write(toFile: directory.appendingPathComponent("ds.json").path, atomically: true, encoding: .utf8)
        let recipe = directory.appendingPathComponent("recipe.yaml").path
        try "train_file: genes_train.h5\nval_file: genes_val.h5\nmodel_config_json: model.json\ndeepspeed_cfg_file: ds.json\nblock_size: 32\nmax_steps: 8\nlearning_rate: 0.01\nval_check_interval: 8\ncheckpoint_every_n_train_steps: 4\noptimizer: adamw\n"
            .write(toFile: recipe, atomically: true, encoding: .utf8)
        let run = directory.appendingPathComponent("run").path
        var lines: [String] = []
        var stopped = try GenSLMSettings.load(from: recipe)
        stopped.maxSteps = 8
        _ = try GenSLMTrainer(settings: stopped, runDirectory: run) { lines.append($0) }.run(stopAtStep: 4)
        _ = try GenSLMTrainer(settings: stopped, runDirectory: run) { lines.append($0) }.run(resume: true)
        #expect(lines.contains { $0.contains("activation checkpointing") })
        // DeepSpeed's optimizer block replaces the recipe's (learning_rate 0.01); its scheduler is said to have no effect.
        #expect(lines.contains { $0.contains("scheduler has no effect here") })
        let metrics = try String(contentsOfFile: run + "/metrics.jsonl", encoding: .utf8).split(separator: "\n")
            .map { try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any] }
        let lengths = metrics.compactMap { $0["curriculum_seqlen"] as? Double }.map(Int.init)
        // DeepSpeed's fixed_linear from 8 to 32 over 6 steps in steps of 8: floor(8 + 24·k/6) rounded down to a multiple of 8.
        #expect(lengths == [8, 16, 16, 24, 24, 32, 32, 32], "\(lengths)")
        #expect(metrics.compactMap { $0["lr"] as? Double }.allSatisfy { $0 == 0.002 })
        let bad = directory.appendingPathComponent("bad.json").path
        try #"{"train_batch_size": 4, "curriculum_learning": {"enabled": true, "curriculum_type": "seqlen", "min_difficulty": 8, "max_difficulty": 64, "schedule_type": "fixed_linear", "schedule_config": {"total_curriculum_step": 6, "difficulty_step": 8}}}"#
            .write(toFile: bad, atomically: true, encoding: .utf8)
        var tooLong = try GenSLMSettings.load(from: recipe)
        tooLong.deepSpeedConfigFile = bad
        do {
            _ = try GenSLMTrainer(settings: tooLong, runDirectory: directory.appendingPathComponent("bad").path) { _ in }.run()
            Issue.record("a curriculum beyond block_size must be refused")
        } catch let error as FileError {
            #expect(error.message.contains("exceeds the recipe's block_size 32"), "\(error)")
        }
    }

    @Test("a tiny run trains, validates, checkpoints atomically and resumes where it stopped")
    func trainAndResume() throws {
        let directory = try Fixtures.scratchDirectory("train")
        var fasta = ""
        var generator = SystemRandomNumberGenerator()
        let codons = ["ATG", "GCT", "GAA", "AAA", "CTG", "GGC", "TTT", "CCG"]
        for index in 0..<24 {
            let body = (0..<30).map { _ in codons.randomElement(using: &generator)! }.joined()
            fasta += ">g\(index)\nATG\(body)TAA\n"
        }
        try fasta.write(toFile: directory.appendingPathComponent("genes.fa").path, atomically: true, encoding: .utf8)
        try GenomeDatasetWriter.convert(fasta: directory.appendingPathComponent("genes.fa").path, tokenizer: .standard,
                                        blockSize: 32, outputDirectory: directory.path)
        try #"{"vocab_size": 69, "hidden_size": 16, "num_hidden_layers": 1, "num_attention_heads": 2, "intermediate_size": 32, "hidden_act": "gelu_fast", "rotary_pct": 0.5}"#
            .write(toFile: directory.appendingPathComponent("model.json").path, atomically: true, encoding: .utf8)
        let recipe = directory.appendingPathComponent("recipe.yaml").path
        try """
            train_file: genes_train.h5
            val_file: genes_val.h5
            model_config_json: model.json
            block_size: 32
            batch_size: 4
            max_steps: 6
            learning_rate: 0.01
            val_check_interval: 3
            checkpoint_every_n_train_steps: 3
            log_every_n_steps: 3
            optimizer: adamw
            """.write(toFile: recipe, atomically: true, encoding: .utf8)
        let run = directory.appendingPathComponent("run").path
        var lines: [String] = []
        let summary = try GenSLMTrainer(settings: try GenSLMSettings.load(from: recipe), runDirectory: run) { lines.append($0) }.run()
        #expect(summary.steps == 6 && summary.finalValidationLoss != nil && summary.finalTrainLoss.isFinite)
        let metrics = try String(contentsOfFile: summary.metrics, encoding: .utf8).split(separator: "\n")
        #expect(metrics.filter { $0.contains("train/loss") }.count == 6 && metrics.filter { $0.contains("val/loss") }.count == 2)
        #expect(try String(contentsOfFile: summary.lossCurve, encoding: .utf8).hasPrefix("<svg"))
        let checkpoint = try Checkpoint.read(from: summary.checkpoint)
        #expect(checkpoint.step == 6 && checkpoint.config.contains("\"max_steps\":6"))
        #expect(!(try FileManager.default.contentsOfDirectory(atPath: run + "/checkpoints")).contains { $0.contains(".tmp-") })

        // The files name their tokenizer; a recipe with another vocabulary is refused before any step.
        let upstream = Fixtures.shared("genslm/tokenizer_files/codon_wordlevel_69vocab.json").path
        let train = try HDF5File(path: directory.appendingPathComponent("genes_train.h5").path)
        #expect(try train.attribute("tokenizer").stringValue == "scizoo-codons")
        #expect(try train.attribute("tokenizer_fingerprint").stringValue == CodonTokenizer.standard.fingerprint)
        try train.close()
        #expect(try CodonTokenizer.load(from: upstream).fingerprint != CodonTokenizer.standard.fingerprint)
        var otherVocabulary = try GenSLMSettings.load(from: recipe)
        otherVocabulary.tokenizerFile = upstream
        do {
            _ = try GenSLMTrainer(settings: otherVocabulary, runDirectory: directory.appendingPathComponent("mismatch").path).run()
            Issue.record("training on ids of another vocabulary must be refused")
        } catch let error as FileError {
            #expect(error.file.hasSuffix("genes_train.h5") && error.message.contains("codon_wordlevel_69vocab.json"), "\(error)")
        }

        // Resume with a longer run: it continues from step 6.
        var longer = try GenSLMSettings.load(from: recipe)
        longer.maxSteps = 9
        var resumedLines: [String] = []
        let resumed = try GenSLMTrainer(settings: longer, runDirectory: run) { resumedLines.append($0) }.run(resume: true)
        #expect(resumed.steps == 9)
        #expect(resumedLines.contains { $0.contains("resumed from") && $0.contains("at step 6") })
        #expect(try Checkpoint.read(from: resumed.checkpoint).step == 9)

        // GenSLM's load_pt_checkpoint takes Hugging Face safetensors as initial weights.
        let exported = directory.appendingPathComponent("init.safetensors").path
        let source = try GenSLMTrainedModel.load(settings: longer, runDirectory: run)
        try Safetensors.write(source.model.huggingFaceStateDict(), to: exported)
        var fromWeights = try GenSLMSettings.load(from: recipe)
        fromWeights.loadCheckpoint = exported
        fromWeights.maxSteps = 1
        var initLines: [String] = []
        _ = try GenSLMTrainer(settings: fromWeights, runDirectory: directory.appendingPathComponent("run2").path) { initLines.append($0) }.run()
        #expect(initLines.contains { $0.contains("initial weights from") })
        fromWeights.loadCheckpoint = "model.pt"
        #expect(throws: FileError.self) { _ = try GenSLMTrainer(settings: fromWeights, runDirectory: run).run() }

        // Generation and embeddings from the trained checkpoint.
        let trained = try GenSLMTrainedModel.load(settings: longer, runDirectory: run)
        var options = SamplingOptions()
        options.maxTokens = 12
        options.cutAtStopCodon = true
        var sampler = RandomGenerator(seed: 3)
        let sequence = trained.model.generate(tokenizer: trained.tokenizer, options: options, generator: &sampler)
        #expect(sequence.hasPrefix("ATG") && sequence.count % 3 == 0 && sequence.count <= 36)
        #expect(sequence.allSatisfy { "ACGT".contains($0) })
        var again = RandomGenerator(seed: 3)
        #expect(trained.model.generate(tokenizer: trained.tokenizer, options: options, generator: &again) == sequence, "a seed fixes the draw")
        let records = try FastaReader.readAll(path: directory.appendingPathComponent("genes.fa").path)
        let rows = records.prefix(3).map { trained.model.embedding(of: $0.sequence, tokenizer: trained.tokenizer, blockSize: 32) }
        let embeddings = directory.appendingPathComponent("embeddings.h5").path
        try GenSLMEmbeddingWriter.write(Array(rows), indices: [0, 1, 2], sequences: records.prefix(3).map(\.sequence), to: embeddings)
        let report = try Subprocess.python("""
            import sys, json, hashlib, h5py
            with h5py.File(sys.argv[1], "r") as f:
                print(json.dumps({"shape": list(f["embeddings"].shape), "indices": f["fasta-indices"][()].tolist(),
                                  "hashes": f["na-hashes"].asstr()[()].tolist()}))
            """, arguments: [embeddings])
        let json = try JSONSerialization.jsonObject(with: Data(report.utf8)) as! [String: Any]
        #expect(json["shape"] as? [Int] == [3, 16] && json["indices"] as? [Int] == [0, 1, 2])
        let hashes = try Subprocess.python("""
            import sys, hashlib
            for s in sys.argv[1:]: print(hashlib.md5(s.upper().encode()).hexdigest())
            """, arguments: records.prefix(3).map(\.sequence)).split(separator: "\n").map(String.init)
        #expect(json["hashes"] as? [String] == hashes)
    }

    @Test("MD5 matches RFC 1321's test suite")
    func md5() {
        #expect(MD5.hex("") == "d41d8cd98f00b204e9800998ecf8427e")
        #expect(MD5.hex("abc") == "900150983cd24fb0d6963f7d28e17f72")
        #expect(MD5.hex("message digest") == "f96b697d7cb7938d525a2f31aaf161d0")
        #expect(MD5.hex(String(repeating: "1234567890", count: 8)) == "57edf4a22be3c955ac49da2e2107b67a")
    }
}
