// `scizoo md`: molecular dynamics from a recipe (MDRun).
import ArgumentParser
import Kernels
import Recipes

struct MD: SciZooCommand {
    static let configuration = CommandConfiguration(
        commandName: "md",
        abstract: "Molecular dynamics from a recipe: start structure (extended XYZ), potential, integrator; trajectory and thermodynamic log.")

    @Option(help: "MD recipe (YAML): structure, potential {type: lj, sigma, epsilon, rc, smooth}, integrator verlet|langevin, timestep_fs, steps, temperature_K, friction (1/fs), seed, write_every.")
    var config: String
    @Option(help: "Output folder: trajectory.extxyz and thermo.jsonl.") var output: String = "runs/md"
    @OptionGroup var threadOptions: ThreadOptions
    var threads: Int? { threadOptions.threads }

    func execute(budget: ThreadBudget) throws {
        let settings = try MDSettings.load(from: config)
        let summary = try MDRun.run(settings, output: output)
        print(String(format: "ran %d steps: mean T %.1f K, total energy drift %.3g eV", summary.steps, summary.meanTemperature, summary.energyDrift))
        print("trajectory: \(summary.trajectory) and \(summary.h5md)")
        print("log:        \(summary.log)")
    }
}
