// Hooks around a module's forward and backward: ZeRO stage 3 gathers a module's partitioned
// parameters before the module runs and releases them after, in both directions (as DeepSpeed's
// pre/post forward and backward hooks do).
import TensorCore

public protocol ModuleHooks: AnyObject {
    /// Before the forward: the module's parameters must be whole.
    func willRun(_ module: Module)
    /// After the forward.
    func didRun(_ module: Module)
    /// When the backward reaches the module's output: its parameters must be whole again.
    func willDifferentiate(_ module: Module)
    /// When the backward has left the module through its input: its gradients are complete.
    func didDifferentiate(_ module: Module)
}

extension Module {
    /// `body(input)` inside `hooks` (directly when nil). The backward hooks ride on identity nodes
    /// at the output and the input; when the input needs no gradient (token ids), the hooks'
    /// owner finishes the module itself.
    public func run(hooks: (any ModuleHooks)?, _ input: Tensor, _ body: (Tensor) -> Tensor) -> Tensor {
        guard let hooks else { return body(input) }
        hooks.willRun(self)
        let entered = Tensor.differentiable(input, name: "module-entry", inputs: [input]) { [unowned self] gradient in
            hooks.didDifferentiate(self)
            return [gradient]
        }
        let output = body(entered)
        hooks.didRun(self)
        return Tensor.differentiable(output, name: "module-exit", inputs: [output]) { [unowned self] gradient in
            hooks.willDifferentiate(self)
            return [gradient]
        }
    }
}
