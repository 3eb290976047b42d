// ZeRO checkpoints (deepspeed/runtime/engine.py, utils/zero_to_fp32.py, checkpoint/ds_to_universal.py):
// `<dir>/<tag>/zero_rank<r>_of_<N>.h5` per rank, holding for every parameter the element range
// this rank owns — fp32 values and Adam's exp_avg / exp_avg_sq — so a checkpoint is universal by
// construction: any number of ranks at any stage reads the ranges it needs (DeepSpeed #2898).
// `latest` names the tag and is written, atomically, only after every rank has finished.
// `consolidate` streams it parameter by parameter into one SciZoo checkpoint file.
import Foundation
import NeuralNetworks
import TensorCore
import TensorIO

public enum ZeROCheckpoint {
    static let filePrefix = "zero_rank"

    /// Writes this rank's shard of `zero`'s state into `<directory>/<tag>/`; every rank of the
    /// job calls it. `client` is the caller's own state (JSON), stored with the shards; `runState`,
    /// the training loop's (where its metrics file stood), rides along when given.
    public static func save(_ zero: ZeROOptimizer, directory: String, tag: String, step: Int, client: String = "{}", runState: String? = nil) throws {
        let world = zero.groups.world
        let folder = directory + "/" + tag
        if world.rank == 0 { try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true) }
        try world.barrier()
        // Stage 0 keeps identical copies on every rank: rank 0 writes them.
        if zero.stage > 0 || world.rank == 0 {
            let ranks = zero.layout.ranks, rank = zero.stage == 0 ? 0 : zero.communicator.rank
            let path = folder + "/\(filePrefix)\(rank)_of_\(ranks).h5"
            try HDF5File.writeAtomically(to: path) { file in
                try file.setAttribute("format", .string("scizoo-zero-shard"))
                try file.setAttribute("step", .int(Int64(step)))
                try file.setAttribute("optimizer_step", .int(Int64(zero.stepCount)))
                try file.setAttribute("stage", .int(Int64(zero.stage)))
                try file.setAttribute("ranks", .int(Int64(ranks)))
                try file.setAttribute("client", .string(client))
                if let runState { try file.setAttribute("run_state", .string(runState)) }
                try file.setAttribute("parameter_names", .strings(zero.parameters.map(\.0)))
                let root = try file.root
                // The owned pieces lie in partition order; Adam's moments stream through the store's
                // sub-groups, so at most one piece and one sub-group are held (ZeRO-Infinity's states
                // need not fit in memory to be saved).
                let pieces = zero.parameters.indices.compactMap { index in
                    zero.layout.ownedPieces(ofParameter: index, rank: rank).map { (index: index, range: $0.range, offset: $0.partitionOffset) }
                }
                var next = 0, heldFrom = 0, heldM: [Float] = [], heldV: [Float] = []
                try zero.store.forEachSubGroup { range, m, v in
                    heldM += UnsafeBufferPointer(start: m, count: range.count)
                    heldV += UnsafeBufferPointer(start: v, count: range.count)
                    while next < pieces.count, pieces[next].offset + pieces[next].range.count <= heldFrom + heldM.count {
                        let (index, range, offset) = pieces[next]
                        let (name, parameter) = zero.parameters[index]
                        let group = try root.createGroup(name)
                        try group.setAttribute("start", .int(Int64(range.lowerBound)))
                        try group.setAttribute("shape", .ints(parameter.shape.map(Int64.init)))
                        let checked = HDF5DatasetOptions.checksummed(shape: [range.count])
                        try group.write("fp32", try zero.ownedValues(ofParameter: index, range: range, partitionOffset: offset), options: checked)
                        let within = (offset - heldFrom)..<(offset - heldFrom + range.count)
                        try group.write("exp_avg", Array(heldM[within]), options: checked)
                        try group.write("exp_avg_sq", Array(heldV[within]), options: checked)
                        next += 1
                    }
                    let keepFrom = next < pieces.count ? Swift.min(pieces[next].offset, heldFrom + heldM.count) : heldFrom + heldM.count
                    heldM.removeFirst(keepFrom - heldFrom)
                    heldV.removeFirst(keepFrom - heldFrom)
                    heldFrom = keepFrom
                }
                guard next == pieces.count else {
                    throw FileError(file: path, message: "Adam's state covers \(heldFrom + heldM.count) elements; the pieces need more")
                }
            }
        }
        try world.barrier()
        // Temporary name and rename, as every text output here; the shards it names are fsynced already.
        if world.rank == 0 { try (tag + "\n").write(toFile: directory + "/latest", atomically: true, encoding: .utf8) }
        try world.barrier()
    }

    /// The tag `latest` names (nil when there is none).
    public static func latestTag(in directory: String) -> String? {
        (try? String(contentsOfFile: directory + "/latest", encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Removes `global_step<N>` tag folders of `directory` but the `keeping` highest steps.
    public static func removeOldTags(in directory: String, keeping: Int = 2) {
        let tags = ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [])
            .filter { $0.hasPrefix("global_step") }.sorted { (Int($0.dropFirst(11)) ?? 0) < (Int($1.dropFirst(11)) ?? 0) }
        for old in tags.dropLast(keeping) { try? FileManager.default.removeItem(atPath: directory + "/" + old) }
    }

    /// The shards of one tag: every parameter's pieces, read on demand.
    public struct Shards {
        public let folder: String
        public let files: [HDF5File]
        public let step: Int
        public let optimizerStep: Int
        public let stage: Int
        public let client: String
        /// The training loop's state at the save (`run_state`), when it wrote one.
        public let runState: String?
        public let names: [String]

        public init(directory: String, tag: String? = nil) throws {
            guard let tag = tag ?? ZeROCheckpoint.latestTag(in: directory) else {
                throw FileError(file: directory, message: "no 'latest' file: no complete ZeRO checkpoint here")
            }
            let folder = directory + "/" + tag
            self.folder = folder
            let entries = (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []
            let shardNames = entries.filter { $0.hasPrefix(filePrefix) && $0.hasSuffix(".h5") }.sorted()
            guard let first = shardNames.first, let ofRange = first.range(of: "_of_"),
                  let ranks = Int(first[ofRange.upperBound...].dropLast(3)) else {
                throw FileError(file: folder, message: "no ZeRO shard files (\(filePrefix)<r>_of_<N>.h5)")
            }
            let expected = (0..<ranks).map { "\(filePrefix)\($0)_of_\(ranks).h5" }
            guard Set(shardNames).isSuperset(of: expected) else {
                throw FileError(file: folder, message: "expected \(ranks) shard files, found \(shardNames)")
            }
            let opened = try expected.map { try HDF5File(path: folder + "/" + $0) }
            files = opened
            let head = opened[0]
            step = Int(try head.attribute("step").intValue ?? 0)
            optimizerStep = Int(try head.attribute("optimizer_step").intValue ?? 0)
            stage = Int(try head.attribute("stage").intValue ?? 0)
            if case .string(let text) = try head.attribute("client") { client = text } else { client = "{}" }
            runState = head.hasAttribute("run_state") ? try head.attribute("run_state").stringValue : nil
            if case .strings(let list) = try head.attribute("parameter_names") { names = list } else { names = [] }
        }

        /// One parameter, whole: (shape, fp32 values, exp_avg, exp_avg_sq).
        public func parameter(_ name: String) throws -> (shape: [Int], values: [Float], expAvg: [Float], expAvgSq: [Float]) {
            var shape: [Int]?
            var values: [Float] = [], m: [Float] = [], v: [Float] = []
            var covered = 0
            for file in files {
                let root = try file.root
                guard root.contains(name) else { continue }
                let group = try root.group(name)
                if shape == nil {
                    guard case .ints(let stored) = try group.attribute("shape") else { throw FileError(file: folder, message: "\(name): no shape") }
                    shape = stored.map(Int.init)
                    let count = shape!.reduce(1, *)
                    values = [Float](repeating: 0, count: count)
                    m = values
                    v = values
                }
                let start = Int(try group.attribute("start").intValue ?? 0)
                let piece: [Float] = try group.dataset("fp32").read()
                let pieceM: [Float] = try group.dataset("exp_avg").read(), pieceV: [Float] = try group.dataset("exp_avg_sq").read()
                for k in piece.indices { values[start + k] = piece[k]; m[start + k] = pieceM[k]; v[start + k] = pieceV[k] }
                covered += piece.count
            }
            guard let shape else { throw FileError(file: folder, message: "parameter \(name) is in no shard") }
            guard covered == values.count else {
                throw FileError(file: folder, message: "parameter \(name): shards cover \(covered) of \(values.count) elements")
            }
            return (shape, values, m, v)
        }
    }

    /// Restores `zero` (any stage, any number of ranks) from a tag folder; returns the step and
    /// the client state. Every rank reads what its layout needs.
    public static func load(_ zero: ZeROOptimizer, directory: String, tag: String? = nil) throws -> (step: Int, client: String, runState: String?) {
        let shards = try Shards(directory: directory, tag: tag)
        let stored = Set(shards.names)
        let missing = zero.parameters.map(\.0).filter { !stored.contains($0) }
        guard missing.isEmpty else {
            throw FileError(file: shards.folder, message: "parameters missing from the checkpoint: \(missing.joined(separator: ", "))")
        }
        var m = [Float](repeating: 0, count: zero.layout.partitionSize), v = m
        for (index, (name, parameter)) in zero.parameters.enumerated() {
            let whole = try shards.parameter(name)
            guard whole.shape == parameter.shape else {
                throw FileError(file: shards.folder, message: "\(name): checkpoint shape \(whole.shape), model \(parameter.shape)")
            }
            try zero.restore(parameter: index, values: whole.values)
            if let (range, offset) = zero.layout.ownedPieces(ofParameter: index, rank: zero.partitionRank) {
                for (k, element) in range.enumerated() { m[offset + k] = whole.expAvg[element]; v[offset + k] = whole.expAvgSq[element] }
            }
        }
        try zero.restoreMoments(m, v, step: shards.optimizerStep)
        return (shards.step, shards.client, shards.runState)
    }

    /// Restores `zero` from a consolidated checkpoint (`consolidate`'s output, or a run without
    /// ZeRO): the model's parameters must already hold its values (loaded before `zero` was made);
    /// Adam's state is taken by parameter when present.
    public static func load(_ zero: ZeROOptimizer, consolidated checkpoint: Checkpoint, file: String) throws {
        let state = Dictionary(checkpoint.optimizerState, uniquingKeysWith: { $1 })
        var m = [Float](repeating: 0, count: zero.layout.partitionSize), v = m
        for (index, (name, _)) in zero.parameters.enumerated() {
            guard let (range, offset) = zero.layout.ownedPieces(ofParameter: index, rank: zero.partitionRank) else { continue }
            guard let first = state[name + ".exp_avg"], let second = state[name + ".exp_avg_sq"] else {
                throw FileError(file: file, message: "no optimiser state for \(name) (exp_avg, exp_avg_sq)")
            }
            let mValues = first.scalars(as: Float.self), vValues = second.scalars(as: Float.self)
            for (k, element) in range.enumerated() { m[offset + k] = mValues[element]; v[offset + k] = vValues[element] }
        }
        try zero.restoreMoments(m, v, step: Int(state["step"]?.item() ?? Double(checkpoint.step)))
    }

    /// Writes a one-process run's whole state straight into one SciZoo checkpoint, the file
    /// `consolidate` would make from its shards (no shards written and read back).
    public static func saveConsolidated(_ zero: ZeROOptimizer, output: String, step: Int, client: String = "{}", runState: String? = nil) throws {
        precondition(zero.groups.world.size == 1, "saveConsolidated: a world of one owns the whole model; use save on \(zero.groups.world.size) ranks")
        let (m, v) = try zero.momentsOfPartition()
        let owned = zero.parameters.indices.compactMap { index in zero.layout.ownedPieces(ofParameter: index, rank: 0).map { (index, $0) } }
        try writeConsolidated(output: output, step: step, client: client, runState: runState, optimizerStep: zero.stepCount, weightsOnly: false,
                              names: owned.map { zero.parameters[$0.0].0 }) { k in
            let (index, (range, offset)) = owned[k]
            let values = try zero.ownedValues(ofParameter: index, range: range, partitionOffset: offset)
            let slice = offset..<(offset + range.count)
            return (zero.parameters[index].1.shape, values, Array(m[slice]), Array(v[slice]))
        }
    }

    /// Streams the shards of a tag into one SciZoo checkpoint (parameters and, unless
    /// `weightsOnly`, Adam's state by parameter): one parameter in memory at a time.
    public static func consolidate(directory: String, tag: String? = nil, output: String, weightsOnly: Bool = false) throws -> Int {
        let shards = try Shards(directory: directory, tag: tag)
        try writeConsolidated(output: output, step: shards.step, client: shards.client, runState: shards.runState, optimizerStep: shards.optimizerStep,
                              weightsOnly: weightsOnly, names: shards.names) { k in
            let whole = try shards.parameter(shards.names[k])
            return (whole.shape, whole.values, whole.expAvg, whole.expAvgSq)
        }
        return shards.names.count
    }

    /// The consolidated checkpoint layout (Checkpoint's format): attributes, then each parameter's
    /// fp32 values and, unless `weightsOnly`, its Adam moments, made one at a time by `entry`.
    private static func writeConsolidated(
        output: String, step: Int, client: String, runState: String?, optimizerStep: Int, weightsOnly: Bool, names: [String],
        entry: (Int) throws -> (shape: [Int], values: [Float], expAvg: [Float], expAvgSq: [Float])
    ) throws {
        try HDF5File.writeAtomically(to: output) { file in
            try file.setAttribute("format", .string(Checkpoint.format))
            try file.setAttribute("version", .int(Checkpoint.version))
            try file.setAttribute("step", .int(Int64(step)))
            try file.setAttribute("config", .string(client))
            if let runState { try file.setAttribute("run_state", .string(runState)) }
            let root = try file.root
            let parameters = try root.createGroup("parameters")
            let optimizer = try root.createGroup("optimizer")
            for (k, name) in names.enumerated() {
                let whole = try entry(k)
                let checked = HDF5DatasetOptions.checksummed(shape: whole.shape)
                try parameters.write(name, whole.values, shape: whole.shape, options: checked)
                if !weightsOnly {
                    try optimizer.write(name + ".exp_avg", whole.expAvg, shape: whole.shape, options: checked)
                    try optimizer.write(name + ".exp_avg_sq", whole.expAvgSq, shape: whole.shape, options: checked)
                }
            }
            if !weightsOnly { try optimizer.write("step", [Int64(optimizerStep)], shape: []) }
        }
    }
}
