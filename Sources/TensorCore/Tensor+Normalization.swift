// Softmax, log-softmax and layer norm: fused kernels forward; backward by the fused kernel for
// first-order gradients, by differentiable ops when a graph of the backward pass is recorded.
import Kernels

extension Tensor {
    /// Moves `axis` last and makes the tensor contiguous (for row kernels).
    func rowsLast(_ axis: Int) -> (Tensor, [Int]?) {
        if axis == rank - 1 { return (contiguousStorageView(), nil) }
        var order = (0..<rank).filter { $0 != axis }
        order.append(axis)
        return (detached().permuted(order).materialized(), order)
    }

    func undoRowsLast(_ order: [Int]?) -> Tensor {
        guard let order else { return self }
        var inverse = [Int](repeating: 0, count: order.count)
        for (position, axis) in order.enumerated() { inverse[axis] = position }
        return permuted(inverse).materialized()
    }

    func softmaxKernel(axis: Int, log: Bool) -> Tensor {
        precondition(dtype.isFloatingPoint, "softmax: needs a floating-point tensor, got \(dtype)")
        let (rows, order) = rowsLast(axis)
        let columns = shape[axis], count = rows.count
        let out = Tensor(uninitializedShape: rows.shape, dtype: dtype, zeroed: false)
        if dtype == .float32 {
            softmaxRows(rows.storage.pointer(as: Float.self) + rows.offset, out.storage.pointer(as: Float.self),
                        rows: count / Swift.max(1, columns), columns: columns, log: log)
        } else {
            softmaxRows(rows.storage.pointer(as: Double.self) + rows.offset, out.storage.pointer(as: Double.self),
                        rows: count / Swift.max(1, columns), columns: columns, log: log)
        }
        return out.undoRowsLast(order)
    }

    /// exp(x) / Σ exp(x) along `axis`.
    public func softmax(axis: Int = -1) -> Tensor {
        let axis = self.axis(axis, "softmax")
        let value = softmaxKernel(axis: axis, log: false)
        guard GradMode.isEnabled, let node else { return value }
        return Tensor.softmaxOutput(value, inputNode: node, shape: shape, axis: axis)
    }

    /// The softmax output y as a graph node of x that keeps only y: dx = y ∘ (g − Σ g∘y).
    /// For higher orders the rule replays this node, so it stays differentiable in x.
    static func softmaxOutput(_ y: Tensor, inputNode: GradNode, shape: [Int], axis: Int) -> Tensor {
        let saved = y.detached()
        return recording(saved, "softmax", inputNodes: [inputNode], inputShapes: [shape]) { grad in
            if GradMode.isEnabled {
                let replay = softmaxOutput(saved, inputNode: inputNode, shape: shape, axis: axis)
                return [replay * (grad - (grad * replay).sum(axis: axis, keepDims: true))]
            }
            return [softmaxBackwardKernel(output: saved, grad: grad, axis: axis, log: false)]
        }
    }

    /// x − log Σ exp(x) along `axis`.
    public func logSoftmax(axis: Int = -1) -> Tensor {
        let axis = self.axis(axis, "logSoftmax")
        let value = softmaxKernel(axis: axis, log: true)
        guard GradMode.isEnabled, let node else { return value }
        return Tensor.logSoftmaxOutput(value, inputNode: node, shape: shape, axis: axis)
    }

    /// The log-softmax output z as a graph node of x keeping only z: dx = g − e^z · Σ g.
    static func logSoftmaxOutput(_ z: Tensor, inputNode: GradNode, shape: [Int], axis: Int) -> Tensor {
        let saved = z.detached()
        return recording(saved, "log-softmax", inputNodes: [inputNode], inputShapes: [shape]) { grad in
            if GradMode.isEnabled {
                let replay = logSoftmaxOutput(saved, inputNode: inputNode, shape: shape, axis: axis)
                return [grad - replay.exp() * grad.sum(axis: axis, keepDims: true)]
            }
            return [softmaxBackwardKernel(output: saved, grad: grad, axis: axis, log: true)]
        }
    }

    /// First-order softmax / log-softmax backward in one pass per row (no temporaries).
    static func softmaxBackwardKernel(output: Tensor, grad: Tensor, axis: Int, log: Bool) -> Tensor {
        let (y, order) = output.rowsLast(axis)
        let (g, _) = grad.detached().rowsLast(axis)
        let columns = output.shape[axis], rows = output.count / Swift.max(1, columns)
        let result = Tensor(uninitializedShape: y.shape, dtype: output.dtype, zeroed: false)
        func run<T: TensorFloat>(_: T.Type) {
            let py = UncheckedSendable(UnsafePointer(y.storage.pointer(as: T.self) + y.offset))
            let pg = UncheckedSendable(UnsafePointer(g.storage.pointer(as: T.self) + g.offset))
            let pr = UncheckedSendable(result.storage.pointer(as: T.self))
            parallelFor(rows, minChunk: Swift.max(1, 8192 / Swift.max(1, columns))) { range in
                for row in range {
                    let yr = py.value + row &* columns, gr = pg.value + row &* columns, out = pr.value + row &* columns
                    var total: T = 0
                    if log {
                        for j in 0..<columns { total += gr[j] }
                        for j in 0..<columns { out[j] = gr[j] - T.exp(yr[j]) * total }
                    } else {
                        for j in 0..<columns { total += gr[j] * yr[j] }
                        for j in 0..<columns { out[j] = yr[j] * (gr[j] - total) }
                    }
                }
            }
        }
        if output.dtype == .float32 { run(Float.self) } else { run(Double.self) }
        return result.undoRowsLast(order)
    }

