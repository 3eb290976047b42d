import Foundation
import Testing
import TestSupport
import TensorCore
@testable import TensorIO

@Suite("NumPy .npy/.npz")
struct NumpyArchiveTests {
    @Test("arrays written here read back, and NumPy reads them with the same values")
    func roundTripAndNumpyReads() throws {
        let path = try Fixtures.scratchDirectory().appendingPathComponent("arrays.npz").path
        let floats = Tensor([Float](arrayLiteral: 1.5, -2, 3.25, 0, 7, 8), shape: [2, 3])
        let ints = Tensor([Int32](arrayLiteral: 4, -5, 6), shape: [3])
        let doubles = Tensor([Double](arrayLiteral: 0.1), shape: [])
        let flags = Tensor([true, false, true, true], shape: [2, 2])
        try NumpyArchive.write([("w/kernel", NumpyArray(floats)), ("idx", NumpyArray(ints)), ("scalar", NumpyArray(doubles)),
                                ("mask", NumpyArray(flags))], to: path)
        let archive = try NumpyArchive(contentsOf: path)
        #expect(archive.names == ["w/kernel", "idx", "scalar", "mask"])
        #expect(try archive.array("w/kernel").tensor().scalars(as: Float.self) == floats.scalars(as: Float.self))
        #expect(try archive.array("w/kernel").shape == [2, 3])
        #expect(try archive.array("idx").integers() == [4, -5, 6])
        #expect(try archive.array("scalar").shape == [] && archive.array("scalar").tensor().doubles == [0.1])
        #expect(try archive.array("mask").tensor().scalars(as: Bool.self) == [true, false, true, true])
        let printed = try Subprocess.python("""
        import numpy as np, sys
        z = np.load(sys.argv[1])
        print(z['w/kernel'].dtype, z['w/kernel'].shape, z['w/kernel'].tolist(), z['idx'].tolist(), float(z['scalar']), z['mask'].tolist())
        """, arguments: [path])
        #expect(printed.trimmingCharacters(in: .whitespacesAndNewlines)
                == "float32 (2, 3) [[1.5, -2.0, 3.25], [0.0, 7.0, 8.0]] [4, -5, 6] 0.1 [[True, False], [True, True]]")
    }

    @Test("np.savez and np.savez_compressed archives read here; a bad member or file is named")
    func numpyWrites() throws {
        let scratch = try Fixtures.scratchDirectory()
        let stored = scratch.appendingPathComponent("stored.npz").path, compressed = scratch.appendingPathComponent("compressed.npz").path
        _ = try Subprocess.python("""
        import numpy as np, sys
        a = np.arange(12, dtype=np.float64).reshape(3, 4) / 8
        b = np.array([[1, 2], [3, 4]], dtype=np.int64)
        c = np.arange(1000, dtype=np.int16) % 7
        np.savez(sys.argv[1], a=a, b=b, c=c)
        np.savez_compressed(sys.argv[2], a=a, b=b, c=c)
        """, arguments: [stored, compressed])
        for path in [stored, compressed] {
            let archive = try NumpyArchive(contentsOf: path)
            #expect(Set(archive.names) == ["a", "b", "c"])
            #expect(try archive.array("a").tensor().doubles == (0..<12).map { Double($0) / 8 })
            #expect(try archive.array("b").shape == [2, 2] && archive.array("b").integers() == [1, 2, 3, 4])
            #expect(try archive.array("c").integers() == (0..<1000).map { $0 % 7 })
        }
        let missing = try #require(throws: FileError.self) { try NumpyArchive(contentsOf: stored).array("d") }
        #expect(missing.description.contains("no array 'd'") && missing.file == stored)
        let text = scratch.appendingPathComponent("text.npz").path
        try "not a zip".write(toFile: text, atomically: true, encoding: .utf8)
        let notZip = try #require(throws: FileError.self) { try NumpyArchive(contentsOf: text) }
        #expect(notZip.file == text && notZip.message.contains("not a zip archive"))
    }
}
