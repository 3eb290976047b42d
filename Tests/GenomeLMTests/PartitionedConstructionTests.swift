// Partitioned construction (DeepSpeed's zero.Init): GPT-NeoX built as rules and handed to ZeRO
// stage 3 has, on every rank, exactly the shards of the whole-model build, and never the whole
// model in memory; a model built as rules and made whole equals the eager build.
import Foundation
import Testing
import TestSupport
@testable import GenomeLM
@testable import NeuralNetworks
@testable import ParallelRuntime
@testable import TensorCore

@Suite("Partitioned construction")
struct PartitionedConstructionTests {
    static var configuration: GPTNeoXConfiguration {
        var c = PositionEmbeddingChoiceTests.configuration("rpe")
        c.numHiddenLayers = 3
        return c
    }

    static func settings(ranks: Int) -> ZeROSettings {
        var s = ZeROSettings()
        s.stage = 3
        s.paramPersistenceThreshold = 40
        return s
    }

    @Test("built as rules and made whole, every parameter equals the eager build's, bit for bit")
    func materialised() {
        let eager = GPTNeoXForCausalLM(Self.configuration, seed: 9)
        let scope = MemoryScope()
        let deferred = scope.measure { Parameter.deferringValues { GPTNeoXForCausalLM(Self.configuration, seed: 9) } }
        #expect(scope.peakBytes == 0, "building as rules allocated \(scope.peakBytes) bytes of tensors")
        #expect(deferred.parameters().allSatisfy { $0.pendingValues != nil })
        deferred.materializeParameters()
        #expect(deferred.namedParameters().map { $0.0 } == eager.namedParameters().map { $0.0 })
        for ((path, ours), (_, theirs)) in zip(deferred.namedParameters(), eager.namedParameters()) {
            #expect(ours.value.doubles == theirs.value.doubles, "\(path)")
        }
    }

    @Test("under ZeRO stage 3 each rank makes only its shards, equal to the whole build's; the first steps equal the whole build's",
          arguments: [1, 2, 3])
    func shards(ranks: Int) throws {
        var generator = RandomGenerator(seed: 4)
        let ids = Tensor(generator.bits(2 * 3 * 10).map { Int64($0 % 13) }, shape: [2 * 3, 10])
        let mask = Tensor.ones([2 * 3, 10], dtype: .int64)
        let failures = RankMessages(), losses = RankMessages()
        for partitioned in [false, true] {
            try InProcessWorld.run(size: ranks) { world in
                let groups = try ProcessGroups(world: world)
                let building = MemoryScope(), partitioning = MemoryScope()
                let model = try building.measure {
                    let model = partitioned ? Parameter.deferringValues { GPTNeoXForCausalLM(Self.configuration, seed: 9) }
                        : GPTNeoXForCausalLM(Self.configuration, seed: 9)
                    try DataParallel.broadcastParameters(model.namedParameters(), over: world)
                    return model
                }
                let zero = try partitioning.measure {
                    try ZeROOptimizer(model.namedParameters(), settings: Self.settings(ranks: ranks), adam: AdamSettings(learningRate: 1e-3), groups: groups)
                }
                let report = zero.memoryReport()
                // Partitioned, the build allocates nothing but the rule check's broadcast (< 4 KiB), where
                // the whole build holds the whole model; the partitioner then allocates this rank's
                // partitions (parameters, gradients, Adam's m and v) and the persistent parameters only.
                let owned = 4 * report.persistentParameterCount + 16 * zero.layout.partitionSize
                if partitioned != (building.peakBytes < 4096) || partitioning.peakBytes > owned {
                    failures.add(["rank \(world.rank), partitioned \(partitioned): building \(building.peakBytes) bytes (whole model "
                                  + "\(4 * report.parameterCount)), partitioning \(partitioning.peakBytes) against \(owned)"])
                }
                if partitioned {
                    // The shards equal those of the eager build.
                    let eager = GPTNeoXForCausalLM(Self.configuration, seed: 9)
                    let layout = zero.partitions!.layout
                    let master = try zero.partitions!.master.read(0..<layout.partitionSize)
                    for (index, (path, parameter)) in eager.namedParameters().enumerated() {
                        guard let (range, offset) = layout.ownedPieces(ofParameter: index, rank: world.rank) else { continue }
                        let expected = parameter.value.scalars(as: Float.self)[range]
                        if Array(master[offset..<(offset + range.count)]) != Array(expected) { failures.add(["rank \(world.rank): shard of \(path) differs"]) }
                    }
                }
                model.parameterHooks = zero.hooks
                let share = 6 / ranks
                var curve: [Float] = []
                for _ in 0..<2 {
                    let rows = ids.sliced(axis: 0, world.rank * share, (world.rank + 1) * share).contiguous()
                    let loss = model.loss(rows, attentionMask: mask.sliced(axis: 0, 0, share).contiguous())
                    try loss.backward()
                    try zero.step()
                    curve.append(Float(loss.item()))
                }
                if world.rank == 0 { losses.add(["\(partitioned) \(curve)"]) }
            }
        }
        #expect(failures.all.isEmpty, "\(failures.all)")
        let curves = losses.all.map { $0.split(separator: " ", maxSplits: 1)[1] }
        #expect(curves.count == 2 && curves[0] == curves[1], "\(losses.all)")
    }

    @Test("ranks whose rules differ (another seed) are an error naming the parameter before any shard is made")
    func mismatchedSeeds() throws {
        let messages = RankMessages()
        try InProcessWorld.run(size: 2) { world in
            let model = Parameter.deferringValues { GPTNeoXForCausalLM(Self.configuration, seed: UInt64(9 + world.rank)) }
            do {
                try DataParallel.broadcastParameters(model.namedParameters(), over: world)
            } catch {
                messages.add(["\(world.rank): \(error)"])
            }
        }
        #expect(messages.all.count == 1 && messages.all[0].hasPrefix("1: rank 1 builds parameter embedIn.weight from a different random state"),
                "\(messages.all)")
    }
}
