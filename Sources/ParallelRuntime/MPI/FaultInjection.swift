// A fault a test asks one rank for, so that every distributed command's handling of a failed or
// dead rank can be checked under mpirun (Scripts/expect-rank-failure): SCIZOO_FAULT="raise:rank=R:step=S"
// makes rank R throw when it completes step S (an error the command reports and turns into an
// aborted job), "kill:rank=R:step=S" makes it SIGKILL itself there (a crash), and "nan:rank=R:step=S"
// makes its loss at step S a NaN (the non-finite step the trainers stop at, or skip with
// --skip-non-finite), and "kill-before-best:rank=R:step=S" SIGKILLs it after step S's checkpoint is
// written and before best.h5 is copied from it (the window a resume must mend). Unset: nothing happens.
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
        enum Kind: String { case raise, kill, nan, killBeforeBest = "kill-before-best" }
        var kind: Kind, rank: Int, step: Int
        var kill: Bool { kind == .kill }
    }

    static let plan: Plan? = ProcessInfo.processInfo.environment["SCIZOO_FAULT"].flatMap(parse)

    /// "raise|kill|nan:rank=R:step=S"; nil for anything else (a test asking wrongly finds no fault).
    static func parse(_ text: String) -> Plan? {
        let parts = text.split(separator: ":").map(String.init)
        guard parts.count == 3, let kind = Plan.Kind(rawValue: parts[0]), parts[1].hasPrefix("rank="), parts[2].hasPrefix("step="),
              let rank = Int(parts[1].dropFirst(5)), let step = Int(parts[2].dropFirst(5)) else { return nil }
        return Plan(kind: kind, rank: rank, step: step)
    }

    /// Whether the plan makes this rank's loss at `step` a NaN.
    public static func poisonsLoss(step: Int, rank: Int) -> Bool {
        guard let plan else { return false }
        return plan.kind == .nan && plan.rank == rank && plan.step == step
    }

    /// Throws (or kills this process) when the plan names this rank and step.
    public static func check(step: Int, rank: Int) throws {
        guard let plan, plan.kind == .raise || plan.kind == .kill, plan.rank == rank, plan.step == step else { return }
        FileHandle.standardError.write(Data("rank \(rank): injected fault at step \(step): \(plan.kill ? "SIGKILL" : "error")\n".utf8))
        if plan.kill { kill(getpid(), SIGKILL) }
        throw InjectedFault(step: step)
    }

    /// SIGKILLs this process between writing step `step`'s checkpoint and copying it to best.h5, when asked.
    public static func checkBeforeBestCopy(step: Int, rank: Int) {
        guard let plan, plan.kind == .killBeforeBest, plan.rank == rank, plan.step == step else { return }
        FileHandle.standardError.write(Data("rank \(rank): injected SIGKILL at step \(step), before best.h5 is copied\n".utf8))
        kill(getpid(), SIGKILL)
    }
}
