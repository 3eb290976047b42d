// `scizoo protein-metrics`: lDDT, RMSD, GDT, TM-score and dRMSD of a model against a reference.
import ArgumentParser
import Foundation
import Kernels
import ProteinFolding
import TensorCore

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

struct Fold: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fold",
        abstract: "Fold a protein from its FASTA and MSA folder with the AlphaFold 2 monomer network (templates off), on the CPU.",
        discussion: """
            Writes <tag>_<preset>_unrelaxed.pdb (pLDDT in the B-factor column), <tag>_<preset>_confidence.json \
            (per-residue pLDDT; pTM and pAE for _ptm presets) and timings.json into --output. \
            In progress: weight import is not written yet, so only --random-weights runs, and the PDB holds backbone atoms (N, CA, C).
            """)

    @Option(help: "Query FASTA (one record).") var fasta: String
    @Option(help: "Alignment folder (.a3m/.sto; uniprot_hits.sto and hmm_output.sto are skipped).") var alignments: String?
    @Option(help: "AlphaFold parameters (.npz).") var weights: String?
    @Flag(help: "Random weights (smoke runs and benchmarks): nothing learned, any structure is meaningless.") var randomWeights = false
    @Option(help: "Preset: model_1 … model_5, each also _ptm.") var preset: String = "model_1_ptm"
    @Option(help: "Output folder.") var output: String = "fold_output"
    @Option(help: "Seed of the MSA sampling and masking (and of --random-weights).") var seed: UInt64 = 0
    @Option(help: "Chunk size over leading axes of attention, transitions and the outer product mean (default: none).") var chunkSize: Int?
    @Option(help: "Recycling iterations (3 = 4 passes, as upstream).") var recycles: Int = 3
    @OptionGroup var threadOptions: ThreadOptions

    func run() throws {
        do {
            ThreadBudget.install(requested: threadOptions.threads)
            let chosen = try AlphaFoldPreset(preset)
            if weights != nil {
                throw FoldingInputError(file: weights!, line: 0, message: "importing AlphaFold .npz parameters is not implemented yet; use --random-weights for a smoke run")
            }
            guard randomWeights else {
                throw ValidationError("no weights: pass --weights params_\(preset).npz (AlphaFold's parameters), or --random-weights for a smoke run")
            }
            guard recycles >= 0 else { throw ValidationError("--recycles must be 0 or more, got \(recycles)") }
            let query = try AlignmentParsers.query(fastaAt: fasta)
            let raw = try RawFeatures(query: query, queryFile: fasta, alignmentFolder: alignments)
            let tag = query.description.split(separator: " ").first.map(String.init) ?? "query"
            print("fold: \(tag), \(raw.residues) residues, \(raw.rows) MSA rows; preset \(preset), \(recycles + 1) passes, random weights")
            let clock = ContinuousClock(), start = clock.now
            var generator = RandomGenerator(seed: seed)
            let model = AlphaFold(preset: chosen, generator: &generator)
            // With AlphaFold's zero-initialised layers at zero a random network is the identity and puts
            // every residue at the origin.
            model.redrawZeroParameters(std: 0.02, seed: seed &+ 1)
            model.eval()
            let setup = clock.now - start
            let result = model.fold(raw, passes: recycles + 1, seed: seed, chunkSize: chunkSize) { pass, seconds in
                print(String(format: "pass %d/%d: %.1f s", pass + 1, recycles + 1, seconds))
            }
            try FileManager.default.createDirectory(atPath: output, withIntermediateDirectories: true)
            let base = (output as NSString).appendingPathComponent("\(tag)_\(preset)")
            let remarks = ["SciZoo fold, preset \(preset), recycles \(recycles), seed \(seed), RANDOM WEIGHTS",
                           "backbone atoms only (N, CA, C); B-factor column = pLDDT"]
            let pdb = PDBWriter.text(sequence: query.sequence, frames: result.frames, plddt: result.plddt, remarks: remarks)
            try pdb.write(toFile: base + "_unrelaxed.pdb", atomically: true, encoding: .utf8)
            var confidence: [String: Any] = ["plddt": result.plddt, "preset": preset, "residues": raw.residues]
            if let ptm = result.ptm { confidence["ptm"] = ptm }
            if let pae = result.predictedAlignedError { confidence["predicted_aligned_error"] = pae }
            try JSONSerialization.data(withJSONObject: confidence, options: [.sortedKeys, .withoutEscapingSlashes])
                .write(to: URL(fileURLWithPath: base + "_confidence.json"), options: .atomic)
            let timings: [String: Any] = ["setup_seconds": setup.inSeconds,
                                          "pass_seconds": result.passSeconds, "preset": preset]
            try JSONSerialization.data(withJSONObject: timings, options: [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes])
                .write(to: URL(fileURLWithPath: (output as NSString).appendingPathComponent("timings.json")), options: .atomic)
            print(String(format: "wrote %@_unrelaxed.pdb (mean pLDDT %.1f%@), %@_confidence.json, timings.json", base,
                         result.plddt.reduce(0, +) / Double(result.plddt.count), result.ptm.map { String(format: ", pTM %.3f", $0) } ?? "", base))
        } catch {
            throw fail("fold", error)
        }
    }
}

