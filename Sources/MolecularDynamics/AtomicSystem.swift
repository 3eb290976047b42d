// A system of atoms as ASE's `Atoms` holds it: positions (Å), atomic numbers, masses (amu),
// momenta (amu·Å per ASE time unit), and the cell (vectors as rows) with a periodic flag per axis.
import Graphs

public struct AtomicSystem: Sendable {
    public var positions: [SIMD3<Double>]
    public var momenta: [SIMD3<Double>]
    public let numbers: [Int]
    public let masses: [Double]
    public var cell: PeriodicCell

    /// Masses default to the standard atomic weights; momenta to zero.
    public init(numbers: [Int], positions: [SIMD3<Double>], cell: PeriodicCell = .none, masses: [Double]? = nil,
                momenta: [SIMD3<Double>]? = nil) throws(SystemError) {
        guard positions.count == numbers.count else {
            throw .invalid("\(positions.count) positions for \(numbers.count) atomic numbers")
        }
        if let masses, masses.count != numbers.count { throw .invalid("\(masses.count) masses for \(numbers.count) atoms") }
        if let momenta, momenta.count != numbers.count { throw .invalid("\(momenta.count) momenta for \(numbers.count) atoms") }
        var resolved: [Double] = []
        for (atom, number) in numbers.enumerated() {
            guard let mass = masses?[atom] ?? Elements.mass(of: number) else {
                throw .invalid("atom \(atom): no standard mass for element \(number); give masses explicitly")
            }
            guard mass > 0 else { throw .invalid("atom \(atom): mass \(mass) must be positive") }
            resolved.append(mass)
        }
        self.numbers = numbers
        self.positions = positions
        self.masses = resolved
        self.momenta = momenta ?? Array(repeating: .zero, count: numbers.count)
        self.cell = cell
    }

    public var count: Int { numbers.count }

    /// Σ p²/2m (eV).
    public var kineticEnergy: Double {
        zip(momenta, masses).reduce(0) { $0 + (($1.0 * $1.0).sum()) / (2 * $1.1) }
    }

    /// 2·Ekin / (3N·kB) (K), as ASE's `get_temperature` without constraints.
    public var temperature: Double { 2 * kineticEnergy / (3 * Double(count) * Units.kB) }
}

public enum SystemError: Error, Equatable, CustomStringConvertible {
    case invalid(String)
    public var description: String {
        switch self { case .invalid(let message): "atomic system: \(message)" }
    }
}

/// What a potential gives for a configuration: energy (eV), forces (eV/Å) and, for a cell with
/// three periodic axes, the stress (eV/Å³) in Voigt order xx, yy, zz, yz, xz, xy with ASE's sign
/// (virial = −stress · volume).
public struct PotentialResult: Sendable {
    public var energy: Double
    public var forces: [SIMD3<Double>]
    public var stress: [Double]?
}

/// Anything that gives energies and forces: the trained models and classical potentials alike.
public protocol Potential {
    mutating func evaluate(_ system: AtomicSystem) throws -> PotentialResult
    /// The positions the neighbour list was last built at, and a rebuild there: what a restart
    /// needs for the same pairs in the same order (bitwise continuation).
    var neighbourReference: [SIMD3<Double>] { get }
    mutating func restoreNeighbours(reference: [SIMD3<Double>], cell: PeriodicCell) throws
}

extension Potential {
    public var neighbourReference: [SIMD3<Double>] { [] }
    public mutating func restoreNeighbours(reference: [SIMD3<Double>], cell: PeriodicCell) throws {}
}
