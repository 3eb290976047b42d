// `scizoo bench mlff`: energy+force calls of a force field on periodic boxes of N atoms (calls/s,
// atom-steps/s, ns/day at 1 fs) and training molecules/s on the bundled ethanol frames, with
// schnetpack running the same configuration in the same run as the reference
// (Scripts/mlff/schnetpack_twin.py; skipped with a note when schnetpack is not installed).
import ArgumentParser
import CBLAS
import Foundation
import Graphs
import Kernels
import MolecularDynamics
import Recipes
import TensorCore

enum BenchForceField: String, ExpressibleByArgument, CaseIterable { case schnet, painn, visnet }

struct BenchMLFF: SciZooCommand {
    static let configuration = CommandConfiguration(
        commandName: "mlff",
        abstract: "Force-field energy+forces calls/s, atom-steps/s and ns/day on periodic boxes, and training molecules/s, against schnetpack in the same run.",
        discussion: """
            The boxes are argon at liquid density (0.0213 atoms/Å³) on a jittered grid, the structure the twin builds. \
            Models have schnetpack's default sizes (128 features, 3 interactions, 20 Gaussians, cutoff 5 Å), float32. \
            Training runs the smoke recipe's model on batches of 10 bundled ethanol frames (forces in the loss).
            """)

    @Option(help: "schnet or painn.") var model: BenchForceField = .schnet
    @Option(parsing: .upToNextOption, help: "Box sizes (atoms).") var atoms: [Int] = [100, 1000, 10000]
    @Option(help: "Seconds per measurement (after one warm-up call).") var seconds: Double = 3
    @Option(help: "Rounds of each measurement, ours and schnetpack's alternating; medians are reported (shared machines are noisy).")
    var rounds = 3
    @Flag(help: "Skip the schnetpack reference.") var noReference = false
    @Flag(help: "Skip the training measurement.") var noTraining = false
    @OptionGroup var threadOptions: ThreadOptions
    var threads: Int? { threadOptions.threads }

    func execute(budget: ThreadBudget) throws {
        printBenchHeader(budget)
        let network: any AtomisticModel
        switch model {
        case .schnet: network = SchNet()
        case .painn: network = PaiNN()
        case .visnet:
            // AI2BMD's Chignolin size (the rMD17 one is 256 channels, 9 layers); no limit on neighbours for dense boxes.
            var c = ViSNetConfiguration()
            (c.hiddenChannels, c.numLayers, c.lmax, c.maxNumNeighbors) = (128, 6, 1, 10_000)
            network = ViSNet(c)
        }
        print(model == .visnet ? "visnet: 128 channels, 6 layers, 8 heads, lmax 1, 32 ExpNorm, cutoff 5 Å, float32 (no schnetpack twin: the reference column is empty)"
              : "\(model.rawValue): 128 features, 3 interactions, 20 Gaussians, cutoff 5 Å, float32")
        print("atoms  pairs     ours calls/s  atom-steps/s  ns/day@1fs   schnetpack calls/s  ours/schnetpack  (medians of \(rounds) rounds)")
        for n in atoms {
            let system = try Self.argonBox(atoms: n)
            var ours: [Double] = [], references: [Double] = [], pairs = 0
            for _ in 0..<Swift.max(1, rounds) {
                let (rate, count) = try Self.callsPerSecond(network, system, seconds: seconds)
                (pairs, ours) = (count, ours + [rate])
                let twin = noReference || model == .visnet ? nil : Self.twin(["bench", "--model", model.rawValue, "--atoms", "\(n)",
                                                                              "--seconds", "\(seconds)", "--threads", "\(budget.threads)"])
                if let reference = twin?["calls_per_second"] as? Double { references.append(reference) }
            }
            let rate = median(ours), reference = references.isEmpty ? nil : median(references)
            print(String(format: "%5d  %8d  %13.2f  %12.0f  %10.3f   %18@  %15@", n, pairs, rate, rate * Double(n), rate * 0.0864,
                         reference.map { String(format: "%.2f", $0) } ?? "-", reference.map { String(format: "%.2f×", rate / $0) } ?? "-"))
        }
        if !noTraining { try training(budget: budget) }
        let profile = AutogradProfile.drain()
        if !profile.isEmpty {
            print("backward by op (all measurements; SCIZOO_PROFILE_AUTOGRAD): "
                  + profile.prefix(14).map { String(format: "%@ %.3f s", $0.0, $0.1) }.joined(separator: ", "))
        }
    }

