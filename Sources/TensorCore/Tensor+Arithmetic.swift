// Arithmetic and element-wise functions, each with its backward rule beside it.
// Backward rules are written in differentiable ops; where a rule reuses the forward output
// it recomputes it when a graph of the backward pass is being recorded (createGraph), so
// higher-order gradients see the output's dependence on the input.

import Kernels

extension Tensor {
    /// The forward output `y` for a backward rule: saved when only first-order gradients are
    /// wanted, recomputed from differentiable ops when recording a graph.
    @inline(__always)
    static func reuse(_ saved: Tensor, _ recompute: () -> Tensor) -> Tensor {
        GradMode.isEnabled ? recompute() : saved
    }

    func unary(_ kind: UnaryKind, _ name: String, _ backward: @escaping (Tensor, Tensor, Tensor) -> Tensor) -> Tensor {
        let value = unaryKernel(kind, self)
        let saved = value
        return Tensor.recording(value, name, [self]) { grad in [backward(grad, self, saved)] }
    }

    public func exp() -> Tensor { unary(.exp, "exp") { g, x, y in g * Tensor.reuse(y) { x.exp() } } }
    public func log() -> Tensor { unary(.log, "log") { g, x, _ in g / x } }
    public func sqrt() -> Tensor { unary(.sqrt, "sqrt") { g, x, y in g / (Tensor.reuse(y) { x.sqrt() } * 2) } }
    public func rsqrt() -> Tensor {
        unary(.rsqrt, "rsqrt") { g, x, y in
            let r = Tensor.reuse(y) { x.rsqrt() }
            return g * r * r * r * -0.5
        }
    }
    public func abs() -> Tensor { unary(.abs, "abs") { g, x, _ in g * unaryKernel(.sign, x) } }
    public func sin() -> Tensor { unary(.sin, "sin") { g, x, _ in g * x.cos() } }
    public func cos() -> Tensor { unary(.cos, "cos") { g, x, _ in -(g * x.sin()) } }
    public func tanh() -> Tensor {
        unary(.tanh, "tanh") { g, x, y in
            let t = Tensor.reuse(y) { x.tanh() }
            return g * (1 - t * t)
        }
    }
    public func sigmoid() -> Tensor { Tensor.sigmoidRecorded(input: self, value: unaryKernel(.sigmoid, self)) }

    /// `value` = sigmoid(`input`), computed elsewhere, recorded as the sigmoid op.
    static func sigmoidRecorded(input: Tensor, value: Tensor) -> Tensor {
        recording(value, "sigmoid", [input]) { g in
            // First order: g·s·(1 − s) in one pass; with a graph, differentiable ops.
            guard GradMode.isEnabled else { return [binaryKernel(.sigmoidDerivativeProduct, g, value)] }
            let s = input.sigmoid()
            return [g * s * (1 - s)]
        }
    }
    public func relu() -> Tensor { unary(.relu, "relu") { g, x, _ in g * unaryKernel(.positive, x) } }
    public func erf() -> Tensor {
        unary(.erf, "erf") { g, x, _ in g * (-(x * x)).exp() * 1.1283791670955126 }  // 2/√π
    }
    /// log(1 + eˣ), computed stably.
    public func softplus() -> Tensor { unary(.softplus, "softplus") { g, x, _ in g * x.sigmoid() } }
    /// softplus(x) − log 2 (SchNet's shifted softplus, zero at the origin).
    public func shiftedSoftplus() -> Tensor {
        guard dtype == .float32, GradMode.isEnabled, requiresGrad else {
            return unary(.shiftedSoftplus, "shifted-softplus") { g, x, _ in g * x.sigmoid() }
        }
        // With a graph, the derivative (the sigmoid) comes out of the forward pass, so a first-order
        // backward (forces) is one product instead of another transcendental pass.
        let x = contiguousStorageView()
        let value = Tensor(uninitializedShape: shape, dtype: .float32, zeroed: false)
        let derivative = Tensor(uninitializedShape: shape, dtype: .float32, zeroed: false)
        softplusWithDerivativeFloat(UnsafePointer(x.storage.pointer(as: Float.self) + x.offset), value.storage.pointer(as: Float.self),
                                    derivative: derivative.storage.pointer(as: Float.self), count: count, minus: 0.69314718055994530942)
        let input = self
        return Tensor.recording(value, "shifted-softplus", [input]) { g in
            // With a graph (forces in a loss) the kept derivative is recorded as the sigmoid it is.
            [g * (GradMode.isEnabled ? Tensor.sigmoidRecorded(input: input, value: derivative) : derivative)]
        }
    }
    public func square() -> Tensor { unary(.square, "square") { g, x, _ in g * x * 2 } }
    public func reciprocal() -> Tensor {
        unary(.reciprocal, "reciprocal") { g, x, y in
            let r = Tensor.reuse(y) { x.reciprocal() }
            return -(g * r * r)
        }
    }
    /// x^p for a constant exponent.
    public func pow(_ p: Double) -> Tensor {
        if p == 1 { return self }
        return unary(.pow(p), "pow") { g, x, _ in g * x.pow(p - 1) * p }
    }
    /// Values limited to `lower ... upper`; the gradient passes where the input is inside.
    public func clamped(min lower: Double = -.infinity, max upper: Double = .infinity) -> Tensor {
        unary(.clamp(lower, upper), "clamp") { g, x, _ in g * unaryKernel(.inRange(lower, upper), x) }
    }
    /// GELU, exact (erf) form by default or the tanh approximation (`gelu_new`, `gelu_fast`).
    public func gelu(approximateTanh: Bool = false) -> Tensor {
        if approximateTanh {
            return unary(.geluTanh, "gelu-tanh") { g, x, _ in
                // First order: one fused derivative kernel; recording a graph: differentiable ops.
                if !GradMode.isEnabled { return g * unaryKernel(.geluTanhDerivative, x) }
                let c = 0.79788456080286535588, a = 0.044715
                let x2 = x * x
                let t = ((x + x2 * x * a) * c).tanh()
                return g * ((t + 1) * 0.5 + x * (1 - t * t) * (x2 * (3 * a) + 1) * (0.5 * c))
            }
        }
        return unary(.geluExact, "gelu") { g, x, _ in
            if !GradMode.isEnabled { return g * unaryKernel(.geluExactDerivative, x) }
            // Φ(x) + x·φ(x)
            let cdf = ((x * 0.70710678118654752440).erf() + 1) * 0.5
            let pdf = (x * x * -0.5).exp() * 0.39894228040143267794
            return g * (cdf + x * pdf)
        }
    }
    /// x·σ(x).
    public func silu() -> Tensor {
        unary(.silu, "silu") { g, x, _ in
            let s = x.sigmoid()
            return g * (s + x * s * (1 - s))
        }
    }

