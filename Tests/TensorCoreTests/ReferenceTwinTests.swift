// Fast kernels against plain loops written out in Double.
import Foundation
import Testing
import TestSupport
@testable import Kernels
@testable import TensorCore

@Suite("Kernels against their reference twins")
struct ReferenceTwinTests {
    func naiveMatmul(_ a: [Double], _ b: [Double], m: Int, k: Int, n: Int) -> [Double] {
        var c = [Double](repeating: 0, count: m * n)
        for i in 0..<m { for j in 0..<n { for p in 0..<k { c[i * n + j] += a[i * k + p] * b[p * n + j] } } }
        return c
    }

    @Test("matmul in every operand layout, batched and broadcast, float32 and float64", arguments: [DType.float32, .float64])
    func matmul(dtype: DType) {
        var generator = RandomGenerator(seed: 3)
        let (m, k, n) = (5, 7, 3)
        let a = generator.normal([m, k], dtype: .float64), b = generator.normal([k, n], dtype: .float64)
        let expected = naiveMatmul(a.doubles, b.doubles, m: m, k: k, n: n)
        let tolerance = dtype == .float32 ? Tolerance(rtol: 1e-5, atol: 1e-5) : Tolerance(rtol: 1e-12, atol: 1e-12)
        let variantsA = [a.cast(to: dtype), a.cast(to: dtype).mT.contiguous().mT, a.cast(to: dtype).expanded(to: [2, m, k]).sliced(axis: 0, 1).squeezed(axis: 0)]
        let variantsB = [b.cast(to: dtype), b.cast(to: dtype).mT.contiguous().mT,
                         Tensor.stack([b, b], axis: -1).reshaped([k, 2 * n]).cast(to: dtype).sliced(axis: 1, 0, nil, step: 2)]
        for x in variantsA {
            for y in variantsB {
                let result = x.matmul(y)
                #expect(result.shape == [m, n])
                let check = closeness(result.doubles, expected, tolerance)
                #expect(check.passed, "\(check)")
            }
        }
        // Batch broadcast: [2, 1, m, k] @ [3, k, n] → [2, 3, m, n].
        let batchA = generator.normal([2, 1, m, k], dtype: dtype), batchB = generator.normal([3, k, n], dtype: dtype)
        let batched = batchA.matmul(batchB)
        #expect(batched.shape == [2, 3, m, n])
        for i in 0..<2 {
            for j in 0..<3 {
                let one = batchA.sliced(axis: 0, i, i + 1).reshaped([m, k]).matmul(batchB.sliced(axis: 0, j, j + 1).reshaped([k, n]))
                let slice = batched.sliced(axis: 0, i, i + 1).sliced(axis: 1, j, j + 1).reshaped([m, n])
                #expect(slice.doubles == one.doubles)
            }
        }
        #expect(Tensor([1.0, 2]).matmul(Tensor([3.0, 4])).item() == 11)
    }

    @Test("Float softmax rows on the portable and the AVX2 path against the textbook formula",
          arguments: [KernelPath.portable, .avx2])
    func softmaxPaths(path: KernelPath) {
        var generator = RandomGenerator(seed: 6)
        for (rows, columns) in [(3, 1), (5, 7), (4, 33), (2, 1024)] {
            let x = generator.normal([rows, columns], std: 5, dtype: .float64)
            let single = x.cast(to: .float32).scalars(as: Float.self)
            for log in [false, true] {
                var output = [Float](repeating: 0, count: rows * columns)
                single.withUnsafeBufferPointer { input in
                    softmaxRows(input.baseAddress!, &output, rows: rows, columns: columns, log: log, path: path)
                }
                let expected = softmaxRowsReference(single.map(Double.init), rows: rows, columns: columns, log: log)
                // log-softmax subtracts numbers near max|x| ≈ 20: its absolute error is a few ulp of that.
                let check = closeness(output.map(Double.init), expected, Tolerance(rtol: 2e-6, atol: log ? 1e-5 : 1e-7))
                #expect(check.passed, "\(path) \(rows)×\(columns) log \(log): \(check)")
            }
        }
        var masked: [Float] = [-.infinity, 0, -.infinity, 1]
        softmaxRows(masked, &masked, rows: 1, columns: 4, log: false, path: path)
        #expect(masked[0] == 0 && masked[2] == 0 && abs(masked[1] + masked[3] - 1) < 1e-6)
    }

