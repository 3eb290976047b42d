// Process groups as Megatron-LM and DeepSpeed build them (tensor and pipeline parallel sizes 1):
// sequence-parallel groups are contiguous blocks of P ranks, data-parallel groups are strided by
// P, and the sequence-data-parallel group (DP × SP) is the whole world.
import TensorCore

public struct ParallelLayoutError: Error, CustomStringConvertible {
    public let message: String
    public var description: String { message }
}

public final class ProcessGroups {
    public let world: any Communicator
    /// Ranks [i·P, (i+1)·P): the ranks that share one sample and split its sequence.
    public let sequenceParallel: any Communicator
    /// Ranks with the same position in their SP block: they see different samples.
    public let dataParallel: any Communicator
    /// DP × SP: where gradients are reduced (and ZeRO partitions).
    public let sequenceDataParallel: any Communicator

    public var sequenceParallelSize: Int { sequenceParallel.size }
    public var dataParallelSize: Int { dataParallel.size }
    public var sequenceParallelRank: Int { sequenceParallel.rank }
    public var dataParallelRank: Int { dataParallel.rank }

    /// - Parameters: DeepSpeed's `sequence_parallel_size` and `data_parallel_size` (either may be
    ///   nil and is then derived from the world size; both must multiply to it).
    public init(world: any Communicator, sequenceParallelSize: Int? = nil, dataParallelSize: Int? = nil) throws {
        let n = world.size
        let p = sequenceParallelSize ?? (dataParallelSize.map { n / Swift.max(1, $0) } ?? 1)
        let d = dataParallelSize ?? n / Swift.max(1, p)
        guard p >= 1, d >= 1, p * d == n else {
            throw ParallelLayoutError(message: "sequence_parallel_size \(p) × data_parallel_size \(d) must equal the \(n) ranks of the job")
        }
        self.world = world
        sequenceParallel = try world.split(color: world.rank / p, key: world.rank)
        dataParallel = try world.split(color: world.rank % p, key: world.rank)
        sequenceDataParallel = try world.split(color: 0, key: world.rank)
    }
}

/// Which samples a rank reads: a seeded permutation per epoch, one shard per data-parallel rank;
/// the SP ranks of a group read the same samples (and take their slice of the sequence).
public struct DistributedSampler: Sendable {
    public let count: Int
    public let seed: UInt64
    public let dataParallelRank: Int
    public let dataParallelSize: Int

    public init(count: Int, seed: UInt64, dataParallelRank: Int, dataParallelSize: Int) {
        self.count = count
        self.seed = seed
        self.dataParallelRank = dataParallelRank
        self.dataParallelSize = dataParallelSize
    }

    /// This rank's sample indices for `epoch`; the remainder that does not fill every rank is dropped.
    public func indices(epoch: Int) -> [Int] {
        var generator = RandomGenerator(seed: seed &+ UInt64(epoch) &* 0x9E37_79B9)
        let order = generator.permutation(count)
        guard dataParallelSize > 1 else { return order }  // no second copy of a long epoch
        let usable = (count / dataParallelSize) * dataParallelSize
        return stride(from: dataParallelRank, to: usable, by: dataParallelSize).map { order[$0] }
    }
}

/// Seeds that keep every rank deterministic: the model's initialisation and the data order are
/// the same on every rank; dropout differs by data-parallel rank (different samples) but not by
/// sequence-parallel rank within a group, so a run is reproducible for a fixed layout.
public struct RankSeeds: Sendable {
    public let base: UInt64
    public init(base: UInt64) { self.base = base }
    public var model: UInt64 { base }
    public func data(epoch: Int) -> UInt64 { base &+ 1 &+ UInt64(epoch) }
    public func dropout(dataParallelRank: Int) -> UInt64 { (base &* 0x9E37_79B9_7F4A_7C15) ^ UInt64(dataParallelRank &+ 1) }
}
