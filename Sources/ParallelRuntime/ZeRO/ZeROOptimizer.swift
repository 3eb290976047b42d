// ZeRO with Adam/AdamW (deepspeed/runtime/zero/stage_1_and_2.py, stage3.py): every rank of the
// sequence-data-parallel group owns one partition and keeps Adam's moments for it only (stage 1);
// stage 2 also keeps only its partition of the averaged gradients; stage 3 also partitions the
// parameters (PartitionedParameters gathers them per module). A stage 1–2 step reduce-scatters
// the gradients in buckets (averaged over DP, summed over SP), clips by the global norm, updates
// the owned partition sub-group by sub-group (through the NVMe tier when offloaded), and
// all-gathers the updated partitions back into every rank's parameters.
// Model states are float32 (SciZoo's CPU kernels compute in float32).
import Foundation
import Kernels
import NeuralNetworks
import TensorCore
import TensorIO

/// Adam's hyper-parameters (PyTorch's semantics; `decoupled` is AdamW).
public struct AdamSettings: Sendable {
    public var learningRate: Double
    public var beta1 = 0.9, beta2 = 0.999, epsilon = 1e-8, weightDecay = 0.0
    public var decoupled = false
    /// Paths of parameters that get no weight decay (ClimaX's embeddings, as its configure_optimizers).
    public var decayExempt: Set<String> = []
    /// DeepSpeed's 1-bit Adam (`OneBitAdam`, `freeze_step`): this many warm-up steps of Adam on
    /// all-reduced gradients, then the variance frozen and the momentum all-reduced at one bit per
    /// value with error feedback (`OneBitCompression`). As upstream, no bias correction, and weight
    /// decay added to the update. Data parallelism at ZeRO stage 0 only, as upstream.
    public var oneBitFreezeStep: Int?
    public init(learningRate: Double, beta1: Double = 0.9, beta2: Double = 0.999, epsilon: Double = 1e-8,
                weightDecay: Double = 0, decoupled: Bool = false, decayExempt: Set<String> = []) {
        self.learningRate = learningRate
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
        self.weightDecay = weightDecay
        self.decoupled = decoupled
        self.decayExempt = decayExempt
    }
}

/// Bytes of model state one rank holds, by kind and tier, next to the stage's formula.
public struct ModelStateReport: Sendable, CustomStringConvertible {
    public var stage: Int
    public var ranks: Int
    public var parameterCount: Int
    public var parameters: Int
    public var gradients: Int
    public var optimizerResident: Int
    public var optimizerHost: Int
    public var optimizerFiles: Int
    /// The NVMe tier's I/O buffers (overhead, not model state).
    public var ioBuffers = 0
    /// In memory (tensor memory and host): what the formula counts.
    public var inMemory: Int { parameters + gradients + optimizerResident + optimizerHost }
    public var total: Int { parameters + gradients + optimizerResident + optimizerHost + optimizerFiles }

    /// Stage 3: elements of the parameters kept whole (under stage3_param_persistence_threshold).
    public var persistentParameterCount = 0

    /// float32 parameters (4Ψ), gradients (4Ψ) and Adam's m and v (8Ψ), partitioned by stage over
    /// N ranks; stage 3 also keeps whole copies of its Ψp persistent parameters (their fp32
    /// master shards are partitioned like the rest): 4Ψp + (4Ψ + 4Ψ + 8Ψ)/N.
    public static func formula(stage: Int, parameters psi: Int, ranks n: Int, persistent: Int = 0) -> Int {
        let p = 4 * psi, g = 4 * psi, o = 8 * psi
        switch stage {
        case 0: return p + g + o
        case 1: return p + g + o / n
        case 2: return p + (g + o) / n
        default: return 4 * persistent + (p + g + o) / n
        }
    }
    public var formulaBytes: Int { Self.formula(stage: stage, parameters: parameterCount, ranks: ranks, persistent: persistentParameterCount) }

