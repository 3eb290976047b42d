// Fine-tuning AlphaFold on one query with a known structure (a smoke recipe, not a training
// pipeline): per step a contiguous crop that holds resolved residues, features sampled as in
// training (BERT masking on), earlier recycling passes without gradients and the last with them,
// the losses of FoldingLosses. Recipes' FoldFineTuneTask trains on them with TrainingRun: gradient
// clipping by global norm and Adam (upstream: lr 1e-3 after a 1,000-step linear warm-up, ε 1e-5,
// clip 0.1).
import NeuralNetworks
import TensorCore

public struct FoldFineTuneSettings: Sendable {
    public var steps = 3
    public var crop = 32
    public var maxClusters = 16, maxExtra = 32
    public var recycles = 0
    /// Upstream: 1e-3 after a linear warm-up over 1,000 steps.
    public var learningRate = 1e-3, warmupSteps = 1_000, adamEpsilon = 1e-5, clipNorm = 0.1
    public var chunkSize: Int?
    public var seed: UInt64 = 0

    public init() {}
}

public enum FoldFineTune {
    /// The crop of `size` residues starting at a seeded position among those whose window holds
    /// the most resolved Cα (ties broken by the seed), so a crop always has structure to learn from.
    public static func crop(_ target: FoldingTarget, size: Int, generator: inout RandomGenerator) -> Range<Int> {
        let n = target.residues, size = min(size, n)
        let resolved = (0..<n).map { target.atom($0, "CA") != nil ? 1 : 0 }
        let starts = Array(0...(n - size))
        let counts = starts.map { resolved[$0..<($0 + size)].reduce(0, +) }
        let best = counts.max() ?? 0
        let candidates = starts.filter { counts[$0] * 10 >= best * 9 }  // within 90 % of the best window
        let pick = candidates[Int(generator.uniform([1], dtype: .float64).doubles[0] * Double(candidates.count)) % candidates.count]
        return pick..<(pick + size)
    }

    /// The losses of step `step` (0-based): a crop drawn from a generator seeded by the seed and the
    /// step (so a resumed run draws the same crops), features sampled as in training, earlier
    /// recycling passes without gradients and the last with them.
    public static func losses(model: AlphaFold, raw: RawFeatures, target: FoldingTarget, settings: FoldFineTuneSettings,
                              step: Int) -> (crop: Range<Int>, terms: FoldingLossTerms) {
        precondition(raw.residues == target.residues, "FoldFineTune: \(raw.residues) residues of features, \(target.residues) of structure")
        var generator = RandomGenerator(seed: settings.seed &+ UInt64(step) &* 0x9E37_79B9)
        let window = crop(target, size: settings.crop, generator: &generator)
        let (croppedRaw, croppedTarget) = (raw.cropped(window), target.cropped(window))
        let options = InputTransformOptions(maxClusters: settings.maxClusters, maxExtra: settings.maxExtra)
        var recycled = AlphaFold.Recycled.zeros(residues: window.count)
        for pass in 0..<settings.recycles {
            let features = InputTransforms.features(croppedRaw, options: options, seed: settings.seed &+ UInt64(step), pass: pass)
            recycled = withNoGrad { model.pass(features, recycled: recycled, chunkSize: settings.chunkSize).recycled }
        }
        let features = InputTransforms.features(croppedRaw, options: options, seed: settings.seed &+ UInt64(step), pass: settings.recycles)
        let pass = model.pass(features, recycled: recycled, chunkSize: settings.chunkSize)
        return (window, FoldingLosses.compute(pass, model: model, features: features, target: croppedTarget, crop: settings.crop))
    }

    /// Upstream's schedule: the learning rate ramps linearly over the warm-up steps.
    public static func learningRate(at step: Int, settings: FoldFineTuneSettings) -> Double {
        settings.learningRate * min(1, Double(step + 1) / Double(max(1, settings.warmupSteps)))
    }

    /// Names of the parameters whose gradient is missing or all zero (no loss reaches them).
    public static func withoutGradient(_ parameters: [(String, Parameter)]) -> [String] {
        parameters.filter { !(($0.1.grad?.doubles.contains { $0 != 0 }) ?? false) }.map(\.0)
    }
}
