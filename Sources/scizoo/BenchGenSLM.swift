// `scizoo bench genslm-train`: tokens/s of full GPT-NeoX training steps (forward, backward, AdamW).
import ArgumentParser
import Foundation
import GenomeLM
import Kernels
import NeuralNetworks
import ParallelRuntime
import TensorCore
import TensorIO

struct BenchGenSLMTrain: SciZooCommand {
    static let configuration = CommandConfiguration(
        commandName: "genslm-train",
        abstract: "Tokens/s of full GPT-NeoX training steps (forward, backward, AdamW) on random codon tokens.",
        discussion: "GFLOP/s counts 6·parameters per token for the dense layers plus 12·layers·seq·hidden per token for attention.")

    @OptionGroup var shape: GPTNeoXShapeOptions
    @Option var seq: Int = 1024
    @Option var batch: Int = 1
    @Option(help: "Timed steps (after one warm-up step).") var steps: Int = 5
    @Flag(help: "Also time the same model's training step in Hugging Face transformers (Scripts/bench/genslm_twin.py), in the same run.")
    var compareTransformers = false
    @Flag(help: "Also time the same steps with activation checkpointing, and compare the peak tensor memory of a step.")
    var compareCheckpointing = false
    @Flag(help: "Also time the same steps with bf16 matrix products (DeepSpeed's bf16; AVX512-BF16), alternating with float32.")
    var compareBF16 = false
    @OptionGroup var threadOptions: ThreadOptions
    var threads: Int? { threadOptions.threads }