    // MARK: Binary

    func binary(_ kind: BinaryKind, _ other: Tensor, _ name: String,
                _ backward: @escaping (Tensor, Tensor, Tensor) -> (Tensor?, Tensor?)) -> Tensor {
        let value = binaryKernel(kind, self, other)
        let a = self, b = other
        return Tensor.recording(value, name, [a, b]) { grad in
            let (ga, gb) = backward(grad, a, b)
            return [a.needsGradient ? ga?.sumToShape(a.shape) : nil, b.needsGradient ? gb?.sumToShape(b.shape) : nil]
        }
    }

    /// A binary op whose gradients do not depend on the operands (add, sub): only shapes are kept.
    func linearBinary(_ kind: BinaryKind, _ other: Tensor, _ name: String, sign: Double) -> Tensor {
        let value = binaryKernel(kind, self, other)
        let shapeA = shape, shapeB = other.shape, nodeA = node, nodeB = other.node
        return Tensor.recording(value, name, [self, other]) { grad in
            [Autograd.isNeeded(nodeA) ? grad.sumToShape(shapeA) : nil,
             Autograd.isNeeded(nodeB) ? (sign < 0 ? -grad : grad).sumToShape(shapeB) : nil]
        }
    }

    /// self · sigmoid(gate) in one pass (the gating of OpenFold's attention and triangle updates).
    public func sigmoidGated(by gate: Tensor) -> Tensor {
        binary(.sigmoidGate, gate, "sigmoid-gate") { g, a, b in
            let s = b.sigmoid()
            return (a.needsGradient ? g * s : nil, b.needsGradient ? g * a * s * (1 - s) : nil)
        }
    }

    public static func + (a: Tensor, b: Tensor) -> Tensor { a.linearBinary(.add, b, "add", sign: 1) }
    public static func - (a: Tensor, b: Tensor) -> Tensor { a.linearBinary(.sub, b, "sub", sign: -1) }
    public static func * (a: Tensor, b: Tensor) -> Tensor {
        a.binary(.mul, b, "mul") { g, a, b in (a.needsGradient ? g * b : nil, b.needsGradient ? g * a : nil) }
    }
    public static func / (a: Tensor, b: Tensor) -> Tensor {
        a.binary(.div, b, "div") { g, a, b in (a.needsGradient ? g / b : nil, b.needsGradient ? -(g * a / (b * b)) : nil) }
    }
    /// Element-wise maximum; ties send the gradient to the first operand.
    public func maximum(_ other: Tensor) -> Tensor {
        binary(.maximum, other, "maximum") { g, a, b in
            let mask = (a >= b).cast(to: a.dtype, differentiable: false)
            return (g * mask, g * (1 - mask))
        }
    }
    public func minimum(_ other: Tensor) -> Tensor {
        binary(.minimum, other, "minimum") { g, a, b in
            let mask = (a <= b).cast(to: a.dtype, differentiable: false)
            return (g * mask, g * (1 - mask))
        }
    }