    @Test("Float GELU (tanh form) and its derivative on both paths against the Double formula", arguments: [KernelPath.portable, .avx2])
    func geluTanh(path: KernelPath) {
        let xs: [Float] = (0..<1003).map { Float($0 - 501) / 50 } + [-80, 80, 0, 1e-6, -1e-6]
        for derivative in [false, true] {
            var output = [Float](repeating: 0, count: xs.count)
            xs.withUnsafeBufferPointer { geluTanhFloat($0.baseAddress!, &output, count: xs.count, derivative: derivative, path: path) }
            let expected = xs.map { value -> Double in
                let x = Double(value), u = 0.7978845608028654 * (x + 0.044715 * x * x * x), t = tanh(u)
                return derivative ? 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * 0.7978845608028654 * (1 + 3 * 0.044715 * x * x)
                                  : 0.5 * x * (1 + t)
            }
            let check = closeness(output.map(Double.init), expected, Tolerance(rtol: 2e-6, atol: 2e-7))
            #expect(check.passed, "\(path) derivative \(derivative): \(check)")
        }
    }

    @Test("Float GELU (erf form) and its derivative on both paths against the Double formula, relative in the tails",
          arguments: [KernelPath.portable, .avx2])
    func geluErf(path: KernelPath) {
        let xs: [Float] = (0..<1203).map { Float($0 - 601) / 50 } + [-80, 80, 0, 1e-6, -1e-6, 1e-30, -13.2, 5.5]
        for derivative in [false, true] {
            var output = [Float](repeating: 0, count: xs.count)
            xs.withUnsafeBufferPointer { geluErfFloat($0.baseAddress!, &output, count: xs.count, derivative: derivative, path: path) }
            for (value, got) in zip(xs, output) {
                let x = Double(value), cdf = 0.5 * erfc(-x / 2.0.squareRoot()), pdf = exp(-x * x / 2) / (2 * Double.pi).squareRoot()
                let expected = derivative ? cdf + x * pdf : x * cdf
                // Relative to each value, in the tail too (GELU of −12 is −1e-32; 1 + erf would give 0 there): 2e-6
                // up to |x| = 3, then Float's rounding of x²/2 inside exp grows it to a few 1e-6. The derivative
                // crosses zero at x ≈ −0.75, where it is held to 1e-7 absolute instead.
                let error = abs(Double(got) - expected), relative = error / max(abs(expected), 1e-38)
                let ok = relative < (abs(x) <= 3 ? 2e-6 : 2e-5) || (derivative && error < 1e-7) || error < 1e-38
                #expect(ok, "\(path) derivative \(derivative) x \(x): \(got) vs \(expected)")
            }
        }
        var nan: [Float] = [.nan]
        geluErfFloat(nan, &nan, count: 1, derivative: false, path: path)
        #expect(nan[0].isNaN)
    }

    @Test("Float softplus, sigmoid and SiLU on both paths against the Double formulas, tails and NaN included",
          arguments: [KernelPath.portable, .avx2])
    func logistic(path: KernelPath) {
        let xs: [Float] = (0..<2001).map { Float($0 - 1000) / 40 } + [-100, 100, -87, 87, 1e-7, -1e-7, 0, 17.3, -17.3]
        for function in LogisticFunction.allCases {
            var output = [Float](repeating: 0, count: xs.count)
            xs.withUnsafeBufferPointer { logisticFloat(function, $0.baseAddress!, &output, count: xs.count, path: path) }
            let expected = xs.map { value -> Double in
                let x = Double(value), sigmoid = 1 / (1 + exp(-x))
                switch function {
                case .softplus: return max(x, 0) + log1p(exp(-abs(x)))
                case .sigmoid: return sigmoid
                case .silu: return x * sigmoid
                }
            }
            // Relative to each value: softplus far below zero is e^x, tiny and still exact to a few ulp.
            let worst = zip(output, expected).map { abs(Double($0) - $1) / max(abs($1), 1e-30) }.max()!
            #expect(worst < 1e-6, "\(path) \(function): worst relative error \(worst)")
            if function == .softplus {
                // The fused form: softplus − shift and the sigmoid, the same bits as the two kernels apart.
                var shifted = [Float](repeating: 0, count: xs.count), derivative = shifted, sigmoid = shifted
                xs.withUnsafeBufferPointer {
                    softplusWithDerivativeFloat($0.baseAddress!, &shifted, derivative: &derivative, count: xs.count, minus: 0.5, path: path)
                    logisticFloat(.sigmoid, $0.baseAddress!, &sigmoid, count: xs.count, path: path)
                }
                #expect(shifted == output.map { $0 - 0.5 } && derivative == sigmoid, "\(path): fused softplus and sigmoid")
            }
            var nan: [Float] = [.nan, 1]
            logisticFloat(function, nan, &nan, count: 2, path: path)
            #expect(nan[0].isNaN && !nan[1].isNaN)
        }
    }

