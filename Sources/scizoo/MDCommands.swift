// `scizoo md`: molecular dynamics from a recipe (MDRun).
import ArgumentParser
import Kernels
import Recipes

struct MD: SciZooCommand {
    static let configuration = CommandConfiguration(
        commandName: "md",
        abstract: "Molecular dynamics from a recipe: start structure (extended XYZ), potential, integrator; trajectory and thermodynamic log.")

    @Option(help: "MD recipe (YAML): structure, potential {type: lj (sigma, epsilon, rc, smooth) | model (checkpoint, skin)}, dtype, integrator verlet|langevin|nose-hoover|berendsen, timestep_fs, steps, temperature_K, friction (1/fs), taut_fs, tdamp_fs, tchain, tloop, seed, write_every, restart_every (Docs/domains/mlff.md).")
    var config: String
    @Option(help: "Output folder: trajectory.extxyz, trajectory.h5md, thermo.jsonl, restart.h5.") var output: String = "runs/md"
    @Flag(help: "Continue from the output folder's restart.h5 (bit for bit).") var resume = false
    @Option(help: "Stop after this step, leaving restart.h5 to --resume from.") var stopAtStep: Int?
    @OptionGroup var threadOptions: ThreadOptions
    var threads: Int? { threadOptions.threads }

    func execute(budget: ThreadBudget) throws {
        let settings = try MDSettings.load(from: config)
        let summary = try MDRun.run(settings, output: output, resume: resume, stopAtStep: stopAtStep)
        print(String(format: "ran %d steps: mean T %.1f K, total energy drift %.3g eV", summary.steps, summary.meanTemperature, summary.energyDrift))
        print("trajectory: \(summary.trajectory) and \(summary.h5md)")
        print("log:        \(summary.log)")
    }
}
