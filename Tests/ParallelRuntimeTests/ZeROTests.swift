import Foundation
import Testing
import TestSupport
@testable import NeuralNetworks
@testable import ParallelRuntime
@testable import TensorCore
import TensorIO

@Suite("ZeRO")
struct ZeROTests {
    @Test("partition layouts follow DeepSpeed: flat groups padded to 2·N, per-parameter shards of ceil(numel/N)")
    func layouts() {
        let flat = PartitionLayout(kind: .flat, counts: [5, 3, 4], ranks: 2)  // 12 → padded to 12 (multiple of 4)
        #expect(flat.partitionSize == 6)
        #expect(flat.ownedPieces(ofParameter: 0, rank: 0)! == (0..<5, 0) as (Range<Int>, Int))
        #expect(flat.ownedPieces(ofParameter: 1, rank: 0)!.range == 0..<1 && flat.ownedPieces(ofParameter: 1, rank: 1)!.range == 1..<3)
        let odd = PartitionLayout(kind: .flat, counts: [7], ranks: 4)  // padded to 8
        #expect(odd.partitionSize == 2 && odd.ownedPieces(ofParameter: 0, rank: 3)!.range == 6..<7)
        let shards = PartitionLayout(kind: .perParameter, counts: [5, 1], ranks: 4)
        #expect(shards.shardSizes == [2, 1] && shards.partitionSize == 3 && shards.offsets == [0, 2])
        #expect(shards.ownedPieces(ofParameter: 0, rank: 2)!.range == 4..<5 && shards.ownedPieces(ofParameter: 0, rank: 3) == nil)
        #expect(shards.ownedPieces(ofParameter: 1, rank: 1) == nil)
    }

    @Test("20 AdamW steps under every stage and offload tier equal plain data parallelism", arguments: [1, 2, 3])
    func matchesDataParallel(ranks: Int) throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("scizoo-zero-\(ProcessInfo.processInfo.processIdentifier)-\(ranks)").path
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let failures = FailureBox(), lines = FailureBox()
        try InProcessWorld.run(size: ranks) { world in
            let outcome = try ZeROCheck.run(world, nvmePath: folder)
            failures.add(outcome.failures)
            if world.rank == 0 { lines.add(outcome.lines) }
        }
        #expect(failures.all.isEmpty, "\(failures.all)")
        #expect(lines.all.count == 10)
        // Two ranks sum in the same order in an all-reduce and a reduce-scatter: bitwise equal.
        if ranks <= 2 { #expect(lines.all.allSatisfy { $0.contains("bitwise") }, "\(lines.all)") }
    }

    @Test("with gradient clipping the global norm is taken over the partitions")
    func clipping() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("scizoo-zero-clip-\(ProcessInfo.processInfo.processIdentifier)").path
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let failures = FailureBox()
        try InProcessWorld.run(size: 2) { world in failures.add(try ZeROCheck.run(world, nvmePath: folder, clipping: 0.05).failures) }
        #expect(failures.all.isEmpty, "\(failures.all)")
    }
}

@Suite("ZeRO checkpoints")
struct ZeROCheckpointTests {
    static func settings(_ stage: Int, _ device: OffloadSettings.Device = .none, nvme: String = "/tmp") -> ZeROSettings {
        var s = ZeROSettings()
        s.stage = stage
        // Sub-groups smaller than most parameters: the shard writer stitches each piece's moments across them.
        s.subGroupSize = 5
        s.offloadOptimizer.device = stage == 0 ? .none : device
        s.offloadOptimizer.nvmePath = nvme
        if stage == 3 { s.offloadParam.device = device; s.offloadParam.nvmePath = nvme; s.paramPersistenceThreshold = 20 }
        return s
    }

    static func run(_ ranks: Int, _ body: @escaping @Sendable (any Communicator) throws -> [Float]) throws -> [Float] {
        let box = ResultBox()
        try InProcessWorld.run(size: ranks) { world in
            let result = try body(world)
            if world.rank == 0 { box.set(result) }
        }
        return box.value
    }