    public var description: String {
        func mib(_ bytes: Int) -> String { String(format: "%.2f MiB", Double(bytes) / 1_048_576) }
        return "ZeRO stage \(stage) on \(ranks) rank(s), Ψ = \(parameterCount): parameters \(mib(parameters)), gradients \(mib(gradients)), "
            + "Adam states \(mib(optimizerResident)) resident + \(mib(optimizerHost)) host + \(mib(optimizerFiles)) on NVMe; "
            + "model states \(mib(total)) (in memory \(mib(inMemory))) vs formula \(mib(formulaBytes))"
            + (ioBuffers > 0 ? "; NVMe I/O buffers \(mib(ioBuffers))" : "")
    }
}

public final class ZeROOptimizer {
    public let stage: Int
    public let parameters: [(String, Parameter)]
    public let groups: ProcessGroups
    public let settings: ZeROSettings
    public var adam: AdamSettings
    public let gradientClipping: Double
    public let layout: PartitionLayout
    public private(set) var stepCount = 0
    /// The global gradient norm before clipping, of the last step.
    public private(set) var lastGradientNorm = 0.0
    let store: any OptimizerStateStore
    /// Stage 2: this rank's partition of the averaged gradients, kept between reduce and update.
    private var ownedGradient: Tensor?
    /// This rank's NVMe folders: emptied at start, removed at exit.
    private var swapFolders: [String] = []
    /// Stage 3's parameter coordinator.
    let partitions: PartitionedParameters?

    /// Stage 3: set as the model's `parameterHooks`, so each module gathers its parameters to run.
    public var hooks: (any ModuleHooks)? { partitions }

    var communicator: any Communicator { groups.sequenceDataParallel }
    var rank: Int { stage == 0 ? 0 : communicator.rank }

    /// - Parameters: `parameters` float32, in the same order on every rank.
    public init(_ parameters: [(String, Parameter)], settings: ZeROSettings, adam: AdamSettings, groups: ProcessGroups,
                gradientClipping: Double = 0) throws {
        for (path, parameter) in parameters where parameter.value.dtype != .float32 {
            throw FileError(file: "zero_optimization", message: "parameter \(path) is \(parameter.value.dtype); ZeRO keeps float32 model states")
        }
        stage = settings.stage
        self.parameters = parameters
        // Parameters built as rules are made whole here unless stage 3 makes each rank's shards only.
        if settings.stage != 3 { parameters.forEach { $0.1.materialize() } }
        self.groups = groups
        self.settings = settings
        self.adam = adam
        self.gradientClipping = gradientClipping
        let ranks = settings.stage == 0 ? 1 : groups.sequenceDataParallel.size
        layout = PartitionLayout(kind: settings.stage == 3 ? .perParameter : .flat, counts: parameters.map { $0.1.value.count }, ranks: ranks)
        let owned = layout.partitionSize
        var folders: [String] = []
        func freshFolder(_ path: String) throws -> String {
            try? FileManager.default.removeItem(atPath: path)
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
            folders.append(path)
            return path
        }
        if settings.stage == 3 {
            func tier(_ device: OffloadSettings.Device) -> PartitionArray.Tier {
                switch device { case .none: .resident; case .cpu: .host; case .nvme: .file }
            }
            let usesFiles = settings.offloadParam.device == .nvme || settings.offloadOptimizer.device == .nvme
            let root = settings.offloadParam.nvmePath ?? settings.offloadOptimizer.nvmePath
            let folder = try root.flatMap { usesFiles ? try freshFolder($0 + "/zero_stage_3/rank\(groups.world.rank)") : nil }
            partitions = try PartitionedParameters(parameters, communicator: groups.sequenceDataParallel,
                                                   persistenceThreshold: settings.paramPersistenceThreshold,
                                                   prefetchLimit: settings.prefetchBucketSize,
                                                   masterTier: tier(settings.offloadParam.device),
                                                   gradientTier: tier(settings.offloadOptimizer.device), swapFolder: folder)
        } else {
            partitions = nil
        }
        switch settings.offloadOptimizer.device {
        case .none: store = MemoryStateStore(count: owned, subGroupSize: settings.subGroupSize, offloadedToHost: false)
        case .cpu: store = MemoryStateStore(count: owned, subGroupSize: settings.subGroupSize, offloadedToHost: true)
        case .nvme:
            let folder = try freshFolder(settings.offloadOptimizer.nvmePath! + "/zero_stage_\(settings.stage)/optimizer/rank\(groups.world.rank)")
            store = try NVMeStateStore(count: owned, subGroupSize: settings.subGroupSize, folder: folder)
        }
        swapFolders = folders
        if adam.oneBitFreezeStep != nil, settings.stage != 0 || groups.sequenceParallelSize != 1 {
            throw FileError(file: "optimizer", message: "OneBitAdam compresses data-parallel all-reduces at ZeRO stage 0 only "
                            + "(stage \(settings.stage), sequence-parallel size \(groups.sequenceParallelSize)), as DeepSpeed's")
        }
        try checkBudget()
    }

