// What force-field training, evaluation and prediction share: the split, the output
// standardisation from the training frames, batches of frames as one graph, energies and forces
// of a model, the scores in schnetpack #286's conventions, and checkpoints read back as models.
import Foundation
import Graphs
import MolecularDynamics
import NeuralNetworks
import ParallelRuntime
import TensorCore
import TensorIO

enum MLFFData {
    /// The recipe's split: index files when given, else a seeded random split by counts.
    static func split(_ s: MLFFSettings, frames: any FrameSource) throws -> FrameSplit {
        if let train = s.trainIndices, let validation = s.valIndices {
            let trainSet = try FrameSplit.indices(in: s.resolve(train), count: frames.count)
            let validationSet = try FrameSplit.indices(in: s.resolve(validation), count: frames.count)
            let testSet = try s.testIndices.map { try FrameSplit.indices(in: s.resolve($0), count: frames.count) } ?? []
            return FrameSplit(train: trainSet, validation: validationSet, test: testSet)
        }
        return try FrameSplit.random(count: frames.count, train: s.numTrain, validation: s.numVal, test: s.numTest, seed: s.seed, file: frames.path)
    }

    /// Sets the model's reference energies (the recipe's atomrefs) and its mean energy per atom,
    /// schnetpack 2's standardisation: mean over the training frames of (E − Σ atomref) / N.
    static func configureOutput(_ output: EnergyScale, settings s: MLFFSettings, frames: any FrameSource, train: [Int]) throws -> Double {
        setReferences(output, settings: s)
        var total = 0.0
        for index in train {
            let frame = try frames.frame(index)
            let (energy, _) = try ForceFieldData.checkedReference(frame, index: index, source: frames)
            let reference = frame.system.numbers.reduce(0.0) { $0 + output.atomReference[$1] }
            total += (energy - reference) / Double(frame.system.count)
        }
        output.mean = total / Double(train.count)
        output.stddev = 1
        return output.mean
    }

    static func setReferences(_ output: EnergyScale, settings s: MLFFSettings) {
        for (symbol, energy) in s.atomReferences { if let z = Elements.number(of: symbol) { output.atomReference[z] = energy } }
    }

    /// Frames as one graph with their reference energies `[B]` and forces `[N, 3]`.
    struct Batch {
        var graph: AtomisticGraph
        var energies: Tensor, forces: Tensor
        var atomCounts: [Int]
    }

    static func load(_ indices: [Int], from frames: any FrameSource, cutoff: Double, maxNeighbours: Int? = nil, dtype: DType) throws -> Batch {
        var structures: [(numbers: [Int], positions: [SIMD3<Double>], pairs: NeighbourPairs, cell: [SIMD3<Double>]?)] = []
        var energies: [Double] = [], forces: [Double] = [], counts: [Int] = []
        for index in indices {
            let frame = try frames.frame(index)
            let (energy, f) = try ForceFieldData.checkedReference(frame, index: index, source: frames)
            let pairs = try ForceFieldData.pairs(of: frame, cutoff: cutoff, maxNeighbours: maxNeighbours, index: index, source: frames)
            let system = frame.system
            structures.append((system.numbers, system.positions, pairs, system.cell.isPeriodic ? system.cell.vectors : nil))
            energies.append(energy)
            forces += f.flatMap { [$0.x, $0.y, $0.z] }
            counts.append(system.count)
        }
        let graph = AtomisticGraph(batch: structures, dtype: dtype)
        return Batch(graph: graph, energies: Tensor(energies, shape: [energies.count]).cast(to: dtype),
                     forces: Tensor(forces, shape: [forces.count / 3, 3]).cast(to: dtype), atomCounts: counts)
    }

    /// Energies `[B]` and forces −∂E/∂R `[N, 3]`; `createGraph` keeps the forces differentiable
    /// in the weights (a force loss).
    static func predict(_ model: any AtomisticModel, _ graph: AtomisticGraph, createGraph: Bool) throws -> (Tensor, Tensor) {
        let energies = model.energies(graph)
        let gradient = try grad(of: energies.sum(), wrt: graph.positions, createGraph: createGraph)
        return (energies, -gradient)
    }

