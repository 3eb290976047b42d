// Reverse-mode autograd. Each op records a `GradNode` holding its inputs and a backward rule
// written in differentiable tensor ops, so running backward with `createGraph: true` records
// a graph of the backward pass itself and gradients of gradients work.
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// One recorded operation (or a leaf that accumulates `.grad`).
final class GradNode: @unchecked Sendable {
    private static let counter = Atomic<Int>(0)

    /// Creation order: a node's inputs always have smaller ids, so decreasing id is a
    /// reverse topological order.
    let id: Int
    let name: String
    /// The nodes of the inputs (nil for constants) and their shapes. Input values are not held
    /// here: each backward rule captures only the tensors it needs, so memory the rule does
    /// not need (the input of an add, say) is freed as soon as the forward pass drops it.
    let inputNodes: [GradNode?]
    let inputShapes: [[Int]]
    let backward: ((Tensor) -> [Tensor?])?
    /// Accumulated gradient of a leaf.
    var grad: Tensor?

    init(name: String, inputs: [Tensor], backward: ((Tensor) -> [Tensor?])?) {
        id = GradNode.counter.add(1, ordering: .relaxed).newValue
        self.name = name
        inputNodes = inputs.map(\.node)
        inputShapes = inputs.map(\.shape)
        self.backward = backward
    }

    init(name: String, inputNodes: [GradNode?], inputShapes: [[Int]], backward: @escaping (Tensor) -> [Tensor?]) {
        id = GradNode.counter.add(1, ordering: .relaxed).newValue
        self.name = name
        self.inputNodes = inputNodes
        self.inputShapes = inputShapes
        self.backward = backward
    }

    var isLeaf: Bool { backward == nil }
}

/// Whether operations record autograd nodes on this task/thread.
public enum GradMode {
    @TaskLocal public static var isEnabled = true
}

/// Runs `body` without recording gradients (inference, optimiser updates).
public func withNoGrad<R>(_ body: () throws -> R) rethrows -> R {
    try GradMode.$isEnabled.withValue(false, operation: body)
}

/// Errors of the autograd engine, with what to do about them.
public enum AutogradError: Error, LocalizedError, CustomStringConvertible, Equatable {
    case outputDoesNotRequireGrad(index: Int, shape: [Int])
    case nonScalarOutputNeedsGradient(shape: [Int])
    case gradientShapeMismatch(index: Int, expected: [Int], got: [Int])
    case inputUnused(index: Int, shape: [Int])
    case inputDoesNotRequireGrad(index: Int, shape: [Int])

    public var description: String {
        switch self {
        case .outputDoesNotRequireGrad(let index, let shape):
            "output \(index) \(shape) does not require grad: it was computed only from constants, under withNoGrad, "
                + "or through a non-differentiable op (comparison, argmax, integer cast, detach)"
        case .nonScalarOutputNeedsGradient(let shape):
            "backward of a non-scalar output \(shape) needs an explicit gradient of the same shape"
        case .gradientShapeMismatch(let index, let expected, let got):
            "gradient \(index) has shape \(got), but its output has shape \(expected)"
        case .inputUnused(let index, let shape):
            "input \(index) \(shape) is not part of the graph of the outputs (pass allowUnused: true to get nil)"
        case .inputDoesNotRequireGrad(let index, let shape):
            "input \(index) \(shape) does not require grad; call requiringGrad() on it before computing the outputs"
        }
    }

    public var errorDescription: String? { description }
}

extension Tensor {
    /// Records `value` as the result of `name` applied to `inputs`, if any input requires grad.
    /// `backward` maps the output gradient to one gradient per input (nil: none).
    static func recording(_ value: Tensor, _ name: String, _ inputs: [Tensor],
                          _ backward: @escaping (Tensor) -> [Tensor?]) -> Tensor {
        guard GradMode.isEnabled, inputs.contains(where: \.requiresGrad) else { return value }
        return value.withNode(GradNode(name: name, inputs: inputs, backward: backward))
    }

    /// Records `value` as a function of inputs known only by their nodes (a "replay": the
    /// backward rule uses saved outputs, and the inputs' values need not stay alive).
    static func recording(_ value: Tensor, _ name: String, inputNodes: [GradNode?], inputShapes: [[Int]],
                          _ backward: @escaping (Tensor) -> [Tensor?]) -> Tensor {
        guard GradMode.isEnabled, inputNodes.contains(where: { $0 != nil }) else { return value }
        return value.withNode(GradNode(name: name, inputNodes: inputNodes, inputShapes: inputShapes, backward: backward))
    }

    /// Makes `value` the result of a custom operation on `inputs` for autograd: `backward` maps the
    /// output's gradient to one gradient per input (nil: none). For operations computed outside
    /// TensorCore, such as collectives (the Ulysses all-to-all's backward is the inverse all-to-all).
    public static func differentiable(_ value: Tensor, name: String, inputs: [Tensor],
                                      backward: @escaping (Tensor) -> [Tensor?]) -> Tensor {
        recording(value.detached(), name, inputs, backward)
    }

