// Tolerances and closeness checks, per dtype.
import TensorCore

/// rtol/atol for comparing results of one dtype.
public struct Tolerance: Sendable, CustomStringConvertible {
    public var rtol: Double
    public var atol: Double

    public init(rtol: Double, atol: Double) {
        self.rtol = rtol
        self.atol = atol
    }

    /// Defaults for comparing a computation against a reference of the same maths.
    public static func forDType(_ dtype: DType) -> Tolerance {
        switch dtype {
        case .float32: Tolerance(rtol: 1e-5, atol: 1e-6)
        case .float64: Tolerance(rtol: 1e-12, atol: 1e-14)
        default: Tolerance(rtol: 0, atol: 0)
        }
    }

    public var description: String { "rtol \(rtol), atol \(atol)" }
}

/// The outcome of comparing two arrays: the worst element and whether all are within tolerance.
public struct Closeness: CustomStringConvertible, Sendable {
    public let passed: Bool
    public let worstIndex: Int?
    public let worstActual: Double
    public let worstExpected: Double
    public let maxAbsoluteError: Double
    public let detail: String

    public var description: String {
        passed ? "close (max |error| \(maxAbsoluteError))"
            : "not close: \(detail); worst at \(worstIndex ?? -1): \(worstActual) vs \(worstExpected), max |error| \(maxAbsoluteError)"
    }
}

/// |actual − expected| ≤ atol + rtol·|expected| element-wise (NaN matches NaN; shapes must agree).
public func closeness(_ actual: [Double], _ expected: [Double], _ tolerance: Tolerance) -> Closeness {
    guard actual.count == expected.count else {
        return Closeness(passed: false, worstIndex: nil, worstActual: .nan, worstExpected: .nan, maxAbsoluteError: .infinity,
                         detail: "\(actual.count) values vs \(expected.count)")
    }
    var passed = true, worst: Int? = nil, worstExcess = 0.0, maxError = 0.0
    for i in 0..<actual.count {
        let a = actual[i], e = expected[i]
        if a.isNaN && e.isNaN { continue }
        if a == e { continue }  // equal infinities
        let error = abs(a - e)
        maxError = max(maxError, error.isNaN ? .infinity : error)
        let excess = error - (tolerance.atol + tolerance.rtol * abs(e))
        if !(excess <= 0) {
            passed = false
            if worst == nil || excess > worstExcess || excess.isNaN { worst = i; worstExcess = excess }
        }
    }
    return Closeness(passed: passed, worstIndex: worst, worstActual: worst.map { actual[$0] } ?? 0,
                     worstExpected: worst.map { expected[$0] } ?? 0, maxAbsoluteError: maxError, detail: "\(tolerance)")
}

public func closeness(_ actual: Tensor, _ expected: Tensor, _ tolerance: Tolerance? = nil) -> Closeness {
    guard actual.shape == expected.shape else {
        return Closeness(passed: false, worstIndex: nil, worstActual: .nan, worstExpected: .nan, maxAbsoluteError: .infinity,
                         detail: "shape \(actual.shape) vs \(expected.shape)")
    }
    return closeness(actual.doubles, expected.doubles, tolerance ?? .forDType(actual.dtype))
}
