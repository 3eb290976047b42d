import Foundation
import Testing
import TestSupport
@testable import NeuralNetworks
@testable import ParallelRuntime
@testable import TensorCore

struct UlyssesCase: CustomStringConvertible, Sendable {
    let ranks: Int, batch: Int, layout: SequenceLayout, queryHeads: Int, keyValueHeads: Int
    var description: String { "P \(ranks) B \(batch) \(layout) heads \(queryHeads)/\(keyValueHeads)" }
}

let ulyssesCases: [UlyssesCase] = {
    var cases: [UlyssesCase] = []
    for ranks in [1, 2, 4] {
        for batch in [1, 3] {
            for layout in [SequenceLayout.batchFirst, .sequenceFirst] {
                cases.append(UlyssesCase(ranks: ranks, batch: batch, layout: layout, queryHeads: 4, keyValueHeads: 4))
            }
        }
        cases.append(UlyssesCase(ranks: ranks, batch: 2, layout: .batchFirst, queryHeads: 6, keyValueHeads: 6))  // uneven for P = 4
        cases.append(UlyssesCase(ranks: ranks, batch: 2, layout: .batchFirst, queryHeads: 8, keyValueHeads: 2))  // GQA, replicated for P = 4
    }
    return cases
}()

@Suite("Ulysses sequence parallelism")
struct UlyssesTests {
    @Test("seq → head → seq all-to-all is the identity, uneven heads included", arguments: [1, 2, 3, 4])
    func roundTrip(ranks: Int) throws {
        let failures = FailureBox()
        var generator = RandomGenerator(seed: 5)
        let full = generator.normal([2, 4 * ranks, 5, 3], dtype: .float64)
        try InProcessWorld.run(size: ranks) { group in
            let local = full.sliced(axis: 1, group.rank * 4, (group.rank + 1) * 4).contiguous()
            let heads = try SequenceAllToAll.scatterHeads(local, group: group)
            let partition = HeadPartition(heads: 5, ranks: ranks)
            if heads.shape != [2, 4 * ranks, partition.counts[group.rank], 3] { failures.add(["shape \(heads.shape)"]) }
            let expected = full.sliced(axis: 2, partition.offsets[group.rank], partition.offsets[group.rank] + partition.counts[group.rank])
            if heads.doubles != expected.contiguous().doubles { failures.add(["rank \(group.rank): head shard differs"]) }
            let back = try SequenceAllToAll.gatherHeads(heads, heads: 5, group: group)
            if back.doubles != local.doubles { failures.add(["rank \(group.rank): round trip differs"]) }
        }
        #expect(failures.all.isEmpty, "\(failures.all)")
    }

    @Test("Ulysses attention output and q/k/v gradients equal single-process attention", arguments: ulyssesCases)
    func matchesSingleProcess(c: UlyssesCase) throws {
        var generator = RandomGenerator(seed: UInt64(c.ranks * 100 + c.batch * 10 + c.queryHeads))
        let (s, d) = (4 * c.ranks, 4)
        let q = generator.normal([c.batch, s, c.queryHeads, d], dtype: .float64)
        let k = generator.normal([c.batch, s, c.keyValueHeads, d], dtype: .float64)
        let v = generator.normal([c.batch, s, c.keyValueHeads, d], dtype: .float64)
        let g = generator.normal([c.batch, s, c.queryHeads, d], dtype: .float64)
        let rotary = RotaryEmbedding(headDimension: d, fraction: 0.5)
        // Single process: k/v heads expanded to the query heads, rotary at positions 0..<S, causal attention.
        let group = c.queryHeads / c.keyValueHeads
        let expand = Tensor((0..<c.queryHeads).map { Int64($0 / group) })
        let (lq, lk, lv) = (q.requiringGrad(), k.requiringGrad(), v.requiringGrad())
        let reference = Tensor.scaledDotProductAttention(rotary.apply(lq), rotary.apply(lk.indexSelect(axis: 2, expand)),
                                                         lv.indexSelect(axis: 2, expand), masking: .causal)
        let referenceGrads = try grad(of: [reference], wrt: [lq, lk, lv], gradOutputs: [g])

        let failures = FailureBox()
        let local = s / c.ranks
        try InProcessWorld.run(size: c.ranks) { communicator in
            func shard(_ x: Tensor) -> Tensor {
                let slice = x.sliced(axis: 1, communicator.rank * local, (communicator.rank + 1) * local)
                return (c.layout == .batchFirst ? slice : slice.permuted([1, 0, 2, 3])).contiguous()
            }
            let attention = try UlyssesAttention(group: communicator, layout: c.layout, queryHeads: c.queryHeads,
                                                 keyValueHeads: c.keyValueHeads, rotary: rotary)
            let (sq, sk, sv) = (shard(q).requiringGrad(), shard(k).requiringGrad(), shard(v).requiringGrad())
            let out = try attention(sq, sk, sv) { Tensor.scaledDotProductAttention($0, $1, $2, masking: .causal) }
            let grads = try grad(of: [out], wrt: [sq, sk, sv], gradOutputs: [shard(g)])
            let pairs = [(out, shard(reference.detached()))] + zip(grads.map { $0! }, referenceGrads.map { shard($0!) }).map { ($0, $1) }
            for (index, (ours, theirs)) in pairs.enumerated() {
                let check = closeness(ours, theirs, Tolerance(rtol: 1e-12, atol: 1e-12))
                if !check.passed { failures.add(["\(c) rank \(communicator.rank) output \(index): \(check)"]) }
            }
        }
        #expect(failures.all.isEmpty, "\(failures.all)")
    }

