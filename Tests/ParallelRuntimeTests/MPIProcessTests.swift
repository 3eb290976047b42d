import Testing
@testable import ParallelRuntime

@Suite("MPI world")
struct MPIProcessTests {
    @Test("one process without mpirun is a world of size 1 whose all-reduce is the identity")
    func singleton() throws {
        // Inside `mpirun` (Scripts/test runs this binary only outside it) the world would be larger.
        guard !MPIProcess.isLaunchedByMPI else { return }
        let world = try MPIProcess.world()
        #expect(world.size == 1 && world.rank == 0)
        #expect(try world.allReduceSum([Int64(3), -4]) == [3, -4])
        #expect(try world.allReduceSum([0.5]) == [0.5])
        #expect(try MPIProcess.world() === world, "MPI is initialised once")
        #expect(MPIProcess.libraryVersion.contains("MPI"))
    }
}
