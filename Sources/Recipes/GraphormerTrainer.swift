// Graphormer training as a TrainingTask, as fairseq's graph_prediction task runs it: L1 loss on
// the graph token's output (cross-entropy for classification), Adam with linear warm-up then
// polynomial decay to end_learning_rate, global-norm clipping, validation MAE, atomic checkpoints,
// resume, metrics.jsonl and data parallelism under mpirun (all from TrainingRun). Molecules above
// `max_nodes` are left out and counted (upstream's collator drops them silently).
import Foundation
import MolecularGraphs
import NeuralNetworks
import ParallelRuntime
import TensorCore
import TensorIO

/// Molecules with a target and a split, featurised once.
public struct MoleculeTargets: Sendable {
    public var targets: [Double] = []
    public var records: [Int] = []
    public var smiles: [String] = []
    /// Heavy-atom positions where the input has them (SD files).
    public var positions: [[SIMD3<Double>]?] = []
    /// Graphormer's encodings of each molecule, computed once.
    public var items: [GraphormerItem] = []
    public var train: [Int] = [], validation: [Int] = [], test: [Int] = []
    public var tooLarge = 0

    /// Reads `settings.dataPath`; every molecule needs a numeric target, and a split when the split column exists.
    public static func load(_ s: GraphormerSettings) throws -> MoleculeTargets {
        let path = s.resolve(s.dataPath)
        let entries = try MoleculeInput.read(path)
        var data = MoleculeTargets()
        let useColumn = s.splitColumn.map { column in entries.first?.properties[column] != nil } ?? false
        var splits: [String] = []
        for entry in entries {
            guard entry.molecule.atoms.count <= s.maxNodes else { data.tooLarge += 1; continue }
            guard let text = entry.properties[s.target], let value = Double(text), value.isFinite else {
                throw FileError(file: path, line: entry.record, message: "target '\(s.target)' is \(entry.properties[s.target].map { "'\($0)', not a finite number" } ?? "missing")")
            }
            if useColumn {
                let split = entry.properties[s.splitColumn!] ?? ""
                guard ["train", "valid", "val", "test"].contains(split) else {
                    throw FileError(file: path, line: entry.record, message: "split '\(split)' (column \(s.splitColumn!)) is not train, valid or test")
                }
                splits.append(split)
            }
            data.items.append(GraphormerItem(entry.molecule.ogbGraph(), maxHops: s.model.multiHopMaxDist))
            data.positions.append(entry.positions)
            data.targets.append(value)
            data.records.append(entry.record)
            data.smiles.append(entry.text)
        }
        if useColumn {
            for (i, split) in splits.enumerated() {
                switch split {
                case "train": data.train.append(i)
                case "test": data.test.append(i)
                default: data.validation.append(i)
                }
            }
        } else {
            var generator = RandomGenerator(seed: s.seed)
            let order = generator.permutation(data.items.count)
            let trainCount = data.items.count * 8 / 10, validationCount = data.items.count / 10
            data.train = Array(order[..<trainCount])
            data.validation = Array(order[trainCount..<(trainCount + validationCount)])
            data.test = Array(order[(trainCount + validationCount)...])
        }
        return data
    }

    /// The padded batch of molecules `indices`, with their positions when `withPositions`.
    public func batch(_ indices: [Int], configuration: GraphormerConfiguration, withPositions: Bool = false) -> GraphormerBatch {
        GraphormerBatch(indices.map { items[$0] }, positions: withPositions ? indices.map { positions[$0] } : [],
                        multiHopMaxDist: configuration.multiHopMaxDist, spatialPosMax: configuration.spatialPosMax)
    }
}

public struct GraphormerRunSummary: Sendable {
    public var steps: Int
    public var bestValidation: Double?
    public var checkpoint: String
    public var metrics: String
    /// Test MAE with the best checkpoint, and the mean predictor's (the training targets' mean).
    public var testMAE: Double?
    public var baselineMAE: Double?
}

public typealias GraphormerTrainer = TrainingRun<GraphormerTask>

