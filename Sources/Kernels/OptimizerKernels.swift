// Fused optimiser updates: one pass over parameter, gradient and state, in parallel chunks
// (element-wise, so results do not depend on the thread count).

/// Hyper-parameters of one Adam/AdamW step (PyTorch's semantics).
public struct AdamStep: Sendable {
    public var learningRate: Double
    public var beta1: Double
    public var beta2: Double
    public var epsilon: Double
    public var weightDecay: Double
    /// AdamW: decay the weights directly instead of adding weightDecay·p to the gradient.
    public var decoupled: Bool
    /// 1-based step count, for bias correction.
    public var step: Int

    public init(learningRate: Double, beta1: Double, beta2: Double, epsilon: Double, weightDecay: Double, decoupled: Bool, step: Int) {
        self.learningRate = learningRate
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
        self.weightDecay = weightDecay
        self.decoupled = decoupled
        self.step = step
    }
}

public func adamUpdate(_ p: UnsafeMutablePointer<Float>, _ g: UnsafePointer<Float>, _ m: UnsafeMutablePointer<Float>,
                       _ v: UnsafeMutablePointer<Float>, count: Int, _ h: AdamStep) {
    adamUpdateGeneric(p, g, m, v, count: count, h)
}

public func adamUpdate(_ p: UnsafeMutablePointer<Double>, _ g: UnsafePointer<Double>, _ m: UnsafeMutablePointer<Double>,
                       _ v: UnsafeMutablePointer<Double>, count: Int, _ h: AdamStep) {
    adamUpdateGeneric(p, g, m, v, count: count, h)
}

@inline(__always)
func adamUpdateGeneric<T: BinaryFloatingPoint>(_ p: UnsafeMutablePointer<T>, _ g: UnsafePointer<T>, _ m: UnsafeMutablePointer<T>,
                                               _ v: UnsafeMutablePointer<T>, count: Int, _ h: AdamStep) {
    let lr = T(h.learningRate), b1 = T(h.beta1), b2 = T(h.beta2), eps = T(h.epsilon), wd = T(h.weightDecay)
    let correction1 = T(1 - pow(h.beta1, Double(h.step)))
    let correction2Root = T((1 - pow(h.beta2, Double(h.step))).squareRoot())
    let stepSize = lr / correction1
    let decay: T = h.decoupled ? 1 - lr * wd : 1
    let coupled = !h.decoupled && h.weightDecay != 0
    let shared = UncheckedSendable((p, g, m, v))
    // Two loops rather than a branch per element, so the common one vectorises.
    parallelFor(count, minChunk: 1 << 14) { range in
        let (p, g, m, v) = shared.value
        if coupled {
            for i in range {
                let gradient = g[i] + wd * p[i]
                let mi = b1 * m[i] + (1 - b1) * gradient
                let vi = b2 * v[i] + (1 - b2) * gradient * gradient
                m[i] = mi
                v[i] = vi
                p[i] = p[i] * decay - stepSize * mi / (vi.squareRoot() / correction2Root + eps)
            }
        } else {
            for i in range {
                let gradient = g[i]
                let mi = b1 * m[i] + (1 - b1) * gradient
                let vi = b2 * v[i] + (1 - b2) * gradient * gradient
                m[i] = mi
                v[i] = vi
                p[i] = p[i] * decay - stepSize * mi / (vi.squareRoot() / correction2Root + eps)
            }
        }
    }
}

#if canImport(Glibc)
import Glibc
#endif
