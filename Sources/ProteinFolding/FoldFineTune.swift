// Fine-tuning AlphaFold on one query with a known structure (a smoke recipe, not a training
// pipeline): per step a contiguous crop that holds resolved residues, features sampled as in
// training (BERT masking on), earlier recycling passes without gradients and the last with them,
// the losses of FoldingLosses, gradient clipping by global norm, Adam (upstream: lr 1e-3 after a
// 1,000-step linear warm-up, ε 1e-5, clip 0.1).
import Kernels
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

/// One step's record.
public struct FoldFineTuneStep {
    public var step: Int
    public var crop: Range<Int>
    public var loss: Double
    public var terms: [(String, Double)]
    /// The gradient norm before clipping; how many parameter tensors received a non-zero
    /// gradient, and the names of those that did not.
    public var gradientNorm: Double
    public var parametersWithGradient: Int, parameters: Int
    public var withoutGradient: [String]
    public var learningRate: Double
    public var seconds: Double
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

    public static func run(model: AlphaFold, raw: RawFeatures, target: FoldingTarget, settings: FoldFineTuneSettings,
                           log: (FoldFineTuneStep) -> Void) {
        precondition(raw.residues == target.residues, "FoldFineTune: \(raw.residues) residues of features, \(target.residues) of structure")
        model.train()
        let parameters = model.namedParameters()
        let optimizer = Adam(parameters, learningRate: settings.learningRate, epsilon: settings.adamEpsilon)
        var generator = RandomGenerator(seed: settings.seed)
        let options = InputTransformOptions(maxClusters: settings.maxClusters, maxExtra: settings.maxExtra)
        let clock = ContinuousClock()
        for step in 0..<settings.steps {
            let start = clock.now
            let window = crop(target, size: settings.crop, generator: &generator)
            let (croppedRaw, croppedTarget) = (raw.cropped(window), target.cropped(window))
            var recycled = AlphaFold.Recycled.zeros(residues: window.count)
            for pass in 0..<settings.recycles {
                let features = InputTransforms.features(croppedRaw, options: options, seed: settings.seed &+ UInt64(step), pass: pass)
                recycled = withNoGrad { model.pass(features, recycled: recycled, chunkSize: settings.chunkSize).recycled }
            }
            let features = InputTransforms.features(croppedRaw, options: options, seed: settings.seed &+ UInt64(step), pass: settings.recycles)
            let pass = model.pass(features, recycled: recycled, chunkSize: settings.chunkSize)
            let terms = FoldingLosses.compute(pass, model: model, features: features, target: croppedTarget, crop: settings.crop)
            model.zeroGrad()
            try! terms.total.backward()
            let withoutGradient = parameters.filter { !(($0.1.grad?.doubles.contains { $0 != 0 }) ?? false) }.map(\.0)
            let norm = clipGradientNorm(parameters.map(\.1), maxNorm: settings.clipNorm)
            optimizer.learningRate = settings.learningRate * min(1, Double(step + 1) / Double(max(1, settings.warmupSteps)))
            optimizer.step()
            log(FoldFineTuneStep(step: step + 1, crop: window, loss: terms.total.doubles[0], terms: terms.named, gradientNorm: norm,
                                 parametersWithGradient: parameters.count - withoutGradient.count, parameters: parameters.count, withoutGradient: withoutGradient, learningRate: optimizer.learningRate, seconds: (clock.now - start).inSeconds))
        }
        model.eval()
    }
}
