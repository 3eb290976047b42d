// The simulation cell as ASE defines it: three cell vectors as the rows of a 3 × 3 matrix (Å)
// and a periodic flag per axis. A position's fractional coordinates f satisfy r = f · cell.
import TensorCore

#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif

public struct PeriodicCell: Sendable, Equatable {
    /// Cell vectors a, b, c (rows), Å.
    public let vectors: [SIMD3<Double>]
    /// Periodic along a, b, c.
    public let pbc: [Bool]

    /// A cell; periodic axes need a non-zero vector and the periodic vectors must be independent.
    public init(vectors: [SIMD3<Double>], pbc: [Bool]) throws(NeighbourListError) {
        guard vectors.count == 3, pbc.count == 3 else {
            throw NeighbourListError.invalidCell("a cell needs 3 vectors and 3 pbc flags, got \(vectors.count) and \(pbc.count)")
        }
        guard vectors.allSatisfy({ $0.x.isFinite && $0.y.isFinite && $0.z.isFinite }) else {
            throw NeighbourListError.invalidCell("cell vectors must be finite, got \(vectors)")
        }
        for axis in 0..<3 where pbc[axis] && length(vectors[axis]) == 0 {
            throw NeighbourListError.invalidCell("axis \(axis) is periodic but its cell vector is zero")
        }
        self.vectors = vectors
        self.pbc = pbc
        if pbc.contains(true), abs(determinant(completed)) < 1e-12 * Swift.max(1, cube(length(vectors[0]) + length(vectors[1]) + length(vectors[2]))) {
            throw NeighbourListError.invalidCell("the cell vectors \(vectors) are linearly dependent (zero volume)")
        }
    }

    /// An orthorhombic box, periodic on every axis.
    public static func box(_ a: Double, _ b: Double, _ c: Double) throws(NeighbourListError) -> PeriodicCell {
        try PeriodicCell(vectors: [SIMD3(a, 0, 0), SIMD3(0, b, 0), SIMD3(0, 0, c)], pbc: [true, true, true])
    }

    /// No cell at all: a molecule in vacuum.
    public static let none = try! PeriodicCell(vectors: [.zero, .zero, .zero], pbc: [false, false, false])

    public var isPeriodic: Bool { pbc.contains(true) }

    /// Cell volume |a · (b × c)| (Å³).
    public var volume: Double { abs(determinant(vectors)) }

    /// The vectors with zero vectors of non-periodic axes replaced by unit vectors orthogonal to
    /// the others (ASE's `complete_cell`), so fractional coordinates exist on every axis.
    var completed: [SIMD3<Double>] {
        var result = vectors
        let missing = (0..<3).filter { length(vectors[$0]) == 0 }
        switch missing.count {
        case 0: break
        case 1:
            let others = (0..<3).filter { $0 != missing[0] }
            let normal = cross(vectors[others[0]], vectors[others[1]])
            result[missing[0]] = length(normal) > 0 ? normal / length(normal) : SIMD3(0, 0, 1)
        case 2:
            let present = vectors[(0..<3).first { !missing.contains($0) }!]
            let unit = present / length(present)
            let axes = [SIMD3<Double>(1, 0, 0), SIMD3(0, 1, 0), SIMD3(0, 0, 1)]
            let least = axes.min { abs(dot($0, unit)) < abs(dot($1, unit)) }!
            let first = normalized(cross(unit, least))
            result[missing[0]] = first
            result[missing[1]] = normalized(cross(unit, first))
        default:
            result = [SIMD3(1, 0, 0), SIMD3(0, 1, 0), SIMD3(0, 0, 1)]
        }
        return result
    }
}

// MARK: 3-vector helpers

@inline(__always) func dot(_ a: SIMD3<Double>, _ b: SIMD3<Double>) -> Double { (a * b).sum() }
@inline(__always) func length(_ a: SIMD3<Double>) -> Double { dot(a, a).squareRoot() }
@inline(__always) func normalized(_ a: SIMD3<Double>) -> SIMD3<Double> { a / length(a) }
@inline(__always) func cross(_ a: SIMD3<Double>, _ b: SIMD3<Double>) -> SIMD3<Double> {
    SIMD3(a.y * b.z - a.z * b.y, a.z * b.x - a.x * b.z, a.x * b.y - a.y * b.x)
}
func cube(_ x: Double) -> Double { x * x * x }
func determinant(_ rows: [SIMD3<Double>]) -> Double { dot(rows[0], cross(rows[1], rows[2])) }
