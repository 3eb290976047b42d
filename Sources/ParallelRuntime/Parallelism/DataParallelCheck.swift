// Data-parallel training against one process on the combined batch, on any communicator: the unit
// tests run it on the in-process world, `scizoo mpi-check` on real MPI ranks.
import NeuralNetworks
import TensorCore

public enum DataParallelCheck {
    /// 20 Adam steps of a small float64 MLP: every rank trains on its 4 samples with gradients
    /// averaged by `DataParallel` (buckets of 64 bytes, so several are in flight); one process
    /// trains on all 4·N samples. Returns a description of each rank whose parameters differ by
    /// more than 1e-12 relative.
    public static func run(_ world: any Communicator, steps: Int = 20) throws -> [String] {
        let n = world.size
        var generator = RandomGenerator(seed: 9)
        let x = generator.normal([4 * n, 3], dtype: .float64), y = generator.normal([4 * n, 2], dtype: .float64)
        func makeModel() -> MLP {
            var initialisation = RandomGenerator(seed: 1)
            return MLP(widths: [3, 8, 2], activation: .tanh, dtype: .float64, generator: &initialisation)
        }
        let single = makeModel()
        let singleOptimizer = Adam(single.namedParameters(), learningRate: 0.01)
        for _ in 0..<steps {
            single.zeroGrad()
            try mseLoss(single(x), y).backward()
            singleOptimizer.step()
        }
        let expected = single.parameters().flatMap { $0.value.doubles }

        let groups = try ProcessGroups(world: world)
        let model = makeModel()
        let parameters = model.namedParameters()
        let optimizer = Adam(parameters, learningRate: 0.01)
        let rows = (4 * world.rank)..<(4 * world.rank + 4)
        let input = x.sliced(axis: 0, rows.lowerBound, rows.upperBound), target = y.sliced(axis: 0, rows.lowerBound, rows.upperBound)
        for _ in 0..<steps {
            model.zeroGrad()
            try mseLoss(model(input), target).backward()
            try DataParallel.allReduceGradients(parameters, groups: groups, bucketBytes: 64)
            optimizer.step()
        }
        let ours = model.parameters().flatMap { $0.value.doubles }
        let scale = Swift.max(expected.map { Swift.abs($0) }.max() ?? 0, 1e-30)
        let error = zip(ours, expected).map { Swift.abs($0 - $1) }.max() ?? 0
        return error / scale <= 1e-12 ? [] : ["rank \(world.rank) of \(n): after \(steps) data-parallel steps the parameters differ by \(error / scale) relative"]
    }

    /// The sequence-parallel cross-entropy against the plain one on the whole sequence: the loss
    /// on every rank and each rank's logits gradient (its slice of the whole one), float64 ≤ 1e-12.
    public static func sequenceParallelLoss(_ group: any Communicator) throws -> [String] {
        let p = group.size, (b, s, v) = (2, 3 * p, 5)
        var generator = RandomGenerator(seed: 21)
        let logits = generator.normal([b, s, v], dtype: .float64)
        let labels = Tensor((0..<(b * s)).map { $0 % 7 == 3 ? Int64(-100) : Int64(($0 * 3) % v) }, shape: [b, s])
        let whole = logits.requiringGrad()
        let reference = crossEntropy(whole, labels)
        let referenceGrad = try grad(of: [reference], wrt: [whole])[0]!
        let range = (group.rank * 3)..<(group.rank * 3 + 3)
        let local = logits.sliced(axis: 1, range.lowerBound, range.upperBound).contiguous().requiringGrad()
        let loss = try SequenceParallelCrossEntropy.loss(local, labels: labels.sliced(axis: 1, range.lowerBound, range.upperBound).contiguous(), group: group)
        let localGrad = try grad(of: [loss], wrt: [local])[0]!
        var failures: [String] = []
        if Swift.abs(loss.item() - reference.item()) > 1e-12 * Swift.abs(reference.item()) {
            failures.append("rank \(group.rank) of \(p): sequence-parallel loss \(loss.item()) vs \(reference.item())")
        }
        let expectedGrad = referenceGrad.sliced(axis: 1, range.lowerBound, range.upperBound).contiguous().doubles
        let error = zip(localGrad.doubles, expectedGrad).map { Swift.abs($0 - $1) }.max() ?? 0
        if error > 1e-12 * (expectedGrad.map { Swift.abs($0) }.max() ?? 1) {
            failures.append("rank \(group.rank) of \(p): sequence-parallel logits gradient differs by \(error)")
        }
        return failures
    }
}
