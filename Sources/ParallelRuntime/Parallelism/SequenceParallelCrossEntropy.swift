// Cross-entropy when the sequence is split over the SP group (DeepSpeed's
// sequence/cross_entropy.py): each rank computes the losses of its own tokens, the losses are
// all-gathered so every rank holds the whole sequence's, and the backward keeps only this rank's
// slice of the upstream gradient (the other ranks' tokens are theirs to differentiate).
import NeuralNetworks
import TensorCore

public enum SequenceParallelCrossEntropy {
    /// - Parameters: logits `[B, s, V]` of this rank's positions; labels int64 `[B, s]` (−100 ignored).
    /// - Returns: the per-token losses `[B, s·P]` of the whole sequence, on every rank of `group`.
    public static func tokenLosses(_ logits: Tensor, labels: Tensor, group: any Communicator) throws -> Tensor {
        let local = tokenCrossEntropy(logits, labels)
        guard group.size > 1 else { return local }
        let gathered = try TensorTransport.allGather(local.detached(), axis: 1, over: group)
        let (s, rank) = (local.shape[1], group.rank)
        return Tensor.differentiable(gathered, name: "sequence-parallel-cross-entropy", inputs: [local]) { grad in
            [grad.sliced(axis: 1, rank * s, (rank + 1) * s).contiguous()]
        }
    }

    /// The mean over every labelled token of the whole sequence (the same value on every SP rank).
    public static func loss(_ logits: Tensor, labels: Tensor, group: any Communicator) throws -> Tensor {
        let labelled = Int64(labels.scalars(as: Int64.self).filter { $0 != -100 }.count)
        let count = try group.allReduce([labelled], .sum)[0]
        return try tokenLosses(logits, labels: labels, group: group).sum() / Double(Swift.max(1, count))
    }
}
