import Foundation
import Testing
import TestSupport
import NeuralNetworks
@testable import ProteinFolding
import TensorCore

@Suite("Structure module", .serialized)
struct StructureModuleTests {
    static func randomFrames(batch: Int, residues: Int, generator: inout RandomGenerator) -> Rigid {
        Rigid(rotation: Rigid.rotation(quaternionVector: generator.normal([batch, residues, 3], dtype: .float64)),
              translation: generator.normal([batch, residues, 3], std: 5, dtype: .float64))
    }

    static let tight = Tolerance(rtol: 1e-10, atol: 1e-10)

    @Test("quaternion rotations are proper rotations; composing and inverting frames agree with applying them")
    func rigidAlgebra() {
        var generator = RandomGenerator(seed: 31)
        let a = Self.randomFrames(batch: 1, residues: 4, generator: &generator), b = Self.randomFrames(batch: 1, residues: 4, generator: &generator)
        let r = a.rotation.doubles
        for i in 0..<4 {
            let m = Array(r[i * 9..<(i + 1) * 9])
            for row in 0..<3 {
                for column in 0..<3 {
                    let dot = (0..<3).map { m[row * 3 + $0] * m[column * 3 + $0] }.reduce(0, +)
                    #expect(abs(dot - (row == column ? 1 : 0)) < 1e-12)
                }
            }
            let determinant = m[0] * (m[4] * m[8] - m[5] * m[7]) - m[1] * (m[3] * m[8] - m[5] * m[6]) + m[2] * (m[3] * m[7] - m[4] * m[6])
            #expect(abs(determinant - 1) < 1e-12)
        }
        #expect(Rigid.rotation(quaternionVector: .zeros([1, 1, 3], dtype: .float64)).doubles == [1, 0, 0, 0, 1, 0, 0, 0, 1])
        let x = generator.normal([1, 4, 5, 3], dtype: .float64)
        #expect(closeness(a.composed(with: b).apply(x), a.apply(b.apply(x)), Self.tight).passed)
        #expect(closeness(a.invertApply(a.apply(x)), x, Self.tight).passed)
    }

    @Test("invariant point attention does not change when every frame moves by one global rigid motion")
    func ipaInvariance() {
        var generator = RandomGenerator(seed: 32)
        let ipa = InvariantPointAttention(singleChannels: 24, pairChannels: 8, hidden: 4, heads: 3, queryPoints: 2, valuePoints: 3,
                                          dtype: .float64, generator: &generator)
        ipa.redrawZeroParameters(std: 0.05, seed: 33)
        let s = generator.normal([1, 6, 24], dtype: .float64), z = generator.normal([1, 6, 6, 8], dtype: .float64)
        let mask = Tensor([1, 1, 1, 1, 1, 0] as [Double], shape: [1, 6])
        let frames = Self.randomFrames(batch: 1, residues: 6, generator: &generator)
        let motion = Self.randomFrames(batch: 1, residues: 1, generator: &generator)
        let global = Rigid(rotation: motion.rotation.expanded(to: [1, 6, 3, 3]).contiguous(),
                           translation: motion.translation.expanded(to: [1, 6, 3]).contiguous())
        let before = withNoGrad { ipa(s, pair: z, frames: frames, mask: mask) }
        let after = withNoGrad { ipa(s, pair: z, frames: global.composed(with: frames), mask: mask) }
        #expect(before.shape == [1, 6, 24])
        #expect(closeness(after, before, Tolerance(rtol: 1e-9, atol: 1e-9)).passed)
        let result = gradcheck({ x in ipa(x[0], pair: x[1], frames: frames, mask: mask) }, inputs: [s, z])
        #expect(result.passed, "\(result)")
    }

    @Test("at AlphaFold's widths (c_s 384, c_z 128, IPA 12 heads): 8 iterations, unit torsions, and a fresh module keeps identity frames")
    func structureModule() {
        var generator = RandomGenerator(seed: 34)
        let module = StructureModule(generator: &generator)
        let s = generator.normal([1, 5, 384]), z = generator.normal([1, 5, 5, 128]), mask = Tensor.ones([1, 5])
        let fresh = withNoGrad { module(single: s, pair: z, mask: mask) }
        #expect(fresh.single.shape == [1, 5, 384] && fresh.frames.count == 8 && fresh.angles.shape == [1, 5, 7, 2])
        // The backbone update starts at zero: the frames stay at the identity until trained.
        #expect(fresh.frames.last!.translation.doubles.allSatisfy { $0 == 0 })
        let angles = fresh.angles.doubles
        for k in 0..<35 { #expect(abs(angles[2 * k] * angles[2 * k] + angles[2 * k + 1] * angles[2 * k + 1] - 1) < 1e-5) }
        module.redrawZeroParameters(std: 0.05, seed: 35)
        let moved = withNoGrad { module(single: s, pair: z, mask: mask) }
        let translations = moved.frames.last!.translation.doubles
        #expect(translations.contains { $0 != 0 } && translations.allSatisfy(\.isFinite))
    }
}
