// `scizoo bench ulysses`: DeepSpeed-Ulysses sequence parallelism measured under mpirun. For every
// group size P dividing the job (1 is the reference, measured in the same run), on a small GPT-NeoX
// layer stack: bytes each rank sends per layer (counted at the communicator) against the
// 4·N·h/P formula of the Ulysses paper, time per layer, peak tensor memory per rank, and the
// longest sequence whose training step fits a per-rank memory cap.
import ArgumentParser
import Foundation
import GenomeLM
import Kernels
import ParallelRuntime
import TensorCore

struct BenchUlysses: SciZooCommand {
    static let configuration = CommandConfiguration(
        commandName: "ulysses",
        abstract: "Ulysses under mpirun: bytes/layer vs 4·N·h/P, time/layer, peak memory/rank, longest sequence under a memory cap.",
        discussion: """
            Run as `mpirun -np 4 --oversubscribe scizoo bench ulysses`: rows for P = 1, 2, 4 (ranks split into groups of P \
            that run side by side). Memory is SciZoo's tensor accounting (parameters, gradients, activations), per rank.
            """)

    @Option var hidden: Int = 128
    @Option var heads: Int = 8
    @Option var layers: Int = 2
    @Option var ff: Int = 512
    @Option var vocab: Int = 70
    @Option(help: "Sequence length for the traffic, time and memory rows.") var seq: Int = 2048
    @Option(help: "Per-rank memory cap for the longest-sequence search, MiB.") var capMib: Int = 64
    @Option(help: "Longest sequence tried.") var maxSeq: Int = 65536
    @Option(help: "Timed training steps (forward + backward) per P.") var steps: Int = 3
    @OptionGroup var threadOptions: ThreadOptions
    var threads: Int? { threadOptions.threads }
    static var startsMPI: MPIStart { .always }

    func execute(budget: ThreadBudget) throws {
        let world = try MPICommunicator.world()  // before any BLAS work
        let configuration = GPTNeoXConfiguration(vocabSize: vocab, hiddenSize: hidden, numHiddenLayers: layers, numAttentionHeads: heads,
                                                 intermediateSize: ff, hiddenAct: "gelu_fast", rotaryPct: 0.25,
                                                 maxPositionEmbeddings: Swift.max(maxSeq, seq))
        try configuration.validate(file: "command line")
        let log = RankLog(rank: world.rank, size: world.size)
        printBenchHeader(budget, log: { log($0) })
        log("thread budget: \(budget); \(world.size) rank(s) on \(ProcessInfo.processInfo.activeProcessorCount) core(s)"
            + (world.size > ProcessInfo.processInfo.activeProcessorCount ? " (oversubscribed: times are shared, memory is not)" : ""))
        log("GPT-NeoX stack: hidden \(hidden), \(heads) heads, \(layers) layers, ff \(ff), float32; traffic, time and memory at S = \(seq)")
        log("   P   sent/layer fwd   4·N·h/P·4 B   ratio   bwd/layer    time/layer   vs P=1   peak/rank     longest S ≤ \(capMib) MiB")

        var referenceTime = 0.0
        for p in [1, 2, 4, 8, 16].filter({ world.size % $0 == 0 }) {
            let group = CountingCommunicator(try world.split(color: world.rank / p, key: world.rank))
            let model = GPTNeoXForCausalLM(configuration, seed: 0)
            try model.enableSequenceParallelism(group)
            func tokens(_ length: Int) -> (Tensor, Tensor) {
                var generator = RandomGenerator(seed: UInt64(length))
                return (generator.uniform([1, length], low: 5, high: Double(vocab), dtype: .float64).cast(to: .int64),
                        Tensor.ones([1, length], dtype: .int64))
            }
            /// One training step (forward and backward); returns forward and backward all-to-all bytes and peak bytes.
            func step(_ length: Int) throws -> (forward: Int, backward: Int, peak: Int) {
                let (ids, mask) = tokens(length)
                model.zeroGrad()
                TensorMemory.resetPeak()
                group.resetCount()
                let loss = try model.sequenceParallelLoss(ids, attentionMask: mask)
                let forward = group.sentBytes("allToAllV")
                group.resetCount()
                try loss.backward()
                return (forward, group.sentBytes("allToAllV"), TensorMemory.peakBytes)
            }
            let first = try step(seq)
            let clock = ContinuousClock()
            var seconds: [Double] = []
            for _ in 0..<steps {
                try world.barrier()
                let start = clock.now
                _ = try step(seq)
                let elapsed = clock.now - start
                seconds.append(elapsed.inSeconds)
            }
            let perLayer = try world.allReduce([seconds.sorted()[seconds.count / 2] / Double(layers)], .max)[0]
            if p == 1 { referenceTime = perLayer }
            let peak = try world.allReduce([Int64(first.peak)], .max)[0]

            // Longest sequence under the cap: double while it fits, then bisect in steps of 256.
            let cap = Int64(capMib) << 20
            func fits(_ length: Int) throws -> Bool {
                let peak = try step(length).peak
                return try world.allReduce([Int64(peak)], .max)[0] <= cap
            }
            var good = 0, bad = maxSeq + 256
            var length = 512
            while length <= maxSeq {
                if try fits(length) { good = length; length *= 2 } else { bad = length; break }
            }
            while bad - good > 256 && good > 0 {
                let middle = (good + bad) / 2 / 256 * 256
                if middle <= good { break }
                if try fits(middle) { good = middle } else { bad = middle }
            }
            let n = seq, formula = 4 * n * hidden / p * 4
            func mib(_ bytes: Int64) -> String { String(format: "%.1f MiB", Double(bytes) / 1048576) }
            log(String(format: "%4d   %11d B   %11d B   %5.3f   %9d B   %8.4f s   %5.2f×   %@   %@", p, first.forward / layers, formula,
                       Double(first.forward / layers) / Double(formula), first.backward / layers, perLayer, perLayer / referenceTime,
                       mib(peak).padding(toLength: 11, withPad: " ", startingAt: 0),
                       good == 0 ? "< 512" : (good >= maxSeq ? "≥ \(good)" : "\(good)")))
        }
        log("sent/layer counts what leaves a rank: of its N/P·h values per tensor it keeps 1/P, so the counted bytes are "
            + "(P−1)/P of the formula's 4·N·h/P (q, k, v and the output, float32).")
    }
}
