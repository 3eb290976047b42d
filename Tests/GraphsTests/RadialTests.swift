// Radial bases and cutoffs against their formulas written out in Double (the reference twins),
// autograd's first and second derivatives against the closed forms, and edge geometry gradients
// (forces, stress) with float64 checks.
import Foundation
import Testing
import TestSupport
import TensorCore
@testable import Graphs

@Suite("Radial bases, cutoffs and edge geometry")
struct RadialTests {
    static let distances: [Double] = [0, 0.37, 0.9, 1.55, 2.2, 3.05, 4.4, 4.999, 5.0, 5.8]

    @Test("Gaussian, Bessel and ExpNorm bases equal their formulas", arguments: [DType.float32, .float64])
    func bases(dtype: DType) {
        let d = Tensor(Self.distances, shape: [10]).cast(to: dtype)
        let tolerance = dtype == .float32 ? Tolerance(rtol: 1e-5, atol: 1e-6) : Tolerance(rtol: 1e-12, atol: 1e-14)
        // schnetpack GaussianRBF(n_rbf=20, cutoff=5): centres 0, 5/19, …, 5; width 5/19.
        let gaussian = RadialBasis.gaussian(count: 20, cutoff: 5)(d)
        #expect(gaussian.shape == [10, 20] && gaussian.dtype == dtype)
        let width = 5.0 / 19
        let gaussianTwin = Self.distances.flatMap { r in (0..<20).map { k in exp(-0.5 * pow(r - Double(k) * width, 2) / (width * width)) } }
        #expect(closeness(gaussian.doubles, gaussianTwin, tolerance).passed)
        // schnetpack BesselRBF(n_rbf=8, cutoff=5): sin(nπr/rc)/r, r = 0 → 0.
        let bessel = RadialBasis.bessel(count: 8, cutoff: 5)(d)
        let besselTwin = Self.distances.flatMap { r in (1...8).map { n in sin(Double(n) * .pi * r / 5) / (r == 0 ? 1 : r) } }
        #expect(closeness(bessel.doubles, besselTwin, tolerance).passed)
        // torchmd-net ExpNormalSmearing(0, 5, 32) as ViSNet builds it.
        let expNorm = RadialBasis.expNorm(count: 32, cutoffUpper: 5)(d)
        let start = exp(-5.0), beta = pow(2.0 / 32 * (1 - start), -2)
        let expNormTwin = Self.distances.flatMap { r in
            (0..<32).map { k -> Double in
                let mean = start + Double(k) * (1 - start) / 31
                let envelope = r < 5 ? 0.5 * (cos(r * .pi / 5) + 1) : 0
                return envelope * exp(-beta * pow(exp(-r) - mean, 2))
            }
        }
        #expect(closeness(expNorm.doubles, expNormTwin, tolerance).passed)
    }

    @Test("radial bases: gradcheck and gradgradcheck in the distance (float64)")
    func basisGradients() {
        let d = Tensor([0.4, 1.3, 2.75, 4.1, 4.9], shape: [5])
        for basis in [RadialBasis.gaussian(count: 6, cutoff: 5), .bessel(count: 5, cutoff: 5, normalized: true), .expNorm(count: 7, cutoffUpper: 5)] {
            #expect(gradcheck({ basis($0[0]) }, inputs: [d]).passed, "\(basis)")
            #expect(gradgradcheck({ basis($0[0]) }, inputs: [d]).passed, "\(basis)")
        }
    }

