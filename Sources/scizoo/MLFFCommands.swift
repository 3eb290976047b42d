// The force-field commands: mlff-train (a recipe through TrainingRun), mlff-eval (scores and a
// parity plot of a checkpoint on frames), mlff-predict (energies and forces written as extended
// XYZ) and mlff-convert (any frame format into the chunked HDF5 layout).
import ArgumentParser
import Foundation
import Kernels
import MolecularDynamics
import ParallelRuntime
import Recipes

struct MLFFTrain: TrainingCommand {
    static let configuration = CommandConfiguration(
        commandName: "mlff-train",
        abstract: "Train a force field (SchNet, PaiNN, ViSNet) on energies and forces from a recipe (schnetpack's keys).",
        discussion: """
            Outputs in --run-dir: metrics.jsonl, checkpoints/last.h5 and best.h5 (written atomically, with the \
            averaged weights beside them as ema-step*.h5), test_scores.json. Under `mpirun -np N` every step's batch \
            is N × batch_size frames split over the ranks (data parallelism).
            """)

    @Option(help: "Force-field recipe (YAML): data, model, task, trainer.") var config: String
    @Option(help: "Run folder.") var runDir: String = "runs/mlff"
    @OptionGroup var training: TrainingRunOptions

    func execute(budget: ThreadBudget) throws {
        let (world, log) = try training.launch()
        do {
            let settings = try MLFFSettings.load(from: config)
            let groups = try training.processGroups(world: world, configuration: [settings.json, runDir])
            log("thread budget: \(budget)" + (world.map { "; \($0.size) MPI rank(s)" } ?? ""))
            let trainer = MLFFTrainer(settings: settings, runDirectory: runDir, groups: groups, showsProgress: log.isActive, log: { log($0) })
            let summary = try trainer.run(resume: training.resume, stopAtStep: training.stopAtStep, skipNonFinite: training.skipNonFinite,
                                          activationCheckpointing: training.activationCheckpointing)
            log("trained \(summary.steps) steps" + (summary.stoppedEarly ? " (stopped early)" : "")
                + (summary.bestValidation.map { String(format: "; best val/forces_mae %.2f meV/Å", $0 * 1000) } ?? ""))
            log("checkpoint: \(summary.checkpoint)")
            log("metrics:    \(summary.metrics)")
        } catch {
            throw failOnRank("mlff-train", error, world: world)
        }
    }
}

struct MLFFEval: SciZooCommand {
    static let configuration = CommandConfiguration(
        commandName: "mlff-eval",
        abstract: "Score a force-field checkpoint on frames: energy MAE/RMSE per molecule and per atom, force MAE/RMSE over components.")

    @Option(help: "A checkpoint of scizoo mlff-train (best.h5 or last.h5).") var checkpoint: String
    @Option(help: "Frames with reference energies and forces (.extxyz, MD17 .npz, mlff-convert .h5).") var data: String
    @Option(help: "Write the scores as JSON here.") var output: String?
    @Option(help: "Draw a force parity plot (predicted against reference components) as PNG here.") var plot: String?
    @Flag(help: "Use the raw weights, not the averaged (EMA) ones.") var raw = false
    @OptionGroup var threadOptions: ThreadOptions
    var threads: Int? { threadOptions.threads }

    func execute(budget: ThreadBudget) throws {
        let report = try MLFFEvaluation.run(checkpoint: checkpoint, data: data, averaged: !raw, plot: plot, output: output)
        print("\(report.frames) frames of \(data): " + report.scores.summary)
        if let output { print("scores: \(output)") }
        if let plot { print("parity plot: \(plot)") }
    }
}

struct MLFFPredict: SciZooCommand {
    static let configuration = CommandConfiguration(
        commandName: "mlff-predict",
        abstract: "Energies and forces (and stress of periodic frames) of a force field, written as extended XYZ.")

    @Option(help: "A checkpoint of scizoo mlff-train.") var checkpoint: String?
    @Option(help: "schnetpack SchNet/PaiNN or AI2BMD ViSNet weights (a state_dict saved with safetensors.torch.save_file); needs --config.") var weights: String?
    @Option(help: "A recipe whose model section (model, cutoff, n_atom_basis, n_interactions, n_rbf) describes --weights.") var config: String?
    @Option(help: "Frames (.extxyz, MD17 .npz, mlff-convert .h5).") var input: String
    @Option(help: "Output extended XYZ (written atomically).") var output: String
    @OptionGroup var threadOptions: ThreadOptions
    var threads: Int? { threadOptions.threads }

    func validate() throws {
        guard (checkpoint == nil) != (weights == nil) else { throw ValidationError("give --checkpoint or --weights (with --config), one of them") }
        if weights != nil && config == nil { throw ValidationError("--weights needs --config, whose model section describes the architecture") }
    }

    func execute(budget: ThreadBudget) throws {
        let source: MLFFEvaluation.Weights = checkpoint.map { .checkpoint($0) } ?? .schnetpack(weights: weights!, recipe: config!)
        let count = try MLFFEvaluation.predict(source, input: input, output: output)
        print("\(count) frames -> \(output)")
    }
}

struct MLFFConvert: SciZooCommand {
    static let configuration = CommandConfiguration(
        commandName: "mlff-convert",
        abstract: "Convert frames (.extxyz, MD17/rMD17 .npz) into SciZoo's chunked HDF5 force-field layout (Docs/domains/mlff.md).")

    @Option(help: "Input frames.") var input: String
    @Option(help: "Output .h5 (written atomically).") var output: String

    func execute(budget: ThreadBudget) throws {
        let source = try ForceFieldData.open(input)
        try ForceFieldHDF5.convert(source, to: output)
        print("\(source.count) frames -> \(output)")
    }
}
