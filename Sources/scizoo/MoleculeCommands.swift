// SFM's molecule commands: molecules in (SMILES, CSV, SDF), OGB graph features out.
import ArgumentParser
import Foundation
import Kernels
import MolecularGraphs

struct MolGraphs: SciZooCommand {
    static let configuration = CommandConfiguration(
        commandName: "mol-graphs",
        abstract: "Featurise molecules (.smi, .csv with a 'smiles' column, .sdf/.mol) as ogb.utils.smiles2graph does, into an HDF5 of OGB's arrays (Docs/domains/sfm.md).")

    @Option(help: "Input molecules: .smi, .csv or .sdf/.mol.") var input: String
    @Option(help: "Output .h5 (written atomically).") var output: String
    @Flag(help: "Leave out molecules that cannot be read (each named on stderr, counted) instead of stopping at the first.")
    var skipInvalid = false

    func execute(budget: ThreadBudget) throws {
        var skippedCount = 0
        let entries = try MoleculeInput.read(input, skipInvalid: skipInvalid) { error in
            skippedCount += 1
            FileHandleWriter.write("skipped: \(error)\n")
        }
        guard !entries.isEmpty else { throw ValidationError("\(input): no molecule could be read (\(skippedCount) skipped)") }
        let dataset = MolecularGraphDataset(graphs: entries.map { $0.molecule.ogbGraph() }, records: entries.map { $0.record })
        try dataset.write(to: output, source: URL(fileURLWithPath: input).lastPathComponent)
        let atoms = dataset.graphs.reduce(0) { $0 + $1.nodeCount }
        print("\(entries.count) molecules (\(atoms) atoms) -> \(output)" + (skippedCount > 0 ? "; \(skippedCount) skipped" : ""))
    }
}
