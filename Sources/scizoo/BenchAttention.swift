// `scizoo bench evoformer-attention` and `scizoo bench attention`: time, GFLOP/s and memory of
// the fused kernels and their reference paths; --save writes every input, output and gradient
// of the last run to HDF5 so that any other implementation can be checked against ours.
import ArgumentParser
import Foundation
import Kernels
import TensorCore
import TensorIO

enum AttentionMode: String, ExpressibleByArgument, CaseIterable { case fwd, fwdbwd }

/// Peak resident set size of this process, in bytes.
func peakRSS() -> Int {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return usage.ru_maxrss * 1024
}

func gibibytes(_ bytes: Int) -> String { String(format: "%.3f GiB", Double(bytes) / 1_073_741_824) }

/// Runs one configuration `runs` times; reports time, GFLOP/s and memory; returns the last run's
/// tensors and the median seconds.
func runAttentionBench(runs: Int, flops: Double, label: String,
                       _ body: () throws -> [(String, Tensor)]) throws -> (results: [(String, Tensor)], median: Double) {
    var seconds: [Double] = [], peaks: [Int] = []
    var last: [(String, Tensor)] = []
    let clock = ContinuousClock()
    for _ in 0..<runs {
        last = []
        let scope = MemoryScope()
        let start = clock.now
        last = try scope.measure(body)
        let elapsed = clock.now - start
        seconds.append(elapsed.inSeconds)
        peaks.append(scope.peakBytes)
    }
    let timing = Timing(seconds: seconds)
    // The results (output and gradients) are what any implementation must return.
    var seen = Set<ObjectIdentifier>()
    let resultBytes = last.reduce(0) { total, entry in
        seen.insert(ObjectIdentifier(entry.1.storage)).inserted ? total + entry.1.storage.count * entry.1.dtype.byteSize : total
    }
    print(label)
    print(String(format: "  time   median %.4f s  min %.4f s  max %.4f s  (%d runs)", timing.median, timing.minimum, timing.maximum, runs))
    print(String(format: "  rate   %.1f GFLOP/s", flops / timing.median / 1e9))
    let peak = peaks.max() ?? 0
    print("  memory extra tensor bytes (peak, beyond the inputs) \(gibibytes(peak)), of which results (output, lse, gradients) "
          + "\(gibibytes(resultBytes)) and working memory \(gibibytes(Swift.max(0, peak - resultBytes))); process peak RSS \(gibibytes(peakRSS()))")
    return (last, timing.median)
}

func saveAttentionRun(_ tensors: [(String, Tensor)], to path: String, attributes: [(String, HDF5AttributeValue)]) throws {
    try HDF5File.writeAtomically(to: path) { file in
        let root = try file.root
        for (name, value) in attributes { try file.setAttribute(name, value) }
        for (name, tensor) in tensors { try root.write(name, tensor: tensor, options: .compressed(level: 1)) }
    }
    print("saved \(tensors.map(\.0).joined(separator: ", ")) to \(path)")
}

struct BenchEvoformerAttention: SciZooCommand {
    static let configuration = CommandConfiguration(
        commandName: "evoformer-attention",
        abstract: "DS4Sci EvoformerAttention: fused kernel or reference, forward or forward+backward.",
        discussion: """
            Inputs follow DeepSpeed's benchmark: Q, K, V ~ N(0, 1); bias1 = 1e9·(mask − 1) for a random 0/1 \
            key mask (no gradient); bias2 ~ N(0, 1) [B, 1, H, L, L] with gradient; dO ~ U(0, 1). FLOPs are \
            counted as 4·L²·D per (b, n, h) forward and 10·L²·D backward (the backward recomputes Q·Kᵀ).
            """)

    @Option(help: "B,N,L,H,D") var config: String = "1,256,256,8,32"
    @Option(help: "fwd or fwdbwd") var mode: AttentionMode = .fwdbwd
    @Option(help: "fused or reference") var method: AttentionMethod = .fused
    @Option(help: "Timed runs (at least 5 for the report).") var runs: Int = 5
    @Option(help: "Query rows per tile (default: EvoformerAttention's for this L).") var tileQueries: Int?
    @Option(help: "Keys per tile (default: EvoformerAttention's for this L).") var tileKeys: Int?
    @Option(help: "float32 or float64") var dtype: String = "float32"
    @Option(help: "Write inputs, output, lse and gradients of the last run to this HDF5 file.") var save: String?
    @Flag(help: "Also time PyTorch's naive path (Scripts/bench/evoformer_twin.py) on the same configuration, in the same run.")
    var compareTorch = false
    @OptionGroup var threadOptions: ThreadOptions
    var threads: Int? { threadOptions.threads }

