// `scizoo fuzz`: mutates real seed files of every input format and feeds them to the reader the
// commands use. Every input must end in a result or in a one-line error naming the file; a crash
// (a trap, a segfault in a C library), a hang or a runaway allocation stops the run with the
// iteration that caused it, whose input stays on disk and replays alone.
import ArgumentParser
import COSShims
import Foundation
import Kernels
import ParallelRuntime
import Synchronization

struct Fuzz: SciZooCommand {
    static let configuration = CommandConfiguration(
        commandName: "fuzz",
        abstract: "Feed mutated seed files of one input format (or all) to SciZoo's readers.",
        discussion: """
            Mutations: bit flips, truncations, inserted bytes and tokens (NaN, huge numbers, separators, \
            invalid UTF-8), duplicated, deleted and swapped lines, overwritten length fields, UTF-16. \
            Iteration I of seed S is the same input on every machine; a crash, a hang (--timeout) or a \
            peak RSS over --memory-limit-mib prints the iteration and keeps its input. Run it from the \
            repository root (seeds come from Datasets/, Recipes/, Tests/ and ../shared/fixtures).
            """)

    @Argument(help: "A format (see --list) or 'all'.")
    var format: String = "all"

    @Option(help: "The run's seed: iteration I of seed S is one fixed input.") var seed: UInt64 = 1
    @Option(help: "Inputs per format.") var iterations = 1000
    @Option(help: "The first iteration (replay one with --start I --iterations 1).") var start = 0
    @Option(help: "Seconds one input may take before it counts as a hang.") var timeout = 20.0
    @Option(help: "Peak resident memory, MiB, above which an input counts as a runaway allocation.") var memoryLimitMib = 1024
    @Option(help: "The repository root (seeds are found from it).") var root = "."
    @Option(help: "Where seeds and inputs are written (default: a new folder under the temporary directory).") var work: String?
    @Flag(help: "List the formats and exit.") var list = false
    @Flag(help: "Print every rejected input's error.") var verbose = false
    @OptionGroup var threadOptions: ThreadOptions
    var threads: Int? { threadOptions.threads }

    func validate() throws {
        if iterations < 0 || start < 0 { throw ValidationError("--iterations and --start must not be negative") }
        if timeout <= 0 || memoryLimitMib <= 0 { throw ValidationError("--timeout and --memory-limit-mib must be positive") }
        if !list, format != "all", !FuzzFormat.all().contains(where: { $0.name == format }) {
            throw ValidationError("unknown format '\(format)'; formats: \(FuzzFormat.all().map(\.name).joined(separator: ", ")), all")
        }
    }

    func execute(budget: ThreadBudget) throws {
        let formats = FuzzFormat.all()
        if list {
            for entry in formats { print(entry.name.padding(toLength: 16, withPad: " ", startingAt: 0) + entry.summary) }
            return
        }
        let folder = work ?? NSTemporaryDirectory() + "scizoo-fuzz-\(getpid())"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        scizoo_crash_report_install()
        let watch = FuzzWatch(timeout: timeout, memoryLimit: memoryLimitMib << 20)
        var failed = false
        for entry in formats where format == "all" || entry.name == format {
            let summary = try FuzzRun(format: entry, seed: seed, iterations: start..<(start + iterations), folder: folder + "/" + entry.name,
                                      root: root, watch: watch, memoryLimit: memoryLimitMib << 20, verbose: verbose).run()
            FileHandle.standardOutput.write(Data((summary.line + "\n").utf8))  // unbuffered: a later crash keeps it
            failed = failed || !summary.findings.isEmpty
        }
        watch.stop()
        if work == nil, !failed { try? FileManager.default.removeItem(atPath: folder) }
        if failed { throw ExitCode.failure }
    }
}

/// One format's run: seeds, then `iterations` mutated inputs.
struct FuzzRun {
    let format: FuzzFormat
    let seed: UInt64
    let iterations: Range<Int>
    let folder: String
    let root: String
    let watch: FuzzWatch
    let memoryLimit: Int
    let verbose: Bool

    struct Summary {
        var line: String
        var findings: [String]
    }

