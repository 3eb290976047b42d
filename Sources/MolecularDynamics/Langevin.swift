// Langevin dynamics (NVT) as ASE's `Langevin` steps it (ase/md/langevin.py, the second-order
// scheme of Vanden-Eijnden and Ciccotti): friction in inverse ASE time units, random kicks on
// positions and velocities from two standard normals per component, the centre of mass kept
// fixed by default (the kicks' mean removed and rescaled by √(N/(N−1))). Noise comes from the
// project's Philox generator, so a seed fixes a run (ASE draws from NumPy: same statistics, not
// the same numbers).
import TensorCore

public struct Langevin<P: Potential> {
    public internal(set) var system: AtomicSystem
    public internal(set) var potential: P
    public let timestep: Double
    /// kT (eV) and the friction (1 / ASE time unit).
    public let kT: Double, friction: Double
    public let fixCenterOfMass: Bool
    public internal(set) var current: PotentialResult
    public internal(set) var generator: RandomGenerator
    public private(set) var steps = 0

    /// - Parameters: `timestepFS` in fs; `friction` in 1/fs (ASE takes 1/(ASE time); 0.01/fs is a
    ///   common choice); `temperatureK` in K.
    public init(system: AtomicSystem, potential: P, timestepFS: Double, temperatureK: Double, frictionPerFS: Double,
                fixCenterOfMass: Bool = true, seed: UInt64) throws {
        precondition(temperatureK >= 0 && frictionPerFS >= 0, "Langevin: temperature and friction must not be negative")
        self.system = system
        self.potential = potential
        timestep = timestepFS * Units.fs
        kT = Units.kB * temperatureK
        friction = frictionPerFS / Units.fs
        self.fixCenterOfMass = fixCenterOfMass
        generator = RandomGenerator(seed: seed)
        current = try self.potential.evaluate(system)
    }

    public mutating func step() throws {
        let n = system.count, dt = timestep, fr = friction
        let xi = generator.normal([n * 3], dtype: .float64).doubles, eta = generator.normal([n * 3], dtype: .float64).doubles
        var randomPosition = [SIMD3<Double>](repeating: .zero, count: n), randomVelocity = randomPosition
        let c1 = dt / 2 - dt * dt * fr / 8, c2 = dt * fr / 2 - dt * dt * fr * fr / 8
        for atom in 0..<n {
            let sigma = (2 * kT * fr / system.masses[atom]).squareRoot()
            let c3 = dt.squareRoot() * sigma / 2 - dt * dt.squareRoot() * fr * sigma / 8
            let c5 = dt * dt.squareRoot() * sigma / (2 * 3.0.squareRoot()), c4 = fr / 2 * c5
            let x = SIMD3(xi[3 * atom], xi[3 * atom + 1], xi[3 * atom + 2]), e = SIMD3(eta[3 * atom], eta[3 * atom + 1], eta[3 * atom + 2])
            randomPosition[atom] = c5 * e
            randomVelocity[atom] = c3 * x - c4 * e
        }
        if fixCenterOfMass && n > 1 {
            let factor = (Double(n) / Double(n - 1)).squareRoot()
            let meanPosition = randomPosition.reduce(.zero, +) / Double(n)
            let momentum = zip(randomVelocity, system.masses).reduce(SIMD3<Double>.zero) { $0 + $1.0 * $1.1 }
            for atom in 0..<n {
                randomPosition[atom] = (randomPosition[atom] - meanPosition) * factor
                // ASE subtracts Σ m·v / (m_i · N) from each atom's kick.
                randomVelocity[atom] = (randomVelocity[atom] - momentum / (system.masses[atom] * Double(n))) * factor
            }
        }
        var velocities = zip(system.momenta, system.masses).map { $0 / $1 }
        for atom in 0..<n {
            velocities[atom] += c1 * current.forces[atom] / system.masses[atom] - c2 * velocities[atom] + randomVelocity[atom]
            let start = system.positions[atom]
            system.positions[atom] = start + dt * velocities[atom] + randomPosition[atom]
            velocities[atom] = (system.positions[atom] - start - randomPosition[atom]) / dt
        }
        current = try potential.evaluate(system)
        for atom in 0..<n {
            velocities[atom] += c1 * current.forces[atom] / system.masses[atom] - c2 * velocities[atom] + randomVelocity[atom]
            system.momenta[atom] = velocities[atom] * system.masses[atom]
        }
        steps += 1
    }
}

extension AtomicSystem {
    /// Momenta drawn from the Maxwell–Boltzmann distribution at `temperatureK` (each component
    /// N(0, m·kT), as ASE's MaxwellBoltzmannDistribution), the total momentum removed (ASE's
    /// Stationary); seeded by `seed`.
    public mutating func thermalize(temperatureK: Double, seed: UInt64) {
        var generator = RandomGenerator(seed: seed)
        let draws = generator.normal([count * 3], dtype: .float64).doubles
        let kT = Units.kB * temperatureK
        momenta = (0..<count).map { atom in
            SIMD3(draws[3 * atom], draws[3 * atom + 1], draws[3 * atom + 2]) * (masses[atom] * kT).squareRoot()
        }
        let total = momenta.reduce(.zero, +)
        let totalMass = masses.reduce(0, +)
        for atom in 0..<count { momenta[atom] -= total * (masses[atom] / totalMass) }
    }
}
