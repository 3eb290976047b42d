// Activation checkpointing (DeepSpeed's `checkpointing.checkpoint`, torch.utils.checkpoint): a
// block runs without recording its graph, only its inputs are kept, and the backward runs the block
// again to differentiate it. Memory per block falls from every activation to its inputs; the
// price is one more forward per block.

extension Tensor {
    /// `body(inputs)` whose intermediate activations are not kept for the backward pass.
    ///
    /// - Parameters:
    ///   - inputs: what `body` reads that carries gradients from outside (the hidden state, a shared
    ///     relative bias); they are the only tensors kept.
    ///   - parameters: the leaves `body` reads through its modules (weights); their gradients are
    ///     returned to the outer backward, which accumulates them as it would without checkpointing.
    ///   - body: must compute the same values when run again: deterministic, and with any random
    ///     draws (dropout) reproduced from state it owns.
    /// - Returns: `body`'s output. Its gradients are the same, bit for bit, as without checkpointing:
    ///   the replay records the same graph and sums every contribution in the same order. First
    ///   order only: a backward that records its own graph (`createGraph`) cannot pass through it.
    public static func checkpointed(_ inputs: [Tensor], parameters: [Tensor], _ body: @escaping ([Tensor]) -> Tensor) -> Tensor {
        checkpointed(inputs, parameters: parameters) { [body($0)] }[0]
    }

    /// The same for a body with several outputs of one dtype (an Evoformer block's MSA and pair
    /// representations): they travel as one flat node and are handed back as views.
    public static func checkpointed(_ inputs: [Tensor], parameters: [Tensor], _ body: @escaping ([Tensor]) -> [Tensor]) -> [Tensor] {
        guard GradMode.isEnabled, (inputs + parameters).contains(where: \.requiresGrad) else { return body(inputs) }
        let outputs = withNoGrad { body(inputs) }
        let shapes = outputs.map(\.shape), counts = outputs.map(\.count)
        precondition(outputs.allSatisfy { $0.dtype == outputs[0].dtype && $0.dtype.isFloatingPoint },
                     "checkpointed: outputs must share one float dtype, got \(outputs.map(\.dtype))")
        let value = outputs.count == 1 ? outputs[0] : withNoGrad { Tensor.concat(outputs.map { $0.reshaped([$0.count]) }, axis: 0) }
        // Kept: the inputs' values only (detached: the graph behind them belongs to the outer pass).
        let saved = inputs.map { ($0.detached(), $0.requiresGrad) }
        let recorded = recording(value, "checkpoint", inputs + parameters) { gradOutput in
            precondition(!GradMode.isEnabled, "checkpointed: a backward that records its graph (createGraph) cannot pass through a checkpoint")
            return GradMode.$isEnabled.withValue(true) {
                var offset = 0
                let pieces = zip(shapes, counts).map { shape, count in
                    defer { offset += count }
                    return shapes.count == 1 ? gradOutput : gradOutput.sliced(axis: 0, offset, offset + count).reshaped(shape)
                }
                let replayInputs = saved.map { value, needsGradient in needsGradient ? value.requiringGrad() : value }
                let replayed = body(replayInputs)
                let live = replayed.indices.filter { replayed[$0].requiresGrad }
                let wanted = replayInputs.filter(\.requiresGrad) + parameters.filter(\.requiresGrad)
                guard !live.isEmpty, !wanted.isEmpty else { return Array(repeating: nil, count: inputs.count + parameters.count) }
                let gradients: [Tensor?]
                do {
                    gradients = try TensorCore.grad(of: live.map { replayed[$0] }, wrt: wanted, gradOutputs: live.map { pieces[$0] }, allowUnused: true)
                } catch {
                    preconditionFailure("checkpointed: the replay's backward failed: \(error)")
                }
                var next = gradients.makeIterator()
                let inputGradients = replayInputs.map { $0.requiresGrad ? next.next()! : nil }
                let parameterGradients = parameters.map { $0.requiresGrad ? next.next()! : nil }
                return inputGradients + parameterGradients
            }
        }
        guard outputs.count > 1 else { return [recorded] }
        var offset = 0
        return zip(shapes, counts).map { shape, count in
            defer { offset += count }
            return recorded.sliced(axis: 0, offset, offset + count).reshaped(shape)
        }
    }
}
