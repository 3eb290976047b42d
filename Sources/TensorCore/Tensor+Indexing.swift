// Indexing: index_select / index_add (and embedding), gather / scatter_add, one-hot,
// concat, stack and split. Adds run sequentially in index order, so sums are reproducible.
import Kernels

extension Tensor {
    /// Integer indices as Int, checked against `extent` (traps naming the bad index).
    func indexValues(extent: Int, _ op: String) -> [Int] {
        precondition(dtype == .int64 || dtype == .int32, "\(op): indices must be int32 or int64, got \(dtype)")
        let values: [Int] = dtype == .int64 ? scalars(as: Int64.self).map { Int($0) } : scalars(as: Int32.self).map { Int($0) }
        for value in values {
            precondition(value >= 0 && value < extent, "\(op): index \(value) is out of range 0..<\(extent)")
        }
        return values
    }

    /// Rows (slices along `axis`) picked by the 1-D `indices`: `[…, n, …] → […, indices.count, …]`.
    public func indexSelect(axis: Int, _ indices: Tensor) -> Tensor {
        let axis = self.axis(axis, "indexSelect")
        precondition(indices.rank == 1, "indexSelect: indices must be 1-D, got \(indices.shape)")
        let picks = indices.indexValues(extent: shape[axis], "indexSelect")
        let outer = shape[..<axis].reduce(1, *), inner = shape[(axis + 1)...].reduce(1, *)
        var outShape = shape
        outShape[axis] = picks.count
        let x = contiguousStorageView()
        let out = Tensor(uninitializedShape: outShape, dtype: dtype, zeroed: false)
        let byteSize = dtype.byteSize, extent = shape[axis]
        for o in 0..<outer {
            for (j, pick) in picks.enumerated() {
                let source = x.storage.base + (x.offset + (o * extent + pick) * inner) * byteSize
                let destination = out.storage.base + ((o * picks.count + j) * inner) * byteSize
                destination.copyMemory(from: source, byteCount: inner * byteSize)
            }
        }
        let inputShape = shape
        return Tensor.recording(out, "index-select", [self]) { grad in
            [Tensor.zeros(inputShape, dtype: grad.dtype).indexAdd(axis: axis, indices, grad)]
        }
    }

    /// self with `source`'s slices added at `indices` along `axis` (repeated indices accumulate).
    public func indexAdd(axis: Int, _ indices: Tensor, _ source: Tensor) -> Tensor {
        let axis = self.axis(axis, "indexAdd")
        precondition(indices.rank == 1, "indexAdd: indices must be 1-D, got \(indices.shape)")
        var expected = shape
        expected[axis] = indices.count
        precondition(source.shape == expected && source.dtype == dtype,
                     "indexAdd: source \(source.shape) \(source.dtype) must be \(expected) \(dtype)")
        let picks = indices.indexValues(extent: shape[axis], "indexAdd")
        let outer = shape[..<axis].reduce(1, *), inner = shape[(axis + 1)...].reduce(1, *), extent = shape[axis]
        let out = materialized()
        let src = source.contiguousStorageView()
        func run<T: TensorFloat>(_: T.Type) {
            let po = out.storage.pointer(as: T.self), ps = src.storage.pointer(as: T.self) + src.offset
            for o in 0..<outer {
                for (j, pick) in picks.enumerated() {
                    let to = po + (o * extent + pick) * inner, from = ps + (o * picks.count + j) * inner
                    for i in 0..<inner { to[i] += from[i] }
                }
            }
        }
        precondition(dtype.isFloatingPoint, "indexAdd: needs floating-point tensors, got \(dtype)")
        if dtype == .float32 { run(Float.self) } else { run(Double.self) }
        return Tensor.recording(out, "index-add", [self, source]) { grad in
            [grad, grad.indexSelect(axis: axis, indices)]
        }
    }

    /// Embedding lookup: rows of `self` (`[V, D]`) for integer `ids` (`[*]`) → `[*, D]`.
    public func embedding(_ ids: Tensor) -> Tensor {
        precondition(rank == 2, "embedding: table must be [V, D], got \(shape)")
        return indexSelect(axis: 0, ids.flattened()).reshaped(ids.shape + [shape[1]])
    }

