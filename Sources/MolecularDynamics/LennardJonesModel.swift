// Lennard-Jones as an AtomisticModel: the same energy as `LennardJones` (ASE's, shifted at rc or
// smooth between ro and rc) written in tensor operations over the graph layer, per atom
// (½ Σ_j u(r_ij)), so that it runs wherever the trained models run — in particular on a spatial
// domain with ghost atoms, where only the owned atoms' energies count and forces come by autograd.
import Foundation
import Graphs
import NeuralNetworks
import TensorCore

public final class LennardJonesModel: Module, AtomisticModel {
    public let sigma: Double, epsilon: Double, rc: Double, ro: Double, smooth: Bool
    public let energyScale = EnergyScale(maxZ: Elements.symbols.count)

    public init(sigma: Double, epsilon: Double, rc: Double? = nil, ro: Double? = nil, smooth: Bool = false) {
        (self.sigma, self.epsilon, self.smooth) = (sigma, epsilon, smooth)
        self.rc = rc ?? 3 * sigma
        self.ro = ro ?? 0.66 * (rc ?? 3 * sigma)
    }

    public var cutoff: Double { rc * (1 + 1e-12) }
    public var dtype: DType { .float64 }

    public func atomicEnergies(_ graph: AtomisticGraph) -> Tensor {
        let relative = EdgeGeometry.vectors(positions: graph.positions, first: graph.first, second: graph.second)
        let d = graph.offsets.map { relative + $0 } ?? relative
        let r2 = d.square().sum(axis: -1)
        let c6 = (r2.reciprocal() * (sigma * sigma)).pow(3)
        var pair = (c6.square() - c6) * (4 * epsilon)
        if smooth {
            let rc2 = rc * rc, ro2 = ro * ro
            let inside = (r2 < ro2).cast(to: .float64)
            let ramp = (r2 * -1 + rc2).square() * (r2 * 2 + (rc2 - 3 * ro2)) * (1 / ((rc2 - ro2) * (rc2 - ro2) * (rc2 - ro2)))
            pair = pair * (inside + (1 - inside) * ramp)
        } else {
            let ratio6: Double = pow(sigma / rc, 6)
            let shift: Double = 4 * epsilon * (ratio6 * ratio6 - ratio6)
            pair = pair - shift
        }
        return (pair * 0.5).segmentSum(graph.first, count: graph.numbers.count)
    }
}
