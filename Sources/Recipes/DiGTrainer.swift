// Distributional Graphormer training as a TrainingTask (`scizoo dig-train`): MD frames of one
// molecule, centred; per micro-batch a seeded draw of rotations, diffusion steps (antithetic pairs,
// as upstream's `sample_time_step`) and noise; loss Σ_atoms |ε̂ − ε|² averaged over conformations;
// validation on held-out frames with the draws fixed per chunk of frames, so the score is
// comparable between validations. Checkpoints, resume, metrics.jsonl and data parallelism come from TrainingRun.
import Foundation
import MolecularDynamics
import MolecularGraphs
import NeuralNetworks
import ParallelRuntime
import TensorCore
import TensorIO

/// One molecule's graph and its conformations (heavy atoms, centred), read from MD frames.
public struct ConformationSet: Sendable {
    public var graph: MolecularGraph
    public var item: GraphormerItem
    /// Each frame's heavy-atom positions, centred on their centroid.
    public var frames: [[SIMD3<Double>]] = []
    /// Where each frame came from: file and the line of its atom count.
    public var origins: [(file: String, line: Int)] = []

    /// Reads `paths`; every frame's first atoms must be the SMILES's heavy atoms, in its order.
    public static func read(smiles: String, paths: [String], maxHops: Int) throws -> ConformationSet {
        let graph = try MolecularGraph.fromSMILES(smiles)
        var set = ConformationSet(graph: graph, item: GraphormerItem(graph, maxHops: maxHops))
        let heavy = (0..<graph.nodeCount).map { graph.nodeFeatures[$0 * 9] + 1 }
        for path in paths {
            for frame in try ExtendedXYZ.read(path) {
                let numbers = frame.system.numbers
                guard numbers.count >= heavy.count, Array(numbers.prefix(heavy.count)) == heavy,
                      numbers.dropFirst(heavy.count).allSatisfy({ $0 == 1 }) else {
                    throw FileError(file: path, line: frame.line,
                                    message: "atoms \(numbers.prefix(heavy.count + 2).map(String.init).joined(separator: " ")) … do not start with \(smiles)'s heavy atoms "
                                        + "(atomic numbers \(heavy.map(String.init).joined(separator: " "))) followed by hydrogens only")
                }
                let positions = Array(frame.system.positions.prefix(heavy.count))
                guard positions.allSatisfy({ $0.x.isFinite && $0.y.isFinite && $0.z.isFinite }) else {
                    throw FileError(file: path, line: frame.line, message: "a heavy-atom position is not a finite number")
                }
                set.frames.append(centred(positions))
                set.origins.append((path, frame.line))
            }
        }
        return set
    }

    public static func centred(_ positions: [SIMD3<Double>]) -> [SIMD3<Double>] {
        let centre = positions.reduce(SIMD3<Double>(), +) / Double(positions.count)
        return positions.map { $0 - centre }
    }

    /// The batch of conformations `positions` (each the molecule's heavy atoms).
    public func batch(_ positions: [[SIMD3<Double>]], configuration c: GraphormerConfiguration) -> GraphormerBatch {
        GraphormerBatch([GraphormerItem](repeating: item, count: positions.count), positions: positions,
                        multiHopMaxDist: c.multiHopMaxDist, spatialPosMax: c.spatialPosMax)
    }
}

/// A uniform random rotation (Shoemake's quaternion method) applied to `points`.
func randomlyRotated(_ points: [SIMD3<Double>], _ u: [Double]) -> [SIMD3<Double>] {
    let (a, b) = ((1 - u[0]).squareRoot(), u[0].squareRoot())
    let q = SIMD4(a * sin(2 * .pi * u[1]), a * cos(2 * .pi * u[1]), b * sin(2 * .pi * u[2]), b * cos(2 * .pi * u[2]))
    let (w, x, y, z) = (q[3], q[0], q[1], q[2])
    let r0 = SIMD3(1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y))
    let r1 = SIMD3(2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x))
    let r2 = SIMD3(2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y))
    return points.map { SIMD3((r0 * $0).sum(), (r1 * $0).sum(), (r2 * $0).sum()) }
}