    func validate() throws {
        _ = try attentionDimensions(config, names: "B,N,L,H,D")
        guard ["float32", "float64"].contains(dtype) else { throw ValidationError("--dtype must be float32 or float64") }
        guard runs >= 1 else { throw ValidationError("--runs must be at least 1") }
    }

    func execute(budget: ThreadBudget) throws {
        printBenchHeader(budget)
        let dims = config.split(separator: ",").compactMap { Int($0) }
        let (b, n, l, h, d) = (dims[0], dims[1], dims[2], dims[3], dims[4])
        let type: DType = dtype == "float64" ? .float64 : .float32
        var generator = RandomGenerator(seed: 0)
        let shape = [b, n, l, h, d]
        let q = generator.normal(shape, dtype: type), k = generator.normal(shape, dtype: type), v = generator.normal(shape, dtype: type)
        let mask = generator.uniform([b, n, 1, 1, l], dtype: .float64).doubles.map { $0 < 0.5 ? 0.0 : 1.0 }
        let bias1 = Tensor(mask.map { 1e9 * ($0 - 1) }, shape: [b, n, 1, 1, l]).cast(to: type)
        let bias2 = generator.normal([b, 1, h, l, l], dtype: type)
        let gradOutput = mode == .fwdbwd ? generator.uniform(shape, dtype: type) : nil
        let defaults = AttentionTiling.evoformer(length: l)
        let tiling = AttentionTiling(queries: tileQueries ?? defaults.queries, keys: tileKeys ?? defaults.keys)
        let perProblem = Double(l) * Double(l) * Double(d) * Double(b * n * h)
        let flops = (mode == .fwd ? 4 : 14) * perProblem
        let label = "evoformer-attention \(config) \(mode.rawValue) \(method.rawValue) \(dtype)"
            + (method == .fused ? " tiles \(tiling.queries)×\(tiling.keys)" : "")
        let (last, median) = try runAttentionBench(runs: runs, flops: flops, label: label) {
            let (lq, lk, lv, lb2) = (q.requiringGrad(), k.requiringGrad(), v.requiringGrad(), bias2.requiringGrad())
            var results: [(String, Tensor)]
            if mode == .fwd {
                if method == .fused {
                    let (out, lse) = Tensor.evoformerAttentionForward(q, k, v, biases: [bias1, bias2], tiling: tiling)
                    results = [("out", out), ("lse", lse)]
                } else {
                    results = [("out", withNoGrad { Tensor.evoformerAttention(q, k, v, biases: [bias1, bias2], method: .reference) })]
                }
            } else {
                let out = Tensor.evoformerAttention(lq, lk, lv, biases: [bias1, lb2], method: method, tiling: tiling)
                let grads = try grad(of: [out], wrt: [lq, lk, lv, lb2], gradOutputs: [gradOutput!])
                results = [("out", out.detached()), ("dq", grads[0]!), ("dk", grads[1]!), ("dv", grads[2]!),
                           ("dbias2", grads[3]!), ("dbias1", Tensor.zeros([b, n, 1, 1, l], dtype: type))]
            }
            return results
        }
        if compareTorch {
            let twin = runPythonTwin(FileManager.default.currentDirectoryPath + "/Scripts/bench/evoformer_twin.py",
                                     ["--config", config, "--mode", mode.rawValue, "--dtype", dtype, "--runs", "\(runs)", "--threads", "\(budget.threads)"]).last
            if let reference = twin?["median"] as? Double {
                print(String(format: "  torch %@ naive path: median %.4f s; ours %.2f× faster", twin?["torch"] as? String ?? "?", reference, reference / median))
            } else {
                print("  reference: the PyTorch twin did not run (pip install torch; Scripts/bench/evoformer_twin.py)")
            }
        }
        if let save {
            var tensors = [("q", q), ("k", k), ("v", v), ("bias1", bias1), ("bias2", bias2)]
            if let gradOutput { tensors.append(("grad_out", gradOutput)) }
            tensors += last
            if !tensors.contains(where: { $0.0 == "lse" }) {
                tensors.append(("lse", Tensor.evoformerAttentionForward(q, k, v, biases: [bias1, bias2], tiling: tiling).lse))
            }
            try saveAttentionRun(tensors, to: save, attributes: [
                ("config", .string(config)), ("mode", .string(mode.rawValue)), ("method", .string(method.rawValue)),
                ("note", .string("bias1 = 1e9*(mask-1) has no gradient, so dbias1 is written as zeros; lse is [B, N, H, L]")),
            ])
        }
    }
}

