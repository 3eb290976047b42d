// Distributional Graphormer for one flexible molecule's conformations, as microsoft/Graphormer's
// `distributional_graphormer/catalyst-adsorption` diffuses atom positions (`models/graphormer_diff.py`):
//
//   schedule   β_t from `get_beta_schedule` (sigmoid by default: sigmoid(linspace(−6, 6, T))·(β_end − β_start)
//              + β_start, T = 5000, β from 10⁻⁷ to 2·10⁻³), ᾱ_t = Π_{s ≤ t} (1 − β_s)
//   training   x_t = √ᾱ_t x_0 + √(1 − ᾱ_t) ε, t drawn antithetically (t and T − 1 − t in pairs),
//              loss Σ_atoms |ε̂ − ε|² per molecule, averaged over molecules
//   denoiser   Transformer-M's encoder on the molecular graph and x_t (both channels), the step's
//              sinusoidal embedding added to every token, ε̂ from the atom head          [B, N, 3]
//   sampling   DDPM ancestral steps from x_T ~ N(0, I), or DDIM on a subsequence of steps with η
//
// Positions are heavy atoms, centred on their centroid. A free molecule's distribution does not
// depend on its orientation, so training conformations are turned by a uniform random rotation
// (the catalyst model needs none: its slab fixes the frame).
import Foundation
import NeuralNetworks
import TensorCore

public struct DiffusionSchedule: Sendable, Equatable {
    public var betas: [Double]
    /// ᾱ_t, cumulative products of 1 − β.
    public var alphaBars: [Double]

    /// Upstream's schedules: sigmoid, linear, quad, const, jsd.
    public init(kind: String = "sigmoid", steps: Int = 5000, betaStart: Double = 1e-7, betaEnd: Double = 2e-3) throws {
        guard steps >= 2 else { throw DiffusionError("num_diffusion_timesteps must be at least 2, got \(steps)") }
        func linspace(_ a: Double, _ b: Double) -> [Double] { (0..<steps).map { a + (b - a) * Double($0) / Double(steps - 1) } }
        switch kind {
        case "sigmoid": betas = linspace(-6, 6).map { 1 / (1 + exp(-$0)) * (betaEnd - betaStart) + betaStart }
        case "linear": betas = linspace(betaStart, betaEnd)
        case "quad": betas = linspace(betaStart.squareRoot(), betaEnd.squareRoot()).map { $0 * $0 }
        case "const": betas = [Double](repeating: betaEnd, count: steps)
        case "jsd": betas = linspace(Double(steps), 1).map { 1 / $0 }
        default: throw DiffusionError("unknown beta schedule '\(kind)' (sigmoid, linear, quad, const, jsd)")
        }
        var product = 1.0
        alphaBars = betas.map { product *= 1 - $0; return product }
    }

    public var steps: Int { betas.count }
}

public struct DiffusionError: Error, CustomStringConvertible {
    public var description: String
    init(_ message: String) { description = message }
}

/// Upstream's `SinusoidalPositionEmbeddings`: sin and cos of t·10000^(−k/(d/2 − 1)), `[B, d]`.
public func diffusionStepEmbedding(_ steps: [Int], dimension: Int, dtype: DType) -> Tensor {
    let half = dimension / 2, scale = log(10000.0) / Double(half - 1)
    var values = [Double](repeating: 0, count: steps.count * dimension)
    for (b, t) in steps.enumerated() {
        for k in 0..<half {
            let angle = Double(t) * exp(-scale * Double(k))
            values[b * dimension + k] = sin(angle)
            values[b * dimension + half + k] = cos(angle)
        }
    }
    return Tensor(values, shape: [steps.count, dimension]).cast(to: dtype)
}

/// The noise-predicting network: a Transformer-M encoder with the 3D channel, conditioned on the step.
public final class ConformationDenoiser: Module, ActivationCheckpointing {
    public let network: GraphormerModel

    /// The encoder's layers are checkpointed (`GraphormerModel.checkpointsActivations`).
    public var checkpointsActivations: Bool {
        get { network.checkpointsActivations }
        set { network.checkpointsActivations = newValue }
    }

    public init(_ configuration: GraphormerConfiguration, seed: UInt64) {
        var c = configuration
        c.add3D = true
        precondition(c.embeddingDim % 2 == 0, "DiG: the step embedding needs an even embedding_dim, got \(c.embeddingDim)")
        network = GraphormerModel(c, seed: seed)
    }

    /// ε̂ for positions `batch.positions` at steps `t` (one per molecule), `[B, N, 3]`.
    public func predictNoise(_ batch: GraphormerBatch, steps t: [Int]) -> Tensor {
        let c = network.configuration, dtype = network.nodeFeature.graphToken.value.dtype
        let shift = diffusionStepEmbedding(t, dimension: c.embeddingDim, dtype: dtype).reshaped([batch.graphs, 1, c.embeddingDim])
        let modes = [MoleculeMode](repeating: c.no2D ? .structureOnly : .both, count: batch.graphs)
        return network.forward(batch, modes: modes, tokenShift: shift).atomVectors!
    }
}

/// Reverse diffusion: DDPM over every step, or DDIM over `steps` evenly spaced ones (upstream draws
/// the DDIM subsequence at random; even spacing gives the same sampler without that extra noise).
public struct ConformationSampler {
    public var schedule: DiffusionSchedule
    public var method: String = "ddpm"
    public var ddimSteps = 50
    public var eta = 0.0

    public init(schedule: DiffusionSchedule) { self.schedule = schedule }

