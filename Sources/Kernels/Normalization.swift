// Fused row kernels: softmax, log-softmax and layer norm over the last axis, Float and Double,
// each with a plain reference twin used by the tests.
#if canImport(Glibc)
import Glibc
#endif
import CKernels

@inline(__always) func expT(_ x: Float) -> Float { expf(x) }
@inline(__always) func expT(_ x: Double) -> Double { exp(x) }
@inline(__always) func logT(_ x: Float) -> Float { logf(x) }
@inline(__always) func logT(_ x: Double) -> Double { log(x) }

/// Row-wise softmax (or log-softmax) of `rows × columns`, rows in parallel.
/// A row that is all −∞ gives zeros (softmax) or −∞ (log-softmax), never NaN.
/// Which implementation of the Float row primitives to use.
public enum KernelPath: Int32, Sendable, CaseIterable {
    case automatic = -1, portable = 0, avx2 = 1

    /// Whether this CPU runs the AVX2+FMA path (and SCIZOO_NO_AVX2 is unset).
    public static var avx2Available: Bool { scizoo_kernels_use_avx2() != 0 }

    /// The value the C kernels take: `.avx2` asked for on a CPU without it runs the portable path.
    var resolved: Int32 { self == .avx2 && !Self.avx2Available ? Self.portable.rawValue : rawValue }
}

public func softmaxRows(_ input: UnsafePointer<Float>, _ output: UnsafeMutablePointer<Float>, rows: Int, columns: Int, log: Bool,
                        path: KernelPath = .automatic) {
    let path = path.resolved
    let x = UncheckedSendable(input), y = UncheckedSendable(output)
    parallelFor(rows, minChunk: Swift.max(1, 8192 / Swift.max(1, columns))) { range in
        for row in range {
            let src = x.value + row &* columns, dst = y.value + row &* columns
            let top = scizoo_max_f32(path, src, columns)
            if top == -.infinity {
                for j in 0..<columns { dst[j] = log ? -.infinity : 0 }
                continue
            }
            // e^(x − max) into the output row, summed in a fixed lane order.
            let total = scizoo_exp_sum_f32(path, src, dst, columns, top)
            if log {
                let offset = top + logf(total)
                for j in 0..<columns { dst[j] = src[j] - offset }
            } else {
                scizoo_scale_f32(path, dst, dst, columns, 1 / total)
            }
        }
    }
}

public func softmaxRows(_ input: UnsafePointer<Double>, _ output: UnsafeMutablePointer<Double>, rows: Int, columns: Int, log: Bool) {
    softmaxRowsGeneric(input, output, rows: rows, columns: columns, log: log, exp: expT, ln: logT)
}

@inline(__always)
func softmaxRowsGeneric<T: BinaryFloatingPoint>(_ input: UnsafePointer<T>, _ output: UnsafeMutablePointer<T>, rows: Int, columns: Int,
                                                log: Bool, exp: (T) -> T, ln: (T) -> T) {
    let x = UncheckedSendable(input), y = UncheckedSendable(output)
    parallelFor(rows, minChunk: Swift.max(1, 8192 / Swift.max(1, columns))) { range in
        for row in range {
            let src = x.value + row &* columns, dst = y.value + row &* columns
            var maximum = -T.infinity
            for j in 0..<columns where src[j] > maximum { maximum = src[j] }
            if maximum == -T.infinity {
                for j in 0..<columns { dst[j] = log ? -T.infinity : 0 }
                continue
            }
            var sum: T = 0
            if log {
                for j in 0..<columns { sum += exp(src[j] - maximum) }
                let shift = maximum + ln(sum)
                for j in 0..<columns { dst[j] = src[j] - shift }
            } else {
                for j in 0..<columns {
                    let e = exp(src[j] - maximum)
                    dst[j] = e
                    sum += e
                }
                let inverse = 1 / sum
                for j in 0..<columns { dst[j] *= inverse }
            }
        }
    }
}

