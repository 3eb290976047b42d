// Element-wise kernels: unary maps and broadcasting binary maps on Float and Double.
import Kernels

enum UnaryKind {
    case neg, exp, log, sqrt, rsqrt, abs, sign, sin, cos, tanh, sigmoid, relu, erf, softplus
    /// softplus(x) − log 2, SchNet's activation, in one pass.
    case shiftedSoftplus
    case square, reciprocal, geluExact, geluTanh, silu
    /// d/dx of the GELU forms, for the fused first-order backward.
    case geluExactDerivative, geluTanhDerivative
    case pow(Double)
    case clamp(Double, Double)
    case addScalar(Double), mulScalar(Double)
    /// 1 where lower ≤ x ≤ upper, else 0 (the clamp's gradient mask).
    case inRange(Double, Double)
    /// 1 where x > 0, else 0 (the ReLU's gradient mask).
    case positive
}

enum BinaryKind {
    case add, sub, mul, div, maximum, minimum, sigmoidGate
    /// g·s·(1 − s) for g and s = sigmoid(x): the sigmoid's first-order backward in one pass.
    case sigmoidDerivativeProduct
}

enum CompareKind { case equal, notEqual, less, lessEqual, greater, greaterEqual }

@inline(__always)
func applyUnary<T: TensorFloat>(_ kind: UnaryKind, _ input: UnsafePointer<T>, _ output: UnsafeMutablePointer<T>, _ n: Int) {
    switch kind {
    case .neg: for i in 0..<n { output[i] = -input[i] }
    case .exp: for i in 0..<n { output[i] = T.exp(input[i]) }
    case .log: for i in 0..<n { output[i] = T.log(input[i]) }
    case .sqrt: for i in 0..<n { output[i] = T.sqrt(input[i]) }
    case .rsqrt: for i in 0..<n { output[i] = 1 / T.sqrt(input[i]) }
    case .abs: for i in 0..<n { output[i] = Swift.abs(input[i]) }
    case .sign: for i in 0..<n { output[i] = input[i] > 0 ? 1 : (input[i] < 0 ? -1 : 0) }
    case .sin: for i in 0..<n { output[i] = T.sin(input[i]) }
    case .cos: for i in 0..<n { output[i] = T.cos(input[i]) }
    case .tanh: for i in 0..<n { output[i] = T.tanh(input[i]) }
    case .sigmoid:
        for i in 0..<n {
            let x = input[i]
            // Stable on both tails.
            if x >= 0 { output[i] = 1 / (1 + T.exp(-x)) } else { let e = T.exp(x); output[i] = e / (1 + e) }
        }
    case .relu: for i in 0..<n { output[i] = input[i] > 0 ? input[i] : 0 }
    case .positive: for i in 0..<n { output[i] = input[i] > 0 ? 1 : 0 }
    case .erf: for i in 0..<n { output[i] = T.erf(input[i]) }
    case .softplus:
        // log(1 + eˣ) = Swift.max(x, 0) + log1p(e^−|x|), exact on both tails.
        for i in 0..<n { let x = input[i]; output[i] = Swift.max(x, 0) + T.log1p(T.exp(-Swift.abs(x))) }
    case .shiftedSoftplus:
        let log2 = T(0.69314718055994530942)
        for i in 0..<n { let x = input[i]; output[i] = Swift.max(x, 0) + T.log1p(T.exp(-Swift.abs(x))) - log2 }
    case .square: for i in 0..<n { output[i] = input[i] * input[i] }
    case .reciprocal: for i in 0..<n { output[i] = 1 / input[i] }
    case .geluExact:
        let invSqrt2 = T(0.70710678118654752440)
        for i in 0..<n { let x = input[i]; output[i] = x * (1 + T.erf(x * invSqrt2)) / 2 }
    case .geluTanh:
        let c = T(0.79788456080286535588), a = T(0.044715)
        for i in 0..<n { let x = input[i]; output[i] = x * (1 + T.tanh(c * (x + a * x * x * x))) / 2 }
    case .geluExactDerivative:
        // Φ(x) + x·φ(x)
        let invSqrt2 = T(0.70710678118654752440), invSqrt2Pi = T(0.39894228040143267794)
        for i in 0..<n {
            let x = input[i]
            output[i] = (1 + T.erf(x * invSqrt2)) / 2 + x * invSqrt2Pi * T.exp(-x * x / 2)
        }
    case .geluTanhDerivative:
        let c = T(0.79788456080286535588), a = T(0.044715)
        for i in 0..<n {
            let x = input[i], x2 = x * x
            let t = T.tanh(c * (x + a * x2 * x))
            output[i] = (1 + t) / 2 + x * (1 - t * t) * (1 + 3 * a * x2) * c / 2
        }
    case .silu:
        for i in 0..<n {
            let x = input[i]
            let s: T = x >= 0 ? 1 / (1 + T.exp(-x)) : T.exp(x) / (1 + T.exp(x))
            output[i] = x * s
        }
    case .pow(let p):
        let exponent = T(p)
        if p == 2 { for i in 0..<n { output[i] = input[i] * input[i] } }
        else { for i in 0..<n { output[i] = T.pow(input[i], exponent) } }
    case .clamp(let lower, let upper):
        let lo = T(lower), hi = T(upper)
        for i in 0..<n { output[i] = Swift.min(Swift.max(input[i], lo), hi) }
    case .inRange(let lower, let upper):
        let lo = T(lower), hi = T(upper)
        for i in 0..<n { output[i] = input[i] >= lo && input[i] <= hi ? 1 : 0 }
    case .addScalar(let s): let v = T(s); for i in 0..<n { output[i] = input[i] + v }
    case .mulScalar(let s): let v = T(s); for i in 0..<n { output[i] = input[i] * v }
    }
}