public struct DiGMicroBatch: Sendable {
    public var frames: [Int]
    public var seed: UInt64
}

public struct DiGRunSummary: Sendable {
    public var steps: Int
    public var bestValidation: Double?
    public var checkpoint: String
    public var metrics: String
}

public typealias DiGTrainer = TrainingRun<DiGTask>

public final class DiGTask: RecipeTask {
    let s: DiGSettings
    let runDirectory: String
    private(set) var denoiser: ConformationDenoiser!
    private(set) var data: ConformationSet!
    private var schedule: DiffusionSchedule!
    private var train: [Int] = [], validation: [Int] = []
    private var groups: ProcessGroups!
    private var totalSteps = 0

    public init(settings: DiGSettings, runDirectory: String) { (s, self.runDirectory) = (settings, runDirectory) }

    public var model: Module { denoiser }

    public func prepare(groups: ProcessGroups, log: @escaping (String) -> Void) throws -> TrainingPlan {
        self.groups = groups
        let g = s.graphormer
        data = try ConformationSet.read(smiles: s.smiles, paths: s.trainPaths.map(s.resolve), maxHops: g.model.multiHopMaxDist)
        schedule = try s.schedule()
        // The last frames of each file validate (neighbouring MD frames are correlated: a random
        // split would validate on near-copies of training frames).
        for path in Set(data.origins.map(\.file)) {
            let mine = data.origins.indices.filter { data.origins[$0].file == path }
            let held = Int((Double(mine.count) * s.validationFraction).rounded())
            train += mine.dropLast(held)
            validation += mine.suffix(held)
        }
        train.sort()
        validation.sort()
        denoiser = ConformationDenoiser(g.model, seed: g.seed)
        let ranks = groups.dataParallelSize
        let perEpoch = train.count / (s.batchSize * ranks)
        guard perEpoch > 0 else {
            throw FileError(file: s.trainPaths.map(s.resolve).joined(separator: ", "), message: "\(train.count) training frames make no batch of \(s.batchSize) on each of \(ranks) rank(s)")
        }
        let plan = g.plan(perEpoch: perEpoch, runDirectory: runDirectory, monitor: "val/loss", throughput: ("conformations_per_second", "conformations/s")) { total in
            "DiG denoiser: \(g.arch) (\(g.model.layers) layers, \(g.model.embeddingDim) dim, \(g.model.heads) heads, "
                + "\(g.model.gaussianKernels) Gaussians), \(denoiser.parameterCount) parameters; \(s.smiles) (\(data.graph.nodeCount) heavy atoms): "
                + "\(train.count) train, \(validation.count) valid frames; \(s.betaSchedule) schedule, \(s.timesteps) steps; "
                + "batch \(s.batchSize) × \(ranks) rank(s), \(perEpoch) steps per epoch, \(total) steps"
        }
        totalSteps = plan.totalSteps
        return plan
    }

    public func install(hooks: (any ModuleHooks)?) {}

    public func batches(epoch: Int) throws -> [DiGMicroBatch] {
        EpochBatches.seeded(train, epoch: epoch, seed: s.graphormer.seed, batchSize: s.batchSize, rank: groups.dataParallelRank, ranks: groups.dataParallelSize)
            .map { DiGMicroBatch(frames: $0.indices, seed: $0.seed) }
    }

    /// Σ_atoms |ε̂ − ε|² averaged over `frames`, with rotations, steps and noise drawn from `seed`.
    func denoisingLoss(_ frames: [Int], seed: UInt64, rotate: Bool) -> Tensor {
        var generator = RandomGenerator(seed: seed)
        let b = frames.count, n = data.graph.nodeCount
        let rotations = generator.uniform([b * 3], dtype: .float64).doubles
        let clean = frames.enumerated().map { k, f in rotate ? randomlyRotated(data.frames[f], Array(rotations[(k * 3)..<(k * 3 + 3)])) : data.frames[f] }
        // Antithetic steps: t for the first half, T − 1 − t for the second.
        let draws = generator.uniform([b / 2 + 1], dtype: .float64).doubles.map { Swift.min(schedule.steps - 1, Int($0 * Double(schedule.steps))) }
        let steps = Array((draws + draws.map { schedule.steps - 1 - $0 }).prefix(b))
        let noise = generator.normal([b * n * 3], dtype: .float64).doubles
        var batch = data.batch(clean, configuration: denoiser.network.configuration)
        for k in 0..<b {
            let a = schedule.alphaBars[steps[k]]
            for i in 0..<(n * 3) { batch.positions[k * n * 3 + i] = a.squareRoot() * batch.positions[k * n * 3 + i] + (1 - a).squareRoot() * noise[k * n * 3 + i] }
        }
        let predicted = denoiser.predictNoise(batch, steps: steps)
        let target = Tensor(noise, shape: [b, n, 3]).cast(to: predicted.dtype)
        return (predicted - target).square().sum() / Double(b)
    }