    /// Visits every element of `index` (contiguous), giving its flat position and the flat
    /// position in a tensor of `target` shape with the `axis` coordinate replaced by the index.
    private static func forEachIndexed(_ index: [Int], indexShape: [Int], target: [Int], axis: Int,
                                       _ body: (_ position: Int, _ targetPosition: Int) -> Void) {
        let targetStrides = contiguousStrides(target)
        var coordinate = [Int](repeating: 0, count: indexShape.count)
        for position in 0..<index.count {
            var flat = 0
            for d in 0..<indexShape.count { flat += (d == axis ? index[position] : coordinate[d]) * targetStrides[d] }
            body(position, flat)
            var d = indexShape.count - 1
            while d >= 0 {
                coordinate[d] += 1
                if coordinate[d] < indexShape[d] { break }
                coordinate[d] = 0
                d -= 1
            }
        }
    }

    /// out[i][j][k] = self[i][index[i][j][k]][k] for axis 1 (PyTorch's gather), any rank.
    public func gather(axis: Int, _ index: Tensor) -> Tensor {
        let axis = self.axis(axis, "gather")
        precondition(index.rank == rank, "gather: index \(index.shape) must have the rank of \(shape)")
        for d in 0..<rank where d != axis {
            precondition(index.shape[d] <= shape[d], "gather: index \(index.shape) exceeds \(shape) on axis \(d)")
        }
        let picks = index.indexValues(extent: shape[axis], "gather")
        let x = materialized().cast(to: dtype, differentiable: false)
        let out = Tensor(uninitializedShape: index.shape, dtype: dtype, zeroed: false)
        func run<T>(_: T.Type) {
            let px = x.storage.pointer(as: T.self), po = out.storage.pointer(as: T.self)
            Tensor.forEachIndexed(picks, indexShape: index.shape, target: shape, axis: axis) { position, source in
                po[position] = px[source]
            }
        }
        switch dtype {
        case .float32: run(Float.self)
        case .float64: run(Double.self)
        case .int32: run(Int32.self)
        case .int64: run(Int64.self)
        case .bool: run(Bool.self)
        }
        let inputShape = shape
        return Tensor.recording(out, "gather", [self]) { grad in
            [Tensor.zeros(inputShape, dtype: grad.dtype).scatterAdd(axis: axis, index, grad)]
        }
    }

    /// self with out[i][index[i][j][k]][k] += source[i][j][k] for axis 1 (PyTorch's scatter_add).
    public func scatterAdd(axis: Int, _ index: Tensor, _ source: Tensor) -> Tensor {
        let axis = self.axis(axis, "scatterAdd")
        precondition(index.rank == rank && source.shape == index.shape && source.dtype == dtype,
                     "scatterAdd: index \(index.shape) and source \(source.shape) must match, with the rank of \(shape)")
        precondition(dtype.isFloatingPoint, "scatterAdd: needs floating-point tensors, got \(dtype)")
        let picks = index.indexValues(extent: shape[axis], "scatterAdd")
        let out = materialized()
        let src = source.contiguousStorageView()
        func run<T: TensorFloat>(_: T.Type) {
            let po = out.storage.pointer(as: T.self), ps = src.storage.pointer(as: T.self) + src.offset
            Tensor.forEachIndexed(picks, indexShape: index.shape, target: shape, axis: axis) { position, target in
                po[target] += ps[position]
            }
        }
        if dtype == .float32 { run(Float.self) } else { run(Double.self) }
        return Tensor.recording(out, "scatter-add", [self, source]) { grad in
            [grad, grad.gather(axis: axis, index)]
        }
    }

    /// One-hot encoding of integer ids (`[*]` → `[*, classes]`).
    public static func oneHot(_ ids: Tensor, classes: Int, dtype: DType = .float32) -> Tensor {
        let values = ids.indexValues(extent: classes, "oneHot")
        let out = Tensor.zeros(ids.shape + [classes], dtype: dtype)
        for (position, value) in values.enumerated() { out.storage.setElement(position * classes + value, to: 1) }
        return out
    }

