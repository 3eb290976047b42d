// The per-process RAM budget (`memory_budget_mib`, SciZoo's one top-level addition to DeepSpeed's
// config). ZeRO refuses a layout whose resident model states alone exceed it; this watch holds the
// whole process to it. It reads the kernel's high-water mark of resident memory (VmHWM), so a
// peak between two reads — or before the watch started, while the model was built — is still seen.
import COSShims
import Foundation
import Synchronization

/// This process's resident memory, from /proc/self/status.
public enum ResidentMemory {
    /// VmRSS and VmHWM in bytes (zeros where /proc is missing).
    public static func current() -> (resident: Int, peak: Int) {
        guard let text = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return (0, 0) }
        func field(_ name: String) -> Int {
            guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix(name + ":") }) else { return 0 }
            return (Int(line.split(separator: " ").dropFirst().first { Int($0) != nil } ?? "0") ?? 0) * 1024
        }
        return (field("VmRSS"), field("VmHWM"))
    }
}

/// Ends the process with one line on stderr as soon as its peak resident memory passes `budget`
/// (under mpirun the launcher then stops the other ranks).
public final class MemoryBudgetWatch: Sendable {
    public let budget: Int
    private final class Flag: Sendable { let running = Atomic<Bool>(true) }
    private let flag = Flag()

    /// Starts checking every `interval`; `label` names the process in the message ("rank 1").
    public init(budget: Int, label: String, interval: Duration = .milliseconds(20)) {
        self.budget = budget
        // glibc's dynamic mmap threshold rises to the largest block freed and then keeps such blocks
        // on the heap, mapped (ZeRO-3's gathered modules come and go in tens of MiB): measured here,
        // 340–400 MiB of RSS instead of 229. A fixed 1 MiB threshold returns them; the environment's
        // MALLOC_MMAP_THRESHOLD_ wins when set.
        if ProcessInfo.processInfo.environment["MALLOC_MMAP_THRESHOLD_"] == nil { _ = scizoo_fix_mmap_threshold(1 << 20) }
        let thread = Thread { [flag] in
            while flag.running.load(ordering: .relaxed) {
                let peak = ResidentMemory.current().peak
                if peak > budget {
                    FileHandle.standardError.write(Data(("error: \(label): peak resident memory \(peak >> 20) MiB exceeds the recipe's "
                        + "memory_budget_mib \(budget >> 20); offload more (stage 3, offload_param and offload_optimizer on nvme), "
                        + "lower sub_group_size or the batch, or raise the budget\n").utf8))
                    _exit(3)
                }
                Thread.sleep(forTimeInterval: Double(interval.components.attoseconds) * 1e-18 + Double(interval.components.seconds))
            }
        }
        thread.name = "memory budget"
        thread.start()
    }

    /// The process's peak resident memory so far, bytes.
    public var peak: Int { ResidentMemory.current().peak }

    public func stop() { flag.running.store(false, ordering: .relaxed) }

    deinit { stop() }
}
