// Distributional Graphormer: learn a molecule's conformation distribution from MD frames
// (dig-train), then sample conformations and compare their torsions with held-out MD (dig-sample).
import ArgumentParser
import Foundation
import Kernels
import MolecularDynamics
import MolecularGraphs
import Recipes
import TensorCore

struct DiGTrain: TrainingCommand {
    static let configuration = CommandConfiguration(
        commandName: "dig-train",
        abstract: "Train a Distributional Graphormer denoiser on MD frames of one molecule from a recipe (Docs/domains/sfm.md).",
        discussion: """
            Outputs in --run-dir: metrics.jsonl (train/loss, val/loss: the denoising loss), checkpoints/last.h5 and best.h5 \
            (written atomically). Under `mpirun -np N` every step's batch is N × batch_size conformations split over the ranks.
            """)

    @Option(help: "DiG recipe (YAML): data, model, diffusion, task, trainer, evaluation.") var config: String
    @Option(help: "Run folder.") var runDir: String = "runs/dig"
    @OptionGroup var training: TrainingRunOptions

    func execute(budget: ThreadBudget) throws {
        let (world, log) = try training.launch()
        do {
            let settings = try DiGSettings.load(from: config)
            let groups = try training.processGroups(world: world, configuration: [settings.graphormer.json, runDir])
            log("thread budget: \(budget)" + (world.map { "; \($0.size) MPI rank(s)" } ?? ""))
            let trainer = DiGTrainer(settings: settings, runDirectory: runDir, groups: groups, showsProgress: log.isActive, log: { log($0) })
            let summary = try trainer.run(resume: training.resume, stopAtStep: training.stopAtStep, skipNonFinite: training.skipNonFinite,
                                          activationCheckpointing: training.activationCheckpointing)
            log("trained \(summary.steps) steps" + (summary.bestValidation.map { String(format: "; best val/loss %.4f", $0) } ?? ""))
            log("checkpoint: \(summary.checkpoint)")
            log("metrics:    \(summary.metrics)")
        } catch {
            throw failOnRank("dig-train", error, world: world)
        }
    }
}

struct DiGSample: SciZooCommand {
    static let configuration = CommandConfiguration(
        commandName: "dig-sample",
        abstract: "Sample conformations with a DiG checkpoint (extended XYZ of heavy atoms); with a reference, compare torsion distributions against a one-conformer baseline.")

    @Option(help: "A checkpoint of scizoo dig-train.") var checkpoint: String
    @Option(help: "How many conformations.") var count = 1000
    @Option(help: "Output extended XYZ (written atomically).") var output: String
    @Option(help: "ddpm (every step) or ddim (default: the recipe's diffusion_sampling).") var method: String?
    @Option(help: "DDIM steps (default: the recipe's ddim_steps).") var steps: Int?
    @Option(help: "DDIM η (default: the recipe's ddim_eta).") var eta: Double?
    @Option(help: "Conformations denoised together.") var batch = 250
    @Option(help: "Seed of the starting noise and the sampler's draws.") var seed: UInt64 = 1
    @Option(help: "Held-out MD frames to compare with (default: the recipe's evaluation.reference).") var reference: String?
    @Option(help: "Ramachandran-style PNG of the first two torsions: reference, DiG, baseline.") var picture: String?
    @Option(help: "JSON of the divergences (written atomically).") var report: String?
    @Flag(help: "Keep samples whose stereocentres are all inverted (the denoiser sees distances only, so it samples both mirror images) instead of reflecting them.")
    var keepMirrorImages = false
    @OptionGroup var threadOptions: ThreadOptions
    var threads: Int? { threadOptions.threads }

