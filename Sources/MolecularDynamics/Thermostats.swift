// The deterministic NVT integrators, stepped as ASE steps them so that a trajectory can be
// compared with ASE's from the same start:
// - Berendsen (ase/md/nvtberendsen.py): momenta scaled by λ = √(1 + (T₀/T − 1)·Δt/τ), λ clipped
//   to [0.9, 1.1], then a velocity-Verlet step whose half-kicked momenta lose their mean (the
//   centre of mass is held) before the drift.
// - Nosé–Hoover chain (ase/md/nose_hoover_chain.py, Martyna–Klein–Tuckerman): half a thermostat
//   step, velocity Verlet, half a thermostat step; the chain of `chainLength` thermostats with
//   masses Q₀ = 3N·kT·τ², Q_j = kT·τ², integrated by the fourth-order Suzuki–Yoshida weights in
//   `loops` sub-steps. Its conserved energy (E + thermostat energy) checks the integration.
import Foundation

public struct Berendsen<P: Potential> {
    public internal(set) var system: AtomicSystem
    public internal(set) var potential: P
    public let timestep: Double, relaxationTime: Double, temperatureK: Double
    public internal(set) var current: PotentialResult
    public private(set) var steps = 0

    /// `timestepFS` and `relaxationFS` (ASE's `taut`) in fs, `temperatureK` in K.
    public init(system: AtomicSystem, potential: P, timestepFS: Double, temperatureK: Double, relaxationFS: Double) throws {
        precondition(relaxationFS > 0 && temperatureK >= 0, "Berendsen: the relaxation time must be positive and the temperature not negative")
        self.system = system
        self.potential = potential
        timestep = timestepFS * Units.fs
        relaxationTime = relaxationFS * Units.fs
        self.temperatureK = temperatureK
        current = try self.potential.evaluate(system)
    }

    public mutating func step() throws {
        let n = system.count, dt = timestep
        let temperature = system.temperature
        let scale = temperature > 0 ? Swift.min(1.1, Swift.max(0.9, (1 + (temperatureK / temperature - 1) * dt / relaxationTime).squareRoot())) : 1.1
        var momenta = system.momenta.map { $0 * scale }
        for atom in 0..<n { momenta[atom] += 0.5 * dt * current.forces[atom] }
        let mean = momenta.reduce(.zero, +) / Double(n)
        for atom in 0..<n {
            momenta[atom] -= mean
            system.positions[atom] += dt * momenta[atom] / system.masses[atom]
        }
        system.momenta = momenta
        current = try potential.evaluate(system)
        for atom in 0..<n { system.momenta[atom] += 0.5 * dt * current.forces[atom] }
        steps += 1
    }
}

public struct NoseHooverChain<P: Potential> {
    public internal(set) var system: AtomicSystem
    public internal(set) var potential: P
    public let timestep: Double
    public let kT: Double
    public let loops: Int
    /// Thermostat masses, positions and momenta, one per link of the chain.
    public let masses: [Double]
    public internal(set) var eta: [Double], etaMomenta: [Double]
    public internal(set) var current: PotentialResult
    public private(set) var steps = 0

    static var suzukiYoshida: [Double] {
        let w = 1 / (2 - pow(2, 1.0 / 3))
        return [w, -pow(2, 1.0 / 3) * w, w]
    }

    /// `timestepFS` and `dampingFS` (ASE's `tdamp`, typically 100 steps) in fs; `chainLength` ASE's `tchain`, `loops` its `tloop`.
    public init(system: AtomicSystem, potential: P, timestepFS: Double, temperatureK: Double, dampingFS: Double,
                chainLength: Int = 3, loops: Int = 1) throws {
        precondition(chainLength >= 1 && loops >= 1 && dampingFS > 0, "NoseHooverChain: chain length, loops and damping must be positive")
        self.system = system
        self.potential = potential
        timestep = timestepFS * Units.fs
        kT = Units.kB * temperatureK
        self.loops = loops
        let tau = dampingFS * Units.fs
        masses = (0..<chainLength).map { $0 == 0 ? 3 * Double(system.count) * Units.kB * temperatureK * tau * tau : Units.kB * temperatureK * tau * tau }
        eta = Array(repeating: 0, count: chainLength)
        etaMomenta = eta
        current = try self.potential.evaluate(system)
    }

    /// The thermostat's energy: 3N·kT·η₀ + kT·Σ_{j>0} η_j + Σ p_η²/2Q (eV).
    public var thermostatEnergy: Double {
        3 * Double(system.count) * kT * eta[0] + kT * eta.dropFirst().reduce(0, +)
            + zip(etaMomenta, masses).reduce(0) { $0 + 0.5 * $1.0 * $1.0 / $1.1 }
    }

    /// Potential + kinetic + thermostat energy, constant up to the integration error.
    public var conservedEnergy: Double { current.energy + system.kineticEnergy + thermostatEnergy }

    public mutating func step() throws {
        let dt = timestep
        thermostat(dt / 2)
        for atom in 0..<system.count {
            system.momenta[atom] += 0.5 * dt * current.forces[atom]
            system.positions[atom] += dt * system.momenta[atom] / system.masses[atom]
        }
        current = try potential.evaluate(system)
        for atom in 0..<system.count { system.momenta[atom] += 0.5 * dt * current.forces[atom] }
        thermostat(dt / 2)
        steps += 1
    }

    private mutating func thermostat(_ delta: Double) {
        for _ in 0..<loops { for weight in Self.suzukiYoshida { chainStep(weight * delta / Double(loops)) } }
    }

    /// One symmetric sweep: chain momenta from the end to the start, the positions η, the
    /// particles' momenta scaled, chain momenta from the start to the end.
    private mutating func chainStep(_ delta: Double) {
        let links = masses.count
        for j in stride(from: links - 1, through: 0, by: -1) { kickLink(j, delta) }
        for j in 0..<links { eta[j] += delta * etaMomenta[j] / masses[j] }
        let scale = exp(-delta * etaMomenta[0] / masses[0])
        for atom in 0..<system.count { system.momenta[atom] *= scale }
        for j in 0..<links { kickLink(j, delta) }
    }

    private mutating func kickLink(_ j: Int, _ delta: Double) {
        let links = masses.count
        if j < links - 1 { etaMomenta[j] *= exp(-delta / 4 * etaMomenta[j + 1] / masses[j + 1]) }
        let force = j == 0
            ? zip(system.momenta, system.masses).reduce(0) { $0 + ($1.0 * $1.0).sum() / $1.1 } - 3 * Double(system.count) * kT
            : etaMomenta[j - 1] * etaMomenta[j - 1] / masses[j - 1] - kT
        etaMomenta[j] += delta / 2 * force
        if j < links - 1 { etaMomenta[j] *= exp(-delta / 4 * etaMomenta[j + 1] / masses[j + 1]) }
    }
}
