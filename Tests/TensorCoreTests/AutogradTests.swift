import Foundation
import Testing
import TestSupport
@testable import TensorCore

@Suite("Autograd contract")
struct AutogradTests {
    @Test("backward accumulates into leaves until zeroGrad")
    func accumulation() throws {
        let x = Tensor([1.0, 2, 3]).requiringGrad()
        try (x * x).sum().backward()
        #expect(x.grad?.doubles == [2, 4, 6])
        try (x * 3).sum().backward()
        #expect(x.grad?.doubles == [5, 7, 9])
        x.zeroGrad()
        #expect(x.grad == nil)
        #expect(x.isLeaf && !(x * 2).isLeaf)
    }

    @Test("no-grad scopes and detach record nothing")
    func noGradAndDetach() throws {
        let x = Tensor([1.0, 2]).requiringGrad()
        let y = withNoGrad { x * 2 }
        #expect(!y.requiresGrad)
        #expect(!(x.detached() * 2).requiresGrad)
        let z = (x * x).detached() * x
        let g = try grad(of: z.sum(), wrt: x)
        #expect(g.doubles == [1, 4], "the detached factor is a constant")
    }

    @Test("clear errors for outputs and inputs outside the graph")
    func errors() throws {
        let x = Tensor([1.0, 2]).requiringGrad()
        let constant = Tensor([1.0, 2])
        #expect(throws: AutogradError.outputDoesNotRequireGrad(index: 0, shape: [])) { try constant.sum().backward() }
        let indices = x.argmax(axis: 0).cast(to: .float64)
        do {
            try indices.backward()
            Issue.record("backward through argmax must fail")
        } catch let error as AutogradError {
            #expect(error.description.contains("non-differentiable"))
        }
        #expect(throws: AutogradError.nonScalarOutputNeedsGradient(shape: [2])) { try (x * 2).backward() }
        let unused = Tensor([5.0]).requiringGrad()
        #expect(throws: AutogradError.inputUnused(index: 1, shape: [1])) { _ = try grad(of: [x.sum()], wrt: [x, unused]) }
        #expect(try grad(of: [x.sum()], wrt: [x, unused], allowUnused: true)[1] == nil)
        #expect(throws: AutogradError.inputDoesNotRequireGrad(index: 0, shape: [2])) { _ = try grad(of: [x.sum()], wrt: [constant]) }
    }

    @Test("grad with explicit output gradients and several outputs")
    func functionalGrad() throws {
        let x = Tensor([1.0, 2, 3]).requiringGrad()
        let a = x * x, b = x.sin()
        let grads = try grad(of: [a, b], wrt: [x], gradOutputs: [Tensor([1.0, 0, 1]), Tensor([0.0, 1, 0])])
        #expect(closeness(grads[0]!.doubles, [2, cos(2.0), 6], Tolerance(rtol: 1e-15, atol: 0)).passed)
    }

    @Test("grad(of:wrt:) runs only the rules on paths to the chosen inputs and tells rules which inputs they need")
    func pruning() throws {
        let x = Tensor([1.0, 2]).requiringGrad(), w = Tensor([3.0, 4]).requiringGrad()
        nonisolated(unsafe) var offPathRuns = 0
        nonisolated(unsafe) var asked: [(Bool, Bool)] = []
        // w alone feeds `off`; x and w feed `both`.
        let off = Tensor.differentiable(w * 1, name: "off", inputs: [w]) { g in offPathRuns += 1; return [g] }
        let both = Tensor.differentiable(x * w, name: "both", inputs: [x, w]) { g in
            asked.append((x.needsGradient, w.needsGradient))
            return [g * w, g * x]
        }
        let y = (off + both).sum()
        let dx = try grad(of: y, wrt: x)
        #expect(dx.doubles == [3, 4])
        #expect(offPathRuns == 0)
        #expect(asked.count == 1 && asked[0] == (true, false))
        // backward() wants every leaf: every rule runs and every input is needed.
        try y.backward()
        #expect(offPathRuns == 1 && asked.last! == (true, true))
        #expect(w.grad?.doubles == [2, 3])
        // backward(inputs:) fills only the named leaves and runs only the rules on paths to them.
        x.zeroGrad()
        w.zeroGrad()
        try y.backward(inputs: [x])
        #expect(x.grad?.doubles == [3, 4] && w.grad == nil)
        #expect(offPathRuns == 1 && asked.last! == (true, false))
    }

    @Test("a diamond graph sums both paths; the third derivative of x⁴ is 24x")
    func diamondAndThirdOrder() throws {
        let x = Tensor([2.0]).requiringGrad()
        let y = x * 3
        let z = (y * y + y).sum()  // dz/dx = 3(2·3x + 1)
        #expect(try grad(of: z, wrt: x).doubles == [39])
        let f = x.pow(4).sum()
        let d1 = try grad(of: f, wrt: x, createGraph: true)
        let d2 = try grad(of: d1.sum(), wrt: x, createGraph: true)
        let d3 = try grad(of: d2.sum(), wrt: x)
        #expect(d1.doubles == [32] && d2.doubles == [48] && d3.doubles == [48])
    }

    // Vectors from Random123's kat_vectors file (counter words, key words → output words).
    @Test("Philox4x32-10 matches the Random123 known-answer vectors")
    func philoxKnownAnswers() {
        let zero = philox(counter: 0, stream: 0, key: 0)
        #expect([zero.0, zero.1, zero.2, zero.3] == [0x6627_e8d5, 0xe169_c58d, 0xbc57_ac4c, 0x9b00_dbd8])
        let ones = philox(counter: .max, stream: .max, key: .max)
        #expect([ones.0, ones.1, ones.2, ones.3] == [0x408f_276d, 0x41c8_3b0e, 0xa20b_c7c6, 0x6d54_51fd])
        let pi = philox(counter: 0x85a3_08d3_243f_6a88, stream: 0x0370_7344_1319_8a2e, key: 0x299f_31d0_a409_3822)
        #expect([pi.0, pi.1, pi.2, pi.3] == [0xd16c_fe09, 0x94fd_cceb, 0x5001_e420, 0x2412_6ea1])
    }

    @Test("a seed fixes every draw; dropout keeps about 1 − p and scales by 1/(1 − p)")
    func randomness() {
        var a = RandomGenerator(seed: 42), b = RandomGenerator(seed: 42)
        #expect(a.normal([100]).doubles == b.normal([100]).doubles)
        #expect(a.offset == b.offset && a.offset > 0)
        let draws = a.normal([20_000], dtype: .float64).doubles
        let mean = draws.reduce(0, +) / 20_000
        let variance = draws.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / 20_000
        #expect(abs(mean) < 0.03 && abs(variance - 1) < 0.05)
        let uniform = a.uniform([10_000], dtype: .float32).doubles
        #expect(uniform.allSatisfy { $0 >= 0 && $0 < 1 })
        var generator = RandomGenerator(seed: 1)
        let dropped = Tensor.ones([10_000]).dropout(0.25, generator: &generator).doubles
        let kept = dropped.filter { $0 != 0 }
        #expect(abs(Double(kept.count) / 10_000 - 0.75) < 0.02)
        #expect(kept.allSatisfy { abs($0 - 1 / 0.75) < 1e-6 })
        #expect(Tensor.ones([4]).dropout(0.5, training: false, generator: &generator).doubles == [1, 1, 1, 1])
        #expect(Set(generator.permutation(10)) == Set(0..<10))
    }
}
