// Matrix products through OpenBLAS. Transposed views reach BLAS as transpose flags, not copies.
import Kernels

extension Tensor {
    /// The last two axes swapped (a view).
    public var mT: Tensor { transposed(-2, -1) }

    /// Matrix product with numpy semantics: `[*, M, K] @ [*, K, N] → [*, M, N]`, batch axes
    /// broadcast; a 1-D operand is a row (left) or column (right) vector.
    public func matmul(_ other: Tensor) -> Tensor {
        precondition(rank >= 1 && other.rank >= 1, "matmul: operands need at least one axis, got \(shape) and \(other.shape)")
        if rank == 1 && other.rank == 1 { return unsqueezed(axis: 0).matmul(other.unsqueezed(axis: -1)).reshaped([]) }
        if rank == 1 { return unsqueezed(axis: 0).matmul(other).squeezed(axis: -2) }
        if other.rank == 1 { return matmul(other.unsqueezed(axis: -1)).squeezed(axis: -1) }
        // [*, M, K] @ [K, N] with a contiguous left operand is one [Π*·M, K] @ [K, N] product, not
        // one per leading index: larger GEMMs, and the weight gradient is one product over all rows
        // instead of a product per index summed afterwards.
        if other.rank == 2 && rank > 2 && isContiguous {
            let k = shape[rank - 1]
            return reshaped([count / Swift.max(1, k), k]).matmul(other).reshaped(Array(shape.dropLast()) + [other.shape[1]])
        }
        let a = self, b = other
        let value = Tensor.matmulKernel(a, b)
        return Tensor.recording(value, "matmul", [a, b]) { grad in
            [a.needsGradient ? grad.matmul(b.mT).sumToShape(a.shape) : nil,
             b.needsGradient ? a.mT.matmul(grad).sumToShape(b.shape) : nil]
        }
    }

    static func matmulKernel(_ a: Tensor, _ b: Tensor) -> Tensor {
        precondition(a.dtype == b.dtype && a.dtype.isFloatingPoint,
                     "matmul: needs two float32 or two float64 tensors, got \(a.dtype) and \(b.dtype)")
        let m = a.shape[a.rank - 2], k = a.shape[a.rank - 1], n = b.shape[b.rank - 1]
        precondition(b.shape[b.rank - 2] == k, "matmul: inner extents differ in \(a.shape) @ \(b.shape)")
        let batch = broadcastShape(Array(a.shape.dropLast(2)), Array(b.shape.dropLast(2)), "matmul")
        var a = a, b = b
        var layoutA = MatrixLayout.of(rows: m, columns: k, rowStride: a.strides[a.rank - 2], columnStride: a.strides[a.rank - 1])
        if layoutA == nil { a = a.materialized(); layoutA = .of(rows: m, columns: k, rowStride: k, columnStride: 1) }
        var layoutB = MatrixLayout.of(rows: k, columns: n, rowStride: b.strides[b.rank - 2], columnStride: b.strides[b.rank - 1])
        if layoutB == nil { b = b.materialized(); layoutB = .of(rows: k, columns: n, rowStride: n, columnStride: 1) }
        let result = Tensor(uninitializedShape: batch + [m, n], dtype: a.dtype, zeroed: k == 0)
        guard m > 0, n > 0, k > 0 else { return result }

        let batchA = broadcastStrides(Tensor(storage: a.storage, shape: Array(a.shape.dropLast(2)),
                                             strides: Array(a.strides.dropLast(2))), to: batch)
        let batchB = broadcastStrides(Tensor(storage: b.storage, shape: Array(b.shape.dropLast(2)),
                                             strides: Array(b.strides.dropLast(2))), to: batch)
        let batchCount = batch.reduce(1, *)
        var index = [Int](repeating: 0, count: batch.count)
        func run<T>(_: T.Type, _ product: (UnsafePointer<T>, UnsafePointer<T>, UnsafeMutablePointer<T>) -> Void) {
            let pa = a.storage.pointer(as: T.self), pb = b.storage.pointer(as: T.self), pc = result.storage.pointer(as: T.self)
            for item in 0..<batchCount {
                var offsetA = a.offset, offsetB = b.offset
                for axis in 0..<batch.count {
                    offsetA += index[axis] * batchA[axis]
                    offsetB += index[axis] * batchB[axis]
                }
                product(pa + offsetA, pb + offsetB, pc + item * m * n)
                var axis = batch.count - 1
                while axis >= 0 {
                    index[axis] += 1
                    if index[axis] < batch[axis] { break }
                    index[axis] = 0
                    axis -= 1
                }
            }
        }
        if a.dtype == .float32 {
            run(Float.self) { gemm($0, layoutA!, $1, layoutB!, $2, m: m, n: n, k: k) }
        } else {
            run(Double.self) { gemm($0, layoutA!, $1, layoutB!, $2, m: m, n: n, k: k) }
        }
        return result
    }
}