    public func loss(_ micro: DiGMicroBatch) throws -> MicroBatchLoss {
        denoiser.train()
        denoiser.network.dropout.reseed(micro.seed)
        let loss = denoisingLoss(micro.frames, seed: micro.seed ^ 0xD1_6D_1F_F0, rotate: s.augmentRotations)
        return MicroBatchLoss(loss: loss, labels: Double(micro.frames.count), items: Double(micro.frames.count))
    }

    public func learningRate(at step: Int) -> Double { s.graphormer.learningRate(at: step, runSteps: totalSteps) }

    /// The validation frames' denoising loss, each chunk with draws fixed by its position.
    public func evaluate(step: Int) throws -> Evaluation? {
        guard !validation.isEmpty else { return nil }
        denoiser.eval()
        defer { denoiser.train() }
        let ranks = groups.dataParallelSize, rank = groups.dataParallelRank
        var total = 0.0
        for (k, start) in stride(from: 0, to: validation.count, by: s.batchSize).enumerated() where k % ranks == rank {
            let chunk = Array(validation[start..<Swift.min(start + s.batchSize, validation.count)])
            total += withNoGrad { denoisingLoss(chunk, seed: s.graphormer.seed &+ 7_777 &+ UInt64(k), rotate: false).item() } * Double(chunk.count)
        }
        let loss = try groups.dataParallel.allReduce([total], .sum)[0] / Double(validation.count)
        return Evaluation(entries: ["val/loss": loss], score: loss) { improved in
            String(format: "step %d  val/loss %.4f%@", step, loss, improved ? " (best)" : "")
        }
    }

    public func finish(_ outcome: TrainingOutcome, groups: ProcessGroups, log: (String) -> Void) throws -> DiGRunSummary {
        DiGRunSummary(steps: outcome.steps, bestValidation: outcome.bestValidation, checkpoint: outcome.bestCheckpoint, metrics: outcome.metrics)
    }

    public func checkpointRecord(_ progress: TrainingProgress) -> String {
        DiGCheckpointRecord(recipe: s.graphormer.json, folder: s.graphormer.baseDirectory, progress: progress).encoded()
    }

    public func restore(record text: String, step: Int, file: String) throws -> TrainingProgress {
        let saved = try DiGCheckpointRecord.decode(text, file: file)
        guard saved.recipe == s.graphormer.json else {
            throw FileError(file: file, message: "was written by another recipe; resume with the recipe that started the run")
        }
        return saved.progress
    }
}

struct DiGCheckpointRecord: CheckpointRecordCoding {
    var recipe = "{}"
    /// The recipe's folder, against which its relative paths resolve.
    var folder = "."
    var progress = TrainingProgress()

    static let kind = "a DiG checkpoint"
}

/// A trained denoiser and its recipe, for `dig-sample`.
public enum DiGCheckpoint {
    public static func load(_ path: String) throws -> (settings: DiGSettings, denoiser: ConformationDenoiser) {
        let checkpoint = try Checkpoint.read(from: path)
        let record = try DiGCheckpointRecord.decode(checkpoint.config, file: path)
        var settings = try DiGSettings.parse(try RecipeSection.parse(record.recipe, file: path + " (its recipe)"), file: path)
        settings.graphormer.baseDirectory = record.folder
        let denoiser = ConformationDenoiser(settings.graphormer.model, seed: 0)
        try denoiser.loadStateDict(checkpoint.parameters)
        denoiser.eval()
        return (settings, denoiser)
    }
}
