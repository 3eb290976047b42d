// `scizoo bench …`: speed and memory of SciZoo's kernels as ratios against a reference
// measured in the same run. Run release builds only: debug builds are 25–200× slower.
import ArgumentParser
import CBLAS
import Foundation
import Kernels
import TensorCore

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Benchmarks: ratios against a reference measured in the same run (use a release build).",
        subcommands: [BenchMatmul.self, BenchRoofline.self, BenchGraphormer.self, BenchOps.self, BenchFold.self, BenchEvoformerAttention.self, BenchSelfAttention.self, BenchGenSLMTrain.self, BenchGenSLMGenerate.self, BenchGenSLMRead.self, BenchClimaXRead.self, BenchClimaXTrain.self,
                      BenchUlysses.self, BenchZeRO.self, BenchMLFF.self])
}

/// Timing of one benchmark: median, min and max seconds over the runs.
struct Timing {
    let seconds: [Double]
    var median: Double { seconds.sorted()[seconds.count / 2] }
    var minimum: Double { seconds.min() ?? 0 }
    var maximum: Double { seconds.max() ?? 0 }

    /// Runs `body` once to warm up, then at least `runs` times and at least `budget` seconds.
    static func measure(runs: Int = 5, budget: Double = 0.3, _ body: () -> Void) -> Timing {
        body()
        var seconds: [Double] = []
        let clock = ContinuousClock()
        let start = clock.now
        while seconds.count < runs || (clock.now - start) < .milliseconds(Int(budget * 1000)) && seconds.count < 200 {
            let t0 = clock.now
            body()
            let elapsed = clock.now - t0
            seconds.append(elapsed.inSeconds)
        }
        return Timing(seconds: seconds)
    }
}

/// Times `reference` and `candidate` alternately, so drift on a shared machine hits both;
/// returns each one's timing and the median of the per-pair ratios candidate/reference.
func pairedTiming(runs: Int = 31, reference: () -> Void, candidate: () -> Void) -> (reference: Timing, candidate: Timing, ratio: Double) {
    reference()
    candidate()
    let clock = ContinuousClock()
    func seconds(_ body: () -> Void) -> Double {
        let t0 = clock.now
        body()
        let elapsed = clock.now - t0
        return elapsed.inSeconds
    }
    var a: [Double] = [], b: [Double] = [], ratios: [Double] = []
    for _ in 0..<runs {
        let r = seconds(reference), c = seconds(candidate)
        a.append(r)
        b.append(c)
        ratios.append(c / r)
    }
    return (Timing(seconds: a), Timing(seconds: b), ratios.sorted()[ratios.count / 2])
}

/// Every benchmark's first lines: the machine a number belongs to (CPU model, OpenBLAS kernels,
/// threads, build mode), and a warning on debug builds.
func printBenchHeader(_ budget: ThreadBudget?, log: (String) -> Void = { print($0) }) {
    #if DEBUG
    log("warning: this is a debug build; numbers are not meaningful. Build with `swift build -c release`.")
    let mode = "debug build"
    #else
    let mode = "release build"
    #endif
    log("CPU: \(cpuModelName()); OpenBLAS core \(BLASSelection.summary); "
        + "SciZoo row kernels \(KernelPath.avx2Available ? "AVX2+FMA" : "portable"); "
        + "\(budget.map { "thread budget \($0)" } ?? "threads as each row says"); \(mode)")
}

/// The environment for a reference twin (Python's own BLAS): without the OPENBLAS_CORETYPE SciZoo
/// set for its own OpenBLAS, so the twin's library picks its kernels as it would for a user.
func referenceEnvironment() -> [String: String] {
    var environment = ProcessInfo.processInfo.environment
    if [.chosen, .fellBack].contains(BLASSelection.decision) { environment["OPENBLAS_CORETYPE"] = nil }
    for key in environment.keys where key.hasPrefix("SCIZOO_BLAS_") { environment[key] = nil }
    return environment
}

/// Runs a Python reference twin under `referenceEnvironment()` (plus `environment`) and returns the
/// JSON objects it printed, one per line; empty when python3 or the twin's packages are missing or it fails.
func runPythonTwin(_ script: String, _ arguments: [String], environment: [String: String] = [:]) -> [[String: Any]] {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = ["python3", script] + arguments
    process.environment = referenceEnvironment().merging(environment) { $1 }
    let output = Pipe(), errors = Pipe()
    (process.standardOutput, process.standardError) = (output, errors)
    do { try process.run() } catch { return [] }
    let data = output.fileHandleForReading.readDataToEndOfFile()
    _ = errors.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    guard process.terminationStatus == 0 else { return [] }
    return String(decoding: data, as: UTF8.self).split(separator: "\n").compactMap {
        try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
    }
}

/// /proc/cpuinfo's model name.
func cpuModelName() -> String {
    let cpuinfo = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
    return cpuinfo.split(separator: "\n").first { $0.hasPrefix("model name") }?.split(separator: ":", maxSplits: 1).last
        .map { $0.trimmingCharacters(in: .whitespaces) } ?? "unknown CPU"
}