    /// 1-bit Adam's error feedback per compressed piece (keyed by its flat offset), reset on resume as upstream.
    private var oneBitFeedback: [Int: OneBitCompression.ErrorFeedback] = [:]


    /// Refuses a layout whose resident model states exceed `settings.memoryBudget`.
    private func checkBudget() throws {
        guard let budget = settings.memoryBudget, residentModelStateBytes > budget else { return }
        func mib(_ bytes: Int) -> String { String(format: "%.1f MiB", Double(bytes) / 1_048_576) }
        throw FileError(file: "zero_optimization", message: "stage \(stage) keeps \(mib(residentModelStateBytes)) of model states in memory "
            + "on this rank, over the memory budget of \(mib(budget)); use stage 3 with offload_param and offload_optimizer on nvme "
            + "(or more ranks)")
    }

    /// Model-state bytes this rank keeps in memory (tensor memory and host) at its busiest between
    /// steps: parameters, gradients and Adam's moments on their tiers, plus the NVMe I/O buffers.
    /// Stage 3 adds the whole copies of persistent parameters; the gathered module of the moment
    /// is working memory, like activations.
    public var residentModelStateBytes: Int {
        let psi = layout.total
        let optimizer = store.residentBytes + store.hostBytes + store.bufferBytes
        switch stage {
        case 0, 1: return 4 * psi + 4 * psi + optimizer
        case 2: return 4 * psi + 4 * layout.partitionSize + optimizer
        default:
            let persistent = partitions.map { p in p.parameters.indices.filter { p.persistent[$0] }.reduce(0) { $0 + 4 * layout.counts[$1] } } ?? 0
            let shards = (partitions?.master.residentBytes ?? 0) + (partitions?.master.hostBytes ?? 0)
                + (partitions?.gradients.residentBytes ?? 0) + (partitions?.gradients.hostBytes ?? 0)
            return persistent + shards + optimizer
        }
    }

    deinit {
        for folder in swapFolders { try? FileManager.default.removeItem(atPath: folder) }
    }

    /// Call after backward on every rank (gradients may be missing: they count as zeros).
    public func step() throws {
        stepCount += 1
        if let partitions { return try stepPartitioned(partitions) }
        if let freezeStep = adam.oneBitFreezeStep { return try stepOneBit(freezeStep: freezeStep) }
        var gradient = try reducedOwnedGradient()
        // Global norm over the owned partitions (padding is zero), as clip_grad_norm_ over the whole model.
        if gradientClipping > 0 || stage > 0 {
            let local = Self.squaredSum(gradient)
            let total = stage == 0 ? local : try communicator.allReduce([local], .sum)[0]
            lastGradientNorm = total.squareRoot()
        }
        if gradientClipping > 0 { clip(&gradient) }
        var owned = ownedParameters()
        let hyper = AdamStep(learningRate: adam.learningRate, beta1: adam.beta1, beta2: adam.beta2, epsilon: adam.epsilon,
                             weightDecay: adam.weightDecay, decoupled: adam.decoupled, step: stepCount)
        try gradient.withElements(as: Float.self) { g in
            try owned.update(as: Float.self) { p in
                try store.forEachSubGroup { range, m, v in
                    forEachDecayPiece(of: range, hyper) { piece, step in
                        let skip = piece.lowerBound - range.lowerBound
                        adamUpdate(p.baseAddress! + piece.lowerBound, g.baseAddress! + piece.lowerBound, m + skip, v + skip, count: piece.count, step)
                    }
                }
            }
        }
        if stage == 2 { ownedGradient = gradient } else { ownedGradient = nil }
        try gatherParameters(owned)
    }

