// Strided iteration, copies and casts: the loops under views and broadcasting.
import Kernels

/// Calls `body(base0, base1, base2)` once per innermost row of `shape`, with each operand's
/// element offset of the row's first element. Rank 0 is one row of one element.
@inline(__always)
func forEachRow(_ shape: [Int], _ s0: [Int], _ o0: Int, _ s1: [Int], _ o1: Int, _ s2: [Int], _ o2: Int,
                _ body: (Int, Int, Int) -> Void) {
    if shape.contains(0) { return }
    if shape.count <= 1 {
        body(o0, o1, o2)
        return
    }
    forEachRow(shape, s0, o0, s1, o1, s2, o2, rows: 0..<shape.dropLast().reduce(1, *), body)
}

/// The innermost rows `rows` (in row-major order) of a shape of rank ≥ 2 without zero extents.
@inline(__always)
func forEachRow(_ shape: [Int], _ s0: [Int], _ o0: Int, _ s1: [Int], _ o1: Int, _ s2: [Int], _ o2: Int,
                rows: Range<Int>, _ body: (Int, Int, Int) -> Void) {
    let rank = shape.count
    var index = [Int](repeating: 0, count: rank - 1)
    var rest = rows.lowerBound, p0 = o0, p1 = o1, p2 = o2
    for axis in stride(from: rank - 2, through: 0, by: -1) {
        index[axis] = rest % shape[axis]
        rest /= shape[axis]
        p0 &+= index[axis] &* s0[axis]
        p1 &+= index[axis] &* s1[axis]
        p2 &+= index[axis] &* s2[axis]
    }
    for _ in rows {
        body(p0, p1, p2)
        var axis = rank - 2
        while axis >= 0 {
            index[axis] += 1
            p0 &+= s0[axis]
            p1 &+= s1[axis]
            p2 &+= s2[axis]
            if index[axis] < shape[axis] { break }
            p0 &-= s0[axis] &* shape[axis]
            p1 &-= s1[axis] &* shape[axis]
            p2 &-= s2[axis] &* shape[axis]
            index[axis] = 0
            axis -= 1
        }
    }
}

/// `forEachRow` for two operands with the rows split across the thread budget (for work whose
/// rows are independent: copies into disjoint rows). Chunks hold at least 32 Ki elements.
func forEachRowInParallel(_ shape: [Int], _ s0: [Int], _ o0: Int, _ s1: [Int], _ o1: Int, _ body: (Int, Int) -> Void) {
    forEachRowInParallel(shape, s0, o0, s1, o1, s1, 0) { a, b, _ in body(a, b) }
}

/// The three-operand form (operands of a broadcast binary op and its output).
func forEachRowInParallel(_ shape: [Int], _ s0: [Int], _ o0: Int, _ s1: [Int], _ o1: Int, _ s2: [Int], _ o2: Int,
                          _ body: (Int, Int, Int) -> Void) {
    if shape.contains(0) { return }
    if shape.count <= 1 {
        body(o0, o1, o2)
        return
    }
    let rows = shape.dropLast().reduce(1, *)
    parallelFor(rows, minChunk: Swift.max(1, 32_768 / Swift.max(1, shape[shape.count - 1]))) { range in
        forEachRow(shape, s0, o0, s1, o1, s2, o2, rows: range, body)
    }
}

/// Copies any strided `source` into the contiguous `destination` of the same shape and dtype.
func copyStrided(from source: Tensor, into destination: inout Tensor) {
    precondition(source.shape == destination.shape && source.dtype == destination.dtype)
    precondition(destination.isContiguous)
    func run<T>(_: T.Type) {
        let pointers = UncheckedSendable((source.storage.pointer(as: T.self), destination.storage.pointer(as: T.self)))
        let inner = source.shape.last ?? 1
        let step = source.strides.last ?? 1
        let outStrides = Tensor.contiguousStrides(destination.shape)
        forEachRowInParallel(source.shape, source.strides, source.offset, outStrides, destination.offset) { from, to in
            let (input, output) = pointers.value
            if step == 1 {
                (output + to).update(from: input + from, count: inner)
            } else {
                for i in 0..<inner { output[to &+ i] = input[from &+ i &* step] }
            }
        }
    }
    switch source.dtype {
    case .float32: run(Float.self)
    case .float64: run(Double.self)
    case .int32: run(Int32.self)
    case .int64: run(Int64.self)
    case .bool: run(Bool.self)
    }
}

/// Reads element `index` of a contiguous storage region as Double.
@inline(__always)
func elementAsDouble(_ storage: TensorStorage, _ index: Int) -> Double {
    switch storage.dtype {
    case .float32: Double(storage.pointer(as: Float.self)[index])
    case .float64: storage.pointer(as: Double.self)[index]
    case .int32: Double(storage.pointer(as: Int32.self)[index])
    case .int64: Double(storage.pointer(as: Int64.self)[index])
    case .bool: storage.pointer(as: Bool.self)[index] ? 1 : 0
    }
}

extension Tensor {
    /// This tensor converted to `dtype`. Float→float casts are differentiable.
    public func cast(to dtype: DType) -> Tensor {
        cast(to: dtype, differentiable: true)
    }

    func cast(to target: DType, differentiable: Bool) -> Tensor {
        if target == dtype { return self }
        let dense = contiguousStorageView()
        var result = Tensor(uninitializedShape: shape, dtype: target, zeroed: false)
        let n = count
        switch (dtype, target) {
        case (.float32, .float64):
            let input = dense.storage.pointer(as: Float.self) + dense.offset
            let output = result.storage.pointer(as: Double.self)
            for i in 0..<n { output[i] = Double(input[i]) }
        case (.float64, .float32):
            let input = dense.storage.pointer(as: Double.self) + dense.offset
            let output = result.storage.pointer(as: Float.self)
            for i in 0..<n { output[i] = Float(input[i]) }
        default:
            for i in 0..<n { result.storage.setElement(i, to: elementAsDouble(dense.storage, dense.offset + i)) }
        }
        guard differentiable, dtype.isFloatingPoint, target.isFloatingPoint else { return result }
        let source = dtype
        result = Tensor.recording(result, "cast", [self]) { grad in [grad.cast(to: source)] }
        return result
    }
}
