// Views: reshape, permute, slice, expand, squeeze — sharing storage, each with its backward.
import Kernels

extension Tensor {
    /// Resolves a possibly negative axis against `rank` (traps with the shape when out of range).
    func axis(_ axis: Int, rank: Int? = nil, _ op: String) -> Int {
        let rank = rank ?? self.rank
        let resolved = axis < 0 ? axis + rank : axis
        precondition(resolved >= 0 && resolved < rank, "\(op): axis \(axis) is out of range for shape \(shape)")
        return resolved
    }

    /// The same elements in `newShape` (one extent may be −1). A view when contiguous.
    public func reshaped(_ newShape: [Int]) -> Tensor {
        var target = newShape
        if let unknown = target.firstIndex(of: -1) {
            let known = target.enumerated().filter { $0.offset != unknown }.reduce(1) { $0 * $1.element }
            precondition(known > 0 && count % known == 0, "reshaped: cannot reshape \(shape) into \(newShape)")
            target[unknown] = count / known
        }
        precondition(target.reduce(1, *) == count, "reshaped: cannot reshape \(shape) (\(count) elements) into \(newShape)")
        if target == shape { return self }
        let dense = contiguousStorageView()
        let view = Tensor(storage: dense.storage, shape: target, strides: Tensor.contiguousStrides(target), offset: dense.offset)
        let original = shape
        return Tensor.recording(view, "reshape", [self]) { grad in [grad.reshaped(original)] }
    }

    /// Axes reordered: result axis i is input axis `axes[i]`.
    public func permuted(_ axes: [Int]) -> Tensor {
        precondition(axes.count == rank && Set(axes.map { self.axis($0, "permuted") }).count == rank,
                     "permuted: \(axes) is not a permutation of the axes of \(shape)")
        let resolved = axes.map { self.axis($0, "permuted") }
        let view = Tensor(storage: storage, shape: resolved.map { shape[$0] }, strides: resolved.map { strides[$0] }, offset: offset)
        var inverse = [Int](repeating: 0, count: rank)
        for (position, axis) in resolved.enumerated() { inverse[axis] = position }
        return Tensor.recording(view, "permute", [self]) { grad in [grad.permuted(inverse)] }
    }

    /// Two axes swapped.
    public func transposed(_ first: Int = -2, _ second: Int = -1) -> Tensor {
        var axes = Array(0..<rank)
        axes.swapAt(axis(first, "transposed"), axis(second, "transposed"))
        return permuted(axes)
    }

    /// Elements `start ..< end` by `step` along `axis` (a view).
    public func sliced(axis: Int, _ start: Int, _ end: Int? = nil, step: Int = 1) -> Tensor {
        let axis = self.axis(axis, "sliced")
        let extent = shape[axis]
        let lower = Swift.max(0, Swift.min(extent, start < 0 ? start + extent : start))
        let upperRaw = end ?? extent
        let upper = Swift.max(lower, Swift.min(extent, upperRaw < 0 ? upperRaw + extent : upperRaw))
        precondition(step >= 1, "sliced: step must be positive, got \(step)")
        let length = (upper - lower + step - 1) / step
        var newShape = shape, newStrides = strides
        newShape[axis] = length
        newStrides[axis] = strides[axis] * step
        let view = Tensor(storage: storage, shape: newShape, strides: newStrides, offset: offset + lower * strides[axis])
        let original = shape
        return Tensor.recording(view, "slice", [self]) { grad in
            [grad.paddedSlice(into: original, axis: axis, start: lower, step: step)]
        }
    }

    /// Zeros of `shape` with `self` placed at `start, start + step, …` along `axis`: the slice's adjoint.
    func paddedSlice(into shape: [Int], axis: Int, start: Int, step: Int) -> Tensor {
        let result = Tensor.zeros(shape, dtype: dtype)
        var strides = result.strides
        strides[axis] *= step
        var window = Tensor(storage: result.storage, shape: self.shape, strides: strides,
                            offset: start * result.strides[axis])
        window.copyElements(from: self)
        return Tensor.recording(result, "pad-slice", [self]) { grad in
            [grad.sliced(axis: axis, start, start + step * (self.shape[axis] - 1) + 1, step: step)]
        }
    }

    /// Writes `source`'s values into this (possibly strided) view's storage, which must not be shared.
    mutating func copyElements(from source: Tensor) {
        precondition(source.shape == shape && source.dtype == dtype)
        func run<T>(_: T.Type) {
            let pointers = UncheckedSendable((source.storage.pointer(as: T.self), storage.pointer(as: T.self)))
            let inner = shape.last ?? 1
            let si = source.strides.last ?? 1, so = strides.last ?? 1
            // Rows are disjoint in the destination (it is a window of a fresh tensor, or a view
            // without overlap), so they copy in parallel.
            forEachRowInParallel(shape, source.strides, source.offset, strides, offset) { from, to in
                let (input, output) = pointers.value
                if si == 1 && so == 1 {
                    (output + to).update(from: input + from, count: inner)
                } else {
                    for i in 0..<inner { output[to &+ i &* so] = input[from &+ i &* si] }
                }
            }
        }
        switch dtype {
        case .float32: run(Float.self)
        case .float64: run(Double.self)
        case .int32: run(Int32.self)
        case .int64: run(Int64.self)
        case .bool: run(Bool.self)
        }
    }

    /// A broadcast view with `shape` (new leading axes, size-1 axes stretched; no copy).
    public func expanded(to newShape: [Int]) -> Tensor {
        if newShape == shape { return self }
        let view = expandedView(to: newShape)
        let original = shape
        return Tensor.recording(view, "expand", [self]) { grad in [grad.sumToShape(original)] }
    }

    func expandedView(to newShape: [Int]) -> Tensor {
        precondition(newShape.count >= rank, "expanded: cannot expand \(shape) to fewer axes \(newShape)")
        let extra = newShape.count - rank
        for axis in 0..<rank {
            precondition(shape[axis] == newShape[axis + extra] || shape[axis] == 1,
                         "expanded: cannot expand \(shape) to \(newShape)")
        }
        return Tensor(storage: storage, shape: newShape, strides: broadcastStrides(self, to: newShape), offset: offset)
    }

    /// Removes a size-1 axis.
    public func squeezed(axis: Int) -> Tensor {
        let axis = self.axis(axis, "squeezed")
        precondition(shape[axis] == 1, "squeezed: axis \(axis) of \(shape) is not 1")
        var newShape = shape
        newShape.remove(at: axis)
        return reshaped(newShape)
    }

    /// Inserts a size-1 axis at `axis` (−1 appends).
    public func unsqueezed(axis: Int) -> Tensor {
        let axis = self.axis(axis, rank: rank + 1, "unsqueezed")
        var newShape = shape
        newShape.insert(1, at: axis)
        return reshaped(newShape)
    }

    /// A contiguous tensor with the same values (self when already contiguous).
    public func contiguous() -> Tensor {
        if isContiguous { return self }
        return Tensor.recording(materialized(), "contiguous", [self]) { grad in [grad] }
    }

    /// A fresh contiguous copy that owns its storage, outside autograd: the starting point of a
    /// kernel that writes its result in place with `update`.
    public func ownedCopy() -> Tensor { materialized() }

    /// Flattened to one axis.
    public func flattened() -> Tensor { reshaped([count]) }
}
