// `scizoo bench roofline`: the machine's two ceilings (peak FMA rate, triad bandwidth), OpenBLAS's
// sgemm as the attainable GEMM rate, and where the fused EvoformerAttention sits under them for
// each shape: FLOPs, the bytes it must move at least, the arithmetic intensity, the roofline
// bound min(peak, intensity × bandwidth) and the measured rate — all in one run.
import ArgumentParser
import Foundation
import Kernels
import TensorCore

struct BenchRoofline: SciZooCommand {
    static let configuration = CommandConfiguration(
        commandName: "roofline",
        abstract: "Peak FMA rate, memory bandwidth and sgemm of this machine, and fused EvoformerAttention fwd+bwd against that roofline.",
        discussion: """
            FLOPs as `bench evoformer-attention` counts them (14·L²·D per (b, n, h) for fwd+bwd). The bytes are the \
            least any implementation moves: q, k, v, the output, its gradient and dq, dk, dv once each (8·B·N·L·H·D \
            floats), the pair bias and its gradient (2·B·H·L²), the mask bias and the log-sum-exp.
            """)

    @Option(parsing: .upToNextOption, help: "Shapes B,N,L,H,D (default: DeepSpeed's two benchmark shapes and AlphaFold's MSA row and column attention).")
    var shapes: [String] = ["1,256,256,8,32", "1,1024,384,8,32", "1,64,191,8,32", "1,48,512,8,32"]
    @Option(help: "Timed fwd+bwd runs per shape (the median is reported).") var runs: Int = 3
    @OptionGroup var threadOptions: ThreadOptions
    var threads: Int? { threadOptions.threads }

    func validate() throws {
        for shape in shapes { _ = try attentionDimensions(shape, names: "B,N,L,H,D") }
        guard runs >= 1 else { throw ValidationError("--runs must be at least 1") }
    }

    func execute(budget: ThreadBudget) throws {
        printBenchHeader(budget)
        let threads = budget.threads
        let single = MachineProbes.fmaPeak(threads: 1), peak = MachineProbes.fmaPeak(threads: threads)
        let bandwidth = MachineProbes.triadBandwidth(threads: threads)
        let sgemm = sgemmRate(size: 2048)
        print(String(format: "FMA peak (%d-float vectors): %.1f GFLOP/s on 1 thread, %.1f on %d", MachineProbes.vectorWidth, single / 1e9, peak / 1e9, threads))
        print(String(format: "triad bandwidth: %.1f GB/s on %d threads; ridge point %.1f FLOP/byte", bandwidth / 1e9, threads, peak / bandwidth))
        print(String(format: "sgemm 2048 (Tensor.matmul): %.1f GFLOP/s, %.0f %% of the FMA peak", sgemm / 1e9, 100 * sgemm / peak))
        print("shape (B,N,L,H,D)  GFLOP   MB moved  FLOP/byte  bound GFLOP/s  measured GFLOP/s  % of bound  % of sgemm")
        for shape in shapes {
            let d = shape.split(separator: ",").compactMap { Int($0) }
            let (b, n, l, h, w) = (d[0], d[1], d[2], d[3], d[4])
            let elements = Double(b * n * l * h * w)
            let flops = 14 * Double(l) * Double(l) * Double(w) * Double(b * n * h)
            let bytes = 4 * (8 * elements + 2 * Double(b * h * l * l) + Double(b * n * l) + Double(b * n * h * l))
            let bound = min(peak, flops / bytes * bandwidth)
            let seconds = try attentionSeconds(b: b, n: n, l: l, h: h, d: w)
            let rate = flops / seconds
            print(String(format: "%-18@ %6.2f  %8.1f  %9.1f  %13.1f  %16.1f  %10.0f  %10.0f", shape, flops / 1e9, bytes / 1e6, flops / bytes,
                         bound / 1e9, rate / 1e9, 100 * rate / bound, 100 * rate / sgemm))
        }
    }

    /// The best of three float32 products of two size × size matrices.
    func sgemmRate(size: Int) -> Double {
        var generator = RandomGenerator(seed: 0)
        let a = generator.normal([size, size]), b = generator.normal([size, size])
        var best = Double.infinity
        for _ in 0..<3 {
            let clock = ContinuousClock(), start = clock.now
            _ = a.matmul(b)
            best = min(best, (clock.now - start).inSeconds)
        }
        return 2 * Double(size * size * size) / best
    }

    /// The median seconds of the fused fwd+bwd with DeepSpeed's benchmark inputs.
    func attentionSeconds(b: Int, n: Int, l: Int, h: Int, d: Int) throws -> Double {
        var generator = RandomGenerator(seed: 0)
        let shape = [b, n, l, h, d]
        let q = generator.normal(shape), k = generator.normal(shape), v = generator.normal(shape)
        let mask = generator.uniform([b, n, 1, 1, l], dtype: .float64).doubles.map { $0 < 0.5 ? -1e9 : 0.0 }
        let bias1 = Tensor(mask, shape: [b, n, 1, 1, l]).cast(to: .float32), bias2 = generator.normal([b, 1, h, l, l])
        let gradOutput = generator.uniform(shape)
        var seconds: [Double] = []
        for _ in 0..<runs {
            let clock = ContinuousClock(), start = clock.now
            let (lq, lk, lv, lb) = (q.requiringGrad(), k.requiringGrad(), v.requiringGrad(), bias2.requiringGrad())
            let out = Tensor.evoformerAttention(lq, lk, lv, biases: [bias1, lb])
            _ = try grad(of: [out], wrt: [lq, lk, lv, lb], gradOutputs: [gradOutput])
            seconds.append((clock.now - start).inSeconds)
        }
        return seconds.sorted()[seconds.count / 2]
    }
}
