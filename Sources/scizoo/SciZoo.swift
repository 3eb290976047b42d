// The `scizoo` command: recipes, tools and benchmarks of the SciZoo package.
import ArgumentParser
import Kernels
import ParallelRuntime

@main
struct SciZoo: ParsableCommand {
    static let version = "0.1.0"

    static let configuration = CommandConfiguration(
        commandName: "scizoo",
        abstract: "Scientific models on one shared parallel runtime (OpenBLAS, HDF5, OpenMPI).",
        discussion: """
            Run alone or under `mpirun -np N scizoo …`. Every command that computes takes \
            --threads; otherwise SCIZOO_NUM_THREADS, else cores / ranks on this node.
            """,
        version: version,
        subcommands: [GenSLMTrain.self, GenSLMGenerate.self, GenSLMEmbed.self, GenSLMExport.self, GenSLMSynthesize.self, FastaToH5.self, FindGenes.self,
                      CheckpointCommand.self, Fold.self, FoldFineTuneCommand.self, ClimateSynth.self, ClimateBenchSynth.self, ClimateBaselines.self, ClimaXFinetune.self, ClimaXProject.self, ClimaXForecast.self, ClimateConvertCommand.self, ProteinMetrics.self, MD.self, MLFFTrain.self, MLFFEval.self, MLFFPredict.self, MLFFConvert.self, MolGraphs.self, GraphormerTrain.self, GraphormerPredict.self, DiGTrain.self, DiGSample.self, Inspect.self, Fuzz.self, Environment.self, MPICheck.self, Demo.self, Bench.self])
}

/// Thread-budget flag shared by the commands that compute.
struct ThreadOptions: ParsableArguments {
    @Option(name: .long, help: "Threads for OpenBLAS and SciZoo's loops (default: SCIZOO_NUM_THREADS, else cores / local ranks).")
    var threads: Int?

    func validate() throws {
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1, got \(threads)") }
    }
}

/// What every scizoo subcommand shares: the thread budget is installed before its work, argument
/// checks live in `validate()` (ArgumentParser prints them with the usage line), and any other
/// error from the work is one line naming the command (`scizoo fold: error: q.fasta:3: …`).
protocol SciZooCommand: ParsableCommand {
    /// The threads asked for (--threads); nil: SCIZOO_NUM_THREADS, else cores / ranks on the node.
    var threads: Int? { get }
    /// The name in error lines (the command's own, or its path for nested commands).
    static var errorName: String { get }
    /// Whether MPI starts before the work (and before any BLAS call, see MPIProcess.world): never,
    /// when launched by mpirun, or always (a world of one without mpirun).
    static var startsMPI: MPIStart { get }
    /// The command's work, with the budget in force.
    func execute(budget: ThreadBudget) throws
}

extension SciZooCommand {
    var threads: Int? { nil }
    static var errorName: String { _commandName }
    static var startsMPI: MPIStart { .never }

    func run() throws {
        do {
            switch Self.startsMPI {
            case .never: break
            case .underMPIRun: if MPIProcess.isLaunchedByMPI { _ = try MPIProcess.world() }
            case .always: _ = try MPIProcess.world()
            }
            try execute(budget: ThreadBudget.install(requested: threads))
        } catch let error as ExitCode {
            throw error  // already reported (failOnRank under mpirun)
        } catch let error as ValidationError {
            throw error  // a usage error: ArgumentParser prints it with the usage line
        } catch {
            throw fail(Self.errorName, error)
        }
    }
}

enum MPIStart { case never, underMPIRun, always }

/// A command that trains from a recipe: MPI starts under mpirun, the budget follows --threads.
protocol TrainingCommand: SciZooCommand {
    var training: TrainingRunOptions { get }
}

extension TrainingCommand {
    var threads: Int? { training.threadOptions.threads }
    static var startsMPI: MPIStart { .underMPIRun }
}

/// The flags of the commands that train (genslm-train, climax-finetune).
struct TrainingRunOptions: ParsableArguments {
    @Flag(help: "Continue from the run folder's last checkpoint when there is one.") var resume = false
    @Option(help: "Stop after this step, leaving a checkpoint to --resume from (a job with a wall-time limit).") var stopAtStep: Int?
    @Flag(help: "A step whose loss or gradients are not finite passes without an update (logged, and marked in metrics.jsonl) instead of stopping the run; 20 in a row still stop it.")
    var skipNonFinite = false
    @Flag(help: "Keep only each block's inputs and run the block again in the backward pass (DeepSpeed's activation checkpointing): the same gradients in less memory, about one more forward pass of time.")
    var activationCheckpointing = false
    @Flag(help: "Every rank logs (lines prefixed with the rank); by default only rank 0 does.") var logAllRanks = false
    @OptionGroup var threadOptions: ThreadOptions

    func validate() throws {
        if let stopAtStep, stopAtStep < 1 { throw ValidationError("--stop-at-step must be at least 1, got \(stopAtStep)") }
    }

    /// Under mpirun, the process groups, once every rank has read the same recipe and flags
    /// (`configuration`, with --resume added); nil without mpirun.
    func processGroups(world: MPICommunicator?, configuration: [String], sequenceParallelSize: Int? = nil,
                       dataParallelSize: Int? = nil) throws -> ProcessGroups? {
        guard let world else { return nil }
        try LaunchCheck.requireSameConfiguration((configuration + ["resume=\(resume)"]).joined(separator: "\n"), over: world,
                                                 describing: "recipe or command line")
        return try ProcessGroups(world: world, sequenceParallelSize: sequenceParallelSize, dataParallelSize: dataParallelSize)
    }

    /// The MPI world under mpirun (nil without it) and this rank's log.
    func launch() throws -> (world: MPICommunicator?, log: RankLog) {
        let world = MPIProcess.isLaunchedByMPI ? try MPICommunicator.world() : nil
        return (world, RankLog(rank: world?.rank ?? 0, size: world?.size ?? 1, allRanks: logAllRanks))
    }
}

/// Prints one error line naming the command and exits non-zero: the contract for data errors.
func fail(_ command: String, _ error: any Error) -> ExitCode {
    let text = String(describing: error).split(whereSeparator: \.isNewline).joined(separator: " ")
    // One write per line, so lines from several ranks do not interleave.
    FileHandleWriter.write("scizoo \(command): error: \(text)\n")
    return ExitCode.failure
}

/// `fail` for a command that may run under mpirun. Errors every rank found together (a
/// configuration mismatch, a bad layout) end every rank alike; any other error may be this rank's
/// alone while the others wait in a collective, so the job is aborted.
func failOnRank(_ command: String, _ error: any Error, world: (any Communicator)?) -> ExitCode {
    let collective = error is LaunchError || error is ParallelLayoutError
    if let world, world.size > 1, !collective {
        _ = fail(command, error)
        (try? MPIProcess.world())?.abort("\(command) failed on this rank; stopping the job")
    }
    return fail(command, error)
}
