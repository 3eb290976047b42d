import Foundation
import Testing
import TestSupport
@testable import NeuralNetworks
@testable import TensorCore

@Suite("Modules and layers")
struct ModuleTests {
    final class Block: Module {
        let norm = LayerNorm(4)
        let projection: Linear
        let extra: Linear?
        init(generator: inout RandomGenerator) {
            projection = Linear(4, 3, initialization: .glorot, generator: &generator)
            extra = nil
        }
    }

    @Test("parameters are registered by path in sorted order")
    func paths() {
        var generator = RandomGenerator(seed: 1)
        let mlp = MLP(widths: [3, 5, 5, 2], generator: &generator)
        #expect(mlp.namedParameters().map(\.0) == ["layers.0.bias", "layers.0.weight", "layers.1.bias", "layers.1.weight",
                                                    "layers.2.bias", "layers.2.weight"])
        #expect(mlp.parameterCount == 3 * 5 + 5 + 5 * 5 + 5 + 5 * 2 + 2)
        let block = Block(generator: &generator)
        #expect(block.namedParameters().map(\.0) == ["norm.bias", "norm.weight", "projection.bias", "projection.weight"])
        block.eval()
        #expect(!block.norm.isTraining)
    }

    @Test("named initialisations")
    func initialisations() {
        var generator = RandomGenerator(seed: 2)
        let glorot = Linear(200, 100, initialization: .glorot, generator: &generator)
        let bound = (6.0 / 300).squareRoot()
        #expect(glorot.weight.value.doubles.allSatisfy { abs($0) <= bound })
        let lecun = Linear(400, 300, initialization: .lecun, dtype: .float64, generator: &generator).weight.value.doubles
        let variance = lecun.map { $0 * $0 }.reduce(0, +) / Double(lecun.count)
        #expect(abs(variance - 1.0 / 400) < 0.1 / 400, "LeCun variance \(variance)")
        #expect(lecun.allSatisfy { abs($0) <= 2 * (1.0 / 400).squareRoot() / 0.87962566103423978 + 1e-12 })
        let gating = Linear(4, 3, initialization: .gating, generator: &generator)
        #expect(gating.weight.value.doubles.allSatisfy { $0 == 0 } && gating.bias!.value.doubles == [1, 1, 1])
        #expect(Linear(4, 3, initialization: .zeros, generator: &generator).weight.value.doubles.allSatisfy { $0 == 0 })
        let standard = Linear(16, 8, generator: &generator)
        #expect(standard.weight.value.doubles.allSatisfy { abs($0) <= 0.25 })
        let y = standard(Tensor.ones([2, 5, 16]))
        #expect(y.shape == [2, 5, 8])
    }

    @Test("losses match their definitions and pass gradcheck")
    func losses() {
        let logits = Tensor([2.0, 1, 0.1, 0.5, 2.5, 0.3], shape: [2, 3])
        let targets = Tensor([Int64(0), 2])
        func logProbability(_ logit: Double, _ row: [Double]) -> Double {
            let total: Double = row.map { Foundation.exp($0) }.reduce(0, +)
            return logit - Foundation.log(total)
        }
        let first: Double = logProbability(2.0, [2.0, 1, 0.1]), second: Double = logProbability(0.3, [0.5, 2.5, 0.3])
        let manual: Double = -(first + second) / 2
        #expect(abs(crossEntropy(logits, targets).item() - manual) < 1e-12)
        let ignored = crossEntropy(logits, Tensor([Int64(0), -100]))
        #expect(abs(ignored.item() + first) < 1e-12)
        #expect(crossEntropy(logits, Tensor([Int64(-100), -100])).item() == 0)
        let p = Tensor([0.0, 2, -3]), t = Tensor([1.0, 0, 0])
        #expect(abs(mseLoss(p, t).item() - 14.0 / 3) < 1e-15)
        #expect(l1Loss(p, t).item() == 2)
        #expect(abs(huberLoss(p, t).item() - (0.5 + 1.5 + 2.5) / 3) < 1e-15)
        for loss in [{ (x: [Tensor]) in crossEntropy(x[0], targets) }, { mseLoss($0[0], $0[0].sin()) },
                     { l1Loss($0[0], Tensor.zeros([2, 3], dtype: .float64)) }, { huberLoss($0[0] * 3, Tensor.zeros([2, 3], dtype: .float64)) }] {
            #expect(gradcheck(loss, inputs: [logits]).passed)
        }
    }
}

