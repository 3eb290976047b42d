// `scizoo bench genslm-train`: tokens/s of full GPT-NeoX training steps (forward, backward, AdamW).
import ArgumentParser
import Foundation
import GenomeLM
import Kernels
import NeuralNetworks
import ParallelRuntime
import TensorCore

struct BenchGenSLMTrain: SciZooCommand {
    static let configuration = CommandConfiguration(
        commandName: "genslm-train",
        abstract: "Tokens/s of full GPT-NeoX training steps (forward, backward, AdamW) on random codon tokens.",
        discussion: "GFLOP/s counts 6·parameters per token for the dense layers plus 12·layers·seq·hidden per token for attention.")

    @OptionGroup var shape: GPTNeoXShapeOptions
    @Option var seq: Int = 1024
    @Option var batch: Int = 1
    @Option(help: "Timed steps (after one warm-up step).") var steps: Int = 5
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
        var seconds: [Double] = []
        for _ in 0..<steps {
            let start = clock.now
            try step()
            let elapsed = clock.now - start
            seconds.append(elapsed.inSeconds)
        }
        let timing = Timing(seconds: seconds)
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
        let profile = AutogradProfile.drain()
        if !profile.isEmpty {
            print("backward by op (all steps; SCIZOO_PROFILE_AUTOGRAD): "
                  + profile.prefix(12).map { String(format: "%@ %.3f s", $0.0, $0.1) }.joined(separator: ", "))
        }
    }
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
