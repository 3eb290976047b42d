// A fault a test asks one rank for, so that every distributed command's handling of a failed or
// dead rank can be checked under mpirun (Scripts/expect-rank-failure): SCIZOO_FAULT="raise:rank=R:step=S"
// makes rank R throw when it completes step S (an error the command reports and turns into an
// aborted job), "kill:rank=R:step=S" makes it SIGKILL itself there (a crash). Unset: nothing happens.
import Foundation

#if canImport(Glibc)
import Glibc
#endif

public enum FaultInjection {
    public struct InjectedFault: Error, CustomStringConvertible {
        public let step: Int
        public var description: String { "injected fault at step \(step) (SCIZOO_FAULT)" }
    }

    struct Plan: Equatable {
        var kill: Bool, rank: Int, step: Int
    }

    static let plan: Plan? = ProcessInfo.processInfo.environment["SCIZOO_FAULT"].flatMap(parse)

    /// "raise|kill:rank=R:step=S"; nil for anything else (a test asking wrongly finds no fault).
    static func parse(_ text: String) -> Plan? {
        let parts = text.split(separator: ":").map(String.init)
        guard parts.count == 3, ["raise", "kill"].contains(parts[0]), parts[1].hasPrefix("rank="), parts[2].hasPrefix("step="),
              let rank = Int(parts[1].dropFirst(5)), let step = Int(parts[2].dropFirst(5)) else { return nil }
        return Plan(kill: parts[0] == "kill", rank: rank, step: step)
    }

    /// Throws (or kills this process) when the plan names this rank and step.
    public static func check(step: Int, rank: Int) throws {
        guard let plan, plan.rank == rank, plan.step == step else { return }
        FileHandle.standardError.write(Data("rank \(rank): injected fault at step \(step): \(plan.kill ? "SIGKILL" : "error")\n".utf8))
        if plan.kill { kill(getpid(), SIGKILL) }
        throw InjectedFault(step: step)
    }
}