/// Reference twin of `softmaxRows`: the textbook formula in Double, one row at a time.
public func softmaxRowsReference(_ input: [Double], rows: Int, columns: Int, log: Bool) -> [Double] {
    var output = input
    for row in 0..<rows {
        let slice = input[(row * columns)..<((row + 1) * columns)]
        let maximum = slice.max() ?? 0
        let total = slice.reduce(0) { $0 + Foundation_exp($1 - maximum) }
        for j in 0..<columns {
            let shifted = input[row * columns + j] - maximum
            output[row * columns + j] = log ? shifted - Foundation_log(total) : Foundation_exp(shifted) / total
        }
    }
    return output
}

@inline(__always) private func Foundation_exp(_ x: Double) -> Double { exp(x) }
@inline(__always) private func Foundation_log(_ x: Double) -> Double { Glibc.log(x) }

/// Layer norm over rows: y = (x − mean)·rstd·w + b, saving mean and rstd per row.
public func layerNormRows(_ x: UnsafePointer<Float>, _ w: UnsafePointer<Float>?, _ b: UnsafePointer<Float>?,
                          _ y: UnsafeMutablePointer<Float>, _ mean: UnsafeMutablePointer<Float>, _ rstd: UnsafeMutablePointer<Float>,
                          rows: Int, columns: Int, epsilon: Double) {
    let shared = UncheckedSendable((x, w, b, y, mean, rstd))
    let eps = Float(epsilon)
    parallelFor(rows, minChunk: Swift.max(1, 8192 / Swift.max(1, columns))) { range in
        let (x, w, b, y, mean, rstd) = shared.value
        let n = Float(columns)
        for row in range {
            let src = x + row &* columns, dst = y + row &* columns
            let mu = sum(src, columns) / n
            // Two-pass variance: exact for data far from zero, unlike E[x²] − E[x]².
            let center = Float8(repeating: mu)
            var a = Float8(), c = Float8()
            var j = 0
            while j &+ 16 <= columns {
                let d0 = load8(src, j) - center, d1 = load8(src, j &+ 8) - center
                a += d0 * d0
                c += d1 * d1
                j &+= 16
            }
            let lanes = a + c
            var squares = ((lanes[0] + lanes[1]) + (lanes[2] + lanes[3])) + ((lanes[4] + lanes[5]) + (lanes[6] + lanes[7]))
            while j < columns { let d = src[j] - mu; squares += d * d; j &+= 1 }
            let r = 1 / (squares / n + eps).squareRoot()
            mean[row] = mu
            rstd[row] = r
            let scale = Float8(repeating: r)
            j = 0
            while j &+ 8 <= columns {
                var v = (load8(src, j) - center) * scale
                if let w { v = v * load8(w, j) }
                if let b { v = v + load8(b, j) }
                store8(dst, j, v)
                j &+= 8
            }
            while j < columns {
                var v = (src[j] - mu) * r
                if let w { v *= w[j] }
                if let b { v += b[j] }
                dst[j] = v
                j &+= 1
            }
        }
    }
}

public func layerNormRows(_ x: UnsafePointer<Double>, _ w: UnsafePointer<Double>?, _ b: UnsafePointer<Double>?,
                          _ y: UnsafeMutablePointer<Double>, _ mean: UnsafeMutablePointer<Double>, _ rstd: UnsafeMutablePointer<Double>,
                          rows: Int, columns: Int, epsilon: Double) {
    layerNormGeneric(x, w, b, y, mean, rstd, rows: rows, columns: columns, epsilon: epsilon)
}

