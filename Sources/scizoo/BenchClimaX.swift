// `scizoo bench climax-train`: seconds per full ClimaX training step (forward, latitude-weighted
// MSE, backward, AdamW) on random inputs, with the variable aggregation in its factored form and,
// as the reference in the same run, in nn.MultiheadAttention's form (keys and values projected).
import ArgumentParser
import ClimateForecasting
import Foundation
import Kernels
import NeuralNetworks
import ParallelRuntime
import TensorCore

enum ClimaXBenchModel: String, ExpressibleByArgument, CaseIterable { case released, small, tiny }

struct BenchClimaXTrain: SciZooCommand {
    static let configuration = CommandConfiguration(
        commandName: "climax-train",
        abstract: "Seconds per ClimaX training step and samples/s, factored variable aggregation vs the textbook one.",
        discussion: """
            released: embed 1024, depth 8, 16 heads (≈ 108 M parameters); small: embed 256, depth 4, 8 heads; \
            tiny: the smoke recipe's width. 48 input variables on 32×64, patch 2. GFLOP/s counts the textbook \
            arithmetic (upstream's), so rates compare with PyTorch's; the factored form executes fewer FLOPs.
            """)

    @Option(help: "released, small or tiny.") var model: ClimaXBenchModel = .released
    @Option var batch: Int = 1
    @Option(help: "Input variables (the first N of the model's).") var variables: Int = 48
    @Option(help: "Output variables predicted (and scored by the loss).") var outVariables: Int = 48
    @Option(help: "Timed steps per form (after one warm-up step each).") var steps: Int = 3
    @Flag(help: "Skip the textbook-aggregation reference.") var noReference = false
    @OptionGroup var threadOptions: ThreadOptions
    var threads: Int? { threadOptions.threads }

    func execute(budget: ThreadBudget) throws {
        printBenchHeader(budget)
        var c: ClimaXConfiguration
        switch model {
        case .released: c = .released
        case .small: c = .small
        case .tiny: c = .tiny
        }
        let network = ClimaX(c, seed: 0)
        let variables = Array(c.defaultVariables.prefix(self.variables)), outputs = Array(c.defaultVariables.prefix(outVariables))
        // The trainer's optimiser path: ZeRO stage 0 on a world of one (AdamW, no decay on the embeddings).
        let parameters = network.namedParameters()
        let exempt = Set(parameters.map(\.0).filter(ClimaX.isExemptFromWeightDecay))
        let optimizer = try ZeROOptimizer(parameters, settings: ZeROSettings(),
                                          adam: AdamSettings(learningRate: 1e-4, beta1: 0.9, beta2: 0.99, weightDecay: 1e-5, decoupled: true,
                                                             decayExempt: exempt),
                                          groups: ProcessGroups(world: InProcessWorld.single()))
        var generator = RandomGenerator(seed: 1)
        let (h, w) = (c.imageSize[0], c.imageSize[1])
        let inputs = generator.normal([batch, variables.count, h, w])
        let targets = generator.normal([batch, outputs.count, h, w])
        let leadTimes = Tensor([Float](repeating: 0.72, count: batch), shape: [batch])
        let latitudes = (0..<h).map { -90 + 180 / Double(h) * (Double($0) + 0.5) }
        let clock = ContinuousClock()
        func step() throws {
            network.zeroGrad()
            let forecast = network(inputs, leadTimes: leadTimes, variables: variables, outVariables: outputs)
            try LatitudeWeights.meanSquaredError(forecast, targets, latitudes: latitudes).backward()
            try optimizer.step()
        }
        func measure() throws -> Timing {
            try step()
            var seconds: [Double] = []
            for _ in 0..<steps {
                let start = clock.now
                try step()
                seconds.append((clock.now - start).inSeconds)
            }
            return Timing(seconds: seconds)
        }
        print("ClimaX \(model.rawValue): embed \(c.embedDim), depth \(c.depth), \(c.numHeads) heads, patch \(c.patchSize), "
              + "\(network.parameterCount) parameters; batch \(batch), \(variables.count) variables → \(outputs.count), \(h)×\(w)")
        let textbookFLOPs = 3 * Double(batch) * Self.textbookForwardFLOPs(c, variables: variables.count, outputs: outputs.count)
        let executedFLOPs = 3 * Double(batch) * ClimaX.forwardFLOPs(c, variables: variables.count, outputs: outputs.count)
        func report(_ label: String, _ timing: Timing) {
            print(label.padding(toLength: 22, withPad: " ", startingAt: 0)
                  + String(format: "median %.3f s/step (min %.3f, max %.3f)  %.3f samples/s  %.1f GFLOP/s textbook-equivalent (%.1f executed)",
                           timing.median, timing.minimum, timing.maximum, Double(batch) / timing.median,
                           textbookFLOPs / timing.median / 1e9, executedFLOPs / timing.median / 1e9))
        }
        network.varAgg.fused = true
        let fused = try measure()
        let fusedPeak = peakRSS()
        report("factored aggregation", fused)
        print("peak RSS after the factored steps: \(gibibytes(fusedPeak))")
        if !noReference {
            network.varAgg.fused = false
            let reference = try measure()
            report("textbook aggregation", reference)
            print(String(format: "ratio factored/textbook %.3f (%.2f× faster); peak RSS %@", fused.median / reference.median,
                         reference.median / fused.median, gibibytes(peakRSS())))
        }
        // Where the factored step's time goes.
        network.varAgg.fused = true
        network.zeroGrad()
        var loss = Tensor.zeros([])
        let t0 = clock.now
        loss = LatitudeWeights.meanSquaredError(network(inputs, leadTimes: leadTimes, variables: variables, outVariables: outputs), targets, latitudes: latitudes)
        let t1 = clock.now
        try loss.backward()
        let t2 = clock.now
        try optimizer.step()
        let t3 = clock.now
        print(String(format: "phases (factored): forward %.3f s, backward %.3f s, AdamW %.3f s", (t1 - t0).inSeconds, (t2 - t1).inSeconds, (t3 - t2).inSeconds))
        let profile = AutogradProfile.drain()
        if !profile.isEmpty {
            print("backward by op (all steps; SCIZOO_PROFILE_AUTOGRAD): "
                  + profile.prefix(14).map { String(format: "%@ %.3f s", $0.0, $0.1) }.joined(separator: ", "))
        }
    }

    /// Forward FLOPs with keys and values projected for every variable token (nn.MultiheadAttention).
    static func textbookForwardFLOPs(_ c: ClimaXConfiguration, variables: Int, outputs: Int) -> Double {
        let l = Double(c.tokens), d = Double(c.embedDim), v = Double(variables)
        let factored = ClimaX.forwardFLOPs(c, variables: variables, outputs: outputs)
        let factoredAggregation = 2 * l * v * d * Double(c.numHeads) * 2 + 2 * l * d * d * 2
        let textbookAggregation = 2 * l * v * d * d * 2 + 2 * l * v * d * 2 + 2 * l * d * d
        return factored - factoredAggregation + textbookAggregation
    }
}
