// What the start-up selection of OpenBLAS's kernel set (CBLASSelection) found and did, in words
// for `scizoo env` and every benchmark's header.
import CBLASSelection

public enum BLASSelection {
    public enum Decision: Sendable, Equatable {
        /// OpenBLAS's own choice was already the best this CPU supports (or one this table does not rank).
        case keptDetected
        /// SciZoo chose the core and its self-test passed.
        case chosen
        /// OPENBLAS_CORETYPE came from the environment; kept.
        case fromEnvironment
        /// SciZoo's choice failed the self-test; OpenBLAS's own choice is in use.
        case fellBack
        /// OpenBLAS did not take the chosen core.
        case refused
    }

    /// The core OpenBLAS picked by itself, the best one for this CPU, the one in use, and cpuid's instruction sets.
    public static var detected: String { text(record.detected) }
    public static var best: String { text(record.best) }
    public static var inUse: String { text(record.inUse) }
    public static var features: String { text(record.features) }
    /// The GEMM self-test's worst error relative to its tolerance (nil: not run).
    public static var selfTestError: Double? {
        let error = record.selfTestError
        return error < 0 ? nil : error
    }

    public static var decision: Decision {
        switch record.decision {
        case 1: .chosen
        case 2: .fromEnvironment
        case 3: .fellBack
        case 4: .refused
        default: .keptDetected
        }
    }

    /// One line: the core in use and why.
    public static var summary: String {
        let cpu = features.isEmpty ? "" : "; CPU has \(features)"
        switch decision {
        case .keptDetected:
            return "\(inUse) (OpenBLAS's choice\(best.isEmpty || best == inUse ? "" : ", best for this CPU: \(best)")\(cpu))"
        case .chosen:
            return "\(inUse) (chosen by SciZoo: OpenBLAS picked \(detected)\(cpu); GEMM self-test passed, worst error "
                + "\(formatted(selfTestError ?? 0))× the tolerance)"
        case .fromEnvironment:
            return "\(inUse) (OPENBLAS_CORETYPE set in the environment: kept\(best.isEmpty || best == inUse ? "" : "; best for this CPU: \(best)")\(cpu))"
        case .fellBack:
            return "\(inUse) (SciZoo's choice \(best) failed the GEMM self-test, worst error \(formatted(selfTestError ?? .infinity))× "
                + "the tolerance: OpenBLAS's own choice\(cpu))"
        case .refused:
            return "\(inUse) (OpenBLAS did not take SciZoo's choice \(best); it picked \(detected) itself\(cpu))"
        }
    }

    /// Runs the self-test on the kernels in use: the worst error relative to its tolerance (< 1 passes).
    public static func selfTest() -> Double { scizoo_blas_self_test() }

    private static var record: scizoo_blas_selection_t { scizoo_blas_selection().pointee }

    /// A fixed-size C string field (imported as a tuple of CChar) as a String.
    private static func text<Field>(_ field: Field) -> String {
        withUnsafeBytes(of: field) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
    }

    private static func formatted(_ x: Double) -> String {
        x.isFinite ? String(Double(Int(x * 1000)) / 1000) : "∞"
    }
}
