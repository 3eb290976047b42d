import Foundation
import Testing
import TestSupport
@testable import NeuralNetworks
@testable import ParallelRuntime
@testable import TensorCore

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