/// One rank's molecules of a step, and the seed its dropout draws from (a function of the run's
/// seed, the epoch and the batch, so a resumed run draws the same masks).
public struct GraphormerMicroBatch: Sendable {
    public var indices: [Int]
    public var dropoutSeed: UInt64
}

public final class GraphormerTask: RecipeTask {
    let s: GraphormerSettings
    let runDirectory: String
    private(set) var network: GraphormerModel!
    private(set) var data: MoleculeTargets!
    private var groups: ProcessGroups!
    private var totalSteps = 0

    public init(settings: GraphormerSettings, runDirectory: String) { (s, self.runDirectory) = (settings, runDirectory) }

    public var model: Module { network }

    public func prepare(groups: ProcessGroups, log: @escaping (String) -> Void) throws -> TrainingPlan {
        self.groups = groups
        data = try MoleculeTargets.load(s)
        if data.tooLarge > 0 { log("left out \(data.tooLarge) molecule(s) above max_nodes \(s.maxNodes)") }
        if s.model.add3D {
            let withPositions = data.train.filter { data.positions[$0] != nil }.count
            guard withPositions > 0 else {
                throw FileError(file: s.resolve(s.dataPath), message: "model.add_3d needs 3D structures: give an SD file with coordinates (no training molecule has positions)")
            }
            log("3D channel: \(withPositions) of \(data.train.count) training molecules have positions; modes 2D+3D/2D/3D drawn with \(s.model.modeProbabilities), "
                + "position noise \(s.model.noiseScale) Å; validation and test \(s.evaluateWithPositions ? "with" : "without") positions")
        }
        network = GraphormerModel(s.model, seed: s.seed)
        if s.loss == "l1" {
            // Start the output at the training targets' mean (upstream starts at 0 and needs many
            // updates to climb to, say, PCQM4Mv2's 5.7 eV); a resumed run loads its own value.
            let mean = data.train.reduce(0.0) { $0 + data.targets[$1] } / Double(data.train.count)
            network.headBias.value.assign(Tensor([mean], shape: [1]).cast(to: network.headBias.value.dtype))
        }
        let ranks = groups.dataParallelSize
        let perEpoch = data.train.count / (s.batchSize * ranks)
        guard perEpoch > 0 else {
            throw FileError(file: s.resolve(s.dataPath), message: "\(data.train.count) training molecules make no batch of \(s.batchSize) on each of \(ranks) rank(s)")
        }
        let plan = s.plan(perEpoch: perEpoch, runDirectory: runDirectory, monitor: "val/mae", throughput: ("graphs_per_second", "graphs/s")) { total in
            "\(s.arch) (\(s.model.layers) layers, \(s.model.embeddingDim) dim, \(s.model.heads) heads), "
                + "\(network.parameterCount) parameters; \(s.resolve(s.dataPath)): \(data.train.count) train, "
                + "\(data.validation.count) valid, \(data.test.count) test molecules; batch \(s.batchSize) × \(ranks) rank(s), "
                + "\(perEpoch) steps per epoch, \(total) steps; \(s.loss) loss on '\(s.target)'"
        }
        totalSteps = plan.totalSteps
        return plan
    }

    public func install(hooks: (any ModuleHooks)?) {}

    /// A seeded shuffle per epoch; each step's global batch split in rank order.
    public func batches(epoch: Int) throws -> [GraphormerMicroBatch] {
        EpochBatches.seeded(data.train, epoch: epoch, seed: s.seed, batchSize: s.batchSize, rank: groups.dataParallelRank, ranks: groups.dataParallelSize)
            .map { GraphormerMicroBatch(indices: $0.indices, dropoutSeed: $0.seed) }
    }

    func predictions(_ indices: [Int]) -> Tensor {
        network(data.batch(indices, configuration: s.model, withPositions: s.model.add3D && s.evaluateWithPositions))
    }

