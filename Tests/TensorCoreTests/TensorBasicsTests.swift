import Foundation
import Kernels
import Testing
import TestSupport
@testable import TensorCore

@Suite("Tensor storage and views")
struct TensorBasicsTests {
    @Test("storage is 64-byte aligned and counted while alive")
    func alignmentAndAccounting() {
        let scope = MemoryScope()
        scope.measure {
            let a = Tensor.zeros([3, 5], dtype: .float32)
            #expect(Int(bitPattern: a.storage.base) % 64 == 0)
            #expect(scope.liveBytes == 60)
            do {
                let b = Tensor.ones([10], dtype: .float64)
                #expect(b.count == 10)
                #expect(scope.liveBytes == 140)
            }
            #expect(scope.liveBytes == 60)
            #expect(scope.peakBytes == 140)
            scope.resetPeak()
            #expect(scope.peakBytes == 60)
            _ = a
        }
        #expect(scope.liveBytes == 0)
    }

    @Test("dtypes round-trip their values")
    func dtypes() {
        #expect(Tensor([Float(1.5), -2], shape: [2]).scalars(as: Float.self) == [1.5, -2])
        #expect(Tensor([Double.pi]).scalars(as: Double.self) == [.pi])
        #expect(Tensor([Int32(7), -3]).scalars(as: Int32.self) == [7, -3])
        #expect(Tensor([Int64.max]).scalars(as: Int64.self) == [Int64.max])
        #expect(Tensor([true, false]).scalars(as: Bool.self) == [true, false])
        #expect(Tensor([Int64(3), 4]).cast(to: .float32).scalars(as: Float.self) == [3, 4])
        #expect(Tensor(scalar: 2.5, dtype: .float64).item() == 2.5)
    }

    @Test("views share storage: reshape, permute, slice with steps, expand, squeeze")
    func views() {
        let x = Tensor((0..<24).map(Double.init), shape: [2, 3, 4])
        let r = x.reshaped([6, -1])
        #expect(r.shape == [6, 4] && r.storage === x.storage)
        let p = x.permuted([2, 0, 1])
        #expect(p.shape == [4, 2, 3] && !p.isContiguous && p.storage === x.storage)
        #expect(p.doubles[0..<6] == [0, 4, 8, 12, 16, 20])
        let s = x.sliced(axis: 2, 1, nil, step: 2)
        #expect(s.shape == [2, 3, 2])
        #expect(s.doubles == [1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23])
        let negative = x.sliced(axis: -1, -2)
        #expect(negative.doubles == [2, 3, 6, 7, 10, 11, 14, 15, 18, 19, 22, 23])
        let e = Tensor([1.0, 2, 3], shape: [3, 1]).expanded(to: [2, 3, 4])
        #expect(e.strides == [0, 1, 0])
        #expect(e.doubles.prefix(8) == [1, 1, 1, 1, 2, 2, 2, 2])
        let u = x.unsqueezed(axis: 1)
        #expect(u.shape == [2, 1, 3, 4])
        #expect(u.squeezed(axis: 1).shape == [2, 3, 4])
        let t = x.transposed(0, 2).contiguous()
        #expect(t.isContiguous && t.shape == [4, 3, 2])
        #expect(t.doubles.prefix(3) == [0, 12, 4])
        // Reshaping a non-contiguous view copies.
        let flat = p.reshaped([24])
        #expect(flat.storage !== x.storage)
        #expect(flat.doubles == p.doubles)
    }

    @Test("writes copy shared storage first (copy-on-write)")
    func copyOnWrite() {
        let a = Tensor([1.0, 2, 3])
        var b = a
        b.update(as: Double.self) { $0[0] = 100 }
        #expect(a.doubles == [1, 2, 3])
        #expect(b.doubles == [100, 2, 3])
        var c = Tensor([1.0, 2])
        let identity = ObjectIdentifier(c.storage)
        c.update(as: Double.self) { $0[1] = 5 }
        #expect(ObjectIdentifier(c.storage) == identity, "a unique owner writes in place")
        #expect(c.doubles == [1, 5])
    }

    @Test("broadcasting arithmetic follows numpy")
    func broadcasting() {
        let a = Tensor([1.0, 2, 3], shape: [3, 1])
        let b = Tensor([10.0, 20], shape: [2])
        #expect((a + b).shape == [3, 2])
        #expect((a + b).doubles == [11, 21, 12, 22, 13, 23])
        #expect((a * b - 1).doubles == [9, 19, 19, 39, 29, 59])
        #expect((2.0 / Tensor([4.0, 8])).doubles == [0.5, 0.25])
        #expect(a.transposed(0, 1).maximum(Tensor([2.0])).doubles == [2, 2, 3])
    }

