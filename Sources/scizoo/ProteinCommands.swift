// `scizoo protein-metrics`: lDDT, RMSD, GDT, TM-score and dRMSD of a model against a reference.
import ArgumentParser
import Foundation
import Kernels
import ParallelRuntime
import ProteinFolding
import Recipes
import TensorCore

struct ProteinMetrics: SciZooCommand {
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

    func execute(budget: ThreadBudget) throws {
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
    }
}

struct Fold: SciZooCommand {
    static let configuration = CommandConfiguration(
        commandName: "fold",
        abstract: "Fold a protein from its FASTA and MSA folder (and, for model_1/2, templates) with the AlphaFold 2 monomer network, on the CPU.",
        discussion: """
            Writes <tag>_<preset>_unrelaxed.pdb (pLDDT in the B-factor column), <tag>_<preset>_confidence.json \
            (per-residue pLDDT; pTM and pAE for _ptm presets) and timings.json into --output; --cif adds mmCIF. \
            Weights are DeepMind's AlphaFold .npz parameters (--weights); the structure is all-atom, side chains included. \
            Templates (model_1, model_2 and their _ptm forms) are read only with --templates: the hits of every .hhr file in \
            the alignment folder, their structures from <pdb id>.cif files in that folder; without it the fold is template-free \
            and no mmCIF folder is needed.
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
    @Flag(help: "Also write <tag>_<preset>_unrelaxed.cif (mmCIF).") var cif = false
    @Option(help: "Folder of PDB mmCIF files (<pdb id>.cif) for the template hits (.hhr in the alignment folder); model_1/2 only.")
    var templates: String?
    @Option(help: "Templates released after this day (YYYY-MM-DD) are not used (default: today).") var maxTemplateDate: String?
    @Option(help: "Templates kept (upstream's max_templates).") var maxTemplates: Int = 4
    @OptionGroup var threadOptions: ThreadOptions
    var threads: Int? { threadOptions.threads }

    func validate() throws {
        if weights != nil && randomWeights { throw ValidationError("--weights and --random-weights exclude each other") }
        guard weights != nil || randomWeights else {
            throw ValidationError("no weights: pass --weights params_\(preset).npz (AlphaFold's parameters), or --random-weights for a smoke run")
        }
        guard recycles >= 0 else { throw ValidationError("--recycles must be 0 or more, got \(recycles)") }
        if templates != nil {
            guard (try? AlphaFoldPreset(preset))?.usesTemplates ?? true else {
                throw ValidationError("preset \(preset) has no template stack: --templates needs model_1 or model_2 (or their _ptm forms)")
            }
            guard alignments != nil else { throw ValidationError("--templates reads the template hits (.hhr) from --alignments, which is missing") }
            guard maxTemplates >= 1 else { throw ValidationError("--max-templates must be 1 or more, got \(maxTemplates)") }
        } else if maxTemplateDate != nil {
            throw ValidationError("--max-template-date applies only with --templates")
        }
    }

    /// The template features of the query, or none without --templates.
    func templateFeatures(query: String) throws -> (TemplateFeatures, [String]) {
        guard let templates, let alignments else { return (.none, []) }
        let today = ISO8601DateFormatter.string(from: Date(), timeZone: TimeZone(identifier: "UTC")!, formatOptions: [.withFullDate])
        let search = try TemplateSearch(folder: templates, maxDate: maxTemplateDate ?? today, maxHits: maxTemplates)
        let files = try FileManager.default.contentsOfDirectory(atPath: alignments).filter { $0.hasSuffix(".hhr") }.sorted()
        let hits = try files.flatMap { try AlignmentParsers.hhr(at: (alignments as NSString).appendingPathComponent($0)) }
        let found = try search.features(query: query, hits: hits)
        return (found.features, ["\(hits.count) template hits in \(files.joined(separator: ", "))"] + found.warnings)
    }

    func execute(budget: ThreadBudget) throws {
        var chosen = try AlphaFoldPreset(preset)
        chosen.maxTemplates = maxTemplates
        let query = try AlignmentParsers.query(fastaAt: fasta)
        let raw = try RawFeatures(query: query, queryFile: fasta, alignmentFolder: alignments)
        let tag = query.description.split(separator: " ").first.map(String.init) ?? "query"
        print("fold: \(tag), \(raw.residues) residues, \(raw.rows) MSA rows; preset \(preset), \(recycles + 1) passes, "
              + (weights.map { "weights \($0)" } ?? "random weights"))
        var (templateFeatures, notes) = try templateFeatures(query: raw.sequence)
        templateFeatures = templateFeatures.prefix(chosen.maxTemplates)
        for note in notes { print("templates: " + note) }
        if templates != nil {
            print("templates: \(templateFeatures.count) used" + (templateFeatures.count > 0 ? " (\(templateFeatures.names.joined(separator: " ")))" : ""))
        }
        let clock = ContinuousClock(), start = clock.now
        var generator = RandomGenerator(seed: seed)
        let model = AlphaFold(preset: chosen, generator: &generator)
        if let weights {
            try AlphaFoldWeights.load(weights, into: model)
        } else {
            // With AlphaFold's zero-initialised layers at zero a random network is the identity and
            // puts every residue at the origin.
            model.redrawZeroParameters(std: 0.02, seed: seed &+ 1)
        }
        model.eval()
        let setup = clock.now - start
        let result = model.fold(raw, templates: templateFeatures, passes: recycles + 1, seed: seed, chunkSize: chunkSize) { pass, seconds in
            print(String(format: "pass %d/%d: %.1f s", pass + 1, recycles + 1, seconds))
        }
        try FileManager.default.createDirectory(atPath: output, withIntermediateDirectories: true)
        let base = (output as NSString).appendingPathComponent("\(tag)_\(preset)")
        let remarks = ["SciZoo fold, preset \(preset), recycles \(recycles), seed \(seed), "
                       + (weights.map { "weights " + ($0 as NSString).lastPathComponent } ?? "RANDOM WEIGHTS"),
                       "all heavy atoms, unrelaxed; B-factor column = pLDDT",
                       "PARENT " + (templateFeatures.count > 0 ? templateFeatures.names.joined(separator: " ") : "N/A")]
        try StructureWriter.pdb(result, remarks: remarks).write(toFile: base + "_unrelaxed.pdb", atomically: true, encoding: .utf8)
        if cif {
            try StructureWriter.mmCIF(result, name: "\(tag)_\(preset)").write(toFile: base + "_unrelaxed.cif", atomically: true, encoding: .utf8)
        }
        var confidence: [String: Any] = ["plddt": result.plddt, "preset": preset, "residues": raw.residues, "templates": templateFeatures.names]
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
    }
}

struct BenchFold: SciZooCommand {
    static let configuration = CommandConfiguration(
        commandName: "fold",
        abstract: "Seconds and peak memory of a full AlphaFold monomer inference with random weights on a random MSA of the given sizes.")

    @Option(help: "Residues.") var residues: Int = 64
    @Option(help: "MSA cluster centres (rows of the Evoformer MSA).") var msa: Int = 128
    @Option(help: "Extra MSA rows.") var extra: Int = 256
    @Option(help: "Recycling iterations (3 = 4 passes).") var recycles: Int = 3
    @Option(help: "Preset (its max extra rows bound --extra).") var preset: String = "model_3_ptm"
    @Option(help: "Chunk size over leading axes (default: none).") var chunkSize: Int?
    @Option(help: "Evoformer blocks (default: the preset's 48; fewer for a quick profile).") var evoformerBlocks: Int?
    @OptionGroup var threadOptions: ThreadOptions
    var threads: Int? { threadOptions.threads }

    func execute(budget: ThreadBudget) throws {
        printBenchHeader(budget)
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
        var chosen = try AlphaFoldPreset(preset)
        if let evoformerBlocks { chosen.evoformerBlocks = evoformerBlocks }
        let model = AlphaFold(preset: chosen, generator: &generator)
        model.redrawZeroParameters(std: 0.02, seed: 6)
        let evoformerTimes = StepTimes(), extraTimes = StepTimes()
        for block in model.evoformer { block.stepTimes = evoformerTimes }
        for block in model.extraMSAStack { block.stepTimes = extraTimes }
        print("thread budget: \(budget)")
        print("AlphaFold \(preset), \(residues) residues, \(msa) MSA clusters, \(Swift.min(extra, chosen.maxExtra)) extra rows, "
              + "\(recycles + 1) passes, chunk size \(chunkSize.map(String.init) ?? "none"), \(model.parameterCount) parameters")
        let clock = ContinuousClock(), start = clock.now
        let tensors = MemoryScope()
        let result = tensors.measure {
            model.fold(raw, passes: recycles + 1, seed: 1, chunkSize: chunkSize, maxClusters: msa) { pass, seconds in
                print(String(format: "pass %d: %.1f s", pass + 1, seconds))
            }
        }
        let total = clock.now - start, gib = Double(1 << 30)
        print(String(format: "total %.1f s (%.2f min); peak RSS %.2f GiB (weights %.2f GiB, activations at most %.2f GiB); mean pLDDT %.1f",
                     total.inSeconds, total.inSeconds / 60, Double(peakRSS()) / gib, Double(model.parameterCount * 4) / gib,
                     Double(tensors.peakBytes) / gib, result.plddt.reduce(0, +) / Double(result.plddt.count)))
        print("pool \(BufferPool.statistics)")
        // Per step type: seconds over all passes and blocks, and the GEMM/attention FLOPs they did.
        let passes = Double(recycles + 1)
        let stacks: [(String, StepTimes, EvoformerWidths, Int, Int, Bool)] = [
            ("extra MSA", extraTimes, .extraMSA, Swift.min(extra, chosen.maxExtra), chosen.extraBlocks, true),
            ("Evoformer", evoformerTimes, .evoformer, msa, chosen.evoformerBlocks, false),
        ]
        print("stack       step                      seconds   TFLOP   GFLOP/s  peak tensors (GiB)")
        for (name, times, widths, rows, blocks, global) in stacks {
            let flops = widths.forwardFLOPs(rows: rows, residues: residues, globalColumnAttention: global)
            for step in times.steps {
                let seconds = times.seconds[step]!, work = flops[step, default: 0] * Double(blocks) * passes
                print(name.padding(toLength: 12, withPad: " ", startingAt: 0) + step.padding(toLength: 24, withPad: " ", startingAt: 0)
                      + String(format: "%9.1f %7.2f %9.1f %8.2f", seconds, work / 1e12, work / seconds / 1e9,
                               Double(times.peakBytes[step] ?? 0) / Double(1 << 30)))
            }
        }
    }
}

struct FoldFineTuneCommand: SciZooCommand {
    static let configuration = CommandConfiguration(
        commandName: "fold-finetune",
        abstract: "Smoke fine-tuning of AlphaFold on one query with its true structure: the training losses per step and how many parameters the gradient reaches.")

    @Option(help: "Query FASTA (one record).") var fasta: String
    @Option(help: "Alignment folder (.a3m/.sto).") var alignments: String?
    @Option(help: "The true structure (mmCIF or PDB); residues are placed by label_seq_id.") var structure: String
    @Option(help: "Chain of the true structure.") var chain: String = "A"
    @Option(help: "AlphaFold parameters (.npz) to start from.") var weights: String?
    @Flag(help: "Start from random weights.") var randomWeights = false
    @Option(help: "Preset.") var preset: String = "model_1_ptm"
    @Option(help: "Evoformer blocks (default: the preset's 48).") var evoformerBlocks: Int?
    @Option(help: "Training steps.") var steps: Int = 3
    @Option(help: "Crop size (contiguous residues).") var crop: Int = 32
    @Option(help: "MSA cluster centres per sample.") var clusters: Int = 16
    @Option(help: "Extra MSA rows per sample.") var extra: Int = 32
    @Option(help: "Recycling passes before the one with gradients.") var recycles: Int = 0
    @Option(help: "Adam learning rate (after the warm-up).") var learningRate: Double = 1e-3
    @Option(help: "Linear warm-up steps (upstream: 1,000).") var warmupSteps: Int = 1_000
    @Option(help: "Seed of weights (with --random-weights), crops and sampling.") var seed: UInt64 = 0
    @Option(help: "Run folder: metrics.jsonl (one line per step) and checkpoints/.") var runDir: String = "runs/fold-finetune"
    @Flag(help: "Continue from the run folder's last checkpoint.") var resume = false
    @Option(help: "Stop after this step with a checkpoint to --resume from.") var stopAtStep: Int?
    @Flag(help: "A step whose loss or gradients are not finite passes without an update (logged, and marked in metrics.jsonl) instead of stopping the run.")
    var skipNonFinite = false
    @Flag(help: "Keep only each Evoformer block's inputs and run the block again in the backward pass (OpenFold's blocks_per_ckpt 1): the same gradients in less memory.")
    var activationCheckpointing = false
    @Option(help: "Write the tuned parameters here as an AlphaFold .npz.") var saveWeights: String?
    @OptionGroup var threadOptions: ThreadOptions
    var threads: Int? { threadOptions.threads }

    func validate() throws {
        if weights != nil && randomWeights { throw ValidationError("--weights and --random-weights exclude each other") }
        guard weights != nil || randomWeights else { throw ValidationError("no weights: pass --weights params.npz or --random-weights") }
        guard steps > 0, crop > 0, clusters > 0, extra >= 0, recycles >= 0 else {
            throw ValidationError("--steps, --crop and --clusters must be positive, --extra and --recycles not negative")
        }
        if let stopAtStep, !(1...steps).contains(stopAtStep) { throw ValidationError("--stop-at-step must be within 1…\(steps), got \(stopAtStep)") }
    }

    func execute(budget: ThreadBudget) throws {
        // One target and one crop a step leave nothing to split over ranks, and copies of the run would append to one run folder.
        if MPIProcess.isLaunchedByMPI, case let size = try MPICommunicator.world().size, size > 1 {
            throw ValidationError("fold-finetune trains one target in one process; run it without mpirun or with -np 1 (got \(size) ranks)")
        }
        var chosen = try AlphaFoldPreset(preset)
        if let evoformerBlocks { chosen.evoformerBlocks = evoformerBlocks }
        let query = try AlignmentParsers.query(fastaAt: fasta)
        let raw = try RawFeatures(query: query, queryFile: fasta, alignmentFolder: alignments)
        let target = try FoldingTarget(chain: try ProteinStructure.read(structure).chain(chain), sequence: query.sequence, file: structure)
        var generator = RandomGenerator(seed: seed)
        let model = AlphaFold(preset: chosen, generator: &generator)
        if let weights { try AlphaFoldWeights.load(weights, into: model) } else { model.redrawZeroParameters(std: 0.02, seed: seed &+ 1) }
        var settings = FoldFineTuneSettings()
        (settings.steps, settings.crop, settings.maxClusters, settings.maxExtra) = (steps, crop, clusters, extra)
        (settings.recycles, settings.learningRate, settings.warmupSteps, settings.seed) = (recycles, learningRate, warmupSteps, seed)
        print("fold-finetune: preset \(preset) (\(chosen.evoformerBlocks) Evoformer blocks)")
        let task = FoldFineTuneTask(model: model, raw: raw, target: target, settings: settings, runDirectory: runDir)
        let outcome = try TrainingRun(task: task, runDirectory: runDir).run(resume: resume, stopAtStep: stopAtStep, skipNonFinite: skipNonFinite,
                                                                             activationCheckpointing: activationCheckpointing)
        print("trained \(outcome.steps) steps; metrics: \(outcome.metrics); checkpoint: \(outcome.lastCheckpoint)")
        print(String(format: "peak tensor memory %.3f GiB (weights, Adam states, activations); process peak RSS %.3f GiB",
                     Double(TensorMemory.peakBytes) / Double(1 << 30), Double(peakRSS()) / Double(1 << 30)))
        model.eval()
        if let saveWeights {
            try AlphaFoldWeights.save(model, to: saveWeights)
            print("wrote \(saveWeights)")
        }
    }
}