    public func loss(_ micro: GraphormerMicroBatch) throws -> MicroBatchLoss {
        network.train()
        network.dropout.reseed(micro.dropoutSeed)
        let batch = micro.indices
        let output: Tensor
        var denoising: Tensor?
        if s.model.add3D {
            var graphs = data.batch(batch, configuration: s.model, withPositions: true)
            let noise = TransformerMDenoising.perturb(&graphs, scale: s.model.noiseScale, seed: micro.dropoutSeed ^ 0x9E37_79B9_7F4A_7C15)
            let modes = network.drawModes(graphs)
            let out = network.forward(graphs, modes: modes)
            output = out.prediction
            denoising = out.atomVectors.map { TransformerMDenoising.loss($0, noise: noise, batch: graphs, modes: modes) }
        } else {
            output = network(data.batch(batch, configuration: s.model))
        }
        var loss: Tensor
        if s.loss == "l1" {
            let targets = Tensor(batch.map { data.targets[$0] }, shape: [batch.count, 1]).cast(to: output.dtype)
            loss = (output - targets).abs().mean()
        } else {
            let labels = Tensor(batch.map { Int64(data.targets[$0]) }, shape: [batch.count])
            loss = crossEntropy(output, labels)
        }
        if let denoising { loss = loss + denoising }
        return MicroBatchLoss(loss: loss, labels: Double(batch.count), items: Double(batch.count))
    }

    public func learningRate(at step: Int) -> Double { s.learningRate(at: step, runSteps: totalSteps) }

    /// Mean absolute error of `indices` (evaluation mode, in batches), summed over ranks' shares.
    func meanAbsoluteError(_ indices: [Int]) throws -> Double {
        network.eval()
        defer { network.train() }
        let ranks = groups.dataParallelSize, rank = groups.dataParallelRank
        let mine = stride(from: rank, to: indices.count, by: ranks).map { indices[$0] }
        var total = 0.0
        for start in stride(from: 0, to: mine.count, by: s.batchSize) {
            let chunk = Array(mine[start..<Swift.min(start + s.batchSize, mine.count)])
            let output = predictions(chunk).doubles
            for (k, i) in chunk.enumerated() { total += abs(output[k * s.model.classes] - data.targets[i]) }
        }
        let sums = try groups.dataParallel.allReduce([total], .sum)
        return sums[0] / Double(Swift.max(1, indices.count))
    }

    public func evaluate(step: Int) throws -> Evaluation? {
        guard !data.validation.isEmpty, s.loss == "l1" else { return nil }
        let mae = try meanAbsoluteError(data.validation)
        return Evaluation(entries: ["val/mae": mae], score: mae) { improved in
            String(format: "step %d  val/mae %.4f%@", step, mae, improved ? " (best)" : "")
        }
    }

    public func finish(_ outcome: TrainingOutcome, groups: ProcessGroups, log: (String) -> Void) throws -> GraphormerRunSummary {
        var testMAE: Double?, baselineMAE: Double?
        if !data.test.isEmpty && s.loss == "l1" {
            let best = try Checkpoint.read(from: outcome.bestCheckpoint)
            try network.loadStateDict(best.parameters)
            testMAE = try meanAbsoluteError(data.test)
            let mean = data.train.reduce(0.0) { $0 + data.targets[$1] } / Double(data.train.count)
            baselineMAE = data.test.reduce(0.0) { $0 + abs(data.targets[$1] - mean) } / Double(data.test.count)
            log(String(format: "test (%d molecules, best checkpoint): MAE %.4f; mean predictor (train mean %.4f) MAE %.4f",
                       data.test.count, testMAE!, mean, baselineMAE!))
            if groups.world.rank == 0 {
                let json: [String: Double] = ["test/mae": testMAE!, "test/mean_predictor_mae": baselineMAE!]
                let encoded = try JSONSerialization.data(withJSONObject: json, options: [.sortedKeys, .prettyPrinted])
                try encoded.write(to: URL(fileURLWithPath: runDirectory + "/test_scores.json"), options: .atomic)
            }
        }
        return GraphormerRunSummary(steps: outcome.steps, bestValidation: outcome.bestValidation, checkpoint: outcome.bestCheckpoint,
                                    metrics: outcome.metrics, testMAE: testMAE, baselineMAE: baselineMAE)
    }

