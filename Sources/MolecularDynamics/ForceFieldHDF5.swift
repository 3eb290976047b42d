// SciZoo's HDF5 layout for force-field frames (`scizoo mlff-convert` writes it): frames of any
// size side by side, atoms in chunked rows, so a reader fetches one frame's rows without reading
// the rest.
//
//   /                 attrs format = "scizoo-mlff", version = 1, units = "Å, eV, eV/Å, eV/Å³", source
//   /frames/atom_offset [M]     int64   first row of frame m in /atoms
//   /frames/n_atoms     [M]     int64
//   /frames/energy      [M]     float64 eV (NaN: none)
//   /frames/cell        [M, 9]  float64 Å, the cell's rows (zeros: none)
//   /frames/pbc         [M, 3]  int8
//   /frames/stress      [M, 6]  float64 eV/Å³, Voigt xx yy zz yz xz xy, ASE's sign (NaN: none)
//   /atoms/numbers      [A]     int64
//   /atoms/positions    [A, 3]  float64 Å
//   /atoms/forces       [A, 3]  float64 eV/Å (NaN: none)
//
// Every dataset is chunked (4,096 rows) and gzip-compressed, extendible along its first axis.
import Foundation
import Graphs
import TensorIO

public enum ForceFieldHDF5 {
    public static let format = "scizoo-mlff"
    public static let version: Int64 = 1
    static let chunkRows = 4096

    /// Writes `frames` (read one at a time from `source`) to `path` through a temporary name.
    public static func convert(_ source: any FrameSource, to path: String, progress: (Int) -> Void = { _ in }) throws {
        try HDF5File.writeAtomically(to: path) { file in
            let root = try file.root
            try root.setAttribute("format", .string(format))
            try root.setAttribute("version", .int(version))
            try root.setAttribute("units", .string("Å, eV, eV/Å, eV/Å³"))
            try root.setAttribute("source", .string(URL(fileURLWithPath: source.path).lastPathComponent))
            func extendible(_ name: String, _ dtype: HDF5DataType, columns: Int?) throws -> HDF5Dataset {
                let shape = columns.map { [0, $0] } ?? [0]
                return try root.createDataset(name, dtype: dtype, shape: shape,
                                              options: .extendible(chunks: columns.map { [chunkRows, $0] } ?? [chunkRows]))
            }
            let offsets = try extendible("frames/atom_offset", .int64, columns: nil), counts = try extendible("frames/n_atoms", .int64, columns: nil)
            let energies = try extendible("frames/energy", .float64, columns: nil), cells = try extendible("frames/cell", .float64, columns: 9)
            let pbcs = try extendible("frames/pbc", .int8, columns: 3), stresses = try extendible("frames/stress", .float64, columns: 6)
            let numbers = try extendible("atoms/numbers", .int64, columns: nil), positions = try extendible("atoms/positions", .float64, columns: 3)
            let forces = try extendible("atoms/forces", .float64, columns: 3)
            var atoms: Int64 = 0
            for index in 0..<source.count {
                let frame = try source.frame(index), system = frame.system
                try offsets.append(rows: [atoms])
                try counts.append(rows: [Int64(system.count)])
                try energies.append(rows: [frame.energy ?? .nan])
                try cells.append(rows: system.cell.vectors.flatMap { [$0.x, $0.y, $0.z] })
                try pbcs.append(rows: system.cell.pbc.map { Int8($0 ? 1 : 0) })
                try stresses.append(rows: frame.stress ?? Array(repeating: .nan, count: 6))
                try numbers.append(rows: system.numbers.map(Int64.init))
                try positions.append(rows: system.positions.flatMap { [$0.x, $0.y, $0.z] })
                try forces.append(rows: (frame.forces ?? Array(repeating: SIMD3(repeating: .nan), count: system.count)).flatMap { [$0.x, $0.y, $0.z] })
                atoms += Int64(system.count)
                progress(index + 1)
            }
        }
    }

    /// A layout file opened for reading: the per-frame index in memory (M numbers), atoms read per frame.
    public final class Reader: FrameSource {
        public let path: String
        private let file: HDF5File
        private let offsets: [Int64], counts: [Int64], energies: [Double]
        private let numbers: HDF5Dataset, positions: HDF5Dataset, forces: HDF5Dataset
        private let cells: HDF5Dataset, pbcs: HDF5Dataset, stresses: HDF5Dataset

