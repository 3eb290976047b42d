// `scizoo bench zero`: per-rank model-state bytes and step time of GPT-NeoX training under ZeRO
// stages 0–3, each without offload and with cpu / nvme offload, next to the formula for the
// stage; and peak resident memory (VmHWM, reset before the timed steps) against a memory budget.
import ArgumentParser
import COSShims
import Foundation
import GenomeLM
import Kernels
import NeuralNetworks
import ParallelRuntime
import TensorCore
import TensorIO

struct BenchZeRO: SciZooCommand {
    static let configuration = CommandConfiguration(
        commandName: "zero",
        abstract: "Model-state bytes per rank and step time for ZeRO stages 0–3 with and without cpu/nvme offload.",
        discussion: """
            Alone or under mpirun. Measured bytes are SciZoo's tensor accounting plus the host-tier buffers, and the \
            NVMe swap files' sizes; the formula is float32 parameters 4Ψ, gradients 4Ψ and Adam 8Ψ, partitioned by \
            stage over N ranks. Peak RSS is the process's high-water mark (reset through /proc/self/clear_refs before \
            the timed steps, so model construction is not counted).
            """)

    @OptionGroup var shape: GPTNeoXShapeOptions
    @Option var seq: Int = 256
    @Option var batch: Int = 1
    @Option(help: "Timed steps per configuration (after one warm-up step).") var steps: Int = 3
    @Option(help: "Configurations as stage:offload, comma-separated (offload none, cpu or nvme); default all.")
    var configs: String = "0:none,1:none,1:cpu,1:nvme,2:none,2:cpu,2:nvme,3:none,3:cpu,3:nvme"
    @Option(help: "Folder for the NVMe tier (default: a temporary folder).") var nvmePath: String?
    @Option(help: "Memory budget in MiB: report whether peak RSS stays under it plus the fixed overhead.") var budgetMib: Int?
    @Option(help: "ZeRO sub_group_size (elements per optimiser sub-group).") var subGroupSize: Int = 1_000_000
    @OptionGroup var threadOptions: ThreadOptions
    var threads: Int? { threadOptions.threads }
    static var startsMPI: MPIStart { .underMPIRun }