/// Applies a unary kernel to a floating-point tensor (no autograd), in parallel chunks.
func unaryKernel(_ kind: UnaryKind, _ x: Tensor) -> Tensor {
    precondition(x.dtype.isFloatingPoint, "\(kind): needs a floating-point tensor, got \(x.dtype)")
    let dense = x.contiguousStorageView()
    let result = Tensor(uninitializedShape: x.shape, dtype: x.dtype, zeroed: false)
    if x.dtype == .float32, case let (exact, derivative)? = { () -> (Bool, Bool)? in
        switch kind {
        case .geluTanh: return (false, false)
        case .geluTanhDerivative: return (false, true)
        case .geluExact: return (true, false)
        case .geluExactDerivative: return (true, true)
        default: return nil
        }
    }() {
        // libm's tanhf and erff per element were the cost; CKernels computes both through its vectorised exp.
        let input = UnsafePointer(dense.storage.pointer(as: Float.self) + dense.offset), output = result.storage.pointer(as: Float.self)
        if exact {
            geluErfFloat(input, output, count: x.count, derivative: derivative)
        } else {
            geluTanhFloat(input, output, count: x.count, derivative: derivative)
        }
        return result
    }
    if x.dtype == .float32, let function = logisticFunction(kind) {
        // libm's log1pf and expf per element were the cost of SchNet and PaiNN; CKernels vectorises them.
        var shift: Float = 0
        if case .shiftedSoftplus = kind { shift = 0.69314718055994530942 }
        logisticFloat(function, UnsafePointer(dense.storage.pointer(as: Float.self) + dense.offset), result.storage.pointer(as: Float.self),
                      count: x.count, minus: shift)
        return result
    }
    func run<T: TensorFloat>(_: T.Type) {
        let input = UncheckedSendable(UnsafePointer(dense.storage.pointer(as: T.self) + dense.offset))
        let output = UncheckedSendable(result.storage.pointer(as: T.self))
        parallelFor(x.count, minChunk: 1 << 15) { range in
            applyUnary(kind, input.value + range.lowerBound, output.value + range.lowerBound, range.count)
        }
    }
    if x.dtype == .float32 { run(Float.self) } else { run(Double.self) }
    return result
}

/// The CKernels function that computes `kind` on Float, if any.
private func logisticFunction(_ kind: UnaryKind) -> LogisticFunction? {
    switch kind {
    case .softplus, .shiftedSoftplus: .softplus
    case .sigmoid: .sigmoid
    case .silu: .silu
    default: nil
    }
}

/// The numpy broadcast of two shapes; traps with both shapes when they are incompatible.
func broadcastShape(_ a: [Int], _ b: [Int], _ op: String) -> [Int] {
    let rank = Swift.max(a.count, b.count)
    var result = [Int](repeating: 1, count: rank)
    for axis in 0..<rank {
        let da = axis < rank - a.count ? 1 : a[axis - (rank - a.count)]
        let db = axis < rank - b.count ? 1 : b[axis - (rank - b.count)]
        precondition(da == db || da == 1 || db == 1, "\(op): shapes \(a) and \(b) do not broadcast")
        result[axis] = da == 1 ? db : da
    }
    return result
}

