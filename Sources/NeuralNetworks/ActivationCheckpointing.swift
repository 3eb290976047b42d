// Activation checkpointing per block, as DeepSpeed's `activation_checkpointing` and Megatron's
// `--checkpoint-activations` use it: models that support it recompute each transformer block in
// the backward pass instead of keeping its activations (TensorCore's `Tensor.checkpointed`).
import TensorCore

/// A model whose blocks can be checkpointed.
public protocol ActivationCheckpointing: AnyObject {
    /// Whether each block keeps only its inputs and is run again in the backward pass.
    var checkpointsActivations: Bool { get set }
}

extension Module {
    /// `body(inputs)`, checkpointed over this module's parameters when `enabled` (else plainly).
    public func checkpointed(_ enabled: Bool, _ inputs: [Tensor], _ body: @escaping ([Tensor]) -> [Tensor]) -> [Tensor] {
        guard enabled else { return body(inputs) }
        return Tensor.checkpointed(inputs, parameters: namedParameters().map(\.1.value), body)
    }
}