@Suite("Position embeddings")
struct PositionEmbeddingTests {
    @Test("rotary: scores depend only on relative position; partial rotary passes the rest through")
    func rotary() {
        var generator = RandomGenerator(seed: 3)
        let rope = RotaryEmbedding(headDimension: 8, fraction: 0.5, base: 10_000)
        #expect(rope.rotaryDimensions == 4)
        let q = generator.normal([1, 1, 1, 8], dtype: .float64), k = generator.normal([1, 1, 1, 8], dtype: .float64)
        func score(_ i: Int, _ j: Int) -> Double { (rope.apply(q, offset: i) * rope.apply(k, offset: j)).sum().item() }
        #expect(abs(score(3, 1) - score(12, 10)) < 1e-12)
        #expect(abs(score(3, 1) - score(1, 3)) > 1e-6)
        let rotated = rope.apply(q, offset: 5)
        #expect(rotated.sliced(axis: 3, 4).doubles == q.sliced(axis: 3, 4).doubles)
        // Position 0 is the identity; half-split pairs (i, i + 2) rotate by θ = p·base^(−2i/r).
        #expect(closeness(rope.apply(q, offset: 0), q).passed)
        let qv = q.doubles, rv = rotated.doubles
        let theta = 5.0
        #expect(abs(rv[0] - (qv[0] * cos(theta) - qv[2] * sin(theta))) < 1e-12)
        #expect(abs(rv[2] - (qv[2] * cos(theta) + qv[0] * sin(theta))) < 1e-12)
        // Sequence shards: positions offset by the shard's start equal the whole sequence's rows.
        let sequence = generator.normal([1, 6, 2, 8], dtype: .float64)
        let whole = rope.apply(sequence)
        let shard = rope.apply(sequence.sliced(axis: 1, 3), offset: 3)
        #expect(closeness(shard, whole.sliced(axis: 1, 3).contiguous()).passed)
    }

    @Test("fused rotary equals the composed reference bit for bit, forward and backward, and on packed q/k/v heads",
          arguments: [DType.float32, .float64], ["neox", "gptj with yarn", "neox with dynamic"])
    func rotaryFused(dtype: DType, variant: String) throws {
        var generator = RandomGenerator(seed: 17)
        let rope: RotaryEmbedding
        switch variant {
        case "gptj with yarn": rope = RotaryEmbedding(headDimension: 8, fraction: 0.5, style: .interleaved, scaling: RopeScaling(kind: .yarn, factor: 4), maxPositions: 16)
        case "neox with dynamic": rope = RotaryEmbedding(headDimension: 8, fraction: 0.5, scaling: RopeScaling(kind: .dynamic, factor: 2), maxPositions: 4)
        default: rope = RotaryEmbedding(headDimension: 8, fraction: 0.5)
        }
        let x = generator.normal([2, 7, 3, 8], dtype: dtype).requiringGrad()
        let gradOutput = generator.normal([2, 7, 3, 8], dtype: dtype)
        let fused = rope.apply(x, offset: 3), reference = rope.applyReference(x, offset: 3)
        #expect(fused.doubles == reference.doubles)
        let fusedGradient = try grad(of: [fused], wrt: [x], gradOutputs: [gradOutput])[0]!
        let referenceGradient = try grad(of: [reference], wrt: [x], gradOutputs: [gradOutput])[0]!
        #expect(fusedGradient.doubles == referenceGradient.doubles)
        // [B, S, H, 3·D] with q at 0 and k at D: both rotated, v untouched.
        let qkv = generator.normal([2, 7, 3, 24], dtype: dtype)
        let packed = rope.apply(qkv, parts: [0, 8])
        #expect(packed.sliced(axis: 3, 0, 8).doubles == rope.applyReference(qkv.sliced(axis: 3, 0, 8).contiguous()).doubles)
        #expect(packed.sliced(axis: 3, 8, 16).doubles == rope.applyReference(qkv.sliced(axis: 3, 8, 16).contiguous()).doubles)
        #expect(packed.sliced(axis: 3, 16).doubles == qkv.sliced(axis: 3, 16).doubles)
        if dtype == .float64 {
            let inputs = [generator.normal([1, 4, 2, 8], dtype: .float64)]
            let first = gradcheck({ rope.apply($0[0], offset: 2) }, inputs: inputs)
            #expect(first.passed, "\(first)")
            let second = gradgradcheck({ rope.apply($0[0] * $0[0], offset: 2) }, inputs: inputs)
            #expect(second.passed, "\(second)")
        }
    }

    @Test("AlphaFold relative positions, ALiBi slopes and T5 buckets")
    func relativeSchemes() {
        let onehot = relativePositionOneHot(residueIndex: [0, 1, 2, 40], maxRelative: 32)
        #expect(onehot.shape == [4, 4, 65])
        #expect(onehot.argmax(axis: -1).scalars(as: Int64.self) == [32, 31, 30, 0, 33, 32, 31, 0, 34, 33, 32, 0, 64, 64, 64, 32])
        #expect(alibiSlopes(heads: 8) == (1...8).map { pow(0.5, Double($0)) })
        #expect(alibiSlopes(heads: 6) == [0.25, 0.0625, 0.015625, 0.00390625, 0.5, 0.125])
        let bias = alibiBias(slopes: [0.5], queryLength: 2, keyLength: 3, dtype: .float64)
        #expect(bias.doubles == [0, 0.5, 1, -0.5, 0, 0.5])
        #expect([0, -1, 1, -7, -8, -200, 200, 5].map { t5RelativeBucket($0, bidirectional: true) } == [0, 1, 17, 7, 8, 15, 31, 21])
        #expect([0, 1, -1, -16, -127, -1000].map { t5RelativeBucket($0, bidirectional: false) } == [0, 0, 1, 16, 31, 31])
        var generator = RandomGenerator(seed: 4)
        let t5 = T5RelativeBias(heads: 3, bidirectional: true, generator: &generator)
        #expect(t5(queryLength: 4, keyLength: 5).shape == [3, 4, 5])
    }
}
