// Extended XYZ against files ASE wrote (Fixtures/make_ase_extxyz.py), a round trip through our
// writer, and one clear error line for each kind of bad file.
import Foundation
import Testing
import TestSupport
import TensorIO
@testable import MolecularDynamics

@Suite("Extended XYZ")
struct ExtendedXYZTests {
    static let folder = Fixtures.packageRoot.appendingPathComponent("Tests/MolecularDynamicsTests/Fixtures").path

    static func flat(_ vectors: [SIMD3<Double>]) -> [Double] { vectors.flatMap { [$0.x, $0.y, $0.z] } }

    @Test("frames ASE wrote: a molecule, a periodic triclinic crystal with stress and momenta, MACE's REF_ keys")
    func readsASE() throws {
        let frames = try ExtendedXYZ.read(Self.folder + "/ase_frames.extxyz")
        let expected = try NumpyArchive(contentsOf: Self.folder + "/ase_frames.npz")
        func doubles(_ name: String) throws -> [Double] { try expected.array(name).tensor().doubles }
        #expect(frames.count == 3 && frames.map(\.line) == [1, 12, 16])
        let printed = Tolerance(rtol: 0, atol: 5e-9)  // ASE prints per-atom values with 8 decimals
        for (k, frame) in frames.enumerated() {
            #expect(frame.system.numbers == (try expected.array("numbers\(k)").integers()))
            #expect(closeness(Self.flat(frame.system.positions), try doubles("positions\(k)"), printed).passed, "frame \(k) positions")
            #expect(frame.energy == (try expected.array("energy\(k)").tensor().item()), "frame \(k) energy")
            #expect(closeness(Self.flat(try #require(frame.forces)), try doubles("forces\(k)"), printed).passed, "frame \(k) forces")
        }
        let crystal = frames[1]
        #expect(crystal.system.cell.pbc == [true, true, true])
        #expect(Self.flat(crystal.system.cell.vectors) == (try doubles("cell1")))
        #expect(closeness(Self.flat(crystal.system.momenta), try doubles("momenta1"), printed).passed)
        #expect(closeness(try #require(crystal.stress), try doubles("stress1"), Tolerance(rtol: 1e-15, atol: 0)).passed)
        #expect(frames[0].system.cell.pbc == [false, false, false] && frames[0].stress == nil)
        #expect(frames[2].stress == [0, 0, 0, 0, 0, 0] && frames[2].info["config_type"] == "water")
    }

    @Test("our writer round-trips every value exactly, atomically")
    func roundTrip() throws {
        let frames = try ExtendedXYZ.read(Self.folder + "/ase_frames.extxyz")
        let path = try Fixtures.scratchDirectory().appendingPathComponent("out.extxyz").path
        try ExtendedXYZ.write(frames, to: path)
        let again = try ExtendedXYZ.read(path)
        #expect(again.count == 3)
        for (a, b) in zip(frames, again) {
            #expect(a.system.numbers == b.system.numbers && a.system.positions == b.system.positions && a.system.momenta == b.system.momenta)
            #expect(a.system.cell == b.system.cell && a.energy == b.energy && a.forces == b.forces && a.stress == b.stress && a.info == b.info)
        }
        #expect(!(try FileManager.default.contentsOfDirectory(atPath: URL(fileURLWithPath: path).deletingLastPathComponent().path))
            .contains { $0.contains("tmp") || $0.hasPrefix(".") })
    }

    @Test("bad files: one error naming the file, the line, the frame and what was expected")
    func badFiles() throws {
        let good = "2\nProperties=species:S:1:pos:R:3:forces:R:3 energy=-1.5\nH 0 0 0 1 0 0\nH 0 0 0.74 -1 0 0\n"
        func error(_ text: String) -> String {
            do { _ = try ExtendedXYZ.frames(in: text, file: "f.extxyz"); return "no error" } catch { return "\(error)" }
        }
        #expect(try ExtendedXYZ.frames(in: good, file: "f.extxyz").count == 1)
        #expect(error(good + "3\nenergy=1\nH 0 0 0\n") == "f.extxyz:5: frame 1: the frame declares 3 atoms but the file ends after 1 of them")
        #expect(error("2\nProperties=species:S:1:pos:R:3:forces:R:3\nH 0 0 0 1 0\nH 0 0 1 1 0 0\n")
                == "f.extxyz:3: frame 0: 6 columns, but Properties=species:S:1:pos:R:3:forces:R:3 needs 7")
        #expect(error("1\nenergy=abc\nH 0 0 0\n") == "f.extxyz:2: frame 0, key 'energy': 'abc' is not a finite number")
        #expect(error("1\nenergy=nan\nH 0 0 0\n") == "f.extxyz:2: frame 0, key 'energy': 'nan' is not a finite number")
        #expect(error("1\nProperties=species:S:1:pos:R:3:forces:R:3\nH 0 0 0 1 inf 0\n")
                == "f.extxyz:3: frame 0, column 'forces': 'inf' is not a finite number")
        #expect(error("1\n\nXx 0 0 0\n") == "f.extxyz:3: frame 0, column 'species': 'Xx' is not a chemical symbol")
        #expect(error("two\n\nH 0 0 0\n") == "f.extxyz:1: expected the number of atoms of a frame, got 'two'")
        #expect(error("1\nLattice=\"1 0 0 0 1 0\"\nH 0 0 0\n") == "f.extxyz:2: frame 0, key 'Lattice': needs 9 numbers (three cell vectors), got 6")
        #expect(error("1\nProperties=species:S:1:pos:R:3 note=\"open\nH 0 0 0\n") == "f.extxyz:2: frame 0: the value of 'note' opens a quote it never closes")
        #expect(error("1\n\nH 0 0 x\n") == "f.extxyz:3: frame 0, column 'pos': 'x' is not a finite number")
    }
}
