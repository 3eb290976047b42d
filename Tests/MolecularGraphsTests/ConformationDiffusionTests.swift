// DiG's diffusion maths: upstream's schedules, the step embedding, and both samplers driven by the
// exact noise predictor of a known distribution, which must give that distribution back.
import Foundation
import Testing
import TensorCore
@testable import MolecularGraphs

@Suite struct ConformationDiffusionTests {
    @Test func schedulesAreUpstreams() throws {
        let sigmoid = try DiffusionSchedule(kind: "sigmoid", steps: 5000, betaStart: 1e-7, betaEnd: 2e-3)
        // sigmoid(±6)·(β_end − β_start) + β_start at the ends, the midpoint halfway.
        #expect(abs(sigmoid.betas[0] - (1e-7 + (2e-3 - 1e-7) / (1 + exp(6)))) < 1e-15)
        #expect(abs(sigmoid.betas[4999] - (1e-7 + (2e-3 - 1e-7) / (1 + exp(-6)))) < 1e-15)
        #expect(abs(sigmoid.alphaBars[4999] - sigmoid.betas.reduce(1.0) { $0 * (1 - $1) }) < 1e-12)
        #expect(sigmoid.alphaBars[4999] < 0.01 && sigmoid.alphaBars[0] > 0.999_99)
        let linear = try DiffusionSchedule(kind: "linear", steps: 3, betaStart: 0.1, betaEnd: 0.3)
        #expect(linear.betas.map { ($0 * 1e12).rounded() / 1e12 } == [0.1, 0.2, 0.3])
        #expect(throws: DiffusionError.self) { try DiffusionSchedule(kind: "cosine") }
        let embedding = diffusionStepEmbedding([0, 7], dimension: 8, dtype: .float64).doubles
        #expect(Array(embedding[0..<8]) == [0, 0, 0, 0, 1, 1, 1, 1])
        #expect(abs(embedding[8 + 1] - sin(7 * exp(-log(10000.0) / 3))) < 1e-12)
    }

    /// Data = one of two structures, each with probability ½ (a two-point distribution in R^{N·3}): the
    /// exact ε̂(x_t, t) is known in closed form, so DDPM and DDIM must land on the two points in
    /// about equal numbers.
    @Test(arguments: ["ddpm", "ddim"])
    func samplersRecoverAKnownDistribution(method: String) throws {
        let graph = try MolecularGraph.fromSMILES("CCO")
        let n = graph.nodeCount, count = 200
        let a: [Double] = [1.2, 0, 0, 0, 0, 0, -1.2, 0.3, 0], b: [Double] = [0, 1.0, 0.4, 0, 0, 0, 0.5, -1.1, 0.2]
        var sampler = ConformationSampler(schedule: try DiffusionSchedule(kind: "sigmoid", steps: 1000, betaStart: 1e-4, betaEnd: 2e-2))
        sampler.method = method
        sampler.ddimSteps = 60
        sampler.eta = 1
        let template = GraphormerBatch([GraphormerItem](repeating: GraphormerItem(graph, maxHops: 5), count: count),
                                       positions: [[SIMD3<Double>]?](repeating: [SIMD3<Double>](repeating: .zero, count: n), count: count))
        var generator = RandomGenerator(seed: 4)
        let alphaBars = sampler.schedule.alphaBars
        let result = sampler.sample(batch: template, generator: &generator) { batch, steps in
            var eps = [Double](repeating: 0, count: batch.positions.count)
            for k in 0..<count {
                let abar = alphaBars[steps[k]], x = Array(batch.positions[(k * n * 3)..<((k + 1) * n * 3)])
                // Posterior weights of the two points, then ε̂ = (x − √ᾱ E[x₀ | x]) / √(1 − ᾱ).
                func logLikelihood(_ c: [Double]) -> Double { -zip(x, c).map { ($0 - abar.squareRoot() * $1) * ($0 - abar.squareRoot() * $1) }.reduce(0, +) / (2 * (1 - abar)) }
                let (la, lb) = (logLikelihood(a), logLikelihood(b)), top = Swift.max(la, lb)
                let wa = exp(la - top) / (exp(la - top) + exp(lb - top))
                for i in 0..<(n * 3) { eps[k * n * 3 + i] = (x[i] - abar.squareRoot() * (wa * a[i] + (1 - wa) * b[i])) / (1 - abar).squareRoot() }
            }
            return eps
        }
        var nearA = 0, nearB = 0
        for k in 0..<count {
            let x = Array(result[(k * n * 3)..<((k + 1) * n * 3)])
            let da = zip(x, a).map { ($0 - $1) * ($0 - $1) }.reduce(0, +).squareRoot()
            let db = zip(x, b).map { ($0 - $1) * ($0 - $1) }.reduce(0, +).squareRoot()
            if da < 0.05 { nearA += 1 } else if db < 0.05 { nearB += 1 }
        }
        #expect(nearA + nearB == count, "\(method): \(count - nearA - nearB) samples on neither point")
        #expect(abs(nearA - nearB) < count / 4, "\(method): \(nearA) vs \(nearB)")
    }
}