    func execute(budget: ThreadBudget) throws {
        let world: any Communicator = MPIProcess.isLaunchedByMPI ? try MPICommunicator.world() : InProcessWorld.single()
        let log = RankLog(rank: world.rank, size: world.size)
        printBenchHeader(budget, log: { log($0) })
        let groups = try ProcessGroups(world: world)
        let folder = nvmePath ?? FileManager.default.temporaryDirectory.appendingPathComponent("scizoo-bench-zero").path
        let configuration = try shape.configuration(maxPositions: Swift.max(2048, seq))
        let (hidden, layers, ff, vocab) = (shape.hidden, shape.layers, shape.ff, shape.vocab)
        var generator = RandomGenerator(seed: 1)
        let ids = generator.uniform([batch, seq], low: 5, high: Double(vocab), dtype: .float64).cast(to: .int64)
        let mask = Tensor.ones([batch, seq], dtype: .int64)
        log("thread budget: \(budget); \(world.size) rank(s); GPT-NeoX hidden \(hidden), \(layers) layers, ff \(ff); batch \(batch) × seq \(seq)")
        log("baseline RSS \(mib(ResidentMemory.current().resident)) before any model")
        log(["stage", "offload", "Ψ", "in memory", "of it host", "on NVMe", "I/O buffers", "formula", "ratio",
             "step (median)", "vs stage 0", "peak RSS"].map { $0.padding(toLength: Self.width, withPad: " ", startingAt: 0) }.joined())
        var reference = 0.0
        for item in configs.split(separator: ",") {
            let parts = item.split(separator: ":")
            guard parts.count == 2, let stage = Int(parts[0]), let device = OffloadSettings.Device(rawValue: String(parts[1])) else {
                throw ValidationError("--configs: '\(item)' is not stage:offload (offload none, cpu or nvme)")
            }
            var settings = ZeROSettings()
            settings.stage = stage
            settings.subGroupSize = subGroupSize
            settings.memoryBudget = budgetMib.map { $0 << 20 }
            settings.offloadOptimizer.device = stage == 0 ? .none : device
            settings.offloadOptimizer.nvmePath = folder
            if stage == 3 {
                settings.offloadParam.device = device
                settings.offloadParam.nvmePath = folder
                settings.overlapComm = true
            }
            let baseline = TensorMemory.liveBytes
            var (model, zero): (GPTNeoXForCausalLM?, ZeROOptimizer?) = (GPTNeoXForCausalLM(configuration, seed: 0), nil)
            do {
                zero = try ZeROOptimizer(model!.namedParameters(), settings: settings, adam: AdamSettings(learningRate: 1e-4, weightDecay: 0.01, decoupled: true),
                                         groups: groups)
            } catch let error as FileError {
                log("\(stage)    \(device.rawValue): refused: \(error.message)")
                continue
            }
            model!.parameterHooks = zero!.hooks
            func step() throws {
                model!.zeroGrad()
                try model!.loss(ids, attentionMask: mask).backward()
                try zero!.step()
            }
            try step()
            Self.resetPeakResident()
            TensorMemory.resetPeak()
            let atReset = ResidentMemory.current().resident
            let clock = ContinuousClock()
            var seconds: [Double] = []
            for _ in 0..<steps {
                try world.barrier()
                let start = clock.now
                try step()
                let elapsed = clock.now - start
                seconds.append(elapsed.inSeconds)
            }
            let report = zero!.memoryReport()
            let measured = TensorMemory.liveBytes - baseline + report.optimizerHost + (stage == 3 ? zero!.hostTierBytes : 0)
            let files = report.optimizerFiles
            let peak = ResidentMemory.current().peak
            let median = try world.allReduce([seconds.sorted()[seconds.count / 2]], .max)[0]
            if stage == 0 { reference = median }
            let formula = report.formulaBytes
            let cells = ["\(stage)", device.rawValue, "\(report.parameterCount)", mib(measured),
                         mib(report.optimizerHost + (stage == 3 ? zero!.hostTierBytes : 0)), mib(files), mib(report.ioBuffers), mib(formula),
                         String(format: "%.3f", Double(measured + files) / Double(formula)), String(format: "%.3f s", median),
                         String(format: "%.2f×", reference > 0 ? median / reference : 1), mib(Int(peak))]
            log(cells.map { $0.padding(toLength: Self.width, withPad: " ", startingAt: 0) }.joined())
            if let budgetMib, world.rank == 0 {
                let overhead = Int(peak) - (budgetMib << 20)
                log("   RSS after set-up and one step \(mib(Int(atReset))) (the peak is measured from there); tensor memory peak "
                    + mib(TensorMemory.peakBytes - baseline))
                log("   budget \(budgetMib) MiB: model states \(mib(16 * report.parameterCount)) = \(String(format: "%.1f", Double(16 * report.parameterCount) / Double(budgetMib << 20)))× the budget; "
                    + "peak RSS \(mib(Int(peak))) = budget \(overhead <= 0 ? "− \(mib(-overhead))" : "+ \(mib(overhead)) overhead")")
            }
            (model, zero) = (nil, nil)
        }
    }

    static let width = 13

    func mib(_ bytes: Int) -> String { String(format: "%.1f MiB", Double(bytes) / 1_048_576) }

    /// Returns freed heap memory to the system, then resets VmHWM to the current RSS (Linux ≥ 4.0).
    static func resetPeakResident() {
        _ = scizoo_release_free_memory()
        if let handle = FileHandle(forWritingAtPath: "/proc/self/clear_refs") {
            handle.write(Data("5".utf8))
            try? handle.close()
        }
    }
}
