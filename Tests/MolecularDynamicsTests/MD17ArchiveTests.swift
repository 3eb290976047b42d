// MD17 and rMD17 archives as NumPy writes them: units converted, shapes checked.
import Foundation
import Testing
import TestSupport
import TensorIO
@testable import MolecularDynamics

@Suite("MD17 archives")
struct MD17ArchiveTests {
    @Test("sGDML's and rMD17's layouts read to eV and eV/Å; mismatched shapes, NaN and other archives are refused by name")
    func layouts() throws {
        let folder = try Fixtures.scratchDirectory()
        _ = try Subprocess.python("""
            import sys, numpy as np
            rng = np.random.default_rng(2)
            z = np.array([6, 6, 8, 1, 1, 1, 1, 1, 1], dtype=np.uint8)
            R = rng.normal(size=(4, 9, 3)); E = rng.normal(size=(4, 1)) - 97000; F = rng.normal(size=(4, 9, 3))
            np.savez(sys.argv[1] + '/md17.npz', z=z, R=R, E=E, F=F, name='ethanol', theory='CCSD(T)')
            np.savez(sys.argv[1] + '/rmd17.npz', nuclear_charges=z.astype(np.int64), coords=R, energies=E[:, 0], forces=F,
                     old_indices=np.arange(4))
            np.savez(sys.argv[1] + '/bad.npz', z=z, R=R, E=E, F=F[:, :8])
            np.savez(sys.argv[1] + '/other.npz', x=z)
            Fnan = F.copy(); Fnan[2, 5, 1] = np.nan
            np.savez(sys.argv[1] + '/nan.npz', z=z, R=R, E=E, F=Fnan)
            np.save(sys.argv[1] + '/expected.npy', np.concatenate([R.ravel(), E.ravel() * 0.04336410390059322, F.ravel() * 0.04336410390059322]))
            """, arguments: [folder.path])
        let expectedBytes = try [UInt8](Data(contentsOf: folder.appendingPathComponent("expected.npy")))
        let expected = try NumpyArray.parse(expectedBytes, file: "expected.npy").tensor().doubles
        for name in ["md17.npz", "rmd17.npz"] {
            let frames = try MD17Archive.read(folder.path + "/" + name)
            #expect(frames.count == 4 && frames.allSatisfy { $0.system.numbers == [6, 6, 8, 1, 1, 1, 1, 1, 1] })
            let positions = frames.flatMap { $0.system.positions.flatMap { [$0.x, $0.y, $0.z] } }
            let energies = frames.map { $0.energy! }
            let forces = frames.flatMap { $0.forces!.flatMap { [$0.x, $0.y, $0.z] } }
            #expect(closeness(positions + energies + forces, expected, Tolerance(rtol: 1e-15, atol: 1e-15)).passed, "\(name)")
        }
        #expect(throws: FileError(file: folder.path + "/bad.npz", key: "array 'F'", message: "shape [4, 8, 3], expected [4, 9, 3] for 4 frames of the 9 atoms in 'z'")) {
            try MD17Archive.read(folder.path + "/bad.npz")
        }
        // NaN in the data names the array, the element and its frame.
        #expect(throws: FileError(file: folder.path + "/nan.npz", key: "array 'F'", message: "element 70 (frame 2) is nan, not a finite number")) {
            try MD17Archive.read(folder.path + "/nan.npz")
        }
        do {
            _ = try MD17Archive.read(folder.path + "/other.npz")
            Issue.record("an archive without MD17's arrays must be refused")
        } catch let error as FileError {
            #expect(error.message.hasPrefix("not an MD17 archive") && error.message.hasSuffix("it has x"), "\(error)")
        }
    }
}
