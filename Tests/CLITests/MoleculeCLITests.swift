// `scizoo mol-graphs` as a user runs it: a malformed line stops the run with one line naming the file,
// line and character and leaves no output behind; --skip-invalid names and counts it; the output
// reads back as the graphs of the readable molecules.
import Foundation
import Testing
import TestSupport
import TensorIO

@Suite("scizoo mol-graphs")
struct MoleculeCLITests {
    @Test func featurisesAndRefusesBadLines() throws {
        let folder = try Fixtures.scratchDirectory().path
        let input = folder + "/mols.smi", output = folder + "/graphs.h5"
        try "c1ccccc1O phenol\nCC(=O)Nc1ccc(O)cc1 paracetamol\n\nC1CC broken\n".write(toFile: input, atomically: true, encoding: .utf8)
        let refused = try CLI.run(["mol-graphs", "--input", input, "--output", output])
        #expect(refused.status != 0)
        #expect(refused.standardError.contains("\(input):4:2: ring bond 1 is opened and never closed"), "\(refused.standardError)")
        #expect(!FileManager.default.fileExists(atPath: output))
        let skipped = try CLI.run(["mol-graphs", "--input", input, "--output", output, "--skip-invalid"])
        #expect(skipped.status == 0, "\(skipped.standardError)")
        #expect(skipped.standardOutput.contains("2 molecules (18 atoms)") && skipped.standardOutput.contains("1 skipped"), "\(skipped.standardOutput)")
        #expect(skipped.standardError.contains("skipped: \(input):4:2:"))
        let file = try HDF5File(path: output)
        #expect(try file.root.dataset("record").read(as: Int64.self) == [1, 2])
        #expect(try file.root.dataset("num_nodes").read(as: Int64.self) == [7, 11])
        #expect(try file.root.dataset("edge_index").shape == [2, 2 * (7 + 11)])
        let empty = folder + "/empty.smi"
        try "\n".write(toFile: empty, atomically: true, encoding: .utf8)
        let none = try CLI.run(["mol-graphs", "--input", empty, "--output", output + "2"])
        #expect(none.status != 0 && none.standardError.contains("no molecules"), "\(none.standardError)")
    }
}