    /// A leaf that requires gradients: `.grad` accumulates there after `backward()`.
    public func requiringGrad(_ flag: Bool = true) -> Tensor {
        precondition(!flag || dtype.isFloatingPoint, "requiringGrad: only floating-point tensors have gradients, not \(dtype)")
        return withNode(flag ? GradNode(name: "leaf", inputs: [], backward: nil) : nil)
    }

    /// The same values, cut from the graph.
    public func detached() -> Tensor { withNode(nil) }

    /// Whether a backward rule running now should compute this input's gradient: it requires grad
    /// and, when gradients were asked for chosen inputs only, leads to one of them.
    var needsGradient: Bool {
        Autograd.isNeeded(node)
    }

    /// The gradient accumulated in this leaf by `backward()`.
    public var grad: Tensor? { node?.grad }

    /// Replaces the accumulated gradient of this leaf (clipping, all-reduce, loading).
    public func setGrad(_ gradient: Tensor?) {
        precondition(node?.isLeaf ?? false, "setGrad: only leaves that require grad hold gradients")
        if let gradient { precondition(gradient.shape == shape, "setGrad: gradient \(gradient.shape) for a leaf of \(shape)") }
        node?.grad = gradient?.detached()
    }

    /// Clears the accumulated gradient of this leaf.
    public func zeroGrad() { node?.grad = nil }

    /// Whether this tensor is a leaf (created by `requiringGrad`, not by an op).
    public var isLeaf: Bool { node?.isLeaf ?? true }

    /// Accumulates d(self)/d(leaf) into every leaf's `.grad`. `self` must be a scalar unless
    /// `gradient` is given. Gradients accumulate across calls, as in PyTorch.
    ///
    /// `inputs` (torch's `backward(inputs=)`): only these leaves receive gradients, and only the
    /// rules on paths to them run — a force-matching loss does not differentiate the positions
    /// a second time.
    public func backward(gradient: Tensor? = nil, createGraph: Bool = false, inputs: [Tensor]? = nil) throws {
        // Each leaf's gradient is stored as soon as the last op that used it has run, so hooks
        // placed after those ops (ZeRO stage 3's reduce-scatter) find it there.
        let targets = inputs.map { Set($0.compactMap(\.node).map(ObjectIdentifier.init)) }
        _ = try Autograd.run(outputs: [self], gradOutputs: gradient.map { [$0] }, createGraph: createGraph, keep: [],
                             targets: targets) { node, grad in
            node.grad = node.grad.map { $0 + grad } ?? grad
        }
    }
}

/// Gradients of `outputs` with respect to `inputs`, weighted by `gradOutputs` (ones for scalars).
///
/// With `createGraph`, the returned gradients are themselves differentiable (forces from an
/// energy, then a loss on the forces).
public func grad(of outputs: [Tensor], wrt inputs: [Tensor], gradOutputs: [Tensor]? = nil,
                 createGraph: Bool = false, allowUnused: Bool = false) throws -> [Tensor?] {
    for (index, input) in inputs.enumerated() where !input.requiresGrad {
        throw AutogradError.inputDoesNotRequireGrad(index: index, shape: input.shape)
    }
    let all = try Autograd.run(outputs: outputs, gradOutputs: gradOutputs, createGraph: createGraph,
                               keep: Set(inputs.map { ObjectIdentifier($0.node!) }))
    var byNode: [ObjectIdentifier: Tensor] = [:]
    for (node, grad) in all { byNode[ObjectIdentifier(node)] = grad }
    return try inputs.enumerated().map { index, input in
        let found = byNode[ObjectIdentifier(input.node!)]
        if found == nil && !allowUnused { throw AutogradError.inputUnused(index: index, shape: input.shape) }
        return found
    }
}

/// Convenience for one output and one input.
public func grad(of output: Tensor, wrt input: Tensor, createGraph: Bool = false) throws -> Tensor {
    try grad(of: [output], wrt: [input], createGraph: createGraph)[0]!
}

/// Seconds spent in each op's backward rule, summed by op name, when the environment variable
/// SCIZOO_PROFILE_AUTOGRAD is set (a development aid: `scizoo bench genslm-train` prints it).
public enum AutogradProfile {
    static let enabled = getenv("SCIZOO_PROFILE_AUTOGRAD") != nil
    private static let totals = Mutex<[String: Double]>([:])

    static func add(_ name: String, _ seconds: Double) { totals.withLock { $0[name, default: 0] += seconds } }

    /// The totals so far, largest first, and clears them.
    public static func drain() -> [(String, Double)] {
        totals.withLock { values in
            defer { values = [:] }
            return values.sorted { $0.value > $1.value }
        }
    }
}

enum Autograd {
    /// While a backward pass runs for chosen inputs: the nodes whose gradients are wanted (nil:
    /// every node's). Rules read it through `Tensor.needsGradient`.
    @TaskLocal static var needed: Set<ObjectIdentifier>?

    /// Whether the gradient of the tensor with this node is wanted by the running backward pass.
    static func isNeeded(_ node: GradNode?) -> Bool {
        guard let node else { return false }
        return needed?.contains(ObjectIdentifier(node)) ?? true
    }