    /// Σ g² of a float32 gradient, accumulated in Double.
    private static func squaredSum(_ gradient: Tensor) -> Double {
        var sum = 0.0
        gradient.withElements(as: Float.self) { g in for value in g { sum += Double(value) * Double(value) } }
        return sum
    }

    /// Scales `gradient` down to `gradientClipping` when `lastGradientNorm` exceeds it (clip_grad_norm_).
    private func clip(_ gradient: inout Tensor) {
        let factor = gradientClipping / (lastGradientNorm + 1e-6)
        if factor < 1 { gradient = gradient * factor }
    }

    /// 1-bit Adam (stage 0): warm-up steps on all-reduced gradients update m and v; afterwards each
    /// rank folds its own gradient into m, m is all-reduced at one bit per value (per parameter, as
    /// upstream's per-tensor compression), and v stays frozen. update = m / (√v + ε) + wd·p.
    private func stepOneBit(freezeStep: Int) throws {
        let compressing = stepCount > freezeStep && groups.dataParallelSize > 1
        var gradient = compressing ? flatGradient(padded: false) : try reducedOwnedGradient()
        let local = Self.squaredSum(gradient)
        // Compressing: the root of the ranks' summed squared norms over the rank count (the local
        // gradients are not averaged any more); warming up: the averaged gradient's norm.
        lastGradientNorm = compressing ? (try communicator.allReduce([local], .sum)[0]).squareRoot() / Double(groups.dataParallelSize)
            : local.squareRoot()
        if gradientClipping > 0, !compressing { clip(&gradient) }
        var owned = ownedParameters()
        let (beta1, beta2, epsilon) = (Float(adam.beta1), Float(adam.beta2), Float(adam.epsilon))
        let hyper = AdamStep(learningRate: adam.learningRate, beta1: adam.beta1, beta2: adam.beta2, epsilon: adam.epsilon,
                             weightDecay: adam.weightDecay, decoupled: true, step: stepCount)
        let offsets = layout.counts.reduce(into: [0]) { $0.append($0.last! + $1) }
        try gradient.withElements(as: Float.self) { g in
            try owned.update(as: Float.self) { p in
                try store.forEachSubGroup { range, m, v in
                    for index in range {
                        let k = index - range.lowerBound
                        m[k] = beta1 * m[k] + (1 - beta1) * g[index]
                        if !compressing { v[k] = beta2 * v[k] + (1 - beta2) * g[index] * g[index] }
                    }
                    if compressing {
                        for parameter in parameters.indices {
                            let piece = Swift.max(range.lowerBound, offsets[parameter])..<Swift.min(range.upperBound, offsets[parameter + 1])
                            guard !piece.isEmpty else { continue }
                            let start = piece.lowerBound - range.lowerBound
                            let momentum = Array(UnsafeBufferPointer(start: m + start, count: piece.count))
                            var feedback = oneBitFeedback[piece.lowerBound] ?? .init(count: piece.count, ranks: groups.dataParallelSize)
                            let averaged = try OneBitCompression.allReduceMean(momentum, feedback: &feedback, over: communicator)
                            oneBitFeedback[piece.lowerBound] = feedback
                            for (offset, value) in averaged.enumerated() { m[start + offset] = value }
                        }
                    }
                    forEachDecayPiece(of: range, hyper) { piece, step in
                        let (rate, decay) = (Float(step.learningRate), Float(step.weightDecay))
                        for index in piece {
                            let k = index - range.lowerBound
                            p[index] -= rate * (m[k] / (v[k].squareRoot() + epsilon) + decay * p[index])
                        }
                    }
                }
            }
        }
        ownedGradient = nil
        try gatherParameters(owned)
    }