    func execute(budget: ThreadBudget) throws {
        let (settings, denoiser) = try DiGCheckpoint.load(checkpoint)
        var sampler = ConformationSampler(schedule: try settings.schedule())
        sampler.method = method ?? settings.sampling
        guard ["ddpm", "ddim"].contains(sampler.method) else { throw ValidationError("--method: ddpm or ddim, got \(sampler.method)") }
        sampler.ddimSteps = steps ?? settings.ddimSteps
        sampler.eta = eta ?? settings.ddimEta
        guard count > 0, batch > 0 else { throw ValidationError("--count and --batch must be positive") }
        let training = try ConformationSet.read(smiles: settings.smiles, paths: settings.trainPaths.map(settings.resolve),
                                                maxHops: settings.graphormer.model.multiHopMaxDist)
        let n = training.graph.nodeCount
        // A comparison that cannot be made is refused before minutes of sampling, not after.
        let referencePath = reference ?? settings.referencePath.map(settings.resolve)
        if referencePath != nil {
            guard !settings.torsions.isEmpty else { throw ValidationError("the recipe names no evaluation.torsions to compare") }
            guard settings.torsions.allSatisfy({ $0.atoms.allSatisfy { $0 < n } }) else { throw ValidationError("a torsion names an atom beyond the molecule's \(n) heavy atoms") }
        }
        var generator = RandomGenerator(seed: seed)
        var samples: [[SIMD3<Double>]] = []
        let started = Date()
        while samples.count < count {
            let size = Swift.min(batch, count - samples.count)
            let template = training.batch([[SIMD3<Double>]](repeating: [SIMD3<Double>](repeating: .zero, count: n), count: size),
                                          configuration: denoiser.network.configuration)
            let positions = sampler.sample(denoiser, batch: template, generator: &generator)
            for k in 0..<size { samples.append((0..<n).map { i in SIMD3(positions[(k * n + i) * 3], positions[(k * n + i) * 3 + 1], positions[(k * n + i) * 3 + 2]) }) }
        }
        let seconds = Date().timeIntervalSince(started)
        var note = ""
        if !keepMirrorImages {
            let correction = MirrorImageCorrection(graph: training.graph, reference: training.frames)
            let corrected = correction.apply(samples)
            samples = corrected.samples
            if !correction.centres.isEmpty {
                note = "; \(corrected.reflected) reflected to the training frames' handedness at \(correction.centres.count) stereocentre(s)"
                    + (corrected.mixed > 0 ? ", \(corrected.mixed) with mixed handedness kept" : "")
            }
        }
        let numbers = (0..<n).map { training.graph.nodeFeatures[$0 * 9] + 1 }
        let frames = try samples.map { AtomicFrame(system: try AtomicSystem(numbers: numbers, positions: $0)) }
        try ExtendedXYZ.write(frames, to: output)
        let label = sampler.method == "ddim" ? "DDIM, \(sampler.ddimSteps) steps, η \(sampler.eta)" : "DDPM, \(sampler.schedule.steps) steps"
        print(String(format: "%d conformations (%@) in %.1f s -> %@", count, label, seconds, output) + note)

        guard let path = referencePath else { return }
        let held = try ConformationSet.read(smiles: settings.smiles, paths: [path], maxHops: 1).frames
        // The baseline: one training conformation (the first) plus isotropic Gaussian noise.
        var noise = RandomGenerator(seed: seed &+ 99)
        let draws = noise.normal([count * n * 3], std: settings.baselineNoise, dtype: .float64).doubles
        let baseline = (0..<count).map { k in (0..<n).map { i in training.frames[0][i] + SIMD3(draws[(k * n + i) * 3], draws[(k * n + i) * 3 + 1], draws[(k * n + i) * 3 + 2]) } }
        let ours = TorsionDistributions.compare(samples, with: held, torsions: settings.torsions)
        let theirs = TorsionDistributions.compare(baseline, with: held, torsions: settings.torsions)
        func line(_ name: String, _ r: TorsionDistributions.Report) -> String {
            let parts = (r.joint.map { [String(format: "joint(%@) %.3f", settings.torsions.prefix(2).map(\.name).joined(separator: ","), $0)] } ?? [])
                + r.perTorsion.map { String(format: "%@ %.3f", $0.name, $0.divergence) }
            return "\(name): Jensen–Shannon divergence to \(held.count) held-out frames (bits, 36 bins per torsion): " + parts.joined(separator: ", ")
        }
        print(line("DiG samples", ours))
        print(line(String(format: "baseline (one conformer + %.2f Å noise)", settings.baselineNoise), theirs))
        if let picture, settings.torsions.count >= 2 {
            try TorsionDistributions.writePicture([held, samples, baseline], torsions: settings.torsions, to: picture)
            print("picture (reference, DiG, baseline; \(settings.torsions[0].name) across, \(settings.torsions[1].name) up) -> \(picture)")
        }
        if let report {
            func entries(_ r: TorsionDistributions.Report) -> [String: Double] {
                var e = Dictionary(uniqueKeysWithValues: r.perTorsion.map { ($0.name, $0.divergence) })
                if let joint = r.joint { e["joint"] = joint }
                return e
            }
            let json: [String: Any] = ["dig": entries(ours), "baseline": entries(theirs), "samples": count, "reference_frames": held.count,
                                       "sampler": label, "seconds": seconds]
            let data = try JSONSerialization.data(withJSONObject: json, options: [.sortedKeys, .prettyPrinted])
            try data.write(to: URL(fileURLWithPath: report), options: .atomic)
        }
    }
}
