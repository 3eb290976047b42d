// Modules: parameters found by reflection and named by path, in a stable sorted order.
import TensorCore

/// A trainable tensor: a leaf that requires gradients, updated in place by optimisers.
public final class Parameter {
    public var value: Tensor
    /// The rule for values not made yet (a model built inside `Parameter.deferringValues`): the
    /// storage has no buffer until `materialize()`, or until ZeRO stage 3 takes the rule and
    /// makes this rank's shard only.
    public private(set) var pendingValues: InitialValues?

    public init(_ value: Tensor) {
        self.value = value.detached().requiringGrad()
    }

    /// A parameter with `initial`'s values: made now, or kept as a rule inside `deferringValues`.
    public init(_ initial: InitialValues) {
        if Parameter.defersValues {
            value = Tensor.unallocated(initial.shape, dtype: initial.dtype).requiringGrad()
            pendingValues = initial
        } else {
            value = initial.tensor().requiringGrad()
        }
    }

    public var grad: Tensor? { value.grad }
    public var shape: [Int] { value.shape }
    public func zeroGrad() { value.zeroGrad() }

    /// New values by rule (a model's own initialisation after its layers'): kept as the rule when
    /// the parameter's values are still pending.
    public func reinitialize(_ initial: InitialValues) {
        precondition(initial.shape == shape, "Parameter.reinitialize: shape \(initial.shape) differs from \(shape)")
        if pendingValues != nil { pendingValues = initial } else { value.assign(initial.tensor()) }
    }

    /// Makes pending values whole (a no-op for made ones).
    public func materialize() {
        guard let initial = takePendingValues() else { return }
        value.restoreStorage(initial)
    }

    /// The pending rule, handed to whoever makes the values from now on (ZeRO stage 3's partitioner).
    public func takePendingValues() -> InitialValues? {
        defer { pendingValues = nil }
        return pendingValues
    }

    @TaskLocal static var defersValues = false

    /// Builds inside `body` keep every rule-made parameter as its rule (DeepSpeed's `zero.Init`):
    /// no parameter memory is allocated until `materialize()` or ZeRO stage 3 makes its shard.
    public static func deferringValues<R>(_ body: () throws -> R) rethrows -> R {
        try $defersValues.withValue(true, operation: body)
    }
}

/// Errors loading a state dict: every problem at once, each with its path.
public struct StateDictError: Error, CustomStringConvertible, Equatable {
    public var missing: [String] = []
    public var unexpected: [String] = []
    public var shapeMismatches: [String] = []

    public init(missing: [String] = [], unexpected: [String] = [], shapeMismatches: [String] = []) {
        self.missing = missing
        self.unexpected = unexpected
        self.shapeMismatches = shapeMismatches
    }

    public var isEmpty: Bool { missing.isEmpty && unexpected.isEmpty && shapeMismatches.isEmpty }

    public var description: String {
        var parts: [String] = []
        if !missing.isEmpty { parts.append("missing keys: " + missing.joined(separator: ", ")) }
        if !unexpected.isEmpty { parts.append("unexpected keys: " + unexpected.joined(separator: ", ")) }
        if !shapeMismatches.isEmpty { parts.append("shape mismatches: " + shapeMismatches.joined(separator: ", ")) }
        return "cannot load state dict: " + parts.joined(separator: "; ")
    }
}

/// A network block. Stored properties of type `Parameter`, `Module`, `[Module]` and
/// `[String: Module]` are found by reflection; their property names form the parameter paths
/// (`layers.0.attention.weight`).
open class Module {
    public private(set) var isTraining = true

    public init() {}

    /// Direct children with their names, in sorted order.
    public func namedChildren() -> [(String, Module)] {
        var result: [(String, Module)] = []
        for child in Mirror(reflecting: self).allChildren {
            guard let label = child.label.map(Module.cleanLabel) else { continue }
            // `as Module` also unwraps `Module?` properties that hold a value.
            switch child.value {
            case let module as Module: result.append((label, module))
            case let modules as [Module]:
                for (index, module) in modules.enumerated() { result.append(("\(label).\(index)", module)) }
            case let modules as [String: Module]:
                for (key, module) in modules { result.append(("\(label).\(key)", module)) }
            default: break
            }
        }
        return result.sorted { $0.0 < $1.0 }
    }