    /// This rank's partition offsets of parameters exempt from weight decay, sorted.
    private lazy var exemptRanges: [Range<Int>] = {
        guard !adam.decayExempt.isEmpty else { return [] }
        return parameters.indices.filter { adam.decayExempt.contains(parameters[$0].0) }.compactMap { index in
            layout.ownedPieces(ofParameter: index, rank: rank).map { $0.partitionOffset..<($0.partitionOffset + $0.range.count) }
        }.sorted { $0.lowerBound < $1.lowerBound }
    }()

    /// Splits a partition range into pieces with and without weight decay and calls `body` on each.
    private func forEachDecayPiece(of range: Range<Int>, _ hyper: AdamStep, _ body: (Range<Int>, AdamStep) -> Void) {
        var start = range.lowerBound
        var exempt = hyper
        exempt.weightDecay = 0
        for cut in exemptRanges where cut.upperBound > start && cut.lowerBound < range.upperBound {
            if cut.lowerBound > start { body(start..<cut.lowerBound, hyper) }
            let end = Swift.min(cut.upperBound, range.upperBound)
            body(Swift.max(start, cut.lowerBound)..<end, exempt)
            start = end
        }
        if start < range.upperBound { body(start..<range.upperBound, hyper) }
    }

    /// Stage 3: the gradients reduced during the backward (and what is left), clipped by the
    /// global norm; each sub-group of the owned shards is read, updated and written back.
    private func stepPartitioned(_ partitions: PartitionedParameters) throws {
        try partitions.finishBackward()
        let divisor = Float(groups.dataParallelSize), size = layout.partitionSize
        var local = 0.0
        var start = 0
        while start < size {
            let end = Swift.min(size, start + (1 << 20))
            for value in try partitions.gradients.read(start..<end) { let g = Double(value / divisor); local += g * g }
            start = end
        }
        lastGradientNorm = try communicator.allReduce([local], .sum)[0].squareRoot()
        let factor = gradientClipping > 0 ? gradientClipping / (lastGradientNorm + 1e-6) : 1
        let hyper = AdamStep(learningRate: adam.learningRate, beta1: adam.beta1, beta2: adam.beta2, epsilon: adam.epsilon,
                             weightDecay: adam.weightDecay, decoupled: adam.decoupled, step: stepCount)
        try store.forEachSubGroup { range, m, v in
            var p = try partitions.master.read(range)
            var g = try partitions.gradients.read(range).map { $0 / divisor }
            if factor < 1 { g = g.map { $0 * Float(factor) } }
            p.withUnsafeMutableBufferPointer { pb in
                g.withUnsafeBufferPointer { gb in
                    forEachDecayPiece(of: range, hyper) { piece, step in
                        let skip = piece.lowerBound - range.lowerBound
                        adamUpdate(pb.baseAddress! + skip, gb.baseAddress! + skip, m + skip, v + skip, count: piece.count, step)
                    }
                }
            }
            try partitions.master.write(range, p)
        }
        try partitions.gradients.zero()
        try partitions.refreshPersistent()
    }

