// Velocity Verlet (NVE) as ASE's `VelocityVerlet` steps it (ase/md/verlet.py):
//   p ← p + ½Δt·F;  r ← r + Δt·p/m;  F ← F(r);  p ← p + ½Δt·F
// with Δt in ASE's time unit (`Units.fs` per femtosecond), momenta in amu·Å per that unit.
public struct VelocityVerlet<P: Potential> {
    public internal(set) var system: AtomicSystem
    public internal(set) var potential: P
    public let timestep: Double
    /// The forces and energy at the current positions.
    public internal(set) var current: PotentialResult
    public private(set) var steps = 0

    /// - Parameter timestepFS: the timestep in femtoseconds.
    public init(system: AtomicSystem, potential: P, timestepFS: Double) throws {
        self.system = system
        self.potential = potential
        timestep = timestepFS * Units.fs
        current = try self.potential.evaluate(system)
    }

    /// One step; the forces are evaluated once, at the new positions.
    public mutating func step() throws {
        let dt = timestep
        for atom in 0..<system.count {
            system.momenta[atom] += 0.5 * dt * current.forces[atom]
            system.positions[atom] += dt * system.momenta[atom] / system.masses[atom]
        }
        current = try potential.evaluate(system)
        for atom in 0..<system.count { system.momenta[atom] += 0.5 * dt * current.forces[atom] }
        steps += 1
    }

    /// Total energy: potential + kinetic (eV).
    public var totalEnergy: Double { current.energy + system.kineticEnergy }
}
