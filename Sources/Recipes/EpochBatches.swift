// The batching and schedule the molecule trainers share: a seeded shuffle per epoch split into
// global batches, each cut in rank order (so one process with batch B·R sees what R ranks with
// batch B see together), and fairseq's polynomial_decay learning rate.
import Foundation
import TensorCore

public enum EpochBatches {
    /// This rank's batches of `epoch`: indices of `pool`, `batchSize` per rank per step; the last
    /// incomplete global batch is dropped.
    public static func of(_ pool: [Int], epoch: Int, seed: UInt64, batchSize: Int, rank: Int, ranks: Int) -> [[Int]] {
        var generator = RandomGenerator(seed: seed &* 1_000_003 &+ UInt64(epoch) &+ 1)
        let order = generator.permutation(pool.count).map { pool[$0] }
        let global = batchSize * ranks
        return (0..<(order.count / global)).map { k in Array(order[(k * global + rank * batchSize)..<(k * global + (rank + 1) * batchSize)]) }
    }

    /// `of`'s batches, each with a seed for its dropout and noise draws: a function of the run's seed,
    /// the epoch and the batch's global position, so a resumed run draws what an uninterrupted one would.
    public static func seeded(_ pool: [Int], epoch: Int, seed: UInt64, batchSize: Int, rank: Int, ranks: Int) -> [(indices: [Int], seed: UInt64)] {
        of(pool, epoch: epoch, seed: seed, batchSize: batchSize, rank: rank, ranks: ranks).enumerated().map { k, indices in
            (indices, seed &* 6_364_136_223_846_793_005 &+ UInt64(epoch) << 32 &+ UInt64(k * ranks + rank))
        }
    }
}

/// fairseq's polynomial_decay: linear warm-up to `peak`, then (peak − end)·(1 − progress)^power + end.
public func polynomialDecay(step: Int, peak: Double, end: Double, warmup: Int, total: Int, power: Double) -> Double {
    let update = step + 1
    if warmup > 0 && update <= warmup { return peak * Double(update) / Double(warmup) }
    if update >= total { return end }
    let remaining = 1 - Double(update - warmup) / Double(Swift.max(1, total - warmup))
    return (peak - end) * pow(remaining, power) + end
}
