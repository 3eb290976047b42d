// ZeRO against plain data parallelism on any communicator: the unit tests run it on the in-process
// world, `scizoo zero-check` under mpirun. Every stage and offload tier must end 20 AdamW steps
// with the parameters plain data parallelism reaches (float32 ≤ 1e-6 relative).
import Foundation
import NeuralNetworks
import TensorCore

public enum ZeROCheck {
    public struct Outcome: Sendable {
        public var failures: [String] = []
        /// One line per configuration: stage, offload, largest relative difference, bitwise or not.
        public var lines: [String] = []
    }

    /// - Parameters: `nvmePath` a folder for the NVMe tier's swap files (each rank uses its own sub-folder).
    public static func run(_ world: any Communicator, nvmePath: String, steps: Int = 20, clipping: Double = 0) throws -> Outcome {
        let groups = try ProcessGroups(world: world)
        var generator = RandomGenerator(seed: 17)
        let n = world.size
        let x = generator.normal([4 * n, 6]), y = generator.normal([4 * n, 3])
        let rows = (4 * world.rank)..<(4 * world.rank + 4)
        let input = x.sliced(axis: 0, rows.lowerBound, rows.upperBound), target = y.sliced(axis: 0, rows.lowerBound, rows.upperBound)
        func makeModel() -> MLP {
            var initialisation = RandomGenerator(seed: 3)
            return MLP(widths: [6, 16, 16, 3], activation: .tanh, dtype: .float32, generator: &initialisation)
        }
        // Biases get no weight decay (a second parameter group, as ClimaX's embeddings): the pieces of a
        // partition with and without decay must line up with the parameters at every stage.
        let exempt = Set(makeModel().namedParameters().map(\.0).filter { $0.hasSuffix("bias") })
        let adam = AdamSettings(learningRate: 0.01, weightDecay: 0.01, decoupled: true, decayExempt: exempt)

        // Plain data parallelism: all-reduced gradients, torch-style AdamW on every rank.
        let reference = makeModel()
        let referenceParameters = reference.namedParameters()
        let optimizers = [Adam(referenceParameters.filter { !exempt.contains($0.0) }, learningRate: adam.learningRate, weightDecay: adam.weightDecay, decoupled: true),
                          Adam(referenceParameters.filter { exempt.contains($0.0) }, learningRate: adam.learningRate, weightDecay: 0, decoupled: true)]
        for _ in 0..<steps {
            reference.zeroGrad()
            try mseLoss(reference(input), target).backward()
            try DataParallel.allReduceGradients(referenceParameters, groups: groups)
            if clipping > 0 { _ = clipGradientNorm(referenceParameters.map(\.1), maxNorm: clipping) }
            for optimizer in optimizers { optimizer.step() }
        }
        let expected = reference.parameters().flatMap { $0.value.scalars(as: Float.self) }

        var outcome = Outcome()
        for stage in 0...3 {
            for device in [OffloadSettings.Device.none, .cpu, .nvme] where stage > 0 || device == .none {
                var settings = ZeROSettings()
                settings.stage = stage
                settings.offloadOptimizer.device = device
                settings.offloadOptimizer.nvmePath = nvmePath
                if stage == 3 {
                    // Parameters on the same tier; biases (≤ 16 elements) stay whole, weights are partitioned.
                    settings.offloadParam.device = device
                    settings.offloadParam.nvmePath = nvmePath
                    settings.offloadParam.device = device == .cpu ? .cpu : device
                    settings.paramPersistenceThreshold = 20
                    settings.prefetchBucketSize = 1000
                }
                // Small buckets and sub-groups, so that several are in flight and the NVMe pipeline turns.
                settings.reduceBucketSize = 96
                settings.allgatherBucketSize = 64
                settings.subGroupSize = 128
                let model = makeModel()
                let parameters = model.namedParameters()
                let zero = try ZeROOptimizer(parameters, settings: settings, adam: adam, groups: groups, gradientClipping: clipping)
                model.parameterHooks = zero.hooks
                for step in 0..<steps {
                    // A forward without backward (validation) breaks the recorded module order once.
                    if stage == 3 && step == steps / 2 { _ = withNoGrad { model(input) } }
                    model.zeroGrad()
                    try mseLoss(model(input), target).backward()
                    try zero.step()
                }
                let ours = try zero.consolidatedParameters().flatMap { $0 }
                let scale = Double(expected.map { Swift.abs($0) }.max() ?? 1)
                let difference = Double(zip(ours, expected).map { Swift.abs($0 - $1) }.max() ?? 0) / scale
                let bitwise = ours == expected
                let name = "stage \(stage), offload \(device.rawValue)"
                if difference > 1e-6 || ours.count != expected.count {
                    outcome.failures.append("rank \(world.rank) of \(n): \(name): parameters differ from plain data parallelism by \(difference) relative")
                }
                let prefetch = zero.prefetchStatistics.map { ", \($0.hits) prefetched gathers, trace dropped \($0.invalidations)×" } ?? ""
                outcome.lines.append("\(name): largest relative difference \(String(format: "%.2e", difference))\(bitwise ? " (bitwise equal)" : "")\(prefetch)")
            }
        }
        return outcome
    }
}

extension ZeROCheck {
    /// Trains the check's MLP on a global batch of 12 samples split over `world` for `steps`
    /// AdamW steps at `settings`, optionally starting from the ZeRO checkpoint in `resumeFrom`
    /// and saving one to `saveTo`; returns every parameter's values (the same on every rank).
    public static func train(_ world: any Communicator, settings: ZeROSettings, steps: Int, resumeFrom: String? = nil,
                             saveTo: String? = nil, initialisationSeed: UInt64 = 3) throws -> [Float] {
        let groups = try ProcessGroups(world: world)
        var generator = RandomGenerator(seed: 23)
        let x = generator.normal([12, 6]), y = generator.normal([12, 3])
        let share = 12 / world.size
        let input = x.sliced(axis: 0, world.rank * share, (world.rank + 1) * share)
        let target = y.sliced(axis: 0, world.rank * share, (world.rank + 1) * share)
        var initialisation = RandomGenerator(seed: initialisationSeed)
        let model = MLP(widths: [6, 16, 16, 3], activation: .tanh, dtype: .float32, generator: &initialisation)
        let zero = try ZeROOptimizer(model.namedParameters(), settings: settings,
                                     adam: AdamSettings(learningRate: 0.01, weightDecay: 0.01, decoupled: true), groups: groups)
        model.parameterHooks = zero.hooks
        if let resumeFrom { _ = try ZeROCheckpoint.load(zero, directory: resumeFrom) }
        for _ in 0..<steps {
            model.zeroGrad()
            try mseLoss(model(input), target).backward()
            try zero.step()
        }
        if let saveTo { try ZeROCheckpoint.save(zero, directory: saveTo, tag: "global_step\(zero.stepCount)", step: zero.stepCount) }
        return try zero.consolidatedParameters().flatMap { $0 }
    }
}
