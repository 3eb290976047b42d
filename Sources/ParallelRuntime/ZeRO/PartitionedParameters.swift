// ZeRO stage 3's parameter coordinator (partition_parameters.py, partitioned_param_coordinator.py):
// every parameter is split into shards of ceil(numel / N); a module's parameters are all-gathered
// just before it runs (forward, and again when the backward reaches it) and released just after,
// unless smaller than stage3_param_persistence_threshold. When the backward leaves a module its
// gradients are reduce-scattered to their owners and freed. The order in which modules ask for
// their parameters is recorded in the first step; later steps prefetch the next module's
// parameters with a non-blocking all-gather while the current one computes. A step whose order
// differs (AlphaFold's recycling, a validation pass without backward) drops the trace and fetches
// on demand until a new one is recorded.
import Foundation
import NeuralNetworks
import TensorCore

final class PartitionedParameters: ModuleHooks {
    let parameters: [Parameter]
    let names: [String]
    let layout: PartitionLayout
    let communicator: any Communicator
    let persistent: [Bool]
    let prefetchLimit: Int
    /// This rank's fp32 shards of every parameter (the master copy the optimiser updates).
    let master: PartitionArray
    /// This rank's shards of the gradients, summed over ranks and micro-batches.
    let gradients: PartitionArray
    private(set) var available: [Bool]
    private var moduleIndices: [ObjectIdentifier: [Int]] = [:]
    private let indexOfParameter: [ObjectIdentifier: Int]
    // The recorded module order and where this step is in it.
    private var trace: [ObjectIdentifier] = []
    private var recording = true
    private var position = 0
    private var prefetched: (module: ObjectIdentifier, indices: [Int], operation: PendingOperation<[Float]>)?
    private(set) var traceInvalidations = 0
    private(set) var prefetchHits = 0

    var rank: Int { communicator.rank }
    var ranks: Int { communicator.size }

    init(_ named: [(String, Parameter)], communicator: any Communicator, persistenceThreshold: Int, prefetchLimit: Int,
         masterTier: PartitionArray.Tier, gradientTier: PartitionArray.Tier, swapFolder: String?) throws {
        parameters = named.map(\.1)
        names = named.map(\.0)
        self.communicator = communicator
        layout = PartitionLayout(kind: .perParameter, counts: parameters.map(\.value.count), ranks: communicator.size)
        persistent = parameters.map { $0.value.count < persistenceThreshold }
        self.prefetchLimit = prefetchLimit
        self.master = try PartitionArray(count: layout.partitionSize, tier: masterTier, path: swapFolder.map { $0 + "/fp32_params.tensor.swp" })
        self.gradients = try PartitionArray(count: layout.partitionSize, tier: gradientTier, path: swapFolder.map { $0 + "/gradients.tensor.swp" })
        available = Array(repeating: true, count: parameters.count)
        indexOfParameter = Dictionary(uniqueKeysWithValues: parameters.enumerated().map { (ObjectIdentifier($0.element), $0.offset) })
        // Partition: keep our shard of every parameter, then free the whole ones (every rank starts
        // from the same values, so nothing needs to travel). A parameter still pending (built inside
        // `Parameter.deferringValues`, DeepSpeed's zero.Init) has its shard made from its rule, and
        // its whole values never exist on any rank; persistent ones are made whole.
        for index in parameters.indices {
            let pending = persistent[index] ? nil : parameters[index].takePendingValues()
            if persistent[index] { parameters[index].materialize() }
            try self.master.write(layout.offsets[index]..<(layout.offsets[index] + layout.shardSizes[index]),
                                  ownShard(of: index, pending: pending))
        }
        release(Array(parameters.indices))
    }

    private func ownShard(of index: Int, pending: InitialValues?) -> [Float] {
        let size = layout.shardSizes[index]
        var shard = [Float](repeating: 0, count: size)
        guard let (range, _) = layout.ownedPieces(ofParameter: index, rank: rank) else { return shard }
        if let pending {
            for (k, value) in pending.elements(range).enumerated() { shard[k] = Float(value) }
            return shard
        }
        parameters[index].value.withElements(as: Float.self) { values in
            for (k, element) in range.enumerated() { shard[k] = values[element] }
        }
        return shard
    }

    func indices(of module: Module) -> [Int] {
        let key = ObjectIdentifier(module)
        if let cached = moduleIndices[key] { return cached }
        let found = module.namedParameters().compactMap { indexOfParameter[ObjectIdentifier($0.1)] }.sorted()
        moduleIndices[key] = found
        return found
    }

    // MARK: Gather and release

    private func startGather(_ indices: [Int]) throws -> PendingOperation<[Float]> {
        var send: [Float] = []
        for index in indices { send += try master.read(layout.offsets[index]..<(layout.offsets[index] + layout.shardSizes[index])) }
        return try communicator.startAllGather(send)
    }

    private func finishGather(_ indices: [Int], _ gathered: [Float]) {
        let width = indices.reduce(0) { $0 + layout.shardSizes[$1] }
        var within = 0
        for index in indices {
            if !available[index] {
                parameters[index].value.storage.restore { base in
                    unshard(index, from: gathered, blockWidth: width, at: within, into: base.assumingMemoryBound(to: Float.self))
                }
                available[index] = true
            }
            within += layout.shardSizes[index]
        }
    }