    func execute(budget: ThreadBudget) throws {
        printBenchHeader(budget)
        let configuration = try shape.configuration(maxPositions: Swift.max(2048, seq))
        let (hidden, layers, heads, ff, vocab, rotaryPct) = (shape.hidden, shape.layers, shape.heads, shape.ff, shape.vocab, shape.rotaryPct)
        let model = GPTNeoXForCausalLM(configuration, seed: 0)
        // The trainers' optimiser path: ZeRO stage 0 on a world of one (AdamW, fused update).
        let optimizer = try ZeROOptimizer(model.namedParameters(), settings: ZeROSettings(),
                                          adam: AdamSettings(learningRate: 1e-4, weightDecay: 0.01, decoupled: true),
                                          groups: ProcessGroups(world: InProcessWorld.single()))
        var generator = RandomGenerator(seed: 1)
        let ids = generator.uniform([batch, seq], low: 5, high: Double(vocab), dtype: .float64).cast(to: .int64)
        let mask = Tensor.ones([batch, seq], dtype: .int64)
        func step() throws {
            model.zeroGrad()
            try model.loss(ids, attentionMask: mask).backward()
            try optimizer.step()
        }
        try step()
        let clock = ContinuousClock()
        func timeSteps() throws -> Timing {
            var seconds: [Double] = []
            for _ in 0..<steps {
                let start = clock.now
                try step()
                let elapsed = clock.now - start
                seconds.append(elapsed.inSeconds)
            }
            return Timing(seconds: seconds)
        }
        let timing = try timeSteps()
        let tokens = Double(batch * seq)
        let flopsPerToken = 6 * Double(model.parameterCount) + 12 * Double(layers * seq * hidden)
        print("GPT-NeoX hidden \(hidden), \(layers) layers, \(heads) heads, ff \(ff), vocab \(vocab), rotary \(rotaryPct); "
              + "\(model.parameterCount) parameters; batch \(batch) × seq \(seq)")
        print(String(format: "step   median %.4f s  min %.4f s  max %.4f s  (%d steps)", timing.median, timing.minimum, timing.maximum, steps))
        print(String(format: "rate   %.0f tokens/s (median), %.0f (best); %.1f GFLOP/s", tokens / timing.median, tokens / timing.minimum,
                     tokens * flopsPerToken / timing.median / 1e9))
        // Where the time goes: one more step, phase by phase.
        func time(_ body: () throws -> Void) rethrows -> Double {
            let start = clock.now
            try body()
            let elapsed = clock.now - start
            return elapsed.inSeconds
        }
        let inference = time { _ = withNoGrad { model.loss(ids, attentionMask: mask) } }
        model.zeroGrad()
        var loss = Tensor.zeros([])
        let forward = time { loss = model.loss(ids, attentionMask: mask) }
        let backward = try time { try loss.backward() }
        let update = try time { try optimizer.step() }
        print(String(format: "phases forward (no graph) %.3f s; forward %.3f s, backward %.3f s, AdamW %.3f s", inference, forward, backward, update))
        if compareBF16 {
            guard BF16GEMM.isAvailable else { print("bf16: this CPU has no AVX512-BF16"); return }
            // Three alternating pairs of timed runs, so both precisions see the same machine state.
            var ratios: [Double] = []
            for _ in 0..<3 {
                let float32 = try timeSteps()
                MatmulPrecision.current = .bf16
                defer { MatmulPrecision.current = .float32 }
                let bf16 = try timeSteps()
                MatmulPrecision.current = .float32
                ratios.append(float32.median / bf16.median)
                print(String(format: "bf16   %.0f tokens/s (median) against float32 %.0f: %.2f×", tokens / bf16.median, tokens / float32.median,
                             float32.median / bf16.median))
            }
            print(String(format: "bf16 speed-up, median of 3 pairs: %.2f×", ratios.sorted()[1]))
            if compareTransformers {
                // The fair reference for a bf16 run: transformers under torch's CPU autocast to bfloat16.
                MatmulPrecision.current = .bf16
                let ours = try timeSteps()
                MatmulPrecision.current = .float32
                let twin = transformersTwin(model, ["train", "--seq", "\(seq)", "--batch", "\(batch)", "--steps", "\(steps)",
                                                    "--threads", "\(budget.threads)", "--bf16"])
                if let rate = twin?["tokens_per_second"] as? Double {
                    print(String(format: "transformers bf16 autocast: %.0f tokens/s; ours in bf16 %.0f, ours/transformers %.2f×", rate,
                                 tokens / ours.median, tokens / ours.median / rate))
                }
            }
        }
        if compareTransformers {
            let twin = transformersTwin(model, ["train", "--seq", "\(seq)", "--batch", "\(batch)", "--steps", "\(steps)", "--threads", "\(budget.threads)"])
            if let rate = twin?["tokens_per_second"] as? Double {
                print(String(format: "transformers %@ (torch %@): %.0f tokens/s; ours/transformers %.2f×", twin?["transformers"] as? String ?? "?",
                             twin?["torch"] as? String ?? "?", rate, tokens / timing.median / rate))
            }
        }
        if compareCheckpointing {
            // One step each way, charged to its own scope: forward, backward and AdamW.
            func peak(_ checkpoint: Bool) throws -> Int {
                model.checkpointsActivations = checkpoint
                let scope = MemoryScope()
                try scope.measure { try step() }
                return scope.peakBytes
            }
            let plainPeak = try peak(false), checkpointedPeak = try peak(true)
            let checkpointed = try timeSteps()
            print(String(format: "activation checkpointing: step median %.4f s (%.2f× the plain step); peak tensor memory of a step %@ vs %@ plain (%.0f %%)",
                         checkpointed.median, checkpointed.median / timing.median, gibibytes(checkpointedPeak), gibibytes(plainPeak),
                         100 * Double(checkpointedPeak) / Double(plainPeak)))
            model.checkpointsActivations = false
        }
        let profile = AutogradProfile.drain()
        if !profile.isEmpty {
            print("backward by op (all steps; SCIZOO_PROFILE_AUTOGRAD): "
                  + profile.prefix(12).map { String(format: "%@ %.3f s", $0.0, $0.1) }.joined(separator: ", "))
        }
    }
}

struct BenchGenSLMGenerate: SciZooCommand {
    static let configuration = CommandConfiguration(
        commandName: "genslm-generate",
        abstract: "Tokens/s of sampling new codon tokens from GPT-NeoX: with the KV cache, without it, and Hugging Face transformers' generate on the same weights.")