    /// Propagates gradients from `outputs` to every reachable node; returns the totals of the
    /// nodes in `keep`, and hands each leaf's total to `deliverLeaf` the moment it is complete
    /// (every gradient is released as soon as it has been used, not kept to the end).
    /// Only nodes on paths to `targets` run (nil: to `keep` when no leaf is delivered, else every node).
    static func run(outputs: [Tensor], gradOutputs: [Tensor]?, createGraph: Bool, keep: Set<ObjectIdentifier>,
                    targets: Set<ObjectIdentifier>? = nil,
                    deliverLeaf: ((GradNode, Tensor) -> Void)? = nil) throws -> [(GradNode, Tensor)] {
        var pending: [ObjectIdentifier: Tensor] = [:]
        var nodes: [ObjectIdentifier: GradNode] = [:]
        for (index, output) in outputs.enumerated() {
            guard let node = output.node else {
                throw AutogradError.outputDoesNotRequireGrad(index: index, shape: output.shape)
            }
            let seed: Tensor
            if let gradOutputs {
                seed = gradOutputs[index]
                guard seed.shape == output.shape else {
                    throw AutogradError.gradientShapeMismatch(index: index, expected: output.shape, got: seed.shape)
                }
            } else {
                guard output.count == 1 else { throw AutogradError.nonScalarOutputNeedsGradient(shape: output.shape) }
                seed = Tensor.ones(output.shape, dtype: output.dtype)
            }
            let key = ObjectIdentifier(node)
            pending[key] = pending[key].map { $0 + seed } ?? seed
            nodes[key] = node
        }
        // Every node reachable from the outputs, processed from the newest to the oldest.
        var stack = Array(nodes.values)
        var consumers: [ObjectIdentifier: Int] = [:]
        while let node = stack.popLast() {
            for child in node.inputNodes {
                guard let child else { continue }
                let key = ObjectIdentifier(child)
                consumers[key, default: 0] += 1
                if nodes[key] == nil {
                    nodes[key] = child
                    stack.append(child)
                }
            }
        }
        let order = nodes.values.sorted { $0.id > $1.id }
        // Gradients for chosen inputs only (`grad(of:wrt:)`, or `backward(inputs:)`): the nodes that
        // lead to one of them. Others are not run, and rules skip inputs off those paths (the weight
        // gradients of a force evaluation, which wants −∂E/∂R only).
        var needed: Set<ObjectIdentifier>?
        if let wanted = targets ?? (deliverLeaf == nil ? keep : nil) {
            var reaching = Set<ObjectIdentifier>()
            for node in order.reversed() {
                let key = ObjectIdentifier(node)
                if wanted.contains(key) || node.inputNodes.contains(where: { $0.map { reaching.contains(ObjectIdentifier($0)) } ?? false }) {
                    reaching.insert(key)
                }
            }
            needed = reaching
        }
        var result: [(GradNode, Tensor)] = []
        GradMode.$isEnabled.withValue(createGraph) {
            Autograd.$needed.withValue(needed) {
                for node in order {
                    let nodeKey = ObjectIdentifier(node)
                    guard let gradient = pending.removeValue(forKey: nodeKey) else { continue }
                    if let needed, !needed.contains(nodeKey) { continue }
                    if keep.contains(nodeKey) { result.append((node, gradient)) }
                    guard let backward = node.backward else {
                        deliverLeaf?(node, gradient)  // a leaf no op reached (an output that is a leaf)
                        continue
                    }
                    let clock = ContinuousClock(), started = AutogradProfile.enabled ? clock.now : nil
                    let inputGradients = backward(gradient)
                    if let started {
                        let elapsed = clock.now - started
                        AutogradProfile.add(node.name, elapsed.inSeconds)
                    }
                    precondition(inputGradients.count == node.inputNodes.count,
                                 "\(node.name): backward returned \(inputGradients.count) gradients for \(node.inputNodes.count) inputs")
                    for (index, inputGradient) in inputGradients.enumerated() {
                        guard let child = node.inputNodes[index], let inputGradient else { continue }
                        if let needed, !needed.contains(ObjectIdentifier(child)) { continue }
                        precondition(inputGradient.shape == node.inputShapes[index],
                                     "\(node.name): gradient shape \(inputGradient.shape) differs from input shape \(node.inputShapes[index])")
                        let key = ObjectIdentifier(child)
                        pending[key] = pending[key].map { $0 + inputGradient } ?? inputGradient
                    }
                    // Leaves whose last consumer this was are complete: deliver them now.
                    for child in node.inputNodes {
                        guard let child, child.isLeaf else { continue }
                        let key = ObjectIdentifier(child)
                        consumers[key, default: 0] -= 1
                        if consumers[key] == 0, let deliverLeaf, let total = pending.removeValue(forKey: key) {
                            if keep.contains(key) { result.append((child, total)) }
                            deliverLeaf(child, total)
                        }
                    }
                }
            }
        }
        return result
    }
}
