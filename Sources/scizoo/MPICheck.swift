// `scizoo mpi-check`: proves the ranks of a job can talk (an all-reduce of rank ids).
import ArgumentParser
import ParallelRuntime

struct MPICheck: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mpi-check",
        abstract: "All-reduce the rank ids of every rank and check the sum (run under mpirun).")

    func run() throws {
        let world: MPIProcess
        do { world = try MPIProcess.world() } catch { throw fail("mpi-check", error) }
        let sum = try world.allReduceSum([Int64(world.rank), 1])
        let expected = Int64(world.size * (world.size - 1) / 2)
        guard sum[0] == expected, sum[1] == Int64(world.size) else {
            world.abort("all-reduce of rank ids gave \(sum[0]) over \(sum[1]) ranks; expected \(expected) over \(world.size)")
        }
        try world.barrier()
        if world.rank == 0 {
            print("mpi-check: \(world.size) rank(s); all-reduce of rank ids = \(sum[0]) (expected \(expected)): ok")
        }
    }
}
