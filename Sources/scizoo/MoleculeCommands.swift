// SFM's molecule commands: molecules in (SMILES, CSV, SDF), OGB graph features out.
import ArgumentParser
import Foundation
import Kernels
import MolecularGraphs
import Recipes

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

struct GraphormerTrain: TrainingCommand {
    static let configuration = CommandConfiguration(
        commandName: "graphormer-train",
        abstract: "Train Graphormer on molecules with a target (CSV with smiles, or SDF) from a recipe (fairseq graph_prediction's keys).",
        discussion: """
            Outputs in --run-dir: metrics.jsonl (train/loss, val/mae), checkpoints/last.h5 and best.h5 (written atomically), \
            test_scores.json (test MAE with the best checkpoint and the mean predictor's). Under `mpirun -np N` every step's \
            batch is N × batch_size molecules split over the ranks.
            """)

    @Option(help: "Graphormer recipe (YAML): data, model, task, trainer.") var config: String
    @Option(help: "Run folder.") var runDir: String = "runs/graphormer"
    @OptionGroup var training: TrainingRunOptions

    func execute(budget: ThreadBudget) throws {
        let (world, log) = try training.launch()
        do {
            let settings = try GraphormerSettings.load(from: config)
            let groups = try training.processGroups(world: world, configuration: [settings.json, runDir])
            log("thread budget: \(budget)" + (world.map { "; \($0.size) MPI rank(s)" } ?? ""))
            let trainer = GraphormerTrainer(settings: settings, runDirectory: runDir, groups: groups, showsProgress: log.isActive, log: { log($0) })
            let summary = try trainer.run(resume: training.resume, stopAtStep: training.stopAtStep, skipNonFinite: training.skipNonFinite,
                                          activationCheckpointing: training.activationCheckpointing)
            log("trained \(summary.steps) steps" + (summary.bestValidation.map { String(format: "; best val/mae %.4f", $0) } ?? ""))
            log("checkpoint: \(summary.checkpoint)")
            log("metrics:    \(summary.metrics)")
        } catch {
            throw failOnRank("graphormer-train", error, world: world)
        }
    }
}

struct GraphormerPredict: SciZooCommand {
    static let configuration = CommandConfiguration(
        commandName: "graphormer-predict",
        abstract: "Predict with a Graphormer checkpoint: one row per molecule (input line or record, SMILES or name, prediction) as CSV.")

    @Option(help: "A checkpoint of scizoo graphormer-train (best.h5 or last.h5).") var checkpoint: String
    @Option(help: "Molecules: .smi, .csv with a 'smiles' column, or .sdf.") var input: String
    @Option(help: "Output CSV (written atomically).") var output: String
    @Flag(inversion: .prefixedNo, help: "Give a Transformer-M model the input's 3D coordinates (SD files); without them molecules are seen as graphs.")
    var positions = true
    @OptionGroup var threadOptions: ThreadOptions
    var threads: Int? { threadOptions.threads }

    func execute(budget: ThreadBudget) throws {
        let (settings, model) = try GraphormerCheckpoint.load(checkpoint)
        let entries = try MoleculeInput.read(input)
        var lines = ["record,molecule," + (settings.model.classes == 1 ? "prediction" : (0..<settings.model.classes).map { "logit_\($0)" }.joined(separator: ","))]
        var skipped = 0
        var pending: [(MoleculeEntry, GraphormerItem)] = []
        func flush() {
            guard !pending.isEmpty else { return }
            let structures = positions && settings.model.add3D ? pending.map(\.0.positions) : []
            let values = model(GraphormerBatch(pending.map(\.1), positions: structures, multiHopMaxDist: settings.model.multiHopMaxDist,
                                               spatialPosMax: settings.model.spatialPosMax)).doubles
            for (k, (entry, _)) in pending.enumerated() {
                let row = values[(k * settings.model.classes)..<((k + 1) * settings.model.classes)].map { String(format: "%.6f", $0) }
                lines.append("\(entry.record),\(entry.text.contains(",") ? "\"\(entry.text)\"" : entry.text),\(row.joined(separator: ","))")
            }
            pending.removeAll()
        }
        for entry in entries {
            guard entry.molecule.atoms.count <= settings.maxNodes else {
                skipped += 1
                FileHandleWriter.write("skipped: \(input):\(entry.record): \(entry.molecule.atoms.count) atoms, above max_nodes \(settings.maxNodes)\n")
                continue
            }
            pending.append((entry, GraphormerItem(entry.molecule.ogbGraph(), maxHops: settings.model.multiHopMaxDist)))
            if pending.count == settings.batchSize { flush() }
        }
        flush()
        try (lines.joined(separator: "\n") + "\n").write(toFile: output, atomically: true, encoding: .utf8)
        print("\(lines.count - 1) predictions -> \(output)" + (skipped > 0 ? "; \(skipped) skipped" : ""))
    }
}
