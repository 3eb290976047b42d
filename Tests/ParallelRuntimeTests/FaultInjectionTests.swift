// The fault a test asks a rank for (the jobs themselves are killed under mpirun by Scripts/expect-rank-failure).
import Testing
@testable import ParallelRuntime

@Suite("Fault injection")
struct FaultInjectionTests {
    @Test("SCIZOO_FAULT's forms: raise, kill, nan or kill-before-best, a rank and a step; anything else is no fault")
    func parse() {
        #expect(FaultInjection.parse("raise:rank=1:step=2") == .init(kind: .raise, rank: 1, step: 2))
        #expect(FaultInjection.parse("nan:rank=0:step=3") == .init(kind: .nan, rank: 0, step: 3))
        #expect(FaultInjection.parse("kill:rank=0:step=40") == .init(kind: .kill, rank: 0, step: 40))
        #expect(FaultInjection.parse("kill-before-best:rank=0:step=12") == .init(kind: .killBeforeBest, rank: 0, step: 12))
        for wrong in ["", "raise", "raise:rank=1", "crash:rank=1:step=2", "raise:step=2:rank=1", "raise:rank=x:step=2"] {
            #expect(FaultInjection.parse(wrong) == nil, "\(wrong)")
        }
        // No SCIZOO_FAULT in the test environment: checking never throws.
        #expect(throws: Never.self) { try FaultInjection.check(step: 2, rank: 1) }
    }
}
