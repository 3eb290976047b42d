// The Lennard-Jones pair potential with ASE's `LennardJones` semantics (ase/calculators/lj.py):
// u(r) = 4ε((σ/r)¹² − (σ/r)⁶) for r ≤ rc (rc defaults to 3σ); by default shifted by u(rc) so the
// energy is continuous at rc (forces jump there); with `smooth`, multiplied instead by a cutoff
// going from 1 at ro (default 0.66·rc) to 0 at rc, C¹ in r² (the jax-md form ASE uses). Pairs come
// from a Verlet list over periodic images, so cells smaller than twice rc are handled.
import Graphs

public struct LennardJones: Potential {
    public let sigma: Double, epsilon: Double, rc: Double, ro: Double
    public let smooth: Bool
    private var neighbours: VerletList

    public init(sigma: Double = 1, epsilon: Double = 1, rc: Double? = nil, ro: Double? = nil, smooth: Bool = false, skin: Double = 0.3) {
        precondition(sigma > 0 && epsilon >= 0, "LennardJones: sigma must be positive and epsilon non-negative")
        self.sigma = sigma
        self.epsilon = epsilon
        self.rc = rc ?? 3 * sigma
        self.ro = ro ?? 0.66 * (rc ?? 3 * sigma)
        self.smooth = smooth
        neighbours = VerletList(cutoff: self.rc * (1 + 1e-12), skin: skin)
    }

    public var neighbourReference: [SIMD3<Double>] { neighbours.referencePositions }

    public mutating func restoreNeighbours(reference: [SIMD3<Double>], cell: PeriodicCell) throws {
        if !reference.isEmpty { try neighbours.rebuild(at: reference, cell: cell) }
    }

    public mutating func evaluate(_ system: AtomicSystem) throws -> PotentialResult {
        let pairs = try neighbours.update(positions: system.positions, cell: system.cell)
        let rc2 = rc * rc, ro2 = ro * ro
        let shift = 4 * epsilon * (integerPower(sigma / rc, 12) - integerPower(sigma / rc, 6))
        var energy = 0.0
        var forces = [SIMD3<Double>](repeating: .zero, count: system.count)
        var virial = [Double](repeating: 0, count: 6)
        for e in 0..<pairs.count {
            let d = pairs.vectors[e]  // towards the neighbour
            let r2 = (d * d).sum()
            guard r2 <= rc2 else { continue }
            let c6 = integerPower(sigma * sigma / r2, 3), c12 = c6 * c6
            var pairEnergy = 4 * epsilon * (c12 - c6)
            var pairForce = -24 * epsilon * (2 * c12 - c6) / r2  // times d: the force on the centre atom
            if smooth {
                let (cut, dcut) = Self.cutoff(r2, rc2, ro2)
                pairForce = cut * pairForce + 2 * dcut * pairEnergy
                pairEnergy *= cut
            } else {
                pairEnergy -= shift
            }
            let f = pairForce * d
            energy += 0.5 * pairEnergy
            forces[pairs.first[e]] += f
            // ½ Σ f ⊗ d in Voigt order xx, yy, zz, yz, xz, xy
            virial[0] += 0.5 * f.x * d.x; virial[1] += 0.5 * f.y * d.y; virial[2] += 0.5 * f.z * d.z
            virial[3] += 0.5 * f.y * d.z; virial[4] += 0.5 * f.x * d.z; virial[5] += 0.5 * f.x * d.y
        }
        let stress = system.cell.pbc.allSatisfy { $0 } ? virial.map { $0 / system.cell.volume } : nil
        return PotentialResult(energy: energy, forces: forces, stress: stress)
    }

    /// The smooth cutoff and its derivative with respect to r², in r² (ASE's cutoff_function and
    /// d_cutoff_function).
    static func cutoff(_ r2: Double, _ rc2: Double, _ ro2: Double) -> (Double, Double) {
        if r2 < ro2 { return (1, 0) }
        if r2 >= rc2 { return (0, 0) }
        let span = (rc2 - ro2) * (rc2 - ro2) * (rc2 - ro2)
        return ((rc2 - r2) * (rc2 - r2) * (rc2 + 2 * r2 - 3 * ro2) / span, 6 * (rc2 - r2) * (ro2 - r2) / span)
    }
}

@inline(__always) func integerPower(_ x: Double, _ n: Int) -> Double {
    var result = 1.0
    for _ in 0..<n { result *= x }
    return result
}