    /// Tensors joined along `axis` (other extents must agree).
    public static func concat(_ tensors: [Tensor], axis: Int) -> Tensor {
        precondition(!tensors.isEmpty, "concat: no tensors")
        let first = tensors[0]
        let axis = first.axis(axis, "concat")
        for tensor in tensors {
            precondition(tensor.rank == first.rank && tensor.dtype == first.dtype
                         && (0..<first.rank).allSatisfy { $0 == axis || tensor.shape[$0] == first.shape[$0] },
                         "concat: shapes \(tensors.map(\.shape)) do not agree off axis \(axis)")
        }
        var shape = first.shape
        shape[axis] = tensors.reduce(0) { $0 + $1.shape[axis] }
        let out = Tensor(uninitializedShape: shape, dtype: first.dtype, zeroed: false)
        var start = 0
        var starts: [Int] = []
        for tensor in tensors {
            starts.append(start)
            var window = Tensor(storage: out.storage, shape: tensor.shape, strides: out.strides,
                                offset: start * out.strides[axis])
            window.copyElements(from: tensor)
            start += tensor.shape[axis]
        }
        return Tensor.recording(out, "concat", tensors) { grad in
            zip(tensors, starts).map { tensor, start in
                tensor.needsGradient ? grad.sliced(axis: axis, start, start + tensor.shape[axis]) : nil
            }
        }
    }

    /// Pieces produced one after another, joined along `axis` (`length` in all). Under `withNoGrad`
    /// each piece is copied into the output as it arrives and can be released at once, so the
    /// pieces never all coexist (chunked inference); with gradients on this is `concat`.
    public static func assembling(along axis: Int, length: Int, _ produce: ((Tensor) -> Void) -> Void) -> Tensor {
        if GradMode.isEnabled {
            var pieces: [Tensor] = []
            produce { pieces.append($0) }
            return concat(pieces, axis: axis)
        }
        var output: Tensor?
        var start = 0
        produce { piece in
            let along = axis < 0 ? axis + piece.rank : axis
            if output == nil {
                var shape = piece.shape
                shape[along] = length
                output = Tensor(uninitializedShape: shape, dtype: piece.dtype, zeroed: false)
            }
            let out = output!
            precondition(piece.dtype == out.dtype && piece.rank == out.rank && start + piece.shape[along] <= length
                         && (0..<out.rank).allSatisfy { $0 == along || piece.shape[$0] == out.shape[$0] },
                         "assembling: piece \(piece.shape) does not fit \(out.shape) at \(start) along axis \(along)")
            var window = Tensor(storage: out.storage, shape: piece.shape, strides: out.strides, offset: start * out.strides[along])
            window.copyElements(from: piece)
            start += piece.shape[along]
        }
        precondition(output != nil && start == length, "assembling: pieces cover \(start) of \(length)")
        return output!
    }

    /// Tensors of one shape stacked along a new `axis`.
    public static func stack(_ tensors: [Tensor], axis: Int = 0) -> Tensor {
        precondition(!tensors.isEmpty, "stack: no tensors")
        return concat(tensors.map { $0.unsqueezed(axis: axis) }, axis: axis)
    }

    /// Views of consecutive pieces of `sizes` along `axis`.
    public func split(_ sizes: [Int], axis: Int) -> [Tensor] {
        let axis = self.axis(axis, "split")
        precondition(sizes.reduce(0, +) == shape[axis], "split: sizes \(sizes) do not add up to \(shape[axis]) on axis \(axis)")
        var start = 0
        return sizes.map { size in
            defer { start += size }
            return sliced(axis: axis, start, start + size)
        }
    }
}

// MARK: Embedding bags

/// The bags of `Tensor.embeddingBag`: `ids` holds `size` slots per bag (a negative id is an empty
/// slot), and every row a bag picks is scaled by that bag's weight.
public struct EmbeddingBags: Sendable {
    public let ids: [Int32]
    public let size: Int
    public let weights: [Double]

    public init(ids: [Int32], size: Int, weights: [Double]) {
        precondition(size >= 1 && ids.count == size * weights.count,
                     "EmbeddingBags: \(ids.count) ids are not \(weights.count) bags of \(size)")
        self.ids = ids
        self.size = size
        self.weights = weights
    }

    public var count: Int { weights.count }
}