    /// Every parameter with its path, sorted by path (the order of checkpoints and all-reduces).
    public func namedParameters() -> [(String, Parameter)] {
        var result: [(String, Parameter)] = []
        for child in Mirror(reflecting: self).allChildren {
            guard let label = child.label.map(Module.cleanLabel) else { continue }
            // The cast also unwraps `Parameter?` properties that hold a value.
            if let parameter = child.value as? Parameter { result.append((label, parameter)) }
        }
        for (name, module) in namedChildren() {
            result += module.namedParameters().map { ("\(name).\($0.0)", $0.1) }
        }
        return result.sorted { $0.0 < $1.0 }
    }

    public func parameters() -> [Parameter] { namedParameters().map(\.1) }

    public var parameterCount: Int { parameters().reduce(0) { $0 + $1.value.count } }

    /// Switches this module and its children to training (dropout active) or evaluation.
    public func train(_ training: Bool = true) {
        isTraining = training
        for (_, child) in namedChildren() { child.train(training) }
    }

    public func eval() { train(false) }

    /// Redraws every parameter that is all zeros from N(0, std²), in path order. Networks whose
    /// residual branches end in zero-initialised layers (AlphaFold's "final" init) are the
    /// identity until trained; smoke runs, benchmarks and tests of such blocks need them non-zero.
    public func redrawZeroParameters(std: Double, seed: UInt64) {
        var generator = RandomGenerator(seed: seed)
        materializeParameters()
        for (_, parameter) in namedParameters() where parameter.value.doubles.allSatisfy({ $0 == 0 }) {
            parameter.value.assign(generator.normal(parameter.shape, std: std, dtype: parameter.value.dtype))
        }
    }

    public func zeroGrad() { parameters().forEach { $0.zeroGrad() } }

    /// Makes every pending parameter whole (a model built with `Parameter.deferringValues` and used without ZeRO stage 3).
    public func materializeParameters() { parameters().forEach { $0.materialize() } }

    /// Parameter values by path.
    public func stateDict() -> [(String, Tensor)] {
        namedParameters().map { path, parameter in
            parameter.materialize()
            return (path, parameter.value.detached())
        }
    }

    /// Loads values by path. Strict loading requires exactly the module's keys and shapes and
    /// reports every missing, unexpected and mis-shaped key at once.
    public func loadStateDict(_ state: [(String, Tensor)], strict: Bool = true) throws {
        let parameters = Dictionary(uniqueKeysWithValues: namedParameters())
        let provided = Dictionary(state, uniquingKeysWith: { _, last in last })
        var error = StateDictError()
        error.missing = parameters.keys.filter { provided[$0] == nil }.sorted()
        error.unexpected = provided.keys.filter { parameters[$0] == nil }.sorted()
        for (path, parameter) in parameters.sorted(by: { $0.key < $1.key }) {
            if let value = provided[path], value.shape != parameter.shape {
                error.shapeMismatches.append("\(path) (checkpoint \(value.shape), model \(parameter.shape))")
            }
        }
        if strict && !error.isEmpty { throw error }
        if !error.shapeMismatches.isEmpty { throw StateDictError(shapeMismatches: error.shapeMismatches) }
        for (path, parameter) in parameters {
            guard let value = provided[path] else { continue }
            parameter.materialize()
            parameter.value.assign(value.cast(to: parameter.value.dtype))
        }
    }

    static func cleanLabel(_ label: String) -> String {
        // Property wrappers and lazy storage prefix their backing names.
        label.hasPrefix("_") ? String(label.dropFirst()) : label
    }
}

extension Mirror {
    /// Children of this type and of its superclasses.
    var allChildren: [Mirror.Child] {
        var children = Array(self.children)
        var mirror = superclassMirror
        while let current = mirror {
            children += current.children
            mirror = current.superclassMirror
        }
        return children
    }
}