    @Test("cutoffs: autograd's first and second derivatives equal the closed forms", arguments: [CutoffFunction.cosine(cutoff: 5), .polynomial(cutoff: 5, exponent: 6), .polynomial(cutoff: 4, exponent: 3)])
    func cutoffDerivatives(cutoff: CutoffFunction) throws {
        let points = [0.05, 0.8, 1.7, 2.6, 3.3, 3.95, 4.6, 5.2, 6.0]
        let r = Tensor(points, shape: [points.count]).requiringGrad()
        let f = cutoff(r)
        let first = try grad(of: f.sum(), wrt: r, createGraph: true)
        let second = try grad(of: first.sum(), wrt: r)
        let expected = points.map { cutoff.derivatives($0) }
        let tolerance = Tolerance(rtol: 1e-12, atol: 1e-13)
        #expect(closeness(f.doubles, expected.map(\.value), tolerance).passed, "\(cutoff) value")
        #expect(closeness(first.doubles, expected.map(\.first), tolerance).passed, "\(cutoff) first derivative")
        #expect(closeness(second.doubles, expected.map(\.second), tolerance).passed, "\(cutoff): \(closeness(second.doubles, expected.map(\.second), tolerance))")
        // The closed forms against central differences of the value.
        let h = 1e-5
        for x in points where abs(x - cutoff.cutoff) > 2 * h {
            let numeric = (cutoff.derivatives(x + h).value - cutoff.derivatives(x - h).value) / (2 * h)
            #expect(abs(numeric - cutoff.derivatives(x).first) < 1e-8, "\(cutoff) f′(\(x))")
            let numericSecond = (cutoff.derivatives(x + h).first - cutoff.derivatives(x - h).first) / (2 * h)
            #expect(abs(numericSecond - cutoff.derivatives(x).second) < 1e-7, "\(cutoff) f″(\(x))")
        }
        #expect(cutoff.derivatives(0).value == 1)
        if case .polynomial = cutoff {  // smooth to second order at the cutoff
            let below = cutoff.derivatives(cutoff.cutoff - 1e-9)
            #expect(abs(below.value) < 1e-12 && abs(below.first) < 1e-9 && abs(below.second) < 1e-6)
        }
    }

    /// A pair potential on a periodic cell: E = Σ_edges f_c(d) · Σ_k rbf_k(d) w_k.
    static func energy(positions: Tensor, cell: Tensor, pairs: NeighbourPairs) -> Tensor {
        let (first, second) = pairs.indexTensors
        let vectors = EdgeGeometry.vectors(positions: positions, first: first, second: second, shifts: pairs.shiftTensor(), cell: cell)
        let d = EdgeGeometry.distances(vectors)
        let weights = Tensor([0.3, -1.2, 0.7, 0.25, -0.4], shape: [5])
        let perEdge = (RadialBasis.gaussian(count: 5, cutoff: 3.5)(d) * weights).sum(axis: -1) * CutoffFunction.cosine(cutoff: 3.5)(d)
        return perEdge.segmentSum(first, count: positions.shape[0]).sum()
    }

    @Test("edge geometry: forces and cell gradients by autograd equal finite differences, second order too")
    func edgeGeometry() throws {
        let cellRows: [Double] = [4.2, 0, 0, 0.8, 3.9, 0, -0.5, 0.6, 4.4]
        let vectors = (0..<3).map { SIMD3(cellRows[3 * $0], cellRows[3 * $0 + 1], cellRows[3 * $0 + 2]) }
        let cell = try PeriodicCell(vectors: vectors, pbc: [true, true, true])
        var generator = RandomGenerator(seed: 12)
        let start = generator.uniform([5, 3], low: 0, high: 4, dtype: .float64)
        let r = start.doubles
        let pairs = try NeighbourList.build(positions: (0..<5).map { SIMD3(r[3 * $0], r[3 * $0 + 1], r[3 * $0 + 2]) }, cutoff: 3.5, cell: cell)
        #expect(pairs.count > 20)  // several images: the cell is smaller than twice the cutoff
        let cellTensor = Tensor(cellRows, shape: [3, 3])
        // The list's vectors are what EdgeGeometry recomputes from the tensors.
        let (first, second) = pairs.indexTensors
        let recomputed = EdgeGeometry.vectors(positions: start, first: first, second: second, shifts: pairs.shiftTensor(), cell: cellTensor)
        #expect(closeness(recomputed.doubles, pairs.vectors.flatMap { [$0.x, $0.y, $0.z] }, Tolerance(rtol: 1e-12, atol: 1e-12)).passed)
        let energy: ([Tensor]) -> Tensor = { Self.energy(positions: $0[0], cell: $0[1], pairs: pairs) }
        #expect(gradcheck(energy, inputs: [start, cellTensor]).passed)
        #expect(gradgradcheck(energy, inputs: [start, cellTensor]).passed)
    }
}