/// The mirror-image correction reads each stereocentre's handedness from reference conformations and
/// reflects samples whose centres are all inverted, leaving the right-handed ones untouched.
@Suite struct MirrorImageCorrectionTests {
    /// dig-train's --activation-checkpointing reaches the Transformer-M encoder: the noise prediction's
    /// gradients are the plain run's bits (dropout on, the stream replayed).
    @Test func denoiserCheckpointingIsBitwise() throws {
        let graph = try MolecularGraph.fromSMILES("CC(=O)NC")
        var generator = RandomGenerator(seed: 2)
        let positions = (0..<3).map { _ in (0..<graph.nodeCount).map { _ in SIMD3<Double>(generator.normal([3], dtype: .float64).doubles) } }
        let batch = GraphormerBatch((0..<3).map { _ in GraphormerItem(graph, maxHops: 5) }, positions: positions)
        var configuration = GraphormerConfiguration(layers: 2, embeddingDim: 16, ffnDim: 24, heads: 4)
        configuration.dropout = 0.1
        func gradients(_ checkpoint: Bool) throws -> [[Double]] {
            let denoiser = ConformationDenoiser(configuration, seed: 5)
            denoiser.checkpointsActivations = checkpoint
            #expect(denoiser.network.checkpointsActivations == checkpoint)
            denoiser.network.dropout.reseed(3)
            try (denoiser.predictNoise(batch, steps: [10, 200, 700]) * 0.5).sum().backward()
            return denoiser.namedParameters().map { $0.1.grad?.doubles ?? [] }
        }
        #expect(try gradients(false) == gradients(true))
    }

    @Test func reflectsInvertedSamplesOnly() throws {
        // L-alanine's heavy atoms: N, Cα, Cβ, C, O, O (Cα is the stereocentre, bonded to N, Cβ and C).
        let graph = try MolecularGraph.fromSMILES("N[C@@H](C)C(=O)O")
        let right: [SIMD3<Double>] = [SIMD3(1.4, 0, 0), SIMD3(0, 0, 0), SIMD3(-0.5, 1.3, 0.2), SIMD3(-0.5, -0.7, 1.2), SIMD3(-1.6, -1.2, 1.1), SIMD3(0.2, -0.8, 2.3)]
        let mirror = right.map { SIMD3(-$0.x, $0.y, $0.z) }
        let correction = MirrorImageCorrection(graph: graph, reference: [right, right, mirror])
        #expect(correction.centres.map(\.atom) == [1] && correction.centres[0].neighbours == [0, 2, 3])
        let (fixed, reflected, mixed) = correction.apply([right, mirror, right])
        #expect(reflected == 1 && mixed == 0)
        #expect(fixed[0] == right && fixed[2] == right)
        // The reflected sample has the reference handedness and the same internal distances.
        #expect(MirrorImageCorrection.handedness(fixed[1], correction.centres[0]) == correction.signs[0])
        for i in 0..<6 { for j in 0..<6 {
            let a = fixed[1][i] - fixed[1][j], b = right[i] - right[j]
            #expect(abs((a * a).sum() - (b * b).sum()) < 1e-12)
        } }
        // No stereocentre: nothing to correct.
        let flat = MirrorImageCorrection(graph: try MolecularGraph.fromSMILES("CC(C)O"), reference: [[.zero, .zero, .zero, .zero]])
        #expect(flat.centres.isEmpty && flat.apply([[.zero, .zero, .zero, .zero]]).reflected == 0)
    }
}