    func run() throws -> Summary {
        let seedFolder = folder + "/seeds"
        try FileManager.default.createDirectory(atPath: seedFolder, withIntermediateDirectories: true)
        let seeds = try format.seeds(FuzzSeeds(root: root, directory: seedFolder)).map { path in
            (bytes: [UInt8](try Data(contentsOf: URL(fileURLWithPath: path))), suffix: Self.suffix(of: path))
        }
        // Every seed as it is must read: otherwise the format's reader, not the fuzzing, is broken.
        for (index, seedFile) in seeds.enumerated() {
            let path = folder + "/seed-\(index)" + seedFile.suffix
            try Data(seedFile.bytes).write(to: URL(fileURLWithPath: path))
            try format.read(path)
            try? FileManager.default.removeItem(atPath: path)
        }
        var accepted = 0, rejected = 0, findings: [String] = []
        let started = Date()
        for iteration in iterations {
            var generator = SplitMix64(seed: seed &* 0x9E37_79B9_7F4A_7C15 ^ UInt64(iteration) &* 0xD1B5_4A32_D192_ED03 ^ 0x5C17_200A)
            let seedFile = seeds[Int(generator.next() % UInt64(seeds.count))]
            let bytes = FuzzMutation.mutate(seedFile.bytes, generator: &generator)
            let path = folder + "/input" + seedFile.suffix
            try Data(bytes).write(to: URL(fileURLWithPath: path))
            let replay = "scizoo fuzz \(format.name) --seed \(seed) --start \(iteration) --iterations 1"
            scizoo_crash_report_set("\nscizoo fuzz \(format.name): CRASH at iteration \(iteration) (input kept at \(path); replay: \(replay))\n")
            watch.begin(iteration: iteration, report: "scizoo fuzz \(format.name): %@ at iteration \(iteration) (input kept at \(path); replay: \(replay))")
            do {
                try format.read(path)
                accepted += 1
            } catch {
                rejected += 1
                let message = String(describing: error)
                if verbose { print("  \(iteration): \(message)") }
                let name = (path as NSString).lastPathComponent
                if message.contains(where: \.isNewline) || !message.contains(name) {
                    findings.append("iteration \(iteration): the error \(message.contains(name) ? "spans lines" : "does not name the file"): \(message.prefix(300))")
                }
            }
            watch.end()
            // An allocation freed before the watch looked still shows in the high-water mark.
            let peak = ResidentMemory.current().peak
            if peak > memoryLimit {
                FileHandle.standardError.write(Data(("scizoo fuzz \(format.name): RUNAWAY ALLOCATION (peak RSS \(peak >> 20) MiB) at iteration "
                    + "\(iteration) (input kept at \(path); replay: \(replay))\n").utf8))
                throw ExitCode(4)
            }
        }
        try? FileManager.default.removeItem(atPath: folder + "/input" + (seeds.first?.suffix ?? ""))
        let seconds = Date().timeIntervalSince(started)
        var line = "fuzz \(format.name): \(iterations.count) inputs (seed \(seed), iterations \(iterations.lowerBound)..<\(iterations.upperBound)) in "
            + String(format: "%.1f s", seconds) + ": \(accepted) read, \(rejected) rejected with one line naming the file; "
            + "0 crashes, 0 hangs, peak RSS \(ResidentMemory.current().peak >> 20) MiB"
        if !findings.isEmpty {
            line += "; \(findings.count) FINDINGS:\n" + findings.prefix(20).map { "  " + $0 }.joined(separator: "\n")
        }
        return Summary(line: line, findings: findings)
    }

    /// The extension readers dispatch on, compound ones whole (`.fa.gz`, `.sdf.gz`).
    static func suffix(of path: String) -> String {
        let name = (path as NSString).lastPathComponent
        let parts = name.split(separator: ".")
        guard parts.count > 1 else { return "" }
        if parts.last == "gz", parts.count > 2 { return "." + parts.suffix(2).joined(separator: ".") }
        return "." + parts.last!
    }
}

/// The harness's watchdog: a thread that ends the process with the current iteration's report when
/// one input runs past the timeout or the process's peak RSS passes the limit.
final class FuzzWatch: Sendable {
    private final class State: Sendable {
        let running = Atomic<Bool>(true)
        let startedAt = Atomic<UInt64>(0)  // uptime nanoseconds; 0 between inputs
        let report = Mutex<String>("")
    }
    private let state = State()

    init(timeout: Double, memoryLimit: Int) {
        let thread = Thread { [state] in
            while state.running.load(ordering: .relaxed) {
                Thread.sleep(forTimeInterval: 0.05)
                let started = state.startedAt.load(ordering: .acquiring)
                guard started != 0 else { continue }
                let elapsed = Double(DispatchTime.now().uptimeNanoseconds &- started) * 1e-9
                let peak = ResidentMemory.current().peak
                var cause: String?
                if elapsed > timeout { cause = String(format: "HANG (%.0f s)", elapsed) }
                if peak > memoryLimit { cause = "RUNAWAY ALLOCATION (peak RSS \(peak >> 20) MiB > \(memoryLimit >> 20) MiB)" }
                if let cause {
                    let text = state.report.withLock { $0 }.replacingOccurrences(of: "%@", with: cause)
                    FileHandle.standardError.write(Data(("\n" + text + "\n").utf8))
                    _exit(4)
                }
            }
        }
        thread.name = "fuzz watch"
        thread.start()
    }

    func begin(iteration: Int, report: String) {
        state.report.withLock { $0 = report }
        state.startedAt.store(DispatchTime.now().uptimeNanoseconds, ordering: .releasing)
    }

    func end() {
        state.startedAt.store(0, ordering: .releasing)
    }

    func stop() { state.running.store(false, ordering: .relaxed) }
}
