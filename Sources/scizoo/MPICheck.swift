// `scizoo mpi-check`: proves the ranks of a job can talk (an all-reduce of rank ids).
import ArgumentParser
import Foundation
import Kernels
import ParallelRuntime

struct MPICheck: SciZooCommand {
    static var startsMPI: MPIStart { .always }
    static let configuration = CommandConfiguration(
        commandName: "mpi-check",
        abstract: "All-reduce the rank ids of every rank and check the sum (run under mpirun).")

    @Option(help: "Make this rank fail before a collective (shows that a failing rank brings the job down).")
    var failRank: Int?
    @Option(help: "Folder for the ZeRO check's NVMe swap files (default: a temporary folder).")
    var nvmePath: String?

    func execute(budget: ThreadBudget) throws {
        let world = try MPIProcess.world()
        if let failRank, failRank == world.rank {
            // The other ranks are about to wait in an all-reduce: abort the job instead of leaving them there.
            world.abort("failing on purpose (--fail-rank \(failRank)); the job stops")
        }
        let communicator = try MPICommunicator.world()
        let sum = try communicator.allReduce([Int64(world.rank), 1], .sum)
        let expected = Int64(world.size * (world.size - 1) / 2)
        guard sum[0] == expected, sum[1] == Int64(world.size) else {
            world.abort("all-reduce of rank ids gave \(sum[0]) over \(sum[1]) ranks; expected \(expected) over \(world.size)")
        }
        try communicator.barrier()
        if world.rank == 0 {
            print("mpi-check: \(world.size) rank(s); all-reduce of rank ids = \(sum[0]) (expected \(expected)): ok")
        }
        // Every collective of the Communicator protocol, with known answers.
        let failures = try CommunicatorCheck.run(communicator)
        let failed = try communicator.allReduce([Int64(failures.count)], .sum)[0]
        for failure in failures { FileHandleWriter.write("mpi-check: \(failure)\n") }
        if failed > 0 { world.abort("\(failed) collective check(s) failed") }
        let ulysses = try UlyssesCheck.run(communicator)
        for failure in ulysses { FileHandleWriter.write("mpi-check: \(failure)\n") }
        if try communicator.allReduce([Int64(ulysses.count)], .sum)[0] > 0 { world.abort("Ulysses attention differs from single-process attention") }
        if world.rank == 0 {
            print("mpi-check: Ulysses attention (B 1 and 3, both layouts, H and S not divisible by P, GQA; float64 ≤ 1e-12, float32 ≤ 1e-5) "
                  + "equals single-process attention, output and q/k/v gradients; EvoformerAttention with its residues split "
                  + "(L and H not divisible by P) equals one process, output, q/k/v and mask- and pair-bias gradients: ok")
        }
        let training = try DataParallelCheck.run(communicator) + DataParallelCheck.sequenceParallelLoss(communicator)
        for failure in training { FileHandleWriter.write("mpi-check: \(failure)\n") }
        if try communicator.allReduce([Int64(training.count)], .sum)[0] > 0 { world.abort("data-parallel training or the sequence-parallel loss differs from one process") }
        if world.rank == 0 {
            print("mpi-check: 20 data-parallel Adam steps equal one process on the combined batch (float64 ≤ 1e-12); "
                  + "the sequence-parallel cross-entropy equals the whole-sequence loss and gradient: ok")
        }
        let folder = nvmePath ?? FileManager.default.temporaryDirectory.appendingPathComponent("scizoo-mpi-check-zero").path
        let zero = try ZeROCheck.run(communicator, nvmePath: folder)
        for failure in zero.failures { FileHandleWriter.write("mpi-check: \(failure)\n") }
        if try communicator.allReduce([Int64(zero.failures.count)], .sum)[0] > 0 { world.abort("ZeRO differs from plain data parallelism") }
        if world.rank == 0 {
            print("mpi-check: 20 AdamW steps with ZeRO equal plain data parallelism (float32 ≤ 1e-6): " + zero.lines.joined(separator: "; "))
        }
        if world.rank == 0 {
            print("mpi-check: barrier, broadcast, allReduce (sum/max/min; Float, Double, Int32, Int64), allGather(v), "
                  + "reduceScatter, allToAll(v) with uneven and empty blocks, send/receive ring, split, and the non-blocking forms (Ibarrier, Ibcast, Iallreduce, Iallgather, Ireduce_scatter_block, Ialltoall, Isend/Irecv): ok")
        }
    }
}
