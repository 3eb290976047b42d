// `scizoo env`: what this machine and build give SciZoo.
import ArgumentParser
import Kernels
import ParallelRuntime
import TensorIO

struct Environment: SciZooCommand {
    static let configuration = CommandConfiguration(
        commandName: "env",
        abstract: "Show cores, the thread budget, and the OpenBLAS, HDF5 and MPI libraries in use.")

    @OptionGroup var threadOptions: ThreadOptions
    var threads: Int? { threadOptions.threads }

    func execute(budget: ThreadBudget) throws {
        #if DEBUG
        let mode = "debug (numerical code runs 25–200× slower; use -c release)"
        #else
        let mode = "release"
        #endif
        print("scizoo \(SciZoo.version) (\(mode) build)")
        print("cores:         \(budget.cores)")
        print("thread budget: \(budget)")
        print("CPU:           \(cpuModelName())")
        print("OpenBLAS:      \(ThreadBudget.blasConfiguration), \(ThreadBudget.blasThreads) thread(s)")
        print("BLAS kernels:  \(BLASSelection.summary)")
        print("HDF5:          \(HDF5Info.libraryVersion)")
        print("MPI:           \(MPIProcess.libraryVersion)")
        if MPIProcess.isLaunchedByMPI {
            let world = try MPIProcess.world()
            print("MPI world:     rank \(world.rank) of \(world.size)")
        } else {
            print("MPI world:     not launched by mpirun (a world of size 1)")
        }
    }
}
