// Reductions over axes: sum, mean, max, min, variance, logsumexp, argmax.
// Each output element is reduced in a fixed sequential order, so results do not depend on
// the thread count.
import Kernels

enum ReduceKind { case sum, max, min }

extension Tensor {
    func resolvedAxes(_ axes: [Int]?, _ op: String) -> [Int] {
        guard let axes else { return Array(0..<rank) }
        let resolved = Set(axes.map { axis($0, op) })
        return resolved.sorted()
    }

    /// Reduces `axes` with `kind` (no autograd). Keeps the axes as size 1.
    func reduceKernel(_ kind: ReduceKind, axes: [Int]) -> Tensor {
        // A run of adjacent axes that is not the last (a broadcast gradient: [B, S, H] → [H], or
        // [V, N, D] → [V, 1, D]) is summed as rows added in order, without a transposed copy.
        if kind == .sum, let first = axes.first, axes == Array(first..<(first + axes.count)), first + axes.count < rank,
           isContiguous, dtype.isFloatingPoint {
            return sumAxisBlock(first..<(first + axes.count))
        }
        let kept = (0..<rank).filter { !axes.contains($0) }
        let outShape = (0..<rank).map { axes.contains($0) ? 1 : shape[$0] }
        let inner = axes.reduce(1) { $0 * shape[$1] }
        let outer = kept.reduce(1) { $0 * shape[$1] }
        // Reduced axes last and contiguous: each output element reads one contiguous block.
        let arranged = Tensor(storage: storage, shape: (kept + axes).map { shape[$0] },
                              strides: (kept + axes).map { strides[$0] }, offset: offset).contiguousStorageView()
        let result = Tensor(uninitializedShape: outShape, dtype: dtype, zeroed: false)
        func run<T: TensorFloat>(_: T.Type) {
            let input = UncheckedSendable(UnsafePointer(arranged.storage.pointer(as: T.self) + arranged.offset))
            let output = UncheckedSendable(result.storage.pointer(as: T.self))
            parallelFor(outer, minChunk: Swift.max(1, (1 << 14) / Swift.max(1, inner))) { rows in
                for row in rows {
                    let block = input.value + row &* inner
                    var accumulator: T
                    switch kind {
                    case .sum:
                        accumulator = 0
                        for i in 0..<inner { accumulator += block[i] }
                    case .max:
                        accumulator = -.infinity
                        for i in 0..<inner where block[i] > accumulator || block[i].isNaN { accumulator = block[i] }
                    case .min:
                        accumulator = .infinity
                        for i in 0..<inner where block[i] < accumulator || block[i].isNaN { accumulator = block[i] }
                    }
                    output.value[row] = accumulator
                }
            }
        }
        precondition(dtype.isFloatingPoint, "reduction: needs a floating-point tensor, got \(dtype); cast it first")
        if dtype == .float32 { run(Float.self) } else { run(Double.self) }
        return result
    }

    /// Sum over the adjacent axes `block` of a contiguous tensor, not including the last axis:
    /// viewed as [outer, rows, width], each output row is the in-order sum of its `rows` input rows,
    /// so every output element sees the same additions in the same order as the general path.
    private func sumAxisBlock(_ block: Range<Int>) -> Tensor {
        let outer = shape[..<block.lowerBound].reduce(1, *), rows = shape[block].reduce(1, *)
        let width = shape[block.upperBound...].reduce(1, *)
        let outShape = shape.enumerated().map { block.contains($0.offset) ? 1 : $0.element }
        let result = Tensor(uninitializedShape: outShape, dtype: dtype, zeroed: true)
        func run<T: TensorFloat>(_: T.Type) {
            let input = UncheckedSendable(UnsafePointer(storage.pointer(as: T.self) + offset))
            let output = UncheckedSendable(result.storage.pointer(as: T.self))
            // Work items are (outer index, column range) pairs, flattened over outer × width.
            parallelFor(outer * width, minChunk: Swift.max(64, (1 << 14) / Swift.max(1, rows))) { items in
                var item = items.lowerBound
                while item < items.upperBound {
                    let o = item / width, c0 = item % width, n = Swift.min(width - c0, items.upperBound - item)
                    let out = output.value + o &* width + c0
                    for row in 0..<rows {
                        let line = input.value + (o &* rows + row) &* width + c0
                        for c in 0..<n { out[c] += line[c] }
                    }
                    item += n
                }
            }
        }
        if dtype == .float32 { run(Float.self) } else { run(Double.self) }
        return result
    }

    func droppingAxes(_ axes: [Int], keepDims: Bool) -> Tensor {
        if keepDims { return self }
        return reshaped((0..<rank).filter { !axes.contains($0) }.map { shape[$0] })
    }

