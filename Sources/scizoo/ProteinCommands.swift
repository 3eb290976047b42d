// `scizoo protein-metrics`: lDDT, RMSD, GDT, TM-score and dRMSD of a model against a reference.
import ArgumentParser
import Foundation
import ProteinFolding

struct ProteinMetrics: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "protein-metrics",
        abstract: "Compare a model structure (PDB or mmCIF) with a reference: lDDT-Cα, all-atom lDDT, Cα-RMSD, GDT_TS/HA, TM-score, dRMSD.",
        discussion: """
            Residues pair by number (label_seq_id in mmCIF, resSeq in PDB: the position in the query sequence). \
            Definitions and the superposition search: Docs/domains/openfold.md.
            """)

    @Option(help: "Model structure (.pdb, or .cif/.mmcif).") var model: String
    @Option(help: "Reference structure (.cif/.mmcif, or .pdb).") var reference: String
    @Option(help: "Reference chain (author chain id); needed when the reference has several.") var chain: String?
    @Option(help: "Model chain (default: the only chain, else the reference's chain id).") var modelChain: String?
    @Option(help: "Also write the numbers (and per-residue lDDT-Cα) to this JSON file.") var json: String?

    func run() throws {
        do {
            let referenceStructure = try ProteinStructure.read(reference), modelStructure = try ProteinStructure.read(model)
            let referenceChain = try referenceStructure.chain(chain)
            let modelChainID = modelChain ?? (modelStructure.chains.count == 1 ? nil : referenceChain.id)
            let result = try StructureMetrics.compare(model: try modelStructure.chain(modelChainID), reference: referenceChain)
            print("model     \(model)")
            print("reference \(reference) chain \(referenceChain.id): \(result.pairedResidues) of \(result.referenceResidues) residues paired")
            print(String(format: "lDDT-Cα %.4f  all-atom lDDT %.4f  Cα-RMSD %.3f Å  GDT_TS %.4f  GDT_HA %.4f  TM-score %.4f  dRMSD %.3f Å",
                         result.lddtCA, result.lddtAllAtom, result.rmsdCA, result.gdtTS, result.gdtHA, result.tmScore, result.drmsdCA))
            if let json {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
                try encoder.encode(result).write(to: URL(fileURLWithPath: json), options: .atomic)
                print("wrote \(json)")
            }
        } catch {
            throw fail("protein-metrics", error)
        }
    }
}