    final class ResultBox: @unchecked Sendable {
        private let lock = NSLock()
        private var stored: [Float] = []
        func set(_ value: [Float]) { lock.lock(); stored = value; lock.unlock() }
        var value: [Float] { lock.lock(); defer { lock.unlock() }; return stored }
    }

    static func relative(_ a: [Float], _ b: [Float]) -> Double {
        let scale = Double(b.map { Swift.abs($0) }.max() ?? 1)
        return Double(zip(a, b).map { Swift.abs($0 - $1) }.max() ?? .infinity) / scale
    }

    @Test("10 steps on 2 ranks at stage 2, checkpoint, resume on 1–4 ranks at stages 0–3: the run continues as if uninterrupted")
    func resumeAnywhere() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("scizoo-zero-ckpt-\(ProcessInfo.processInfo.processIdentifier)").path
        defer { try? FileManager.default.removeItem(atPath: root) }
        let directory = root + "/checkpoints"
        let uninterrupted = try Self.run(2) { try ZeROCheck.train($0, settings: Self.settings(2), steps: 20) }
        _ = try Self.run(2) { try ZeROCheck.train($0, settings: Self.settings(2), steps: 10, saveTo: directory) }
        #expect(ZeROCheckpoint.latestTag(in: directory) == "global_step10")
        // Same world and stage: bitwise.
        let same = try Self.run(2) { try ZeROCheck.train($0, settings: Self.settings(2), steps: 10, resumeFrom: directory, initialisationSeed: 99) }
        #expect(same == uninterrupted)
        for ranks in [1, 2, 3, 4] {
            for stage in 0...3 {
                let device: OffloadSettings.Device = stage == 3 ? .nvme : (stage == 1 ? .cpu : .none)
                let resumed = try Self.run(ranks) {
                    try ZeROCheck.train($0, settings: Self.settings(stage, device, nvme: root), steps: 10, resumeFrom: directory, initialisationSeed: 99)
                }
                #expect(Self.relative(resumed, uninterrupted) <= 1e-6, "resumed on \(ranks) rank(s) at stage \(stage): \(Self.relative(resumed, uninterrupted))")
            }
        }
    }

    @Test("consolidate streams the shards into one checkpoint that plain Adam resumes from")
    func consolidate() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("scizoo-zero-cons-\(ProcessInfo.processInfo.processIdentifier)").path
        defer { try? FileManager.default.removeItem(atPath: root) }
        let trained = try Self.run(3) { try ZeROCheck.train($0, settings: Self.settings(3), steps: 5, saveTo: root) }
        let output = root + "/consolidated.h5"
        #expect(try ZeROCheckpoint.consolidate(directory: root, output: output) == 6)
        let checkpoint = try Checkpoint.read(from: output)
        #expect(checkpoint.parameters.flatMap { $0.1.scalars(as: Float.self) } == trained)
        var initialisation = RandomGenerator(seed: 5)
        let model = MLP(widths: [6, 16, 16, 3], activation: .tanh, dtype: .float32, generator: &initialisation)
        try model.loadStateDict(checkpoint.parameters)
        let adam = Adam(model.namedParameters(), learningRate: 0.01, weightDecay: 0.01, decoupled: true)
        try adam.loadStateDict(checkpoint.optimizerState)
        #expect(adam.stepCount == 5)
    }

    @Test("a tag folder with a shard missing is a clear error")
    func missingShard() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("scizoo-zero-miss-\(ProcessInfo.processInfo.processIdentifier)").path
        defer { try? FileManager.default.removeItem(atPath: root) }
        _ = try Self.run(2) { try ZeROCheck.train($0, settings: Self.settings(1), steps: 1, saveTo: root) }
        try FileManager.default.removeItem(atPath: root + "/global_step1/zero_rank1_of_2.h5")
        #expect(throws: FileError.self) { _ = try ZeROCheckpoint.Shards(directory: root) }
    }
}