    /// Scores of `model` on `indices` (each data-parallel rank takes every ranks-th frame; the sums meet on all ranks).
    static func score(_ model: any AtomisticModel, frames: any FrameSource, indices: [Int], settings s: MLFFSettings,
                      groups: ProcessGroups?, predictions: ((Int, Double, [Double]) -> Void)? = nil) throws -> ForceFieldScores {
        model.eval()
        let ranks = groups?.dataParallelSize ?? 1, rank = groups?.dataParallelRank ?? 0
        let mine = indices.enumerated().filter { $0.offset % ranks == rank }.map(\.element)
        var scores = ForceFieldScores()
        for start in stride(from: 0, to: mine.count, by: s.batchSize) {
            let chunk = Array(mine[start..<Swift.min(mine.count, start + s.batchSize)])
            let batch = try load(chunk, from: frames, cutoff: s.cutoff, maxNeighbours: model.maxNeighbours, dtype: s.dtype)
            let (energies, forces) = try predict(model, batch.graph, createGraph: false)
            let e = energies.doubles, f = forces.doubles
            scores.add(energies: e, reference: batch.energies.doubles, forces: f, referenceForces: batch.forces.doubles, atomCounts: batch.atomCounts)
            if let predictions {
                var offset = 0
                for (k, index) in chunk.enumerated() {
                    predictions(index, e[k], Array(f[(3 * offset)..<(3 * (offset + batch.atomCounts[k]))]))
                    offset += batch.atomCounts[k]
                }
            }
        }
        if ranks > 1, let groups { scores.sums = try groups.dataParallel.allReduce(scores.sums, .sum) }
        return scores
    }
}

/// Energy errors per molecule and per atom, force errors over Cartesian components (schnetpack
/// #286's conventions), as sums that add up over batches and ranks.
public struct ForceFieldScores: Sendable {
    /// molecules, Σ|ΔE|, ΣΔE², Σ|ΔE/N|, Σ(ΔE/N)², components, Σ|ΔF|, ΣΔF².
    var sums = Array(repeating: 0.0, count: 8)

    mutating func add(energies: [Double], reference: [Double], forces: [Double], referenceForces: [Double], atomCounts: [Int]) {
        for k in energies.indices {
            let error = energies[k] - reference[k], perAtom = error / Double(atomCounts[k])
            sums[0] += 1; sums[1] += abs(error); sums[2] += error * error; sums[3] += abs(perAtom); sums[4] += perAtom * perAtom
        }
        for k in forces.indices {
            let error = forces[k] - referenceForces[k]
            sums[5] += 1; sums[6] += abs(error); sums[7] += error * error
        }
    }

    public var molecules: Int { Int(sums[0]) }
    public var energyMAE: Double { sums[1] / sums[0] }
    public var energyRMSE: Double { (sums[2] / sums[0]).squareRoot() }
    public var energyMSE: Double { sums[2] / sums[0] }
    public var energyPerAtomMAE: Double { sums[3] / sums[0] }
    public var energyPerAtomRMSE: Double { (sums[4] / sums[0]).squareRoot() }
    public var forcesMAE: Double { sums[6] / sums[5] }
    public var forcesRMSE: Double { (sums[7] / sums[5]).squareRoot() }
    public var forcesMSE: Double { sums[7] / sums[5] }

    /// metrics.jsonl entries, every key naming its convention.
    public func entries(prefix: String) -> [String: Double] {
        ["\(prefix)/energy_mae": energyMAE, "\(prefix)/energy_rmse": energyRMSE, "\(prefix)/energy_per_atom_mae": energyPerAtomMAE,
         "\(prefix)/energy_per_atom_rmse": energyPerAtomRMSE, "\(prefix)/forces_mae": forcesMAE, "\(prefix)/forces_rmse": forcesRMSE]
    }

    public var summary: String {
        String(format: "energy MAE %.2f meV (RMSE %.2f) per molecule, %.3f meV per atom; forces MAE %.2f meV/Å (RMSE %.2f) over components",
               energyMAE * 1000, energyRMSE * 1000, energyPerAtomMAE * 1000, forcesMAE * 1000, forcesRMSE * 1000)
    }
}

/// A force-field checkpoint read back as a model: the recipe's architecture, the weights (the
/// averaged ones when the run kept an EMA), and the output standardisation.
public enum MLFFCheckpoint {
    /// `dtype` overrides the recipe's precision (MD in float64 with a model trained in float32).
    public static func load(_ path: String, averaged: Bool = true, dtype: DType? = nil) throws -> (settings: MLFFSettings, model: any AtomisticModel) {
        let checkpoint = try Checkpoint.read(from: path)
        let record = try MLFFCheckpointRecord.decode(checkpoint.config, file: path)
        var section = try RecipeSection.parse(record.recipe, file: path + " (its recipe)")
        var settings = MLFFSettings()
        if var model = try section.section("model") { try settings.readModel(&model) }
        settings.batchSize = 16
        settings.dtype = dtype ?? settings.dtype
        let model = settings.makeModel()
        var weights = checkpoint.parameters
        if averaged, let name = record.emaFile {
            let file = URL(fileURLWithPath: path).deletingLastPathComponent().appendingPathComponent(name).path
            weights = try Checkpoint.read(from: file).parameters
        }
        try model.loadStateDict(weights.map { ($0.0, $0.1.cast(to: settings.dtype)) })
        MLFFData.setReferences(model.energyScale, settings: settings)
        model.energyScale.mean = record.energyPerAtom
        return (settings, model)
    }

}