    public static prefix func - (x: Tensor) -> Tensor {
        Tensor.recording(unaryKernel(.neg, x), "neg", [x]) { grad in [-grad] }
    }

    public static func + (a: Tensor, s: Double) -> Tensor {
        Tensor.recording(unaryKernel(.addScalar(s), a), "add-scalar", [a]) { grad in [grad] }
    }
    public static func + (s: Double, a: Tensor) -> Tensor { a + s }
    public static func - (a: Tensor, s: Double) -> Tensor { a + (-s) }
    public static func - (s: Double, a: Tensor) -> Tensor { (-a) + s }
    public static func * (a: Tensor, s: Double) -> Tensor {
        Tensor.recording(unaryKernel(.mulScalar(s), a), "mul-scalar", [a]) { grad in [grad * s] }
    }
    public static func * (s: Double, a: Tensor) -> Tensor { a * s }
    public static func / (a: Tensor, s: Double) -> Tensor { a * (1 / s) }
    public static func / (s: Double, a: Tensor) -> Tensor { a.reciprocal() * s }

    // MARK: Comparisons (not differentiable; bool results)

    public static func == (a: Tensor, b: Tensor) -> Tensor { compareKernel(.equal, a, b) }
    public static func != (a: Tensor, b: Tensor) -> Tensor { compareKernel(.notEqual, a, b) }
    public static func < (a: Tensor, b: Tensor) -> Tensor { compareKernel(.less, a, b) }
    public static func <= (a: Tensor, b: Tensor) -> Tensor { compareKernel(.lessEqual, a, b) }
    public static func > (a: Tensor, b: Tensor) -> Tensor { compareKernel(.greater, a, b) }
    public static func >= (a: Tensor, b: Tensor) -> Tensor { compareKernel(.greaterEqual, a, b) }
    public static func == (a: Tensor, s: Double) -> Tensor { compareKernel(.equal, a, Tensor(scalar: s, dtype: .float64)) }
    public static func != (a: Tensor, s: Double) -> Tensor { compareKernel(.notEqual, a, Tensor(scalar: s, dtype: .float64)) }
    public static func < (a: Tensor, s: Double) -> Tensor { compareKernel(.less, a, Tensor(scalar: s, dtype: .float64)) }
    public static func > (a: Tensor, s: Double) -> Tensor { compareKernel(.greater, a, Tensor(scalar: s, dtype: .float64)) }

    // MARK: Selection

    /// `condition ? a : b` element-wise (broadcasting); the gradient flows to the chosen side.
    public static func `where`(_ condition: Tensor, _ a: Tensor, _ b: Tensor) -> Tensor {
        precondition(condition.dtype == .bool, "where: condition must be bool, got \(condition.dtype)")
        precondition(a.dtype == b.dtype && a.dtype.isFloatingPoint, "where: values must share a float dtype, got \(a.dtype) and \(b.dtype)")
        let shape = broadcastShape(broadcastShape(condition.shape, a.shape, "where"), b.shape, "where")
        let c = condition.expandedView(to: shape).materialized()
        let x = a.expandedView(to: shape).materialized(), y = b.expandedView(to: shape).materialized()
        let out = Tensor(uninitializedShape: shape, dtype: a.dtype, zeroed: false)
        func run<T: TensorFloat>(_: T.Type) {
            let pc = c.storage.pointer(as: Bool.self), px = x.storage.pointer(as: T.self)
            let py = y.storage.pointer(as: T.self), po = out.storage.pointer(as: T.self)
            for i in 0..<out.count { po[i] = pc[i] ? px[i] : py[i] }
        }
        if a.dtype == .float32 { run(Float.self) } else { run(Double.self) }
        let mask = c.cast(to: a.dtype, differentiable: false)
        return Tensor.recording(out, "where", [a, b]) { grad in
            [a.needsGradient ? (grad * mask).sumToShape(a.shape) : nil,
             b.needsGradient ? (grad * (1 - mask)).sumToShape(b.shape) : nil]
        }
    }

    /// `value` where `mask` (broadcast to this shape) is true, self elsewhere. −∞ is a valid fill.
    public func maskedFill(_ mask: Tensor, with value: Double) -> Tensor {
        Tensor.where(mask, Tensor.full(value, shape: [], dtype: dtype), self).reshapedForMask(shape)
    }

    /// Logical not of a bool tensor.
    public static prefix func ! (x: Tensor) -> Tensor {
        precondition(x.dtype == .bool, "!: needs a bool tensor, got \(x.dtype)")
        return compareKernel(.equal, x, Tensor(false))
    }
}

extension Tensor {
    fileprivate func reshapedForMask(_ target: [Int]) -> Tensor {
        precondition(shape == target, "maskedFill: mask of shape \(shape) does not broadcast to \(target)")
        return self
    }

    init(_ value: Bool) {
        self.init([value], shape: [])
    }
}
