// GPT-NeoX with activation checkpointing: the same loss and gradients bit for bit, less memory.
import Testing
import TestSupport
@testable import GenomeLM
@testable import NeuralNetworks
@testable import ParallelRuntime
@testable import TensorCore

@Suite("GPT-NeoX activation checkpointing")
struct GPTNeoXCheckpointingTests {
    static func gradients(_ configuration: GPTNeoXConfiguration, checkpoint: Bool, ids: Tensor, mask: Tensor) throws -> (Double, [[Double]], Int) {
        let model = GPTNeoXForCausalLM(configuration, seed: 5)
        model.checkpointsActivations = checkpoint
        // Charged to this test's scope only (other tests run alongside).
        let scope = MemoryScope()
        let loss = try scope.measure {
            let loss = model.loss(ids, attentionMask: mask)
            try loss.backward()
            return loss
        }
        return (loss.item(), model.namedParameters().map { $0.1.grad!.doubles }, scope.peakBytes)
    }

    @Test("loss and every gradient equal the run without checkpointing, bit for bit (rotary and rpe, float32), in less peak memory",
          arguments: ["rotary", "rpe"])
    func bitwise(positions: String) throws {
        var configuration = PositionEmbeddingChoiceTests.configuration(positions)
        (configuration.numHiddenLayers, configuration.maxPositionEmbeddings) = (4, 256)
        var generator = RandomGenerator(seed: 8)
        let (b, s) = (2, 256)
        let ids = Tensor(generator.bits(b * s).map { Int64($0 % 13) }, shape: [b, s])
        let mask = Tensor((0..<(b * s)).map { Int64($0 >= b * s - 7 ? 0 : 1) }, shape: [b, s])
        let plain = try Self.gradients(configuration, checkpoint: false, ids: ids, mask: mask)
        let checkpointed = try Self.gradients(configuration, checkpoint: true, ids: ids, mask: mask)
        #expect(plain.0 == checkpointed.0)
        #expect(plain.1 == checkpointed.1)
        #expect(checkpointed.2 < plain.2, "peak tensor memory of forward + backward: \(checkpointed.2) vs \(plain.2) bytes")
    }

    @Test("under sequence parallelism (Ulysses, 2 ranks) the checkpointed replay repeats the all-to-alls: gradients equal the plain run's")
    func sequenceParallel() throws {
        let configuration = PositionEmbeddingChoiceTests.configuration("alibi")
        var generator = RandomGenerator(seed: 3)
        let ids = Tensor(generator.bits(2 * 12).map { Int64($0 % 13) }, shape: [2, 12])
        let mask = Tensor.ones([2, 12], dtype: .int64)
        let results = RankMessages()
        for checkpoint in [false, true] {
            try InProcessWorld.run(size: 2) { world in
                let groups = try ProcessGroups(world: world, sequenceParallelSize: 2)
                let model = GPTNeoXForCausalLM(configuration, dtype: .float64, seed: 5)
                model.checkpointsActivations = checkpoint
                try model.enableSequenceParallelism(groups.sequenceParallel)
                try model.sequenceParallelLoss(ids, attentionMask: mask).backward()
                if world.rank == 0 { results.add([model.namedParameters().map { "\($0.1.grad!.doubles)" }.joined()]) }
            }
        }
        #expect(results.all.count == 2 && results.all[0] == results.all[1])
    }
}