    /// Sum over `axes` (all when nil).
    public func sum(axes: [Int]? = nil, keepDims: Bool = false) -> Tensor {
        let axes = resolvedAxes(axes, "sum")
        let input = self
        let value = Tensor.recording(reduceKernel(.sum, axes: axes), "sum", [self]) { grad in
            [grad.expanded(to: input.shape)]
        }
        return value.droppingAxes(axes, keepDims: keepDims)
    }

    public func sum(axis: Int, keepDims: Bool = false) -> Tensor { sum(axes: [axis], keepDims: keepDims) }

    /// Mean over `axes` (all when nil).
    public func mean(axes: [Int]? = nil, keepDims: Bool = false) -> Tensor {
        let resolved = resolvedAxes(axes, "mean")
        let n = resolved.reduce(1) { $0 * shape[$1] }
        return sum(axes: resolved, keepDims: keepDims) / Double(Swift.max(1, n))
    }

    public func mean(axis: Int, keepDims: Bool = false) -> Tensor { mean(axes: [axis], keepDims: keepDims) }

    /// Maximum over `axes`; the gradient is shared equally among tied maxima.
    public func max(axes: [Int]? = nil, keepDims: Bool = false) -> Tensor { extremum(.max, axes, keepDims) }
    public func min(axes: [Int]? = nil, keepDims: Bool = false) -> Tensor { extremum(.min, axes, keepDims) }
    public func max(axis: Int, keepDims: Bool = false) -> Tensor { max(axes: [axis], keepDims: keepDims) }
    public func min(axis: Int, keepDims: Bool = false) -> Tensor { min(axes: [axis], keepDims: keepDims) }

    private func extremum(_ kind: ReduceKind, _ axes: [Int]?, _ keepDims: Bool) -> Tensor {
        let axes = resolvedAxes(axes, "\(kind)")
        let kept = reduceKernel(kind, axes: axes)
        let input = self
        let value = Tensor.recording(kept, "\(kind)", [self]) { grad in
            let mask = (input == kept).cast(to: input.dtype, differentiable: false)
            let ties = mask.reduceKernel(.sum, axes: axes)
            return [grad.expanded(to: input.shape) * (mask / ties)]
        }
        return value.droppingAxes(axes, keepDims: keepDims)
    }

    /// Variance over `axes` with Bessel's `correction` (1, PyTorch's default; 0 for the population).
    public func variance(axes: [Int]? = nil, correction: Int = 1, keepDims: Bool = false) -> Tensor {
        let resolved = resolvedAxes(axes, "variance")
        let n = resolved.reduce(1) { $0 * shape[$1] }
        let centered = self - mean(axes: resolved, keepDims: true)
        return (centered * centered).sum(axes: resolved, keepDims: keepDims) / Double(Swift.max(1, n - correction))
    }

    /// log Σ exp over `axes`, shifted by the (detached) maximum for stability.
    public func logSumExp(axes: [Int]? = nil, keepDims: Bool = false) -> Tensor {
        let resolved = resolvedAxes(axes, "logSumExp")
        var shift = reduceKernel(.max, axes: resolved)
        // Rows that are all −∞ shift by 0 and give −∞, not NaN.
        shift = Tensor.where(shift == -Double.infinity, Tensor.zeros([], dtype: dtype), shift).detached()
        let result = (self - shift).exp().sum(axes: resolved, keepDims: true).log() + shift
        return result.droppingAxes(resolved, keepDims: keepDims)
    }

    /// Indices of the maxima along `axis` (int64; the first on ties). Not differentiable.
    public func argmax(axis: Int) -> Tensor {
        let axis = self.axis(axis, "argmax")
        let others = (0..<rank).filter { $0 != axis }
        let moved = detached().permuted(others + [axis]).materialized().cast(to: .float64, differentiable: false)
        let inner = shape[axis], outer = count / Swift.max(1, inner)
        let result = Tensor(uninitializedShape: others.map { shape[$0] }, dtype: .int64, zeroed: false)
        let input = moved.storage.pointer(as: Double.self), output = result.storage.pointer(as: Int64.self)
        for row in 0..<outer {
            var best = 0
            for i in 1..<Swift.max(1, inner) where input[row * inner + i] > input[row * inner + best] { best = i }
            output[row] = Int64(best)
        }
        return result
    }

    /// Sums broadcast axes away so that the result has `target` shape (the adjoint of expand).
    public func sumToShape(_ target: [Int]) -> Tensor {
        if shape == target { return self }
        let extra = rank - target.count
        precondition(extra >= 0, "sumToShape: cannot reduce \(shape) to \(target)")
        var axes = Array(0..<extra)
        for (index, extent) in target.enumerated() where extent == 1 && shape[index + extra] != 1 {
            axes.append(index + extra)
        }
        let reduced = axes.isEmpty ? self : sum(axes: axes, keepDims: true)
        return reduced.reshaped(target)
    }
}
