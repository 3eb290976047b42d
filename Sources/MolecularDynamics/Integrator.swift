// What the MD loop drives: any integrator (velocity Verlet, Langevin, Berendsen, Nosé–Hoover
// chain) over any potential, and what a restart needs from it beyond positions and momenta (its
// thermostat variables or noise counter, and the potential's neighbour-list reference) so that a
// restarted run continues bit for bit.
import Graphs
import TensorCore

public protocol Integrator {
    associatedtype P: Potential
    var system: AtomicSystem { get }
    /// Energy and forces at the current positions.
    var current: PotentialResult { get }
    mutating func step() throws
    /// The integrator's own state (empty for velocity Verlet and Berendsen).
    var state: [Double] { get }
    var neighbourReference: [SIMD3<Double>] { get }
    /// Puts the run back where `system`, `state` and `neighbourReference` were recorded.
    mutating func restore(system: AtomicSystem, state: [Double], neighbourReference: [SIMD3<Double>]) throws
}

/// What every integrator here shares: a system, a potential and the forces at the current positions.
protocol PotentialStepper: Integrator {
    var system: AtomicSystem { get set }
    var potential: P { get set }
    var current: PotentialResult { get set }
}

extension PotentialStepper {
    public var neighbourReference: [SIMD3<Double>] { potential.neighbourReference }

    /// Puts `system` back with the neighbour list of the recorded run and re-evaluates the forces.
    mutating func resume(_ system: AtomicSystem, neighbourReference: [SIMD3<Double>]) throws {
        self.system = system
        try potential.restoreNeighbours(reference: neighbourReference, cell: system.cell)
        current = try potential.evaluate(system)
    }
}

extension VelocityVerlet: PotentialStepper {
    public var state: [Double] { [] }

    public mutating func restore(system: AtomicSystem, state: [Double], neighbourReference: [SIMD3<Double>]) throws {
        try resume(system, neighbourReference: neighbourReference)
    }
}

extension Berendsen: PotentialStepper {
    public var state: [Double] { [] }

    public mutating func restore(system: AtomicSystem, state: [Double], neighbourReference: [SIMD3<Double>]) throws {
        try resume(system, neighbourReference: neighbourReference)
    }
}

extension Langevin: PotentialStepper {
    /// The noise generator's counter (exact as a Double below 2⁵³ draws).
    public var state: [Double] { [Double(generator.offset)] }

    public mutating func restore(system: AtomicSystem, state: [Double], neighbourReference: [SIMD3<Double>]) throws {
        generator = RandomGenerator(seed: generator.seed, offset: UInt64(state[0]))
        try resume(system, neighbourReference: neighbourReference)
    }
}

extension NoseHooverChain: PotentialStepper {
    /// η and p_η of every link.
    public var state: [Double] { eta + etaMomenta }

    public mutating func restore(system: AtomicSystem, state: [Double], neighbourReference: [SIMD3<Double>]) throws {
        (eta, etaMomenta) = (Array(state[..<masses.count]), Array(state[masses.count...]))
        try resume(system, neighbourReference: neighbourReference)
    }
}
