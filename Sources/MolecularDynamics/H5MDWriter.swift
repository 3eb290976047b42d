// Trajectories in H5MD 1.1 (the HDF5 layout MDAnalysis, VMD's plugin and h5py read):
//   /h5md            version [1, 1]; author/name; creator/name, creator/version
//   /particles/all   species [N]; position, velocity, force: {value [T, N, 3], step [T], time [T]}
//                    box: dimension 3, boundary periodic|none per axis; edges {value [T, 3, 3], …}
//   /observables     potential_energy, kinetic_energy, total_energy, temperature: {value [T], …}
// Units are attributes (Å, Å/fs, eV/Å, fs, eV, K). The file is filled under a temporary name and
// renamed by `close()`, so a killed run never leaves a file that looks complete.
import Foundation
import TensorIO

public final class H5MDWriter {
    public let path: String
    private let temporary: String
    private var file: HDF5File?
    private var series: [String: (value: HDF5Dataset, step: HDF5Dataset, time: HDF5Dataset)] = [:]
    public private(set) var frames = 0

    public init(path: String, species: [Int], periodic: [Bool], creatorVersion: String = "0.1.0") throws {
        self.path = path
        temporary = path + ".tmp-\(getpid())"
        let file = try HDF5File(path: temporary, mode: .truncate)
        self.file = file
        let root = try file.root
        let h5md = try root.createGroup("h5md")
        try h5md.setAttribute("version", .ints([1, 1]))
        try h5md.createGroup("author").setAttribute("name", .string("scizoo md"))
        let creator = try h5md.createGroup("creator")
        try creator.setAttribute("name", .string("SciZoo"))
        try creator.setAttribute("version", .string(creatorVersion))
        let all = try root.createGroup("particles").createGroup("all")
        try all.write("species", species.map(Int64.init))
        let box = try all.createGroup("box")
        try box.setAttribute("dimension", .int(3))
        try box.setAttribute("boundary", .strings(periodic.map { $0 ? "periodic" : "none" }))
        let n = species.count
        for (name, unit) in [("position", "angstrom"), ("velocity", "angstrom fs-1"), ("force", "eV angstrom-1")] {
            series[name] = try Self.timeSeries(in: all, name: name, shape: [n, 3], unit: unit)
        }
        series["box/edges"] = try Self.timeSeries(in: box, name: "edges", shape: [3, 3], unit: "angstrom")
        let observables = try root.createGroup("observables")
        for (name, unit) in [("potential_energy", "eV"), ("kinetic_energy", "eV"), ("total_energy", "eV"), ("temperature", "K")] {
            series["observables/" + name] = try Self.timeSeries(in: observables, name: name, shape: [], unit: unit)
        }
    }

    private static func timeSeries(in group: HDF5Group, name: String, shape: [Int], unit: String) throws
        -> (value: HDF5Dataset, step: HDF5Dataset, time: HDF5Dataset) {
        let element = try group.createGroup(name)
        let value = try element.createDataset("value", dtype: .float64, shape: [0] + shape, options: .extendible(gzipLevel: nil, chunks: [1] + shape))
        try value.setAttribute("unit", .string(unit))
        let step = try element.createDataset("step", dtype: .int64, shape: [0], options: .extendible(gzipLevel: nil, chunks: [256]))
        let time = try element.createDataset("time", dtype: .float64, shape: [0], options: .extendible(gzipLevel: nil, chunks: [256]))
        try time.setAttribute("unit", .string("fs"))
        return (value, step, time)
    }

    /// Appends one frame: positions, velocities (Å/fs), forces, the cell and the energies.
    public func append(step: Int, timeFS: Double, system: AtomicSystem, forces: [SIMD3<Double>], potentialEnergy: Double) throws {
        func add(_ key: String, _ values: [Double]) throws {
            let s = series[key]!
            try s.value.append(rows: values)
            try s.step.append(rows: [Int64(step)])
            try s.time.append(rows: [timeFS])
        }
        func flat(_ v: [SIMD3<Double>]) -> [Double] { v.flatMap { [$0.x, $0.y, $0.z] } }
        try add("position", flat(system.positions))
        try add("velocity", flat(zip(system.momenta, system.masses).map { $0 / $1 * Units.fs }))
        try add("force", flat(forces))
        try add("box/edges", flat(system.cell.vectors))
        let kinetic = system.kineticEnergy
        try add("observables/potential_energy", [potentialEnergy])
        try add("observables/kinetic_energy", [kinetic])
        try add("observables/total_energy", [potentialEnergy + kinetic])
        try add("observables/temperature", [system.temperature])
        frames += 1
    }

    /// Closes the file and renames it into place.
    public func close() throws {
        guard let file else { return }
        try file.close()
        self.file = nil
        guard rename(temporary, path) == 0 else { throw FileError(file: path, message: "cannot rename \(temporary) into place") }
    }

    deinit { if file != nil { try? file?.close(); unlink(temporary) } }
}