@inline(__always)
func layerNormGeneric<T: BinaryFloatingPoint>(_ x: UnsafePointer<T>, _ w: UnsafePointer<T>?, _ b: UnsafePointer<T>?,
                                              _ y: UnsafeMutablePointer<T>, _ mean: UnsafeMutablePointer<T>,
                                              _ rstd: UnsafeMutablePointer<T>, rows: Int, columns: Int, epsilon: T) {
    let shared = UncheckedSendable((x, w, b, y, mean, rstd))
    parallelFor(rows, minChunk: Swift.max(1, 8192 / Swift.max(1, columns))) { range in
        let (x, w, b, y, mean, rstd) = shared.value
        let n = T(columns)
        for row in range {
            let src = x + row &* columns, dst = y + row &* columns
            var sum: T = 0
            for j in 0..<columns { sum += src[j] }
            let mu = sum / n
            // Two-pass variance: exact for data far from zero, unlike E[x²] − E[x]².
            var squares: T = 0
            for j in 0..<columns { let d = src[j] - mu; squares += d * d }
            let r = 1 / (squares / n + epsilon).squareRoot()
            mean[row] = mu
            rstd[row] = r
            switch (w, b) {
            case let (w?, b?): for j in 0..<columns { dst[j] = (src[j] - mu) * r * w[j] + b[j] }
            case let (w?, nil): for j in 0..<columns { dst[j] = (src[j] - mu) * r * w[j] }
            case let (nil, b?): for j in 0..<columns { dst[j] = (src[j] - mu) * r + b[j] }
            case (nil, nil): for j in 0..<columns { dst[j] = (src[j] - mu) * r }
            }
        }
    }
}

/// First-order layer-norm backward (Float): dx per row; dw, db per column summed over rows in order.
public func layerNormBackwardRows(
    _ g: UnsafePointer<Float>, _ x: UnsafePointer<Float>, _ w: UnsafePointer<Float>?, _ mean: UnsafePointer<Float>, _ rstd: UnsafePointer<Float>,
    _ dx: UnsafeMutablePointer<Float>?, _ dw: UnsafeMutablePointer<Float>?, _ db: UnsafeMutablePointer<Float>?, rows: Int, columns: Int
) {
    layerNormBackwardGeneric(g, x, w, mean, rstd, dx, dw, db, rows: rows, columns: columns)
}

/// First-order layer-norm backward (Double).
public func layerNormBackwardRows(
    _ g: UnsafePointer<Double>, _ x: UnsafePointer<Double>, _ w: UnsafePointer<Double>?, _ mean: UnsafePointer<Double>, _ rstd: UnsafePointer<Double>,
    _ dx: UnsafeMutablePointer<Double>?, _ dw: UnsafeMutablePointer<Double>?, _ db: UnsafeMutablePointer<Double>?, rows: Int, columns: Int
) {
    layerNormBackwardGeneric(g, x, w, mean, rstd, dx, dw, db, rows: rows, columns: columns)
}

// Internal and generic: specialised here for Float and Double. A public generic called from
// another module would run unspecialised, element by element through protocol witnesses.
func layerNormBackwardGeneric<T: BinaryFloatingPoint>(
    _ g: UnsafePointer<T>, _ x: UnsafePointer<T>, _ w: UnsafePointer<T>?, _ mean: UnsafePointer<T>, _ rstd: UnsafePointer<T>,
    _ dx: UnsafeMutablePointer<T>?, _ dw: UnsafeMutablePointer<T>?, _ db: UnsafeMutablePointer<T>?, rows: Int, columns: Int
) {
    let shared = UncheckedSendable((g, x, w, mean, rstd, dx, dw, db))
    if dx != nil {
        parallelFor(rows, minChunk: Swift.max(1, 4096 / Swift.max(1, columns))) { range in
            let (g, x, w, mean, rstd, dx, _, _) = shared.value
            let n = T(columns)
            for row in range {
                let gr = g + row &* columns, xr = x + row &* columns, out = dx! + row &* columns
                let mu = mean[row], r = rstd[row]
                var sumG: T = 0, sumGX: T = 0
                for j in 0..<columns {
                    let gw = gr[j] * (w?[j] ?? 1)
                    sumG += gw
                    sumGX += gw * (xr[j] - mu) * r
                }
                let meanG = sumG / n, meanGX = sumGX / n
                for j in 0..<columns {
                    let gw = gr[j] * (w?[j] ?? 1)
                    out[j] = r * (gw - meanG - (xr[j] - mu) * r * meanGX)
                }
            }
        }
    }
    if dw != nil || db != nil {
        // Columns split across threads; within a chunk, rows are walked in order (contiguous
        // reads), so each column's sum has the same order on every thread count.
        parallelFor(columns, minChunk: 64) { range in
            let (g, x, _, mean, rstd, _, dw, db) = shared.value
            let width = range.count
            var sumW = [T](repeating: 0, count: width), sumB = [T](repeating: 0, count: width)
            for row in 0..<rows {
                let gr = g + (row &* columns &+ range.lowerBound), xr = x + (row &* columns &+ range.lowerBound)
                let mu = mean[row], r = rstd[row]
                for j in 0..<width {
                    sumW[j] += gr[j] * (xr[j] - mu) * r
                    sumB[j] += gr[j]
                }
            }
            for j in 0..<width {
                dw?[range.lowerBound &+ j] = sumW[j]
                db?[range.lowerBound &+ j] = sumB[j]
            }
        }
    }
}

