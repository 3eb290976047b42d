import Testing
@testable import Kernels

@Suite("Thread budget")
struct ThreadBudgetTests {
    @Test("a flag beats the environment, which beats cores / local ranks")
    func precedence() {
        let cores = ThreadBudget.onlineCores()
        let derived = ThreadBudget.resolve(environment: [:])
        #expect(derived.threads == cores && derived.source == .derived && derived.localRanks == 1)
        let environment = ThreadBudget.resolve(environment: ["SCIZOO_NUM_THREADS": "3"])
        #expect(environment.threads == 3 && environment.source == .environment)
        let flag = ThreadBudget.resolve(requested: 1, environment: ["SCIZOO_NUM_THREADS": "3"])
        #expect(flag.threads == 1 && flag.source == .commandLine)
        let ignored = ThreadBudget.resolve(environment: ["SCIZOO_NUM_THREADS": "zero"])
        #expect(ignored.source == .derived)
    }

    @Test("under mpirun, ranks on one node share its cores")
    func ranksShareCores() {
        let cores = ThreadBudget.onlineCores()
        let full = ThreadBudget.resolve(environment: ["OMPI_COMM_WORLD_LOCAL_SIZE": "\(cores)"])
        #expect(full.threads == 1)
        let over = ThreadBudget.resolve(environment: ["OMPI_COMM_WORLD_LOCAL_SIZE": "\(cores * 4)"])
        #expect(over.threads == 1)
        #expect(over.localRanks == cores * 4)
    }

    @Test("parallelFor covers every index exactly once, in contiguous chunks")
    func parallelForCoverage() {
        for count in [0, 1, 2, 7, 1000] {
            var hits = [Int](repeating: 0, count: count)
            hits.withUnsafeMutableBufferPointer { buffer in
                let shared = UncheckedSendable(buffer)
                parallelFor(count) { range in
                    for index in range { shared.value[index] += 1 }
                }
            }
            #expect(hits.allSatisfy { $0 == 1 })
        }
    }

    @Test("the Gram matrix through OpenBLAS matches a plain loop")
    func gram() {
        let rows = 7, columns = 5
        let a = (0..<(rows * columns)).map { Float(($0 * 37) % 11) - 5 }
        var c = [Float](repeating: 0, count: columns * columns)
        accumulateGram(a, rows: rows, columns: columns, into: &c)
        for i in 0..<columns {
            for j in 0..<columns {
                var sum: Float = 0
                for r in 0..<rows { sum += a[r * columns + i] * a[r * columns + j] }
                #expect(c[i * columns + j] == sum)
            }
        }
    }
}