    /// Stage 0: all-reduced full gradients. Stages 1–2: this rank's partition of the summed
    /// gradients, reduce-scattered in buckets of reduce_bucket_size, divided by the DP size.
    private func reducedOwnedGradient() throws -> Tensor {
        if stage == 0 {
            try DataParallel.allReduceGradients(parameters, groups: groups, bucketBytes: settings.reduceBucketSize * 4)
            return flatGradient(padded: false)
        }
        let n = layout.ranks, size = layout.partitionSize
        let flat = flatGradient(padded: true)
        if stage == 2 { for (_, parameter) in parameters { parameter.zeroGrad() } }  // only the partition is kept
        let divisor = Float(groups.dataParallelSize)
        var result = [Float](repeating: 0, count: size)
        let values = flat.scalars(as: Float.self)
        if settings.reduceScatter {
            let perRank = Swift.max(1, settings.reduceBucketSize / n)
            var pending: [(Int, PendingOperation<[Float]>)] = []
            var start = 0
            while start < size {
                let end = Swift.min(size, start + perRank)
                var send: [Float] = []
                send.reserveCapacity((end - start) * n)
                for owner in 0..<n { send += values[(owner * size + start)..<(owner * size + end)] }
                pending.append((start, try communicator.startReduceScatter(send, .sum)))
                start = end
            }
            for (start, operation) in pending {
                for (index, value) in try operation.wait().enumerated() { result[start + index] = value / divisor }
            }
        } else {
            let summed = try communicator.allReduce(values, .sum)
            for index in 0..<size { result[index] = summed[rank * size + index] / divisor }
        }
        return Tensor(result, shape: [size])
    }

    /// Every gradient (zeros where missing) in parameter order, padded to N partitions if asked.
    private func flatGradient(padded: Bool) -> Tensor {
        var pieces = parameters.map { ($0.1.grad ?? .zeros($0.1.shape, dtype: .float32)).reshaped([-1]) }
        let padding = layout.partitionSize * layout.ranks - layout.total
        if padded && padding > 0 { pieces.append(.zeros([padding], dtype: .float32)) }
        return Tensor.concat(pieces, axis: 0).contiguous()
    }

    /// This rank's partition of the flat parameters (zeros on padding).
    private func ownedParameters() -> Tensor {
        var owned = [Float](repeating: 0, count: layout.partitionSize)
        for (index, (_, parameter)) in parameters.enumerated() {
            guard let (range, offset) = layout.ownedPieces(ofParameter: index, rank: rank) else { continue }
            parameter.value.withElements(as: Float.self) { values in
                for (k, element) in range.enumerated() { owned[offset + k] = values[element] }
            }
        }
        return Tensor(owned, shape: [owned.count])
    }

    /// All-gathers the updated partitions (buckets of allgather_bucket_size) into every parameter.
    private func gatherParameters(_ owned: Tensor) throws {
        let n = layout.ranks, size = layout.partitionSize
        let values = owned.scalars(as: Float.self)
        var flat = [Float](repeating: 0, count: n * size)
        if n == 1 {
            flat = values
        } else {
            let perRank = Swift.max(1, settings.allgatherBucketSize / n)
            var pending: [(Int, Int, PendingOperation<[Float]>)] = []
            var start = 0
            while start < size {
                let end = Swift.min(size, start + perRank)
                pending.append((start, end, try communicator.startAllGather(Array(values[start..<end]))))
                start = end
            }
            for (start, end, operation) in pending {
                let gathered = try operation.wait(), width = end - start
                for source in 0..<n {
                    for k in 0..<width { flat[source * size + start + k] = gathered[source * width + k] }
                }
            }
        }
        for (index, (_, parameter)) in parameters.enumerated() {
            let offset = layout.offsets[index], count = layout.counts[index]
            parameter.value.update(as: Float.self) { p in
                for k in 0..<count { p[k] = flat[offset + k] }
            }
        }
    }

    /// This rank's index among the partitions (0 for stage 0, whose one partition is everything).
    public var partitionRank: Int { rank }

    /// Adam's moments of this rank's partition (read through the store's tier).
    func momentsOfPartition() throws -> (m: [Float], v: [Float]) {
        var m = [Float](repeating: 0, count: layout.partitionSize), v = m
        try store.forEachSubGroup { range, mp, vp in
            for k in 0..<range.count { m[range.lowerBound + k] = mp[k]; v[range.lowerBound + k] = vp[k] }
        }
        return (m, v)
    }