/// GELU in its tanh form (or its derivative) over Float, in parallel chunks, through CKernels.
public func geluTanhFloat(_ input: UnsafePointer<Float>, _ output: UnsafeMutablePointer<Float>, count: Int, derivative: Bool,
                          path: KernelPath = .automatic) {
    let x = UncheckedSendable(input), y = UncheckedSendable(output)
    parallelFor(count, minChunk: 1 << 15) { range in
        scizoo_gelu_tanh_f32(path.resolved, x.value + range.lowerBound, y.value + range.lowerBound, range.count, derivative ? 1 : 0)
    }
}

/// GELU in its exact (erf) form (or its derivative) over Float, in parallel chunks, through CKernels.
public func geluErfFloat(_ input: UnsafePointer<Float>, _ output: UnsafeMutablePointer<Float>, count: Int, derivative: Bool,
                         path: KernelPath = .automatic) {
    let x = UncheckedSendable(input), y = UncheckedSendable(output)
    parallelFor(count, minChunk: 1 << 15) { range in
        scizoo_gelu_erf_f32(path.resolved, x.value + range.lowerBound, y.value + range.lowerBound, range.count, derivative ? 1 : 0)
    }
}

/// The logistic family on Float through CKernels' vectorised exp and log1p.
public enum LogisticFunction: Int32, Sendable, CaseIterable {
    case softplus = 0, sigmoid = 1, silu = 2
}

/// softplus, sigmoid or SiLU of `count` floats, minus `shift`, in parallel chunks (`output` may
/// equal `input`).
public func logisticFloat(_ function: LogisticFunction, _ input: UnsafePointer<Float>, _ output: UnsafeMutablePointer<Float>,
                          count: Int, minus shift: Float = 0, path: KernelPath = .automatic) {
    let x = UncheckedSendable(input), y = UncheckedSendable(output)
    parallelFor(count, minChunk: 1 << 15) { range in
        scizoo_logistic_f32(path.resolved, x.value + range.lowerBound, y.value + range.lowerBound, range.count, function.rawValue, shift)
    }
}

/// softplus(x) − `shift` and sigmoid(x), its derivative, in one pass over `count` floats.
public func softplusWithDerivativeFloat(_ input: UnsafePointer<Float>, _ output: UnsafeMutablePointer<Float>,
                                        derivative: UnsafeMutablePointer<Float>, count: Int, minus shift: Float = 0,
                                        path: KernelPath = .automatic) {
    let pointers = UncheckedSendable((input, output, derivative))
    parallelFor(count, minChunk: 1 << 15) { range in
        let (x, y, s) = pointers.value
        scizoo_softplus_sigmoid_f32(path.resolved, x + range.lowerBound, y + range.lowerBound, s + range.lowerBound, range.count, shift)
    }
}