        public init(path: String) throws {
            self.path = path
            file = try HDF5File(path: path)
            let root = try file.root
            guard root.hasAttribute("format"), case .string(let name) = try root.attribute("format"), name == format else {
                throw FileError(file: path, message: "not a SciZoo force-field file (no format = \"\(format)\" attribute); make one with scizoo mlff-convert")
            }
            func dataset(_ name: String) throws -> HDF5Dataset {
                guard root.contains(name) else { throw FileError(file: path, key: "dataset '/\(name)'", message: "is missing") }
                return try root.dataset(name)
            }
            // The per-frame index is read whole: its three columns must agree before any is read.
            let lengths = try ["frames/atom_offset", "frames/n_atoms", "frames/energy"].map { try dataset($0).shape }
            guard lengths.allSatisfy({ $0.count == 1 && $0 == lengths[0] }) else {
                throw FileError(file: path, key: "group '/frames'", message: "atom_offset, n_atoms and energy differ in shape (\(lengths.map(\.description).joined(separator: ", ")))")
            }
            offsets = try dataset("frames/atom_offset").read()
            let m = offsets.count
            counts = try dataset("frames/n_atoms").read()
            energies = try dataset("frames/energy").read()
            (cells, pbcs, stresses) = (try dataset("frames/cell"), try dataset("frames/pbc"), try dataset("frames/stress"))
            (numbers, positions, forces) = (try dataset("atoms/numbers"), try dataset("atoms/positions"), try dataset("atoms/forces"))
            let atoms = try numbers.shape.first ?? 0
            let expected: [(HDF5Dataset, String, [Int])] = [
                (cells, "frames/cell", [m, 9]), (pbcs, "frames/pbc", [m, 3]), (stresses, "frames/stress", [m, 6]),
                (positions, "atoms/positions", [atoms, 3]), (forces, "atoms/forces", [atoms, 3])]
            guard counts.count == m, energies.count == m else {
                throw FileError(file: path, key: "group '/frames'", message: "atom_offset, n_atoms and energy differ in length (\(m), \(counts.count), \(energies.count))")
            }
            for (set, name, shape) in expected {
                let actual = try set.shape
                guard actual == shape else { throw FileError(file: path, key: "dataset '/\(name)'", message: "shape \(actual), expected \(shape)") }
            }
            for k in 0..<m where counts[k] < 0 || offsets[k] < 0 || offsets[k] > Int64(atoms) || counts[k] > Int64(atoms) - offsets[k] {
                throw FileError(file: path, key: "frame \(k)", message: "atoms from \(offsets[k]), \(counts[k]) of them, lie outside /atoms (\(atoms) rows)")
            }
        }

        deinit { try? file.close() }

        public var count: Int { offsets.count }

        public func frame(_ index: Int) throws -> AtomicFrame {
            let start = Int(offsets[index]), n = Int(counts[index])
            let z: [Int64] = try numbers.read(offset: [start], count: [n])
            let r: [Double] = try positions.read(offset: [start, 0], count: [n, 3])
            let f: [Double] = try forces.read(offset: [start, 0], count: [n, 3])
            let c: [Double] = try cells.read(offset: [index, 0], count: [1, 9])
            let p: [Int8] = try pbcs.read(offset: [index, 0], count: [1, 3])
            let s: [Double] = try stresses.read(offset: [index, 0], count: [1, 6])
            func vectors(_ v: [Double]) -> [SIMD3<Double>] { (0..<(v.count / 3)).map { SIMD3(v[3 * $0], v[3 * $0 + 1], v[3 * $0 + 2]) } }
            let system: AtomicSystem
            do {
                system = try AtomicSystem(numbers: z.map { Int($0) }, positions: vectors(r),
                                          cell: try PeriodicCell(vectors: vectors(c), pbc: p.map { $0 != 0 }))
            } catch { throw FileError(file: path, key: "frame \(index)", message: "\(error)") }
            let forcesPresent = !f.contains { $0.isNaN }
            var frame = AtomicFrame(system: system, energy: energies[index].isNaN ? nil : energies[index],
                                    forces: forcesPresent ? vectors(f) : nil, stress: s.contains { $0.isNaN } ? nil : s)
            frame.info["frame"] = "\(index)"
            return frame
        }
    }
}