    @Test("reductions, argmax and comparisons")
    func reductions() {
        let x = Tensor([1.0, 5, 3, 4, 2, 6], shape: [2, 3])
        #expect(x.sum().item() == 21)
        #expect(x.sum(axis: 0).doubles == [5, 7, 9])
        #expect(x.sum(axis: 1, keepDims: true).shape == [2, 1])
        #expect(x.mean(axis: 1).doubles == [3, 4])
        #expect(x.max(axis: 1).doubles == [5, 6])
        #expect(x.min().item() == 1)
        #expect(x.argmax(axis: 1).scalars(as: Int64.self) == [1, 2])
        #expect(x.argmax(axis: 0).scalars(as: Int64.self) == [1, 0, 1])
        #expect(x.variance(axes: [1]).doubles == [4, 4])
        #expect(x.variance(axes: [1], correction: 0).doubles.map { ($0 * 1e9).rounded() / 1e9 } == [2.666666667, 2.666666667])
        let lse = x.logSumExp(axes: [1]).doubles
        let expectedLSE: Double = 5 + Foundation.log(Foundation.exp(-4.0) + 1 + Foundation.exp(-2.0))
        #expect(abs(lse[0] - expectedLSE) < 1e-12)
        #expect((x > 2.5).scalars(as: Bool.self) == [false, true, true, true, false, true])
        let allMasked = Tensor([-Double.infinity, -.infinity]).logSumExp().item()
        #expect(allMasked == -.infinity)
    }

    @Test("indexing ops: index_select, gather, scatter_add, one_hot, concat, stack, split")
    func indexing() {
        let table = Tensor((0..<12).map(Double.init), shape: [4, 3])
        let ids = Tensor([Int64(3), 0, 3], shape: [3])
        #expect(table.indexSelect(axis: 0, ids).doubles == [9, 10, 11, 0, 1, 2, 9, 10, 11])
        #expect(table.embedding(Tensor([Int64(1), 2], shape: [1, 2])).shape == [1, 2, 3])
        let index = Tensor([Int64(2), 0, 1, 1], shape: [2, 2])
        let small = table.sliced(axis: 0, 0, 2)
        #expect(small.gather(axis: 1, index).doubles == [2, 0, 4, 4])
        let scattered = Tensor.zeros([2, 3], dtype: .float64).scatterAdd(axis: 1, index, Tensor([1.0, 2, 3, 4], shape: [2, 2]))
        #expect(scattered.doubles == [2, 0, 1, 0, 7, 0])
        #expect(Tensor.oneHot(Tensor([Int64(2), 0]), classes: 3).doubles == [0, 0, 1, 1, 0, 0])
        let joined = Tensor.concat([table.sliced(axis: 0, 0, 1), table.sliced(axis: 0, 3, 4)], axis: 0)
        #expect(joined.doubles == [0, 1, 2, 9, 10, 11])
        #expect(Tensor.stack([Tensor([1.0, 2]), Tensor([3.0, 4])], axis: 1).doubles == [1, 3, 2, 4])
        let parts = table.split([1, 2], axis: 1)
        #expect(parts[1].shape == [4, 2] && parts[1].doubles.prefix(2) == [1, 2])
        #expect(Tensor.where(Tensor([true, false]), Tensor([1.0, 2]), Tensor([-1.0, -2])).doubles == [1, -2])
        #expect(Tensor([1.0, 2]).maskedFill(Tensor([false, true]), with: -.infinity).doubles == [1, -.infinity])
    }

    @Test("sums over a run of adjacent axes equal the general (transposed) path bit for bit, with 1 and 2 threads")
    func blockSums() {
        var generator = RandomGenerator(seed: 12)
        let x = generator.normal([3, 5, 4, 7]), d = generator.normal([3, 5, 4, 7], dtype: .float64)
        for t in [x, d] {
            for axes in [[0], [1], [2], [0, 1], [1, 2], [0, 1, 2]] {
                // The same tensor through a permuted view takes the general path (reduced axes moved last).
                let fast = t.sum(axes: axes, keepDims: true)
                let order = (0..<4).filter { !axes.contains($0) } + axes
                let viewed = t.permuted(order)
                let general = viewed.sum(axes: Array((4 - axes.count)..<4), keepDims: true)
                #expect(fast.doubles == general.doubles, "axes \(axes)")
            }
        }
        let previous = ThreadBudget.current
        defer { ThreadBudget.install(previous) }
        var sums: [[Double]] = []
        for threads in [1, 2] {
            ThreadBudget.install(ThreadBudget.resolve(requested: threads))
            sums.append(x.sum(axes: [1, 2], keepDims: true).doubles)
        }
        #expect(sums[0] == sums[1])
    }
}
