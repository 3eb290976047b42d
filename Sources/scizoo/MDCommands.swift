// `scizoo md`: molecular dynamics from a recipe (MDRun); under `mpirun -np N` (N > 1), velocity
// Verlet by spatial decomposition (DistributedMD).
import ArgumentParser
import Kernels
import ParallelRuntime
import Recipes

struct MD: SciZooCommand {
    static let configuration = CommandConfiguration(
        commandName: "md",
        abstract: "Molecular dynamics from a recipe: start structure (extended XYZ), potential, integrator; trajectory and thermodynamic log.",
        discussion: """
            Under `mpirun -np N` a periodic system runs velocity Verlet by spatial decomposition: slabs along the first \
            cell vector, ghost atoms within the model's receptive field, forces returned from ghosts to their owners; \
            rank 0 writes trajectory.extxyz and thermo.jsonl.
            """)

    @Option(help: "MD recipe (YAML): structure, potential {type: lj (sigma, epsilon, rc, smooth) | model (checkpoint, skin)}, dtype, integrator verlet|langevin|nose-hoover|berendsen, timestep_fs, steps, temperature_K, friction (1/fs), taut_fs, tdamp_fs, tchain, tloop, seed, write_every, restart_every (Docs/domains/mlff.md).")
    var config: String
    @Option(help: "Output folder: trajectory.extxyz, trajectory.h5md, thermo.jsonl, restart.h5.") var output: String = "runs/md"
    @Flag(help: "Continue from the output folder's restart.h5 (bit for bit).") var resume = false
    @Option(help: "Stop after this step, leaving restart.h5 to --resume from.") var stopAtStep: Int?
    @Flag(help: "Run the spatial-decomposition engine even on one rank (the baseline of a weak-scaling measurement).") var spatialDecomposition = false
    @OptionGroup var threadOptions: ThreadOptions
    var threads: Int? { threadOptions.threads }
    static var startsMPI: MPIStart { .underMPIRun }

    func execute(budget: ThreadBudget) throws {
        let settings = try MDSettings.load(from: config)
        let world: (any Communicator)? = MPIProcess.isLaunchedByMPI ? try? MPICommunicator.world() : (spatialDecomposition ? InProcessWorld.single() : nil)
        if let world, world.size > 1 || spatialDecomposition {
            do {
                let log = RankLog(rank: world.rank, size: world.size, allRanks: false)
                let summary = try DistributedMD.run(settings, output: output, world: world, resume: resume, stopAtStep: stopAtStep, log: { log($0) })
                log(String(format: "ran %d steps on %d ranks: %.4f s/step, total energy drift %.3g eV; %d ghosts on rank 0",
                           summary.steps, world.size, summary.secondsPerStep, summary.energyDrift, summary.ghostsPerRank))
            } catch {
                throw failOnRank("md", error, world: world)
            }
            return
        }
        let summary = try MDRun.run(settings, output: output, resume: resume, stopAtStep: stopAtStep)
        print(String(format: "ran %d steps: mean T %.1f K, total energy drift %.3g eV", summary.steps, summary.meanTemperature, summary.energyDrift))
        print("trajectory: \(summary.trajectory) and \(summary.h5md)")
        print("log:        \(summary.log)")
    }
}