struct BenchSelfAttention: SciZooCommand {
    static let configuration = CommandConfiguration(
        commandName: "attention",
        abstract: "Scaled dot-product self-attention (causal by default): fused kernel or reference.",
        discussion: "FLOPs are counted as for evoformer-attention, halved when causal.")

    @Option(help: "B,S,H,D") var config: String = "1,4096,8,32"
    @Option(help: "fwd or fwdbwd") var mode: AttentionMode = .fwdbwd
    @Option(help: "fused or reference") var method: AttentionMethod = .fused
    @Flag(inversion: .prefixedNo, help: "Causal mask.") var causal: Bool = true
    @Option(help: "Timed runs.") var runs: Int = 5
    @Option(help: "Query rows per tile.") var tileQueries: Int = AttentionTiling.standard.queries
    @Option(help: "Keys per tile.") var tileKeys: Int = AttentionTiling.standard.keys
    @Option(help: "Write inputs, output, lse and gradients of the last run to this HDF5 file.") var save: String?
    @OptionGroup var threadOptions: ThreadOptions
    var threads: Int? { threadOptions.threads }

    func validate() throws { _ = try attentionDimensions(config, names: "B,S,H,D") }

    func execute(budget: ThreadBudget) throws {
        printBenchHeader(budget)
        let dims = config.split(separator: ",").compactMap { Int($0) }
        let (b, s, h, d) = (dims[0], dims[1], dims[2], dims[3])
        var generator = RandomGenerator(seed: 0)
        let shape = [b, s, h, d]
        let q = generator.normal(shape), k = generator.normal(shape), v = generator.normal(shape)
        let gradOutput = generator.uniform(shape)
        let masking = AttentionMasking(causal: causal)
        let tiling = AttentionTiling(queries: tileQueries, keys: tileKeys)
        let flops = (mode == .fwd ? 4 : 14) * Double(s) * Double(s) * Double(d) * Double(b * h) * (causal ? 0.5 : 1)
        let label = "attention \(config) \(causal ? "causal" : "full") \(mode.rawValue) \(method.rawValue)"
            + (method == .fused ? " tiles \(tileQueries)×\(tileKeys)" : "")
        let (last, _) = try runAttentionBench(runs: runs, flops: flops, label: label) {
            if mode == .fwd {
                return [("out", withNoGrad { Tensor.scaledDotProductAttention(q, k, v, masking: masking, method: method, tiling: tiling) })]
            }
            let (lq, lk, lv) = (q.requiringGrad(), k.requiringGrad(), v.requiringGrad())
            let out = Tensor.scaledDotProductAttention(lq, lk, lv, masking: masking, method: method, tiling: tiling)
            let grads = try grad(of: [out], wrt: [lq, lk, lv], gradOutputs: [gradOutput])
            return [("out", out.detached()), ("dq", grads[0]!), ("dk", grads[1]!), ("dv", grads[2]!)]
        }
        if let save {
            let lse = Tensor.selfAttentionForward(q, k, v, masking: masking, tiling: tiling).lse
            try saveAttentionRun([("q", q), ("k", k), ("v", v), ("grad_out", gradOutput)] + last + [("lse", lse)], to: save, attributes: [
                ("config", .string(config)), ("causal", .int(causal ? 1 : 0)), ("method", .string(method.rawValue)),
                ("note", .string("q, k, v are [B, S, H, D]; lse is [B, H, S]")),
            ])
        }
    }
}

extension AttentionMethod: ExpressibleByArgument {}

/// The positive extents of `--config` (one per name of `names`, comma-separated).
func attentionDimensions(_ config: String, names: String) throws -> [Int] {
    let parts = config.split(separator: ",").compactMap { Int($0) }, count = names.split(separator: ",").count
    guard parts.count == count, parts.allSatisfy({ $0 > 0 }) else {
        throw ValidationError("--config must be \(count) positive integers \(names), got '\(config)'")
    }
    return parts
}