    @Test("the library's Ulysses check (run by scizoo mpi-check under mpirun) passes in process", arguments: [1, 2, 4])
    func libraryCheck(ranks: Int) throws {
        let failures = FailureBox()
        try InProcessWorld.run(size: ranks) { failures.add(try UlyssesCheck.run($0)) }
        #expect(failures.all.isEmpty, "\(failures.all)")
    }

    @Test("shards of different lengths, and unsupported GQA layouts, are clear errors")
    func errors() throws {
        let failures = FailureBox()
        try InProcessWorld.run(size: 2) { group in
            let attention = try UlyssesAttention(group: group, queryHeads: 2)
            let x = Tensor.zeros([1, group.rank == 0 ? 3 : 2, 2, 4], dtype: .float64)
            do {
                _ = try attention(x, x, x) { q, _, _ in q }
                failures.add(["unequal shards must fail"])
            } catch let error as ParallelLayoutError {
                if !error.description.contains("pad the sequence") { failures.add(["\(error)"]) }
            }
        }
        #expect(failures.all.isEmpty, "\(failures.all)")
        try InProcessWorld.run(size: 4) { group in
            #expect(throws: ParallelLayoutError.self) { _ = try UlyssesAttention(group: group, queryHeads: 6, keyValueHeads: 3) }
        }
    }

    @Test("process groups follow Megatron: SP contiguous, DP strided; gradients averaged over DP only")
    func groupsAndDataParallel() throws {
        let failures = FailureBox()
        try InProcessWorld.run(size: 4) { world in
            let groups = try ProcessGroups(world: world, sequenceParallelSize: 2)
            if groups.sequenceParallelSize != 2 || groups.dataParallelSize != 2 { failures.add(["sizes"]) }
            let spMembers = try groups.sequenceParallel.allGather([Int64(world.rank)])
            let dpMembers = try groups.dataParallel.allGather([Int64(world.rank)])
            let block = Int64(world.rank / 2 * 2)
            if spMembers != [block, block + 1] { failures.add(["SP group \(spMembers)"]) }
            if dpMembers != [Int64(world.rank % 2), Int64(world.rank % 2 + 2)] { failures.add(["DP group \(dpMembers)"]) }
            // Gradient g = rank + 1 everywhere: summed over the 4 ranks (10), divided by DP size 2.
            let parameter = Parameter(Tensor([0.0, 0.0]))
            parameter.value.setGrad(Tensor([Double(world.rank + 1), 1]))
            try DataParallel.allReduceGradients([("p", parameter)], groups: groups, bucketBytes: 8)
            if parameter.grad?.doubles != [5, 2] { failures.add(["rank \(world.rank) gradient \(parameter.grad!.doubles)"]) }
        }
        #expect(failures.all.isEmpty, "\(failures.all)")
        try InProcessWorld.run(size: 3) { world in
            #expect(throws: ParallelLayoutError.self) { _ = try ProcessGroups(world: world, sequenceParallelSize: 2) }
        }
        let shards = (0..<3).map { DistributedSampler(count: 10, seed: 4, dataParallelRank: $0, dataParallelSize: 3).indices(epoch: 1) }
        #expect(shards.allSatisfy { $0.count == 3 } && Set(shards.flatMap { $0 }).count == 9)
    }

    @Test("20 steps of data-parallel training equal one process on the combined batch (float64)", arguments: [1, 2, 3])
    func dataParallelTraining(ranks: Int) throws {
        let failures = FailureBox()
        try InProcessWorld.run(size: ranks) { world in failures.add(try DataParallelCheck.run(world)) }
        #expect(failures.all.isEmpty, "\(failures.all)")
    }

    @Test("the sequence-parallel cross-entropy equals the whole-sequence loss, and each rank gets its slice of the gradient",
          arguments: [1, 2, 4])
    func sequenceParallelCrossEntropy(ranks: Int) throws {
        let failures = FailureBox()
        try InProcessWorld.run(size: ranks) { group in failures.add(try DataParallelCheck.sequenceParallelLoss(group)) }
        #expect(failures.all.isEmpty, "\(failures.all)")
    }

    @Test("SequenceSharding pads at the end and says which positions are real")
    func sharding() {
        let sharding = SequenceSharding(length: 10, ranks: 4)
        #expect(sharding.shardLength == 3 && sharding.paddedLength == 12)
        #expect((0..<4).map { sharding.realCount(rank: $0) } == [3, 3, 3, 1])
        let x = Tensor((0..<10).map { Double($0) }, shape: [1, 10])
        #expect(sharding.shard(x, axis: 1, rank: 3, padding: -1).doubles == [9, -1, -1])
        #expect(sharding.shard(x, axis: 1, rank: 1).doubles == [3, 4, 5])
    }

    @Test("an all-to-all of a float32 shard sends (P−1)/P of it, 4 bytes an element, counted at the communicator", arguments: [1, 2, 4])
    func countedTraffic(ranks: Int) throws {
        let failures = FailureBox()
        try InProcessWorld.run(size: ranks) { world in
            let group = CountingCommunicator(world)
            let local = Tensor.zeros([2, 3, 8, 5], dtype: .float32)  // [B, S/P, H, D]
            _ = try SequenceAllToAll.scatterHeads(local, group: group)
            let expected = local.count * 4 * (ranks - 1) / ranks
            if group.sentBytes("allToAllV") != expected || group.sentBytes() != expected {
                failures.add(["rank \(world.rank): counted \(group.sentBytes("allToAllV")) bytes, expected \(expected)"])
            }
        }
        #expect(failures.all.isEmpty, "\(failures.all)")
    }
}
