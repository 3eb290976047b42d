// A cubic cell repeated 2×2×2, for the models' periodic checks (the parameter-gradient check is
// TestSupport's GradientCheck).
import Foundation
import Graphs
import NeuralNetworks
import TensorCore
@testable import MolecularDynamics

enum ModelChecks {
    /// The atoms of a cubic cell of edge `a`, repeated 2×2×2, in a box of edge 2a.
    static func supercell(numbers: [Int], positions: [SIMD3<Double>], edge a: Double) throws -> AtomicSystem {
        var big: [SIMD3<Double>] = [], repeated: [Int] = []
        for i in 0..<2 { for j in 0..<2 { for k in 0..<2 {
            for (n, r) in zip(numbers, positions) { repeated.append(n); big.append(r + SIMD3(Double(i), Double(j), Double(k)) * a) }
        } } }
        return try AtomicSystem(numbers: repeated, positions: big, cell: try PeriodicCell.box(2 * a, 2 * a, 2 * a))
    }
}