    public func checkpointRecord(_ progress: TrainingProgress) -> String {
        GraphormerCheckpointRecord(recipe: s.json, progress: progress).encoded()
    }

    public func restore(record text: String, step: Int, file: String) throws -> TrainingProgress {
        let saved = try GraphormerCheckpointRecord.decode(text, file: file)
        guard saved.recipe == s.json else {
            throw FileError(file: file, message: "was written by another recipe; resume with the recipe that started the run")
        }
        return saved.progress
    }
}

/// Transformer-M's auxiliary task (upstream's `graph_prediction` criterion): Gaussian noise on every
/// real atom's position, and 1 − cos(predicted, true noise) per atom for the molecules trained as 3D
/// only, averaged over each molecule's atoms, summed over molecules and divided by the batch size
/// (fairseq's sample-size normalisation), added to the target loss with weight 1.
public enum TransformerMDenoising {
    /// Adds N(0, scale²) noise to each position of the molecules that have them; returns the noise `[B, N, 3]`.
    public static func perturb(_ batch: inout GraphormerBatch, scale: Double, seed: UInt64) -> [Double] {
        var generator = RandomGenerator(seed: seed)
        var noise = generator.normal([batch.positions.count], std: scale, dtype: .float64).doubles
        for g in 0..<batch.graphs {
            for i in 0..<batch.nodes {
                for axis in 0..<3 {
                    let k = (g * batch.nodes + i) * 3 + axis
                    if batch.hasPositions[g] && i < batch.nodeCounts[g] { batch.positions[k] += noise[k] } else { noise[k] = 0 }
                }
            }
        }
        return noise
    }

    /// - Parameters: vectors `[B, N, 3]` the atom head's output; noise `[B, N, 3]` from `perturb`.
    public static func loss(_ vectors: Tensor, noise: [Double], batch: GraphormerBatch, modes: [MoleculeMode]) -> Tensor {
        let (b, n) = (batch.graphs, batch.nodes), dtype = vectors.dtype
        let target = Tensor(noise, shape: [b, n, 3]).cast(to: dtype)
        let dot = (vectors * target).sum(axis: 2)
        let norms = (vectors.square().sum(axis: 2) * target.square().sum(axis: 2)).clamped(min: 1e-16).sqrt()
        var weights = [Double](repeating: 0, count: b * n)
        for g in 0..<b where modes[g] == .structureOnly && batch.hasPositions[g] {
            let m = batch.nodeCounts[g]
            for i in 0..<m { weights[g * n + i] = 1 / Double(m) }
        }
        return ((1 - dot / norms) * Tensor(weights, shape: [b, n]).cast(to: dtype)).sum() / Double(b)
    }
}

/// What a Graphormer checkpoint records beside the weights: the recipe and where the run stands.
struct GraphormerCheckpointRecord: CheckpointRecordCoding {
    var recipe = "{}"
    var progress = TrainingProgress()

    static let kind = "a Graphormer checkpoint"
}

/// A trained Graphormer from its checkpoint, for `graphormer-predict`.
public enum GraphormerCheckpoint {
    public static func load(_ path: String) throws -> (settings: GraphormerSettings, model: GraphormerModel) {
        let checkpoint = try Checkpoint.read(from: path)
        let record = try GraphormerCheckpointRecord.decode(checkpoint.config, file: path)
        var section = try RecipeSection.parse(record.recipe, file: path + " (its recipe)")
        var settings = GraphormerSettings()
        if var model = try section.section("model") { try settings.readModel(&model) }
        if var data = try section.section("data") {
            settings.maxNodes = try data.int("max_nodes", minimum: 1) ?? settings.maxNodes
            settings.batchSize = try data.int("batch_size", minimum: 1) ?? settings.batchSize
        }
        let model = GraphormerModel(settings.model, seed: 0)
        try model.loadStateDict(checkpoint.parameters)
        model.eval()
        return (settings, model)
    }
}
