// The NumPy archives the MD17 family ships: sGDML's MD17 (`z` [N], `R` [M, N, 3] Å, `E` [M] or
// [M, 1] kcal/mol, `F` [M, N, 3] kcal/mol/Å) and the revised rMD17 (`nuclear_charges`, `coords`,
// `energies`, `forces`, same units). Energies and forces are converted to eV and eV/Å with ASE's
// kcal/mol (0.04336410390059322 eV). Shapes are checked against each other; a problem names the
// file and the array.
import TensorIO

public enum MD17Archive {
    /// kcal/mol in eV, as ASE's `units.kcal / units.mol` (CODATA 2014).
    public static let kcalPerMol = 0.04336410390059322

    /// Every frame of an MD17 or rMD17 `.npz`.
    public static func read(_ path: String) throws -> [AtomicFrame] {
        let archive = try NumpyArchive(contentsOf: path)
        let names = Set(archive.names)
        let keys: (numbers: String, positions: String, energies: String, forces: String)
        if names.isSuperset(of: ["z", "R", "E", "F"]) {
            keys = ("z", "R", "E", "F")
        } else if names.isSuperset(of: ["nuclear_charges", "coords", "energies", "forces"]) {
            keys = ("nuclear_charges", "coords", "energies", "forces")
        } else {
            throw FileError(file: path, message: "not an MD17 archive: expected arrays z, R, E, F (sGDML) or nuclear_charges, coords, "
                            + "energies, forces (rMD17); it has \(archive.names.sorted().joined(separator: ", "))")
        }
        let numbers = try archive.array(keys.numbers).integers()
        let positions = try archive.array(keys.positions), energies = try archive.array(keys.energies), forces = try archive.array(keys.forces)
        let atoms = numbers.count, frames = positions.shape.first ?? 0
        func expect(_ array: NumpyArray, _ name: String, _ shapes: [[Int]]) throws {
            guard shapes.contains(array.shape) else {
                throw FileError(file: path, key: "array '\(name)'", message: "shape \(array.shape), expected \(shapes.map { "\($0)" }.joined(separator: " or ")) "
                                + "for \(frames) frames of the \(atoms) atoms in '\(keys.numbers)'")
            }
        }
        try expect(positions, keys.positions, [[frames, atoms, 3]])
        try expect(energies, keys.energies, [[frames], [frames, 1]])
        try expect(forces, keys.forces, [[frames, atoms, 3]])
        let r = try positions.tensor().doubles, e = try energies.tensor().doubles, f = try forces.tensor().doubles
        for (name, values, perFrame) in [(keys.positions, r, 3 * atoms), (keys.energies, e, e.count / Swift.max(frames, 1)), (keys.forces, f, 3 * atoms)] {
            if let index = values.firstIndex(where: { !$0.isFinite }) {
                throw FileError(file: path, key: "array '\(name)'", message: "element \(index) (frame \(index / Swift.max(perFrame, 1))) is \(values[index]), not a finite number")
            }
        }
        return try (0..<frames).map { frame in
            func vectors(_ values: [Double], scale: Double) -> [SIMD3<Double>] {
                (0..<atoms).map { a in
                    let k = (frame * atoms + a) * 3
                    return SIMD3(values[k], values[k + 1], values[k + 2]) * scale
                }
            }
            let system: AtomicSystem
            do { system = try AtomicSystem(numbers: numbers, positions: vectors(r, scale: 1)) } catch {
                throw FileError(file: path, key: "array '\(keys.numbers)'", message: "\(error)")
            }
            var atomsFrame = AtomicFrame(system: system, energy: e[frame] * kcalPerMol, forces: vectors(f, scale: kcalPerMol))
            atomsFrame.info["frame"] = "\(frame)"
            return atomsFrame
        }
    }
}