    @Test("softmax and log-softmax rows against the textbook formula")
    func softmax() {
        var generator = RandomGenerator(seed: 5)
        let x = generator.normal([7, 13], std: 4, dtype: .float64)
        for log in [false, true] {
            let expected = softmaxRowsReference(x.doubles, rows: 7, columns: 13, log: log)
            let actual = log ? x.logSoftmax() : x.softmax()
            #expect(closeness(actual.doubles, expected, Tolerance(rtol: 1e-13, atol: 1e-15)).passed)
            let single = log ? x.cast(to: .float32).logSoftmax() : x.cast(to: .float32).softmax()
            #expect(closeness(single.doubles, expected, Tolerance(rtol: 1e-5, atol: 1e-6)).passed)
        }
        // Along a middle axis, and a fully masked row gives zeros, not NaN.
        let cube = generator.normal([2, 5, 3], dtype: .float64)
        let middle = cube.softmax(axis: 1)
        let viaLast = cube.transposed(1, 2).softmax().transposed(1, 2)
        #expect(closeness(middle, viaLast.contiguous()).passed)
        let masked = Tensor([-Double.infinity, -.infinity, 0, 1], shape: [2, 2]).softmax()
        #expect(masked.doubles[0] == 0 && masked.doubles[1] == 0)
    }

    @Test("layer norm against the formula, with and without affine parameters")
    func layerNorm() {
        var generator = RandomGenerator(seed: 9)
        let x = generator.normal([6, 10], mean: 100, std: 3, dtype: .float64)
        let w = generator.normal([10], dtype: .float64), b = generator.normal([10], dtype: .float64)
        let rows = x.doubles, wv = w.doubles, bv = b.doubles
        var expected = [Double]()
        for r in 0..<6 {
            let row = Array(rows[(r * 10)..<((r + 1) * 10)])
            let mean = row.reduce(0, +) / 10
            let variance = row.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / 10
            for j in 0..<10 { expected.append((row[j] - mean) / (variance + 1e-5).squareRoot() * wv[j] + bv[j]) }
        }
        #expect(closeness(x.layerNorm(weight: w, bias: b).doubles, expected, Tolerance(rtol: 1e-12, atol: 1e-12)).passed)
        let single = x.cast(to: .float32).layerNorm(weight: w.cast(to: .float32), bias: b.cast(to: .float32))
        #expect(closeness(single.doubles, expected, Tolerance(rtol: 1e-4, atol: 1e-4)).passed)
        let plain = x.layerNorm(weight: nil, bias: nil)
        #expect(abs(plain.mean(axis: 1).doubles[0]) < 1e-12)
    }

    @Test("the fused first-order layer-norm backward equals the differentiable form")
    func layerNormBackward() throws {
        var generator = RandomGenerator(seed: 10)
        let x = generator.normal([5, 8], dtype: .float64).requiringGrad()
        let w = generator.normal([8], dtype: .float64).requiringGrad(), b = generator.normal([8], dtype: .float64).requiringGrad()
        let g = generator.normal([5, 8], dtype: .float64)
        let y = x.layerNorm(weight: w, bias: b)
        let fused = try grad(of: [y], wrt: [x, w, b], gradOutputs: [g])
        let composite = try grad(of: [y], wrt: [x, w, b], gradOutputs: [g], createGraph: true)
        for (f, c) in zip(fused, composite) {
            #expect(closeness(f!, c!.detached(), Tolerance(rtol: 1e-10, atol: 1e-12)).passed)
        }
    }
}