    /// Makes the parameters whole (using a prefetch of the same module when there is one).
    func gather(_ indices: [Int], for module: ObjectIdentifier?) throws {
        if let pending = prefetched, pending.module == module {
            prefetched = nil
            finishGather(pending.indices, try pending.operation.wait())
            prefetchHits += 1
        }
        let missing = indices.filter { !available[$0] }
        guard !missing.isEmpty else { return }
        finishGather(missing, try startGather(missing).wait())
    }

    func release(_ indices: [Int]) {
        for index in indices where available[index] && !persistent[index] {
            parameters[index].value.storage.release()
            available[index] = false
        }
    }

    /// Reduce-scatters the gradients of `indices` (coalesced: block r holds every tensor's r-th
    /// shard), adds this rank's shards to `gradients` and frees the whole gradients.
    func reduceGradients(_ indices: [Int]) throws {
        let pending = indices.filter { parameters[$0].grad != nil }
        guard !pending.isEmpty else { return }
        let width = pending.reduce(0) { $0 + layout.shardSizes[$1] }
        var send = [Float](repeating: 0, count: width * ranks)
        var within = 0
        for index in pending {
            let size = layout.shardSizes[index], count = layout.counts[index]
            parameters[index].grad!.withElements(as: Float.self) { g in
                for target in 0..<ranks {
                    let start = target * size, take = Swift.max(0, Swift.min(size, count - start))
                    for k in 0..<take { send[target * width + within + k] = g[start + k] }
                }
            }
            parameters[index].zeroGrad()
            within += size
        }
        let mine = try communicator.reduceScatter(send, .sum)
        within = 0
        for index in pending {
            let size = layout.shardSizes[index]
            try gradients.add(layout.offsets[index]..<(layout.offsets[index] + size), Array(mine[within..<(within + size)]))
            within += size
        }
    }

    /// Parameter `index` whole from an all-gather: rank r's block of `blockWidth` values holds its
    /// shard at `offset` (padding beyond numel is dropped).
    private func unshard(_ index: Int, from gathered: [Float], blockWidth: Int, at offset: Int, into destination: UnsafeMutablePointer<Float>) {
        let size = layout.shardSizes[index], count = layout.counts[index]
        for source in 0..<ranks {
            let start = source * size, take = Swift.max(0, Swift.min(size, count - start))
            for k in 0..<take { destination[start + k] = gathered[source * blockWidth + offset + k] }
        }
    }

    /// Copies of every parameter's full values (one all-gather of the partitions; the parameters
    /// themselves stay as they are).
    func wholeCopies() throws -> [[Float]] {
        let all = try communicator.allGather(try master.read(0..<layout.partitionSize))
        return parameters.indices.map { index in
            var values = [Float](repeating: 0, count: layout.counts[index])
            values.withUnsafeMutableBufferPointer {
                unshard(index, from: all, blockWidth: layout.partitionSize, at: layout.offsets[index], into: $0.baseAddress!)
            }
            return values
        }
    }

    // MARK: Trace and prefetch

    private func advance(_ module: ObjectIdentifier) throws {
        if recording {
            trace.append(module)
            return
        }
        if position < trace.count && trace[position] == module {
            position += 1
            return
        }
        // The order changed: finish any prefetch (every rank sees the same change) and record anew.
        if let pending = prefetched {
            prefetched = nil
            finishGather(pending.indices, try pending.operation.wait())
        }
        traceInvalidations += 1
        trace = [module]
        recording = true
        position = 0
    }

    private func prefetchNext() throws {
        guard !recording, prefetched == nil, position < trace.count else { return }
        let next = trace[position]
        guard let indices = moduleIndices[next] else { return }
        let missing = indices.filter { !available[$0] }
        let elements = missing.reduce(0) { $0 + layout.counts[$1] }
        guard !missing.isEmpty, elements <= prefetchLimit else { return }
        prefetched = (next, missing, try startGather(missing))
    }

    /// The end of a backward pass: gradients nobody reduced yet (modules whose input needs no
    /// gradient) are reduced, every non-persistent parameter is released, and the trace is
    /// complete (or found different).
    func finishBackward() throws {
        if let pending = prefetched {
            prefetched = nil
            finishGather(pending.indices, try pending.operation.wait())
        }
        try reduceGradients(Array(parameters.indices))
        release(Array(parameters.indices))
        if recording {
            recording = trace.isEmpty
        } else if position != trace.count {
            traceInvalidations += 1
            trace = []
            recording = true
        }
        position = 0
    }

    /// After the optimiser step: persistent parameters take their new values.
    func refreshPersistent() throws {
        let indices = parameters.indices.filter { persistent[$0] }
        guard !indices.isEmpty else { return }
        for index in indices { available[index] = false }
        finishGather(indices, try startGather(indices).wait())
    }

    // MARK: ModuleHooks (a collective that fails here cannot be reported to the model's caller)

    private func orAbort(_ body: () throws -> Void) {
        do { try body() } catch { fatalError("ZeRO stage 3: \(error)") }
    }

    func willRun(_ module: Module) {
        orAbort {
            let key = ObjectIdentifier(module)
            try advance(key)
            try gather(indices(of: module), for: key)
            try prefetchNext()
        }
    }

    func didRun(_ module: Module) { release(indices(of: module)) }

    func willDifferentiate(_ module: Module) { willRun(module) }

    func didDifferentiate(_ module: Module) {
        orAbort {
            let indices = indices(of: module)
            try reduceGradients(indices)
            release(indices)
        }
    }
}