    @OptionGroup var shape: GPTNeoXShapeOptions
    @Option(help: "New tokens per sequence (after a one-token prompt).") var newTokens: Int = 1024
    @Option(help: "New tokens for the uncached path (it re-runs the whole prefix per token; 0 skips it).") var uncachedTokens: Int?
    @Flag(help: "Skip the transformers reference.") var noReference = false
    @OptionGroup var threadOptions: ThreadOptions
    var threads: Int? { threadOptions.threads }

    func execute(budget: ThreadBudget) throws {
        printBenchHeader(budget)
        let configuration = try shape.configuration(maxPositions: Swift.max(2048, newTokens + 8))
        let model = GPTNeoXForCausalLM(configuration, seed: 0)
        print("GPT-NeoX hidden \(shape.hidden), \(shape.layers) layers, \(shape.heads) heads, ff \(shape.ff), vocab \(shape.vocab); "
              + "\(model.parameterCount) parameters; top-k 50, top-p 0.95, a one-token prompt")
        func rate(tokens: Int, cache: Bool) -> Double {
            var options = SamplingOptions()
            (options.maxTokens, options.useCache) = (tokens + 1, cache)
            var generator = RandomGenerator(seed: 1)
            let clock = ContinuousClock(), start = clock.now
            let sequence = model.generate(tokenizer: .standard, options: options, generator: &generator)
            let elapsed = clock.now - start
            precondition(sequence.count == 3 * (tokens + 1), "generated \(sequence.count / 3) tokens, expected \(tokens + 1)")
            return Double(tokens) / elapsed.inSeconds
        }
        _ = rate(tokens: 8, cache: true)
        let cached = rate(tokens: newTokens, cache: true)
        print(String(format: "ours, KV cache:    %8.1f tokens/s (%d new tokens)", cached, newTokens))
        let uncachedCount = uncachedTokens ?? newTokens
        if uncachedCount > 0 {
            let uncached = rate(tokens: uncachedCount, cache: false)
            print(String(format: "ours, no cache:    %8.1f tokens/s (%d new tokens); the cache is %.1f× faster", uncached, uncachedCount,
                         uncachedCount == newTokens ? cached / uncached : .nan))
        }
        if !noReference, let twin = transformersTwin(model, ["generate", "--new-tokens", "\(newTokens)", "--threads", "\(budget.threads)"]),
           let reference = twin["tokens_per_second"] as? Double {
            print(String(format: "transformers %@ (torch %@) generate, use_cache: %8.1f tokens/s; ours/transformers %.2f×",
                         twin["transformers"] as? String ?? "?", twin["torch"] as? String ?? "?", reference, cached / reference))
        }
    }
}

/// Runs Scripts/bench/genslm_twin.py on `model`'s weights (Hugging Face names and config.json in a
/// temporary folder); nil, with a note, when transformers is missing.
func transformersTwin(_ model: GPTNeoXForCausalLM, _ arguments: [String]) -> [String: Any]? {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("scizoo-genslm-twin-\(getpid())").path
    defer { try? FileManager.default.removeItem(atPath: folder) }
    do {
        try model.writeHuggingFace(to: folder)
    } catch {
        print("reference: cannot write the model for transformers (\(error))")
        return nil
    }
    guard let json = runPythonTwin(FileManager.default.currentDirectoryPath + "/Scripts/bench/genslm_twin.py", arguments + ["--model", folder]).last else {
        print("reference: transformers twin unavailable (pip install transformers; Scripts/bench/genslm_twin.py)")
        return nil
    }
    return json
}

/// The GPT-NeoX shape the benchmarks build.
struct GPTNeoXShapeOptions: ParsableArguments {
    @Option var hidden: Int = 256
    @Option var layers: Int = 4
    @Option var heads: Int = 8
    @Option var ff: Int = 1024
    @Option var vocab: Int = 70
    @Option var rotaryPct: Double = 0.25

    func configuration(maxPositions: Int) throws -> GPTNeoXConfiguration {
        let configuration = GPTNeoXConfiguration(vocabSize: vocab, hiddenSize: hidden, numHiddenLayers: layers, numAttentionHeads: heads,
                                                 intermediateSize: ff, hiddenAct: "gelu_fast", rotaryPct: rotaryPct,
                                                 maxPositionEmbeddings: maxPositions)
        try configuration.validate(file: "command line")
        return configuration
    }
}