/// Strides that read `tensor` as if it had `shape` (0 on broadcast axes).
func broadcastStrides(_ tensor: Tensor, to shape: [Int]) -> [Int] {
    let extra = shape.count - tensor.rank
    return (0..<shape.count).map { axis in
        if axis < extra { return 0 }
        return tensor.shape[axis - extra] == 1 ? 0 : tensor.strides[axis - extra]
    }
}

func binaryKernel(_ kind: BinaryKind, _ a: Tensor, _ b: Tensor) -> Tensor {
    precondition(a.dtype == b.dtype, "\(kind): dtypes \(a.dtype) and \(b.dtype) differ; cast one first")
    precondition(a.dtype.isFloatingPoint, "\(kind): needs floating-point tensors, got \(a.dtype)")
    let shape = broadcastShape(a.shape, b.shape, "\(kind)")
    let result = Tensor(uninitializedShape: shape, dtype: a.dtype, zeroed: false)
    func run<T: TensorFloat>(_: T.Type) {
        let pa = a.storage.pointer(as: T.self), pb = b.storage.pointer(as: T.self)
        let out = result.storage.pointer(as: T.self)
        @inline(__always) func loop(_ x: UnsafePointer<T>, _ sx: Int, _ y: UnsafePointer<T>, _ sy: Int,
                                    _ z: UnsafeMutablePointer<T>, _ n: Int) {
            switch kind {
            case .add: for i in 0..<n { z[i] = x[i &* sx] + y[i &* sy] }
            case .sub: for i in 0..<n { z[i] = x[i &* sx] - y[i &* sy] }
            case .mul: for i in 0..<n { z[i] = x[i &* sx] * y[i &* sy] }
            case .div: for i in 0..<n { z[i] = x[i &* sx] / y[i &* sy] }
            case .maximum: for i in 0..<n { z[i] = Swift.max(x[i &* sx], y[i &* sy]) }
            case .minimum: for i in 0..<n { z[i] = Swift.min(x[i &* sx], y[i &* sy]) }
            case .sigmoidDerivativeProduct:
                for i in 0..<n { let s = y[i &* sy]; z[i] = x[i &* sx] * s * (1 - s) }
            case .sigmoidGate:
                for i in 0..<n {
                    let g = y[i &* sy]
                    let sigmoid = g >= 0 ? 1 / (1 + T.exp(-g)) : { let e = T.exp(g); return e / (1 + e) }()
                    z[i] = x[i &* sx] * sigmoid
                }
            }
        }
        if a.shape == b.shape && a.isContiguous && b.isContiguous {
            let x = UncheckedSendable(UnsafePointer(pa + a.offset)), y = UncheckedSendable(UnsafePointer(pb + b.offset))
            let z = UncheckedSendable(out)
            parallelFor(result.count, minChunk: 1 << 15) { range in
                let start = range.lowerBound
                loop(x.value + start, 1, y.value + start, 1, z.value + start, range.count)
            }
            return
        }
        let sa = broadcastStrides(a, to: shape), sb = broadcastStrides(b, to: shape)
        let so = Tensor.contiguousStrides(shape)
        let inner = shape.last ?? 1
        let ia = sa.last ?? 0, ib = sb.last ?? 0
        let pointers = UncheckedSendable((UnsafePointer(pa), UnsafePointer(pb), out))
        forEachRowInParallel(shape, sa, a.offset, sb, b.offset, so, 0) { oa, ob, oz in
            let (pa, pb, out) = pointers.value
            loop(pa + oa, ia, pb + ob, ib, out + oz, inner)
        }
    }
    if a.dtype == .float32 { run(Float.self) } else { run(Double.self) }
    return result
}

func compareKernel(_ kind: CompareKind, _ a: Tensor, _ b: Tensor) -> Tensor {
    let shape = broadcastShape(a.shape, b.shape, "\(kind)")
    let x = a.expandedView(to: shape).materialized().cast(to: .float64, differentiable: false)
    let y = b.expandedView(to: shape).materialized().cast(to: .float64, differentiable: false)
    let result = Tensor(uninitializedShape: shape, dtype: .bool, zeroed: false)
    let px = x.storage.pointer(as: Double.self), py = y.storage.pointer(as: Double.self)
    let out = result.storage.pointer(as: Bool.self)
    for i in 0..<result.count {
        let u = px[i], v = py[i]
        switch kind {
        case .equal: out[i] = u == v
        case .notEqual: out[i] = u != v
        case .less: out[i] = u < v
        case .lessEqual: out[i] = u <= v
        case .greater: out[i] = u > v
        case .greaterEqual: out[i] = u >= v
        }
    }
    return result
}
