// `scizoo mlff-eval` and `mlff-predict`: a trained checkpoint on frames. Evaluation scores in
// schnetpack #286's conventions (each key names its own) and draws a force parity plot;
// prediction writes each frame with the model's energy, forces and (periodic frames) stress.
import Foundation
import MolecularDynamics
import TensorIO

public enum MLFFEvaluation {
    public struct Report: Sendable {
        public var frames: Int
        public var scores: ForceFieldScores
    }

    public static func run(checkpoint: String, data: String, averaged: Bool = true, plot: String? = nil, output: String? = nil) throws -> Report {
        let (settings, model) = try MLFFCheckpoint.load(checkpoint, averaged: averaged)
        let frames = try ForceFieldData.open(data)
        var points: [(Double, Double)] = []
        let scores = try MLFFData.score(model, frames: frames, indices: Array(0..<frames.count), settings: settings, groups: nil) { index, _, forces in
            guard plot != nil, let reference = try? frames.frame(index).forces else { return }
            for (k, f) in reference.flatMap({ [$0.x, $0.y, $0.z] }).enumerated() { points.append((f, forces[k])) }
        }
        if let output {
            var entries: [String: Any] = scores.entries(prefix: "eval")
            (entries["frames"], entries["checkpoint"], entries["data"]) = (frames.count, checkpoint, data)
            entries["units"] = "energy eV per molecule (energy_*) and per atom (energy_per_atom_*); forces eV/Å over Cartesian components"
            let json = try JSONSerialization.data(withJSONObject: entries, options: [.sortedKeys, .prettyPrinted])
            try json.write(to: URL(fileURLWithPath: output), options: .atomic)
        }
        if let plot { try ParityPlot.write(points, to: plot) }
        return Report(frames: frames.count, scores: scores)
    }

    /// Where the weights come from: a checkpoint of mlff-train, or schnetpack's safetensors with
    /// the architecture from a recipe's model section.
    public enum Weights: Sendable {
        case checkpoint(String)
        case schnetpack(weights: String, recipe: String)

        func model() throws -> any AtomisticModel {
            switch self {
            case .checkpoint(let path): return try MLFFCheckpoint.load(path).model
            case .schnetpack(let weights, let recipe):
                let model = try MLFFSettings.loadModel(from: recipe).makeModel()
                if let visnet = model as? ViSNet { try ViSNetWeights.load(weights, into: visnet) } else { try SchnetpackWeights.load(weights, into: model) }
                return model
            }
        }
    }

    /// Writes every frame of `input` with the model's results; returns the frame count.
    public static func predict(_ weights: Weights, input: String, output: String) throws -> Int {
        let model = try weights.model()
        let frames = try ForceFieldData.open(input)
        let results = try predictFrames(model, frames)
        try ExtendedXYZ.write(results, to: output)
        return results.count
    }

    private static func predictFrames<Model: AtomisticModel>(_ model: Model, _ frames: any FrameSource) throws -> [AtomicFrame] {
        model.eval()
        var potential = MLPotential(model: model)
        return try (0..<frames.count).map { index in
            var frame = try frames.frame(index)
            let result: PotentialResult
            do { result = try potential.evaluate(frame.system) } catch {
                throw FileError(file: frames.path, key: "frame \(index)" + (frame.line > 0 ? " (line \(frame.line))" : ""), message: "\(error)")
            }
            (frame.energy, frame.forces, frame.stress) = (result.energy, result.forces, result.stress)
            return frame
        }
    }
}

/// A scatter of predicted against reference values with the diagonal, as a PNG.
enum ParityPlot {
    static func write(_ points: [(reference: Double, predicted: Double)], to path: String, size: Int = 480) throws {
        var pixels = [UInt8](repeating: 255, count: size * size * 3)
        let values = points.flatMap { [$0.reference, $0.predicted] }
        let low = values.min() ?? -1, high = values.max() ?? 1, span = Swift.max(high - low, 1e-12)
        let margin = 20, inner = size - 2 * margin
        func pixel(_ value: Double) -> Int { margin + Int((value - low) / span * Double(inner - 1)) }
        func set(_ x: Int, _ y: Int, _ rgb: (UInt8, UInt8, UInt8)) {
            guard (0..<size).contains(x), (0..<size).contains(y) else { return }
            let k = ((size - 1 - y) * size + x) * 3
            (pixels[k], pixels[k + 1], pixels[k + 2]) = rgb
        }
        for t in 0..<inner {
            set(margin + t, margin + t, (200, 60, 60))  // the diagonal
            for (x, y) in [(margin + t, margin), (margin + t, size - margin), (margin, margin + t), (size - margin, margin + t)] { set(x, y, (0, 0, 0)) }
        }
        for point in points { set(pixel(point.reference), pixel(point.predicted), (30, 80, 200)) }
        try PNG.write(width: size, height: size, rgb: pixels, to: path)
    }
}