extension Tensor {
    /// Σ_k weight[m] · self[ids[m, k]] for each bag m: `[R, C]` → `[bags, C]`, as PyTorch's
    /// `embedding_bag(mode="sum")` with one weight per bag. The picked rows are never materialised;
    /// the gradient adds into the table in bag order (reproducible), each thread owning a range of rows.
    public func embeddingBag(_ bags: EmbeddingBags) -> Tensor {
        precondition(rank == 2 && dtype.isFloatingPoint, "embeddingBag: table must be a floating-point [R, C], got \(shape) \(dtype)")
        let rows = shape[0]
        if let bad = bags.ids.first(where: { Int($0) >= rows }) {
            preconditionFailure("embeddingBag: id \(bad) is out of range 0..<\(rows)")
        }
        let value = Tensor.bagSum(table: contiguousStorageView(), bags)
        return Tensor.recording(value, "embedding-bag", [self]) { grad in [grad.bagScatter(rows: rows, bags)] }
    }

    /// The gradient of `embeddingBag` for `self` `[bags, C]`: a `[rows, C]` table (itself differentiable).
    func bagScatter(rows: Int, _ bags: EmbeddingBags) -> Tensor {
        let value = Tensor.bagScatterKernel(contiguousStorageView(), rows: rows, bags)
        return Tensor.recording(value, "embedding-bag-scatter", [self]) { grad in [grad.embeddingBag(bags)] }
    }

    static func bagSum(table: Tensor, _ bags: EmbeddingBags) -> Tensor {
        let c = table.shape[1], size = bags.size
        let out = Tensor(uninitializedShape: [bags.count, c], dtype: table.dtype, zeroed: false)
        func run<T: TensorFloat>(_: T.Type) {
            let pointers = UncheckedSendable((UnsafePointer(table.storage.pointer(as: T.self) + table.offset), out.storage.pointer(as: T.self)))
            bags.ids.withUnsafeBufferPointer { idBuffer in
                bags.weights.withUnsafeBufferPointer { weightBuffer in
                    let buffers = UncheckedSendable((idBuffer.baseAddress!, weightBuffer.baseAddress!))
                    parallelFor(bags.count, minChunk: 256) { range in
                        let (source, destination) = pointers.value, (ids, weights) = buffers.value
                        for m in range {
                            let row = destination + m &* c
                            for j in 0..<c { row[j] = 0 }
                            for slot in 0..<size {
                                let id = Int(ids[m &* size &+ slot])
                                if id < 0 { continue }
                                let picked = source + id &* c
                                for j in 0..<c { row[j] += picked[j] }
                            }
                            let weight = T(weights[m])
                            for j in 0..<c { row[j] *= weight }
                        }
                    }
                }
            }
        }
        if table.dtype == .float32 { run(Float.self) } else { run(Double.self) }
        return out
    }

    static func bagScatterKernel(_ grad: Tensor, rows: Int, _ bags: EmbeddingBags) -> Tensor {
        let c = grad.shape[1], size = bags.size
        let out = Tensor.zeros([rows, c], dtype: grad.dtype)
        func run<T: TensorFloat>(_: T.Type) {
            let pointers = UncheckedSendable((UnsafePointer(grad.storage.pointer(as: T.self) + grad.offset), out.storage.pointer(as: T.self)))
            bags.ids.withUnsafeBufferPointer { idBuffer in
                bags.weights.withUnsafeBufferPointer { weightBuffer in
                    let buffers = UncheckedSendable((idBuffer.baseAddress!, weightBuffer.baseAddress!))
                    // Each chunk owns table rows [lower, upper) and visits every bag in order: the sums
                    // do not depend on the thread count.
                    parallelFor(rows, minChunk: 64) { owned in
                        let (source, destination) = pointers.value, (ids, weights) = buffers.value
                        for m in 0..<bags.count {
                            let weight = T(weights[m]), from = source + m &* c
                            for slot in 0..<size {
                                let id = Int(ids[m &* size &+ slot])
                                if id < owned.lowerBound || id >= owned.upperBound { continue }
                                let row = destination + id &* c
                                for j in 0..<c { row[j] += weight * from[j] }
                            }
                        }
                    }
                }
            }
        }
        if grad.dtype == .float32 { run(Float.self) } else { run(Double.self) }
        return out
    }
}