    /// Layer norm over the last `normalizedAxes` axes: (x − mean)/√(var + ε)·weight + bias,
    /// with the population variance, as PyTorch computes it.
    ///
    /// - Parameters:
    ///   - weight: `[normalized…]` or nil. - bias: `[normalized…]` or nil.
    public func layerNorm(weight: Tensor?, bias: Tensor?, epsilon: Double = 1e-5, normalizedAxes: Int = 1) -> Tensor {
        precondition(normalizedAxes >= 1 && normalizedAxes <= rank, "layerNorm: cannot normalise \(normalizedAxes) axes of \(shape)")
        let normalized = Array(shape.suffix(normalizedAxes))
        let columns = normalized.reduce(1, *), rows = count / Swift.max(1, columns)
        for parameter in [weight, bias].compactMap({ $0 }) {
            precondition(parameter.shape == normalized && parameter.dtype == dtype,
                         "layerNorm: parameter \(parameter.shape) \(parameter.dtype) must be \(normalized) \(dtype) for input \(shape)")
        }
        let x = contiguousStorageView()
        let w = weight?.contiguousStorageView(), b = bias?.contiguousStorageView()
        let out = Tensor(uninitializedShape: shape, dtype: dtype, zeroed: false)
        let mean = Tensor(uninitializedShape: [rows], dtype: dtype, zeroed: false)
        let rstd = Tensor(uninitializedShape: [rows], dtype: dtype, zeroed: false)
        func forward<T: TensorFloat>(_: T.Type, _ kernel: (UnsafePointer<T>, UnsafePointer<T>?, UnsafePointer<T>?,
                                                           UnsafeMutablePointer<T>, UnsafeMutablePointer<T>, UnsafeMutablePointer<T>) -> Void) {
            kernel(x.storage.pointer(as: T.self) + x.offset, w.map { UnsafePointer($0.storage.pointer(as: T.self) + $0.offset) },
                   b.map { UnsafePointer($0.storage.pointer(as: T.self) + $0.offset) },
                   out.storage.pointer(as: T.self), mean.storage.pointer(as: T.self), rstd.storage.pointer(as: T.self))
        }
        if dtype == .float32 {
            forward(Float.self) { layerNormRows($0, $1, $2, $3, $4, $5, rows: rows, columns: columns, epsilon: epsilon) }
        } else {
            forward(Double.self) { layerNormRows($0, $1, $2, $3, $4, $5, rows: rows, columns: columns, epsilon: epsilon) }
        }
        let input = self
        let inputs = [self] + [weight, bias].compactMap { $0 }
        return Tensor.recording(out, "layer-norm", inputs) { grad in
            var grads: [Tensor?]
            if GradMode.isEnabled {
                // Differentiable form, for gradients of gradients.
                let axes = Array((input.rank - normalizedAxes)..<input.rank)
                let centered = input - input.mean(axes: axes, keepDims: true)
                let r = (centered.square().mean(axes: axes, keepDims: true) + epsilon).rsqrt()
                let xhat = centered * r
                let gw = weight.map { grad * $0 } ?? grad
                let dx = r * (gw - gw.mean(axes: axes, keepDims: true) - xhat * (gw * xhat).mean(axes: axes, keepDims: true))
                grads = [dx]
                if let weight { grads.append((grad * xhat).sumToShape(weight.shape)) }
                if let bias { grads.append(grad.sumToShape(bias.shape)) }
            } else {
                grads = Tensor.layerNormBackward(grad, x, w, mean, rstd, rows: rows, columns: columns,
                                                 needX: input.needsGradient, needW: weight?.needsGradient ?? false,
                                                 needB: bias?.needsGradient ?? false, normalized: normalized)
                if weight == nil { grads.remove(at: 1) }
                if bias == nil { grads.removeLast() }
            }
            return grads
        }
    }

    static func layerNormBackward(_ grad: Tensor, _ x: Tensor, _ w: Tensor?, _ mean: Tensor, _ rstd: Tensor,
                                  rows: Int, columns: Int, needX: Bool, needW: Bool, needB: Bool,
                                  normalized: [Int]) -> [Tensor?] {
        let g = grad.contiguousStorageView()
        let dx = needX ? Tensor(uninitializedShape: x.shape, dtype: x.dtype, zeroed: false) : nil
        let dw = needW ? Tensor(uninitializedShape: normalized, dtype: x.dtype, zeroed: false) : nil
        let db = needB ? Tensor(uninitializedShape: normalized, dtype: x.dtype, zeroed: false) : nil
        func pointers<T>(_: T.Type) -> (UnsafePointer<T>, UnsafePointer<T>, UnsafePointer<T>?, UnsafePointer<T>, UnsafePointer<T>,
                                          UnsafeMutablePointer<T>?, UnsafeMutablePointer<T>?, UnsafeMutablePointer<T>?) {
            (UnsafePointer(g.storage.pointer(as: T.self) + g.offset), UnsafePointer(x.storage.pointer(as: T.self) + x.offset),
             w.map { UnsafePointer($0.storage.pointer(as: T.self) + $0.offset) },
             UnsafePointer(mean.storage.pointer(as: T.self)), UnsafePointer(rstd.storage.pointer(as: T.self)),
             dx?.storage.pointer(as: T.self), dw?.storage.pointer(as: T.self), db?.storage.pointer(as: T.self))
        }
        if x.dtype == .float32 {
            let p = pointers(Float.self)
            layerNormBackwardRows(p.0, p.1, p.2, p.3, p.4, p.5, p.6, p.7, rows: rows, columns: columns)
        } else {
            let p = pointers(Double.self)
            layerNormBackwardRows(p.0, p.1, p.2, p.3, p.4, p.5, p.6, p.7, rows: rows, columns: columns)
        }
        return [dx, dw, db]
    }
}