    /// Argon at liquid density on a jittered simple-cubic grid in a periodic cube (the twin's box).
    static func argonBox(atoms n: Int) throws -> AtomicSystem {
        let side = Int(ceil(pow(Double(n), 1.0 / 3) - 1e-9)), edge = pow(Double(n) / 0.0213, 1.0 / 3)
        var generator = RandomGenerator(seed: 0)
        let jitter = generator.normal([n * 3], dtype: .float64).doubles
        var positions: [SIMD3<Double>] = []
        outer: for i in 0..<side { for j in 0..<side { for k in 0..<side {
            if positions.count == n { break outer }
            let a = positions.count
            positions.append((SIMD3(Double(i), Double(j), Double(k)) + 0.5) * (edge / Double(side))
                             + 0.05 * SIMD3(jitter[3 * a], jitter[3 * a + 1], jitter[3 * a + 2]))
        } } }
        return try AtomicSystem(numbers: Array(repeating: 18, count: n), positions: positions, cell: try .box(edge, edge, edge))
    }

    static func callsPerSecond<Model: AtomisticModel>(_ model: Model, _ system: AtomicSystem, seconds: Double) throws -> (Double, Int) {
        model.eval()
        var potential = MLPotential(model: model)
        _ = try potential.evaluate(system)
        let clock = ContinuousClock(), start = clock.now
        var calls = 0
        while calls < 3 || (clock.now - start).inSeconds < seconds {
            _ = try potential.evaluate(system)
            calls += 1
        }
        let pairs = try NeighbourPairsCount.count(system, cutoff: model.cutoff)
        return (Double(calls) / (clock.now - start).inSeconds, pairs)
    }

    /// Training molecules/s: the smoke recipe's model and batches, ours and schnetpack's.
    func training(budget: ThreadBudget) throws {
        let recipe = Self.packageFile("Recipes/mlff/smoke.yaml")
        guard FileManager.default.fileExists(atPath: recipe) else { print("training: \(recipe) not found (run from the repository root)"); return }
        var settings = try MLFFSettings.load(from: recipe)
        // Only the model changes (the temporary run's checkpoints are not read back: no test split).
        let steps = 200
        (settings.model, settings.maxSteps, settings.valCheckInterval, settings.maxEpochs, settings.numTest) = (model.rawValue, steps, 10_000, 3, 0)
        var ours: [Double] = [], references: [Double] = []
        for round in 0..<Swift.max(1, rounds) {
            let directory = NSTemporaryDirectory() + "scizoo-bench-mlff-\(getpid())-\(round)"
            defer { try? FileManager.default.removeItem(atPath: directory) }
            let summary = try MLFFTrainer(settings: settings, runDirectory: directory, showsProgress: false, log: { _ in }).run()
            // The run's own rate at its last step (before the closing validation and checkpoint).
            let lines = try String(contentsOfFile: summary.metrics, encoding: .utf8).split(separator: "\n")
            let last = lines.compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }.last { $0["molecules_per_second"] != nil }
            ours.append(last?["molecules_per_second"] as? Double ?? .nan)
            if !noReference, model != .visnet,
               let twin = Self.twin(["train-speed", "--config", recipe, "--model", model.rawValue, "--steps", "\(steps)", "--threads", "\(budget.threads)"]),
               let reference = twin["train_molecules_per_second"] as? Double {
                references.append(reference)
            }
        }
        var line = String(format: "training (%@, batch %d, %d steps, medians of %d rounds): ours %.0f molecules/s", model.rawValue, settings.batchSize,
                          steps, ours.count, median(ours))
        if !references.isEmpty {
            line += String(format: ", schnetpack %.0f, ours/schnetpack %.2f×", median(references), median(ours) / median(references))
        }
        line += " [rounds: ours " + ours.map { String(format: "%.0f", $0) }.joined(separator: " ")
            + (references.isEmpty ? "" : "; schnetpack " + references.map { String(format: "%.0f", $0) }.joined(separator: " ")) + "]"
        print(line)
    }

    static func packageFile(_ relative: String) -> String { FileManager.default.currentDirectoryPath + "/" + relative }

    /// Runs the schnetpack twin; nil (with a note) when python3 or schnetpack is missing.
    static func twin(_ arguments: [String]) -> [String: Any]? {
        guard let json = runPythonTwin(packageFile("Scripts/mlff/schnetpack_twin.py"), arguments).last else {
            print("reference: schnetpack twin unavailable (pip install schnetpack; see Scripts/mlff/schnetpack_twin.py)")
            return nil
        }
        return json
    }
}

/// The number of directed pairs within the cutoff (reported beside each box).
enum NeighbourPairsCount {
    static func count(_ system: AtomicSystem, cutoff: Double) throws -> Int {
        try NeighbourList.build(positions: system.positions, cutoff: cutoff, cell: system.cell).count
    }
}
