// Segment reductions: the scatter side of message passing (torch_scatter's scatter_sum /
// scatter_mean / scatter_max with dim 0, PyG's aggregation). Rows of `[E, *]` are reduced into
// `[S, *]` by a segment id per row; ids need not be sorted. Each reduction is built from
// TensorCore's index ops, whose backward rules are themselves differentiable, so second
// derivatives (a loss on forces) flow through them. Reference twins live in GraphsTests.
import TensorCore

extension Tensor {
    /// Σ of the rows of each segment: `[E, *]` with `segments` `[E]` (ids in `0..<count`) →
    /// `[count, *]`; an empty segment is zero. Rows are added in row order, so sums are
    /// reproducible. Backward gathers the gradient rows back (`indexSelect`).
    public func segmentSum(_ segments: Tensor, count: Int) -> Tensor {
        precondition(rank >= 1 && segments.rank == 1 && segments.count == shape[0],
                     "segmentSum: segments \(segments.shape) must hold one id per row of \(shape)")
        return Tensor.zeros([count] + shape.dropFirst(), dtype: dtype).indexAdd(axis: 0, segments, self)
    }

    /// Mean of the rows of each segment (`[E, *]` → `[count, *]`); an empty segment is zero,
    /// as torch_scatter's `scatter_mean`.
    public func segmentMean(_ segments: Tensor, count: Int) -> Tensor {
        let sizes = Segments.sizes(segments, count: count).map { Double(Swift.max($0, 1)) }
        let divisor = Tensor(sizes, shape: [count] + [Int](repeating: 1, count: rank - 1)).cast(to: dtype)
        return segmentSum(segments, count: count) / divisor
    }

    /// Element-wise maximum over the rows of each segment (`[E, *]` → `[count, *]`); an empty
    /// segment is zero (torch_scatter's `scatter_max` fill). Ties go to the first row, so the
    /// gradient reaches exactly one row per segment and element.
    public func segmentMax(_ segments: Tensor, count: Int) -> Tensor {
        precondition(rank >= 1 && segments.rank == 1 && segments.count == shape[0],
                     "segmentMax: segments \(segments.shape) must hold one id per row of \(shape)")
        precondition(dtype.isFloatingPoint, "segmentMax: needs a floating-point tensor, got \(dtype)")
        let ids = Segments.ids(segments, count: count, "segmentMax")
        let width = shape.dropFirst().reduce(1, *)
        let values = detached().contiguous().doubles
        // The winning row of each (segment, element); −1 while a segment has no row.
        var winner = [Int](repeating: -1, count: count * width)
        for (row, segment) in ids.enumerated() {
            for element in 0..<width {
                let slot = segment * width + element
                if winner[slot] < 0 || values[row * width + element] > values[winner[slot] * width + element] {
                    winner[slot] = row
                }
            }
        }
        let occupied = winner.map { $0 >= 0 ? 1.0 : 0.0 }
        let rows = Tensor(winner.map { Int64(Swift.max($0, 0)) }, shape: [count, width])
        let picked = reshaped([shape[0], width]).gather(axis: 0, rows)
        let mask = Tensor(occupied, shape: [count, width]).cast(to: dtype)
        return (picked * mask).reshaped([count] + shape.dropFirst())
    }
}

/// Helpers on segment-id tensors.
public enum Segments {
    /// The ids as Int, each checked to lie in `0..<count` (traps naming the bad id).
    static func ids(_ segments: Tensor, count: Int, _ op: String) -> [Int] {
        precondition(segments.dtype == .int64 || segments.dtype == .int32, "\(op): segment ids must be int32 or int64, got \(segments.dtype)")
        let values = segments.doubles.map { Int($0) }
        for value in values {
            precondition(value >= 0 && value < count, "\(op): segment id \(value) is out of range 0..<\(count)")
        }
        return values
    }

    /// Rows per segment.
    public static func sizes(_ segments: Tensor, count: Int) -> [Int] {
        var sizes = [Int](repeating: 0, count: count)
        for id in ids(segments, count: count, "segment sizes") { sizes[id] += 1 }
        return sizes
    }
}
