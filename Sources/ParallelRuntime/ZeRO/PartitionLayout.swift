// Where each element of the model's parameters lives under ZeRO, with DeepSpeed's rules so that
// checkpoints follow its reconstruction logic (runtime-anchors.md §3.2, §3.3):
//   stages 1 and 2: one flat group of every parameter in order, padded to a multiple of 2·N and
//   split into N equal contiguous partitions (a parameter may straddle two);
//   stage 3: each parameter padded to a multiple of N and split into shards of ceil(numel / N);
//   a rank's flat partition is its shards in parameter order.

public struct PartitionLayout: Sendable, Equatable {
    public enum Kind: Sendable, Equatable { case flat, perParameter }
    public let kind: Kind
    public let ranks: Int
    /// Elements of each parameter, in order.
    public let counts: [Int]
    /// Elements of one rank's partition.
    public let partitionSize: Int
    /// Flat layout: each parameter's offset in the flat group. Per-parameter: each shard's offset in a partition.
    public let offsets: [Int]
    /// Per-parameter layout: the shard size ceil(numel / N) of each parameter.
    public let shardSizes: [Int]

    public var total: Int { counts.reduce(0, +) }

    public init(kind: Kind, counts: [Int], ranks: Int) {
        self.kind = kind
        self.counts = counts
        self.ranks = ranks
        switch kind {
        case .flat:
            var running = 0
            offsets = counts.map { count in defer { running += count }; return running }
            let alignment = 2 * ranks
            let padded = (running + alignment - 1) / alignment * alignment
            partitionSize = padded / ranks
            shardSizes = []
        case .perParameter:
            shardSizes = counts.map { ($0 + ranks - 1) / ranks }
            var running = 0
            offsets = shardSizes.map { size in defer { running += size }; return running }
            partitionSize = running
        }
    }

    /// The pieces of parameter `index` that rank `rank` owns: (element range inside the parameter,
    /// offset inside the rank's partition). Padding is owned by nobody.
    public func ownedPieces(ofParameter index: Int, rank: Int) -> (range: Range<Int>, partitionOffset: Int)? {
        switch kind {
        case .flat:
            let start = rank * partitionSize, end = start + partitionSize
            let lower = Swift.max(offsets[index], start), upper = Swift.min(offsets[index] + counts[index], end)
            guard lower < upper else { return nil }
            return ((lower - offsets[index])..<(upper - offsets[index]), lower - start)
        case .perParameter:
            let size = shardSizes[index]
            let lower = Swift.min(rank * size, counts[index]), upper = Swift.min((rank + 1) * size, counts[index])
            guard lower < upper else { return nil }
            return (lower..<upper, offsets[index])
        }
    }
}
