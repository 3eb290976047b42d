// Frames for training: the HDF5 layout round-trips every field and reads frame by frame; splits
// are fixed by their seed; index files, missing references and overlapping atoms are refused by
// file and frame; a batch of molecules as one graph gives each molecule's own energy and forces.
import Foundation
import Graphs
import Testing
import TestSupport
import TensorCore
import TensorIO
@testable import MolecularDynamics

@Suite("Force-field data")
struct ForceFieldDataTests {
    static func frames() throws -> [AtomicFrame] {
        var generator = RandomGenerator(seed: 7)
        let draws = generator.uniform([45], dtype: .float64).doubles
        var next = 0
        func uniform() -> Double { defer { next += 1 }; return draws[next] }
        let molecule = try AtomicSystem(numbers: [8, 1, 1], positions: [SIMD3(0, 0, 0.1), SIMD3(0.76, 0, -0.45), SIMD3(-0.76, 0, -0.45)])
        var result: [AtomicFrame] = []
        for k in 0..<5 {
            var system = molecule
            system.positions = system.positions.map { $0 + SIMD3(uniform(), uniform(), uniform()) * 0.1 }
            result.append(AtomicFrame(system: system, energy: -14.2 - Double(k) * 0.01, forces: system.positions.map { $0 * -0.5 }))
        }
        let crystal = try AtomicSystem(numbers: [11, 17], positions: [.zero, SIMD3(2.8, 2.8, 2.8)], cell: try PeriodicCell.box(5.6, 5.6, 5.6))
        var periodic = AtomicFrame(system: crystal, energy: -6.5, forces: [SIMD3(0.1, 0, 0), SIMD3(-0.1, 0, 0)], stress: [0.01, 0.01, 0.01, 0, 0, 0.002])
        periodic.info["config"] = "rocksalt"
        result.append(periodic)
        return result
    }

    @Test("mlff-convert's HDF5 layout: every field back, frame by frame; a foreign HDF5 file is refused by name")
    func hdf5RoundTrip() throws {
        let folder = try Fixtures.scratchDirectory()
        let original = try Self.frames(), path = folder.path + "/frames.h5"
        try ForceFieldHDF5.convert(FrameList(path: "memory", frames: original), to: path)
        let reader = try ForceFieldHDF5.Reader(path: path)
        #expect(reader.count == original.count)
        for index in [5, 0, 3] {
            let (a, b) = (try reader.frame(index), original[index])
            #expect(a.system.numbers == b.system.numbers && a.system.positions == b.system.positions && a.system.cell == b.system.cell)
            #expect(a.energy == b.energy && a.forces! == b.forces! && a.stress == b.stress)
        }
        #expect(try reader.frame(0).stress == nil)
        let h5py = try Subprocess.python("""
            import sys, h5py
            f = h5py.File(sys.argv[1], 'r')
            print(f.attrs['format'], f['frames/n_atoms'][:].tolist(), f['atoms/positions'].chunks, f['atoms/positions'].compression)
            """, arguments: [path])
        #expect(h5py.trimmingCharacters(in: .whitespacesAndNewlines) == "scizoo-mlff [3, 3, 3, 3, 3, 2] (4096, 3) gzip", "\(h5py)")
        let foreign = folder.path + "/foreign.h5"
        try HDF5File.writeAtomically(to: foreign) { file in try file.root.write("x", [1.0]) }
        #expect(throws: FileError(file: foreign, message: "not a SciZoo force-field file (no format = \"scizoo-mlff\" attribute); make one with scizoo mlff-convert")) {
            try ForceFieldHDF5.Reader(path: foreign)
        }
    }

    @Test("splits: fixed by the seed, disjoint, sized as asked; index files checked line by line")
    func splits() throws {
        let a = try FrameSplit.random(count: 100, train: 60, validation: 10, test: nil, seed: 3, file: "f")
        let b = try FrameSplit.random(count: 100, train: 60, validation: 10, test: nil, seed: 3, file: "f")
        let c = try FrameSplit.random(count: 100, train: 60, validation: 10, test: 5, seed: 4, file: "f")
        #expect(a == b && a != c)
        #expect(Set(a.train + a.validation + a.test).count == 100 && a.test.count == 30 && c.test.count == 5)
        #expect(throws: FileError(file: "f", message: "100 frames cannot be split into 90 train, 20 validation and the rest test")) {
            try FrameSplit.random(count: 100, train: 90, validation: 20, test: nil, seed: 0, file: "f")
        }
        let path = try Fixtures.scratchDirectory().path + "/index_train_01.csv"
        try "3\n17\n\n4.0\n".write(toFile: path, atomically: true, encoding: .utf8)
        #expect(try FrameSplit.indices(in: path, count: 20) == [3, 17, 4])
        #expect(throws: FileError(file: path, line: 2, message: "expected a frame index in 0..<10, got '17'")) {
            try FrameSplit.indices(in: path, count: 10)
        }
    }

    @Test("bad frames are named: no forces, overlapping atoms")
    func badFrames() throws {
        var frames = try Self.frames()
        frames[2].forces = nil
        frames[3].system.positions[2] = frames[3].system.positions[0]
        let source = FrameList(path: "water.extxyz", frames: frames)
        #expect(throws: FileError(file: "water.extxyz", key: "frame 2", message: "has no reference forces (a forces or REF_forces column)")) {
            try ForceFieldData.checkedReference(frames[2], index: 2, source: source)
        }
        #expect(throws: FileError(file: "water.extxyz", key: "frame 3", message: "atoms 0 and 2 overlap (distance 0)")) {
            try ForceFieldData.pairs(of: frames[3], cutoff: 5, index: 3, source: source)
        }
    }

    @Test("a batch as one graph: each structure's energy and forces as computed alone (molecules and a periodic cell)")
    func batchedGraph() throws {
        var configuration = SchNetConfiguration()
        (configuration.nAtomBasis, configuration.dtype) = (16, .float64)
        let model = SchNet(configuration, seed: 5)
        let frames = try Self.frames(), source = FrameList(path: "memory", frames: frames)
        let structures = try frames.enumerated().map { index, frame in
            (numbers: frame.system.numbers, positions: frame.system.positions,
             pairs: try ForceFieldData.pairs(of: frame, cutoff: model.cutoff, index: index, source: source),
             cell: frame.system.cell.isPeriodic ? Optional(frame.system.cell.vectors) : nil)
        }
        let graph = AtomisticGraph(batch: structures, dtype: .float64)
        let energies = model.energies(graph)
        let forces = try grad(of: energies.sum(), wrt: graph.positions).doubles.map { -$0 }
        var offset = 0
        for (k, frame) in frames.enumerated() {
            var potential = MLPotential(model: model)
            let alone = try potential.evaluate(frame.system)
            #expect(abs(energies.doubles[k] - alone.energy) < 1e-10)
            let mine = Array(forces[(3 * offset)..<(3 * (offset + frame.system.count))])
            #expect(zip(mine, alone.forces.flatMap { [$0.x, $0.y, $0.z] }).allSatisfy { abs($0 - $1) < 1e-10 })
            offset += frame.system.count
        }
    }
}
