// The progress line of the read benchmarks: every tenth of the read, how far, how fast, and the
// process's resident memory and its peak, so that flat memory over a file larger than RAM shows.
import Foundation
import ParallelRuntime

struct ReadProgress {
    let total: Int, unit: String, bytesEach: Int
    private let clock = ContinuousClock()
    private let start: ContinuousClock.Instant
    private var nextReport = 0

    init(total: Int, unit: String, bytesEach: Int) {
        (self.total, self.unit, self.bytesEach, start) = (total, unit, bytesEach, clock.now)
    }

    mutating func reached(_ done: Int) {
        guard done >= nextReport || done == total else { return }
        let seconds = (clock.now - start).inSeconds, memory = ResidentMemory.current()
        print(String(format: "%5.1f %%  %d %@  %.2f GB  %.1f %@/s  RSS %.0f MiB  peak %.0f MiB", 100 * Double(done) / Double(total), done, unit,
                     Double(done * bytesEach) / 1e9, Double(done) / Swift.max(seconds, 1e-9), unit, Double(memory.resident) / 1_048_576,
                     Double(memory.peak) / 1_048_576))
        nextReport += Swift.max(1, total / 10)
    }
}
