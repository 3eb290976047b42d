// Losses with PyTorch's definitions (mean reduction).
import TensorCore

/// Cross-entropy of `logits` `[*, C]` against integer `targets` `[*]`, averaged over targets
/// that are not `ignoreIndex` (PyTorch's default −100). Zero when every target is ignored.
public func crossEntropy(_ logits: Tensor, _ targets: Tensor, ignoreIndex: Int = -100) -> Tensor {
    let count = Swift.max(1, targets.cast(to: .int64).scalars(as: Int64.self).filter { $0 != Int64(ignoreIndex) }.count)
    return tokenCrossEntropy(logits, targets, ignoreIndex: ignoreIndex).sum() / Double(count)
}

/// Per-target cross-entropy `[*]` (PyTorch's reduction="none"): −log p(target), 0 where ignored.
public func tokenCrossEntropy(_ logits: Tensor, _ targets: Tensor, ignoreIndex: Int = -100) -> Tensor {
    let classes = logits.shape[logits.rank - 1]
    precondition(Array(logits.shape.dropLast()) == targets.shape,
                 "crossEntropy: logits \(logits.shape) need targets \(Array(logits.shape.dropLast())), got \(targets.shape)")
    let flatTargets = targets.flattened().cast(to: .int64).scalars(as: Int64.self)
    let valid = flatTargets.map { $0 != Int64(ignoreIndex) }
    let safe = Tensor(zip(flatTargets, valid).map { $1 ? $0 : 0 }, shape: [flatTargets.count, 1])
    let logProbabilities = logits.reshaped([-1, classes]).logSoftmax(axis: -1)
    let picked = logProbabilities.gather(axis: 1, safe).reshaped([-1])
    let mask = Tensor(valid.map { $0 ? 1.0 : 0.0 }).cast(to: logits.dtype)
    return (-(picked * mask)).reshaped(targets.shape)
}

/// mean((prediction − target)²).
public func mseLoss(_ prediction: Tensor, _ target: Tensor) -> Tensor {
    let difference = prediction - target
    return (difference * difference).mean()
}

/// mean(|prediction − target|).
public func l1Loss(_ prediction: Tensor, _ target: Tensor) -> Tensor { (prediction - target).abs().mean() }

/// Huber: ½d² where |d| < δ, else δ(|d| − ½δ); averaged.
public func huberLoss(_ prediction: Tensor, _ target: Tensor, delta: Double = 1) -> Tensor {
    let difference = prediction - target
    let magnitude = difference.abs()
    let quadratic = difference * difference * 0.5
    let linear = (magnitude - 0.5 * delta) * delta
    return Tensor.where(magnitude < delta, quadratic, linear).mean()
}