    /// The fp32 values of `range` of parameter `index`, which this rank owns.
    func ownedValues(ofParameter index: Int, range: Range<Int>, partitionOffset: Int) throws -> [Float] {
        if let partitions { return try partitions.master.read(partitionOffset..<(partitionOffset + range.count)) }
        return parameters[index].1.value.withElements(as: Float.self) { Array($0[range]) }
    }

    /// Sets parameter `index` to `values` (stage 3: this rank's shard of them).
    func restore(parameter index: Int, values: [Float]) throws {
        if let partitions {
            let size = layout.shardSizes[index], offset = layout.offsets[index]
            var shard = [Float](repeating: 0, count: size)
            if let (range, _) = layout.ownedPieces(ofParameter: index, rank: rank) {
                for (k, element) in range.enumerated() { shard[k] = values[element] }
            }
            try partitions.master.write(offset..<(offset + size), shard)
            return
        }
        parameters[index].1.value.update(as: Float.self) { p in for k in values.indices { p[k] = values[k] } }
    }

    /// Sets Adam's moments of this rank's partition and the step count.
    func restoreMoments(_ m: [Float], _ v: [Float], step: Int) throws {
        try store.forEachSubGroup { range, mp, vp in
            for k in 0..<range.count { mp[k] = m[range.lowerBound + k]; vp[k] = v[range.lowerBound + k] }
        }
        stepCount = step
        try partitions?.refreshPersistent()
    }

    /// Every parameter's full float32 values, in order (stage 3 all-gathers the shards: call it on
    /// every rank).
    public func consolidatedParameters() throws -> [[Float]] {
        guard let partitions else { return parameters.map { $0.1.value.scalars(as: Float.self) } }
        return try partitions.wholeCopies()
    }

    /// Stage 3: bytes of parameter and gradient shards held in host memory outside the tensor allocator.
    public var hostTierBytes: Int { (partitions?.master.hostBytes ?? 0) + (partitions?.gradients.hostBytes ?? 0) }

    /// Stage 3: how often the recorded module order was dropped, and how many gathers a prefetch served.
    public var prefetchStatistics: (invalidations: Int, hits: Int)? {
        partitions.map { ($0.traceInvalidations, $0.prefetchHits) }
    }

    /// What this rank holds now (call after a step): parameters, gradients, Adam's moments by tier.
    public func memoryReport() -> ModelStateReport {
        let psi = layout.total
        if let partitions {
            let whole = partitions.parameters.indices.filter { partitions.available[$0] }.reduce(0) { $0 + 4 * layout.counts[$1] }
            let wholeGradients = partitions.parameters.reduce(0) { $0 + ($1.grad?.count ?? 0) * 4 }
            let persistent = partitions.parameters.indices.filter { partitions.persistent[$0] }.reduce(0) { $0 + layout.counts[$1] }
            return ModelStateReport(stage: 3, ranks: layout.ranks, parameterCount: psi,
                                    parameters: whole + partitions.master.residentBytes + partitions.master.hostBytes,
                                    gradients: wholeGradients + partitions.gradients.residentBytes + partitions.gradients.hostBytes,
                                    optimizerResident: store.residentBytes, optimizerHost: store.hostBytes,
                                    optimizerFiles: store.fileBytes + partitions.master.fileBytes + partitions.gradients.fileBytes,
                                    ioBuffers: store.bufferBytes, persistentParameterCount: persistent)
        }
        let heldGradients = parameters.reduce(0) { $0 + ($1.1.grad?.count ?? 0) * 4 } + (ownedGradient?.count ?? 0) * 4
        return ModelStateReport(stage: stage, ranks: stage == 0 ? communicator.size : layout.ranks, parameterCount: psi,
                                parameters: 4 * psi, gradients: heldGradients, optimizerResident: store.residentBytes,
                                optimizerHost: store.hostBytes, optimizerFiles: store.fileBytes, ioBuffers: store.bufferBytes)
    }
}