struct BenchFold: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fold",
        abstract: "Seconds and peak memory of a full AlphaFold monomer inference with random weights on a random MSA of the given sizes.")

    @Option(help: "Residues.") var residues: Int = 64
    @Option(help: "MSA cluster centres (rows of the Evoformer MSA).") var msa: Int = 128
    @Option(help: "Extra MSA rows.") var extra: Int = 256
    @Option(help: "Recycling iterations (3 = 4 passes).") var recycles: Int = 3
    @Option(help: "Preset (its max extra rows bound --extra).") var preset: String = "model_3_ptm"
    @Option(help: "Chunk size over leading axes (default: none).") var chunkSize: Int?
    @OptionGroup var threadOptions: ThreadOptions

    func run() throws {
        buildModeWarning()
        let budget = ThreadBudget.install(requested: threadOptions.threads)
        var generator = RandomGenerator(seed: 5)
        // A random alignment: row 0 the query, every row 10 % gaps, a few deletions.
        let rows = msa + extra
        let letters = Array("ACDEFGHIKLMNPQRSTVWY")
        let draws = generator.uniform([rows * residues * 2], dtype: .float64).doubles
        var alignedRows: [String] = [], deletions: [[Int]] = []
        for r in 0..<rows {
            var row = "", counts: [Int] = []
            for i in 0..<residues {
                let u = draws[2 * (r * residues + i)], w = draws[2 * (r * residues + i) + 1]
                row.append(r > 0 && u < 0.1 ? "-" : letters[Int(w * 20) % 20])
                counts.append(r > 0 && u > 0.97 ? 1 : 0)
            }
            alignedRows.append(row)
            deletions.append(counts)
        }
        let query = FastaRecord(description: "bench", sequence: alignedRows[0], line: 1)
        let alignment = MultipleSequenceAlignment(rows: alignedRows, deletions: deletions, descriptions: alignedRows.indices.map { "r\($0)" }, file: "random")
        let raw = try RawFeatures(query: query, queryFile: "random", alignments: [alignment])
        let chosen = try AlphaFoldPreset(preset)
        let model = AlphaFold(preset: chosen, generator: &generator)
        model.redrawZeroParameters(std: 0.02, seed: 6)
        print("thread budget: \(budget)")
        print("AlphaFold \(preset), \(residues) residues, \(msa) MSA clusters, \(Swift.min(extra, chosen.maxExtra)) extra rows, "
              + "\(recycles + 1) passes, chunk size \(chunkSize.map(String.init) ?? "none"), \(model.parameterCount) parameters")
        let clock = ContinuousClock(), start = clock.now
        let result = model.fold(raw, passes: recycles + 1, seed: 1, chunkSize: chunkSize, maxClusters: msa) { pass, seconds in
            print(String(format: "pass %d: %.1f s", pass + 1, seconds))
        }
        let total = clock.now - start
        print(String(format: "total %.1f s (%.2f min); peak RSS %.2f GiB; mean pLDDT %.1f",
                     total.inSeconds, total.inSeconds / 60,
                     Double(peakRSS()) / Double(1 << 30), result.plddt.reduce(0, +) / Double(result.plddt.count)))
    }
}