struct BenchMatmul: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "matmul",
        abstract: "GFLOP/s of Tensor.matmul (single-threaded OpenBLAS calls on the thread budget) against OpenBLAS's own threaded sgemm on the same buffers, and with --compare numpy against the BLAS a Python user has.")

    enum Comparison: String, ExpressibleByArgument { case numpy }

    @Option(parsing: .upToNextOption, help: "Square sizes.")
    var sizes: [Int] = [256, 512, 1024, 2048]

    @Option(parsing: .upToNextOption, help: "Thread counts.")
    var threads: [Int] = [1, 2]

    @Option(help: "numpy: also run Scripts/bench/matmul_twin.py (numpy's bundled OpenBLAS, and PyTorch when installed) at each thread count.")
    var compare: Comparison?

    @Flag(help: "Also time bf16 products with float32 sums (AVX512-BF16) on the same matrices, with their error against float64.")
    var bf16 = false

    func run() {
        printBenchHeader(nil)
        var described = Set<String>()
        print("size  threads  ours GFLOP/s  OpenBLAS GFLOP/s  ours/OpenBLAS" + (compare == nil ? "" : "  numpy GFLOP/s  ours/numpy  torch GFLOP/s  ours/torch"))
        for count in threads {
            ThreadBudget.install(requested: count)
            var ours: [Double] = [], direct: [Double] = []
            for n in sizes {
                let (oursRate, directRate) = Self.measure(n, threads: count)
                ours.append(oursRate)
                direct.append(directRate)
            }
            var twin: [String: [Int: Double]] = [:]
            if compare == .numpy {
                let threadVariables = ["OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"].map { ($0, "\(count)") }
                let rows = runPythonTwin(FileManager.default.currentDirectoryPath + "/Scripts/bench/matmul_twin.py",
                                         ["--threads", "\(count)", "--sizes"] + sizes.map(String.init),
                                         environment: Dictionary(uniqueKeysWithValues: threadVariables))
                if rows.isEmpty { print("reference: the numpy twin did not run (python3 with numpy; Scripts/bench/matmul_twin.py)") }
                for row in rows {
                    guard let library = row["library"] as? String, let n = row["size"] as? Int, let rate = row["gflops"] as? Double else { continue }
                    twin[library, default: [:]][n] = rate
                    if let description = row["description"] as? String, described.insert(description).inserted { print("reference: \(description)") }
                }
            }
            for (k, n) in sizes.enumerated() {
                var line = String(format: "%4d  %7d  %12.1f  %16.1f  %12.1f%%", n, count, ours[k], direct[k], 100 * ours[k] / direct[k])
                if compare != nil {
                    for library in ["numpy", "torch"] {
                        line += twin[library]?[n].map { String(format: "  %13.1f  %9.1f%%", $0, 100 * ours[k] / $0) } ?? "              -           -"
                    }
                }
                print(line)
            }
            if bf16 { Self.measureBF16(sizes, ours: ours, threads: count) }
        }
    }

    /// GFLOP/s of the bf16 kernel against Tensor.matmul's float32 rate, and the largest error of its
    /// products relative to the largest float64 product (bf16 keeps 8 significant bits).
    static func measureBF16(_ sizes: [Int], ours: [Double], threads count: Int) {
        guard BF16GEMM.isAvailable else { print("bf16: this CPU has no AVX512-BF16"); return }
        for (index, n) in sizes.enumerated() {
            var generator = RandomGenerator(seed: UInt64(n))
            let a = generator.normal([n, n]), b = generator.normal([n, n])
            var c = [Float](repeating: 0, count: n * n)
            let layout = MatrixLayout.of(rows: n, columns: n, rowStride: n, columnStride: 1)!
            let timing = a.withElements(as: Float.self) { pa in
                b.withElements(as: Float.self) { pb in
                    Timing.measure { BF16GEMM.multiply(pa.baseAddress!, layout, pb.baseAddress!, layout, &c, m: n, n: n, k: n) }
                }
            }
            let exact = a.cast(to: .float64).matmul(b.cast(to: .float64)).doubles
            var scale = 0.0, worst = 0.0
            for (ours, reference) in zip(c, exact) {
                scale = max(scale, abs(reference))
                worst = max(worst, abs(Double(ours) - reference))
            }
            let error = worst / scale
            let rate = 2 * Double(n) * Double(n) * Double(n) / timing.median / 1e9
            print(String(format: "bf16 %4d  %7d  %12.1f GFLOP/s  %5.2f× ours float32  max error %.1e of the largest product", n, count, rate,
                         rate / ours[index], error))
        }
    }

    /// GFLOP/s of `Tensor.matmul` and of OpenBLAS's own threading at the same count, on n × n float32.
    static func measure(_ n: Int, threads count: Int) -> (ours: Double, openBLAS: Double) {
        var generator = RandomGenerator(seed: UInt64(n))
        let a = generator.normal([n, n]), b = generator.normal([n, n])
        var c = [Float](repeating: 0, count: n * n)
        // The reference is OpenBLAS's own threading at the same count.
        let direct = a.withElements(as: Float.self) { pa in
            b.withElements(as: Float.self) { pb in
                BLASGate.withOpenBLASThreads(count) {
                    Timing.measure {
                        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(n), Int32(n), Int32(n), 1,
                                    pa.baseAddress, Int32(n), pb.baseAddress, Int32(n), 0, &c, Int32(n))
                    }
                }
            }
        }
        usleep(300_000)  // OpenBLAS's idle workers spin for a while after the reference; let them sleep
        let ours = Timing.measure { _ = a.matmul(b) }
        let flops = 2 * Double(n) * Double(n) * Double(n)
        return (flops / ours.median / 1e9, flops / direct.median / 1e9)
    }
}