extension Tensor {
    /// `self · weightᵀ + bias` for `self` `[*, K]`, weight `[N, K]`, bias `[N]` (a Linear layer):
    /// with a contiguous input it is one GEMM whose output starts as the bias rows (β = 1), so the
    /// bias costs no pass of its own and OpenBLAS skips its zeroing pass. Gradients as the
    /// composed `matmul(weight.mT) + bias`.
    public func linear(weight: Tensor, bias: Tensor?) -> Tensor {
        guard let bias, rank >= 2, isContiguous, weight.rank == 2, bias.rank == 1, dtype.isFloatingPoint,
              weight.dtype == dtype, bias.dtype == dtype, weight.shape[1] == shape[rank - 1], bias.shape[0] == weight.shape[0],
              let layoutW = MatrixLayout.of(rows: weight.shape[1], columns: weight.shape[0], rowStride: weight.strides[1],
                                            columnStride: weight.strides[0]) else {
            let product = matmul(weight.mT)
            return bias.map { product + $0 } ?? product
        }
        let (k, n) = (shape[rank - 1], weight.shape[0])
        let rows = count / Swift.max(1, k)
        let b = bias.contiguous()
        let result = Tensor(uninitializedShape: Array(shape.dropLast()) + [n], dtype: dtype, zeroed: false)
        func run<T: TensorFloat>(_: T.Type, _ product: (UnsafePointer<T>, UnsafePointer<T>, UnsafeMutablePointer<T>) -> Void) {
            let pc = result.storage.pointer(as: T.self), pb = b.storage.pointer(as: T.self) + b.offset
            let shared = UncheckedSendable((pc, pb))
            parallelFor(rows, minChunk: Swift.max(1, 16_384 / Swift.max(1, n))) { range in
                let (pc, pb) = shared.value
                for row in range { (pc + row * n).update(from: pb, count: n) }
            }
            if k > 0 { product(storage.pointer(as: T.self) + offset, weight.storage.pointer(as: T.self) + weight.offset, pc) }
        }
        let layoutX = MatrixLayout.of(rows: rows, columns: k, rowStride: k, columnStride: 1)!
        if dtype == .float32 {
            run(Float.self) { gemm($0, layoutX, $1, layoutW, $2, m: rows, n: n, k: k, beta: 1) }
        } else {
            run(Double.self) { gemm($0, layoutX, $1, layoutW, $2, m: rows, n: n, k: k, beta: 1) }
        }
        let x = self
        return Tensor.recording(result, "linear", [x, weight, bias]) { grad in
            let rowsGrad = grad.reshaped([rows, n])
            return [x.needsGradient ? grad.matmul(weight) : nil,
                    weight.needsGradient ? rowsGrad.mT.matmul(x.reshaped([rows, k])) : nil,
                    bias.needsGradient ? rowsGrad.sum(axis: 0) : nil]
        }
    }
}