    /// Samples `batch.graphs` conformations of the batch's molecules; returns positions `[B·N·3]`
    /// (padded atoms zero).
    public func sample(_ denoiser: ConformationDenoiser, batch template: GraphormerBatch, generator: inout RandomGenerator) -> [Double] {
        sample(batch: template, generator: &generator) { batch, steps in denoiser.predictNoise(batch, steps: steps).doubles }
    }

    /// The same with any noise predictor `predict(batch, steps) → ε̂ [B·N·3]`.
    public func sample(batch template: GraphormerBatch, generator: inout RandomGenerator,
                       predict: (GraphormerBatch, [Int]) -> [Double]) -> [Double] {
        var batch = template
        let (b, n) = (batch.graphs, batch.nodes)
        let real = (0..<(b * n * 3)).map { ($0 / 3) % n < batch.nodeCounts[$0 / (3 * n)] ? 1.0 : 0.0 }
        func gaussian() -> [Double] { zip(generator.normal([b * n * 3], dtype: .float64).doubles, real).map { $0 * $1 } }
        batch.positions = gaussian()
        batch.hasPositions = [Bool](repeating: true, count: b)
        let a = schedule.alphaBars
        let path: [Int]
        if method == "ddim" {
            let k = Swift.max(2, Swift.min(ddimSteps, schedule.steps))
            path = (0..<k).map { Int((Double($0) * Double(schedule.steps - 1) / Double(k - 1)).rounded()) }
        } else {
            path = Array(0..<schedule.steps)
        }
        return withNoGrad {
            for index in stride(from: path.count - 1, through: 0, by: -1) {
                let t = path[index], previous = index > 0 ? path[index - 1] : -1
                let eps = predict(batch, [Int](repeating: t, count: b))
                let aT = a[t], aPrev = previous >= 0 ? a[previous] : 1.0
                let noise = previous >= 0 ? gaussian() : [Double](repeating: 0, count: b * n * 3)
                if method == "ddim" {
                    let sigma = eta * ((1 - aPrev) / (1 - aT) * (1 - aT / aPrev)).squareRoot()
                    for k in 0..<(b * n * 3) where real[k] != 0 {
                        let x0 = (batch.positions[k] - (1 - aT).squareRoot() * eps[k]) / aT.squareRoot()
                        batch.positions[k] = aPrev.squareRoot() * x0 + Swift.max(0, 1 - aPrev - sigma * sigma).squareRoot() * eps[k] + sigma * noise[k]
                    }
                } else {
                    let alpha = aT / aPrev, beta = 1 - alpha
                    let sigma = previous >= 0 ? ((1 - aPrev) / (1 - aT) * beta).squareRoot() : 0
                    for k in 0..<(b * n * 3) where real[k] != 0 {
                        batch.positions[k] = (batch.positions[k] - beta / (1 - aT).squareRoot() * eps[k]) / alpha.squareRoot() + sigma * noise[k]
                    }
                }
            }
            return batch.positions
        }
    }
}

/// Distances and the equivariant atom head do not change under a reflection, so the denoiser cannot
/// tell a conformation from its mirror image and samples a chiral molecule as both enantiomers in
/// equal shares. The handedness of each stereocentre (an atom with a chirality tag and at least
/// three heavy neighbours) is read from reference conformations as the sign of the triple product
/// of its first three heavy neighbours' offsets; a sample whose stereocentres are all inverted is
/// reflected through its centroid, which under the model's reflection symmetry is an exact draw of
/// the intended enantiomer. Samples with some centres inverted and others not are left as they are.
public struct MirrorImageCorrection: Sendable {
    /// Each stereocentre and the neighbours its sign is taken over.
    public var centres: [(atom: Int, neighbours: [Int])]
    /// The reference handedness of each centre (+1 or −1).
    public var signs: [Double]

    public init(graph: MolecularGraph, reference: [[SIMD3<Double>]]) {
        var neighbours = [[Int]](repeating: [], count: graph.nodeCount)
        for k in 0..<graph.edgeCount { neighbours[graph.edgeIndex[k]].append(graph.edgeIndex[graph.edgeCount + k]) }
        centres = (0..<graph.nodeCount).filter { graph.nodeFeatures[$0 * 9 + 1] != 0 && neighbours[$0].count >= 3 }
            .map { ($0, Array(Set(neighbours[$0]).sorted().prefix(3))) }
        signs = []
        for centre in centres {
            let votes = reference.reduce(0.0) { $0 + Self.handedness($1, centre) }
            signs.append(votes >= 0 ? 1 : -1)
        }
    }

    static func handedness(_ x: [SIMD3<Double>], _ centre: (atom: Int, neighbours: [Int])) -> Double {
        let o = x[centre.atom]
        let (a, b, c) = (x[centre.neighbours[0]] - o, x[centre.neighbours[1]] - o, x[centre.neighbours[2]] - o)
        let volume = (SIMD3(a.y * b.z - a.z * b.y, a.z * b.x - a.x * b.z, a.x * b.y - a.y * b.x) * c).sum()
        return volume >= 0 ? 1 : -1
    }

    /// `samples` with all-inverted ones reflected; how many were reflected and how many are mixed.
    public func apply(_ samples: [[SIMD3<Double>]]) -> (samples: [[SIMD3<Double>]], reflected: Int, mixed: Int) {
        guard !centres.isEmpty else { return (samples, 0, 0) }
        var reflected = 0, mixed = 0
        let out = samples.map { x -> [SIMD3<Double>] in
            let inverted = zip(centres, signs).filter { Self.handedness(x, $0) != $1 }.count
            if inverted == centres.count {
                reflected += 1
                let centroid = x.reduce(SIMD3<Double>(), +) / Double(x.count)
                return x.map { centroid * 2 - $0 }
            }
            if inverted > 0 { mixed += 1 }
            return x
        }
        return (out, reflected, mixed)
    }
}