struct BenchOps: SciZooCommand {
    static let configuration = CommandConfiguration(
        commandName: "ops",
        abstract: "GB/s of fused layer norm, softmax, GELU and Adam against a plain copy of the same bytes.")

    @Option(help: "Rows of the [rows, columns] float32 input.") var rows: Int = 4096
    @Option(help: "Columns (the normalised / softmax axis).") var columns: Int = 1024

    @OptionGroup var threadOptions: ThreadOptions
    var threads: Int? { threadOptions.threads }

    func execute(budget: ThreadBudget) throws {
        printBenchHeader(budget)
        let n = rows * columns
        var generator = RandomGenerator(seed: 1)
        let x = generator.normal([rows, columns])
        let weight = generator.normal([columns]), bias = generator.normal([columns])
        var output = [Float](repeating: 0, count: n)
        var mean = [Float](repeating: 0, count: rows), rstd = [Float](repeating: 0, count: rows)
        print("input [\(rows), \(columns)] float32 = \(String(format: "%.1f", Double(n * 4) / 1_048_576)) MiB; bytes counted: reads + writes")

        var copyTarget = [Float](repeating: 0, count: 7 * n)
        func copyBytes(_ count: Int) {
            x.withElements(as: Float.self) { source in
                copyTarget.withUnsafeMutableBufferPointer { destination in
                    // Copies `count` floats (cycling the source) so each op is compared with the same traffic.
                    var done = 0
                    while done < count {
                        let chunk = Swift.min(n, count - done)
                        (destination.baseAddress! + done).update(from: source.baseAddress!, count: chunk)
                        done += chunk
                    }
                }
            }
        }
        print("op                       GB/s   copy GB/s   time vs copy of the same bytes (median of paired runs)")
        func report(_ name: String, traffic: Int, _ body: () -> Void) {
            let result = pairedTiming(reference: { copyBytes(traffic / 2) }, candidate: body)
            let rate = Double(traffic * 4) / result.candidate.median / 1e9
            let copyRate = Double(traffic * 4) / result.reference.median / 1e9
            print(String(format: "%@ %7.2f   %9.2f   %.2f×", name.padding(toLength: 23, withPad: " ", startingAt: 0), rate, copyRate, result.ratio))
        }

        x.withElements(as: Float.self) { px in
            weight.withElements(as: Float.self) { pw in
                bias.withElements(as: Float.self) { pb in
                    report("layer norm (fused)", traffic: 2 * n) {
                        output.withUnsafeMutableBufferPointer { out in
                            mean.withUnsafeMutableBufferPointer { m in
                                rstd.withUnsafeMutableBufferPointer { r in
                                    layerNormRows(px.baseAddress!, pw.baseAddress, pb.baseAddress, out.baseAddress!, m.baseAddress!,
                                                  r.baseAddress!, rows: rows, columns: columns, epsilon: 1e-5)
                                }
                            }
                        }
                    }
                }
            }
            report("softmax (fused)", traffic: 2 * n) {
                output.withUnsafeMutableBufferPointer { softmaxRows(px.baseAddress!, $0.baseAddress!, rows: rows, columns: columns, log: false) }
            }
        }
        report("gelu (tensor op)", traffic: 2 * n) { _ = x.gelu() }
        report("layer norm (tensor op)", traffic: 2 * n) { _ = x.layerNorm(weight: weight, bias: bias) }
        report("softmax (tensor op)", traffic: 2 * n) { _ = x.softmax() }

        var parameters = x.doubles.map(Float.init), gradients = generator.normal([n]).scalars(as: Float.self)
        var m = [Float](repeating: 0, count: n), v = [Float](repeating: 0, count: n)
        var step = 0
        report("adamw step (fused)", traffic: 7 * n) {
            step += 1
            let hyper = AdamStep(learningRate: 1e-4, beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 0.01, decoupled: true, step: step)
            parameters.withUnsafeMutableBufferPointer { p in
                gradients.withUnsafeBufferPointer { g in
                    m.withUnsafeMutableBufferPointer { mb in
                        v.withUnsafeMutableBufferPointer { vb in
                            adamUpdate(p.baseAddress!, g.baseAddress!, mb.baseAddress!, vb.baseAddress!, count: n, hyper)
                        }
                    }
                }
            }
        }
        gradients.removeAll()
    }
}

/// The middle value of a bench's rounds (the mean of the two middle ones for an even count).
func median(_ values: [Double]) -> Double {
    let sorted = values.sorted(), middle = sorted.count / 2
    return sorted.count % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
}
