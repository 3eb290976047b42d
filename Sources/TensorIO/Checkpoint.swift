// Checkpoints: one HDF5 file with a dataset per parameter path and per optimiser-state entry,
// the RNG state, the step and the run's config (JSON), written atomically.
import TensorCore

/// Everything needed to resume a run.
public struct Checkpoint {
    public static let format = "scizoo-checkpoint"
    public static let version: Int64 = 1

    /// Parameter values by path, in the module's sorted order.
    public var parameters: [(String, Tensor)]
    /// Optimiser state by name (`<path>.exp_avg`, `step`…).
    public var optimizerState: [(String, Tensor)]
    public var generator: RandomGenerator?
    public var step: Int
    /// The run's recipe or config, as JSON text.
    public var config: String
    /// The training loop's own state at the save (JSON: where metrics.jsonl stood), when it wrote one.
    public var runState: String?

    public init(parameters: [(String, Tensor)], optimizerState: [(String, Tensor)] = [], generator: RandomGenerator? = nil,
                step: Int = 0, config: String = "{}") {
        self.parameters = parameters
        self.optimizerState = optimizerState
        self.generator = generator
        self.step = step
        self.config = config
    }

    /// Writes to `path` atomically: a kill leaves the previous checkpoint intact.
    public func write(to path: String) throws {
        try HDF5File.writeAtomically(to: path) { file in
            let root = try file.root
            try file.setAttribute("format", .string(Checkpoint.format))
            try file.setAttribute("version", .int(Checkpoint.version))
            try file.setAttribute("step", .int(Int64(step)))
            try file.setAttribute("config", .string(config))
            if let generator {
                try file.setAttribute("rng_seed", .int(Int64(bitPattern: generator.seed)))
                try file.setAttribute("rng_offset", .int(Int64(bitPattern: generator.offset)))
            }
            let parameterGroup = try root.createGroup("parameters")
            // Checksummed: a resume reads back exactly what was saved, or says the file is damaged.
            for (name, tensor) in parameters { try parameterGroup.write(name, tensor: tensor, options: .checksummed(shape: tensor.shape)) }
            let optimizerGroup = try root.createGroup("optimizer")
            for (name, tensor) in optimizerState { try optimizerGroup.write(name, tensor: tensor, options: .checksummed(shape: tensor.shape)) }
        }
    }

    /// Reads a checkpoint. `rename` maps stored parameter names to the model's (return nil to
    /// drop one), for importing weights saved under foreign names (`net.` prefixes…).
    public static func read(from path: String, rename: ((String) -> String?)? = nil) throws -> Checkpoint {
        let file = try HDF5File(path: path)
        guard (try? file.attribute("format")) == .string(format) else {
            throw FileError(file: path, message: "not a SciZoo checkpoint (no format = \"\(format)\" attribute)")
        }
        let version = try file.attribute("version").intValue ?? 0
        guard version <= Checkpoint.version else {
            throw FileError(file: path, message: "checkpoint version \(version) is newer than this build reads (\(Checkpoint.version))")
        }
        let root = try file.root
        var parameters: [(String, Tensor)] = []
        let parameterGroup = try root.group("parameters")
        for name in try parameterGroup.memberNames() {
            guard let target = rename.map({ $0(name) }) ?? name else { continue }
            parameters.append((target, try parameterGroup.dataset(name).readTensor()))
        }
        var optimizerState: [(String, Tensor)] = []
        if root.contains("optimizer") {
            let group = try root.group("optimizer")
            for name in try group.memberNames() { optimizerState.append((name, try group.dataset(name).readTensor())) }
        }
        var generator: RandomGenerator?
        if let seed = try? file.attribute("rng_seed").intValue, let offset = try? file.attribute("rng_offset").intValue {
            generator = RandomGenerator(seed: UInt64(bitPattern: seed), offset: UInt64(bitPattern: offset))
        }
        var checkpoint = Checkpoint(parameters: parameters.sorted { $0.0 < $1.0 }, optimizerState: optimizerState, generator: generator,
                                    step: Int(try file.attribute("step").intValue ?? 0), config: try file.attribute("config").stringValue ?? "{}")
        if file.hasAttribute("run_state") { checkpoint.runState = try file.attribute("run_state").stringValue }
        return checkpoint
    }
}
