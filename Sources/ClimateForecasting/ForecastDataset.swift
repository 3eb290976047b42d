// Forecast pairs from a split folder of HDF5 shards (upstream pretrain/dataset.py and
// global_forecast/datamodule.py): inputs at t, targets at t + lead inside one shard, scalar
// normalisation per variable, a shuffle buffer, and data-parallel sharding of the sample stream.
import Foundation
import TensorCore
import TensorIO

public final class ForecastDataset {
    public let directory: String
    public let files: [String]
    /// Long names of the inputs and outputs.
    public let variables: [String], outVariables: [String]
    public let leadHours: Int
    /// Lead in frames (leadHours / hours per frame).
    public let leadSteps: Int
    /// The shards, held whole or streamed frame by frame (`isStreamed`).
    public let shards: [GridShard]
    public let latitudes: [Double], longitudes: [Double]
    /// Normalisation of inputs and outputs (total precipitation's mean forced to 0).
    public let inputMean: [Double], inputStd: [Double]
    public let outputMean: [Double], outputStd: [Double]
    /// The split's time mean of each output variable `[H, W]`, physical units (for ACC).
    public let climatology: [[Float]]
    /// (shard, input frame) of every pair.
    public let pairs: [(shard: Int, time: Int)]
    /// Normalisation given instead of the files' own (kept for `atLead`).
    private let given: (mean: [String: Double], std: [String: Double])?
    /// Downscaling: time-varying inputs are seen coarsened and interpolated back (constants stay
    /// fine: a downscaler knows the fine orography and land mask); nil for forecasting.
    public let coarsening: GridCoarsening?

    /// Whether the grids' last row is left out (a 721-row grid read by a 720-row model).
    public var dropsLastRow: Bool { shards[0].rowLimit != nil }

    /// Whether frames are read from the files as samples ask for them (the split's fields exceed the memory limit).
    public var isStreamed: Bool { !shards.allSatisfy(\.isResident) }

    /// The default memory limit for holding a split whole: an eighth of the machine's memory.
    public static var defaultResidentLimit: Int { Int(ProcessInfo.processInfo.physicalMemory / 8) }

    /// Opens every `*.h5` / `*.nc` shard of `directory` (sorted by name), or the one file it
    /// names, with the variables needed: read whole when their fields fit in `residentLimit` bytes
    /// (default: an eighth of RAM), else streamed frame by frame at steady memory.
    /// - Parameter statistics: normalisation to use instead of the files' `/stats` (a trained
    ///   model's, for raw files); without `/climatology` the data's own time mean serves for ACC.
    public convenience init(directory: String, variables: [String], outVariables: [String], leadHours: Int,
                            statistics given: (mean: [String: Double], std: [String: Double])? = nil, residentLimit: Int? = nil,
                            coarsenInputs factor: Int? = nil, imageRows: Int? = nil) throws {
        let files: [String]
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory), !isDirectory.boolValue {
            files = [directory]
        } else {
            let names = ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [])
                .filter { $0.hasSuffix(".h5") || $0.hasSuffix(".hdf5") || $0.hasSuffix(".nc") }.sorted()
            guard !names.isEmpty else {
                throw FileError(file: directory, message: "no .h5 or .nc shards in this folder (scizoo climate-synth writes the synthetic "
                                       + "dataset, scizoo climate-convert converts ClimaX .npz or WeatherBench netCDF)")
            }
            files = names.map { directory + "/" + $0 }
        }
        let inputs = variables.map(ClimateVariables.canonical), outputs = outVariables.map(ClimateVariables.canonical)
        let needed = Array(Set(inputs + outputs)).sorted()
        // Each file is planned once; the split is then read whole or left streaming.
        let planned = try files.map { try GridShard.open(path: $0, variables: needed) }
        // A model one row short of the grid (720 of ERA5's 721) reads it without the last row, as FourCastNet does.
        if let imageRows, planned.allSatisfy({ $0.grid.height == imageRows + 1 }) {
            for shard in planned { shard.keepRows(imageRows) }
        }
        let resident = planned.reduce(0) { $0 + $1.fieldBytes } <= residentLimit ?? Self.defaultResidentLimit
        try self.init(directory: directory, files: files, shards: resident ? planned.map { try $0.readWhole() } : planned,
                      variables: inputs, outVariables: outputs, leadHours: leadHours, statistics: given, coarsenInputs: factor)
    }

    /// The same shards, already in memory, paired at another lead (forecasts at several leads read
    /// each file once).
    public func atLead(_ hours: Int) throws -> ForecastDataset {
        try ForecastDataset(directory: directory, files: files, shards: shards, variables: variables, outVariables: outVariables,
                            leadHours: hours, statistics: given, coarsenInputs: coarsening?.factor)
    }

    private init(directory: String, files: [String], shards: [GridShard], variables: [String], outVariables: [String], leadHours: Int,
                 statistics given: (mean: [String: Double], std: [String: Double])?, coarsenInputs factor: Int?) throws {
        (self.directory, self.files, self.shards) = (directory, files, shards)
        (self.variables, self.outVariables, self.leadHours, self.given) = (variables, outVariables, leadHours, given)
        let first = shards[0]
        latitudes = first.latitudes
        longitudes = first.longitudes
        for shard in shards.dropFirst() where shard.latitudes != latitudes || shard.longitudes != longitudes {
            throw FileError(file: shard.source, message: "grid differs from \(first.source)'s (\(shard.height)×\(shard.width) vs \(first.height)×\(first.width))")
        }
        let grid = (latitudes, longitudes)
        coarsening = try factor.map { try GridCoarsening(factor: $0, latitudes: grid.0, longitudes: grid.1, source: first.source) }
        let step = first.hoursPerStep ?? 1
        guard step > 0, Double(leadHours).truncatingRemainder(dividingBy: step) == 0 else {
            throw FileError(file: first.source, key: "variable 'time'", message: "lead of \(leadHours) h is not a whole number of \(step)-hour steps")
        }
        leadSteps = Int(Double(leadHours) / step)
        func statistics(_ names: [String]) throws -> ([Double], [Double]) {
            var means: [Double] = [], stds: [Double] = []
            for name in names {
                guard let mean = given?.mean[name] ?? first.mean[name], let std = given?.std[name] ?? first.std[name], std > 0 else {
                    throw FileError(file: first.source, key: "variable '\(name)'",
                                           message: "no normalisation statistics (/stats/mean and /stats/std); write them with scizoo climate-convert")
                }
                means.append(ClimateVariables.hasZeroMean(name) ? 0 : mean)
                stds.append(std)
            }
            return (means, stds)
        }
        (inputMean, inputStd) = try statistics(self.variables)
        (outputMean, outputStd) = try statistics(self.outVariables)
        let loaded = shards
        climatology = try self.outVariables.map { name in
            if let field = first.climatology[name] { return field }
            guard given != nil else {
                throw FileError(file: first.source, key: "variable '\(name)'", message: "no /climatology entry (needed for ACC)")
            }
            return try ForecastDataset.timeMean(of: name, in: loaded)
        }
        var pairs: [(Int, Int)] = []
        for (index, shard) in shards.enumerated() where shard.frames > leadSteps {
            pairs += (0..<(shard.frames - leadSteps)).map { (index, $0) }
        }
        guard !pairs.isEmpty else {
            throw FileError(file: directory, message: "no shard is longer than the lead of \(leadSteps) steps")
        }
        self.pairs = pairs
    }

    /// Time mean `[H, W]` of one variable over every frame of every shard.
    static func timeMean(of name: String, in shards: [GridShard]) throws -> [Float] {
        let size = shards[0].height * shards[0].width
        var sums = [Double](repeating: 0, count: size), count = 0
        for shard in shards {
            let frames = shard.isConstant(name) ? 1 : shard.frames
            for t in 0..<frames {
                let frame = try shard.frame(name, t)
                for i in 0..<size { sums[i] += Double(frame[frame.startIndex + i]) }
            }
            count += frames
        }
        return sums.map { Float($0 / Double(Swift.max(1, count))) }
    }

    public var height: Int { latitudes.count }
    public var width: Int { longitudes.count }

    /// This rank's batches for one epoch, as pair indices. With `shuffle`, shards are visited in a
    /// seeded random order and samples pass through a shuffle buffer of `bufferSize` (upstream's
    /// ShuffleIterableDataset); sample k of the stream goes to rank k mod `ranks`. Every rank gets
    /// the same number of whole batches.
    public func batches(epoch: Int, batchSize: Int, shuffle: Bool, bufferSize: Int = 10_000, seed: UInt64 = 0,
                        rank: Int = 0, ranks: Int = 1, dropLast: Bool = true) -> [[Int]] {
        var stream: [Int] = []
        if shuffle {
            var generator = RandomGenerator(seed: seed &+ UInt64(epoch) &* 0x9E37_79B9)
            let shardOrder = generator.permutation(shards.count)
            // One uniform draw per sample that arrives at a full buffer picks the slot it replaces.
            let draws = generator.uniform([pairs.count], dtype: .float64).doubles
            var buffer: [Int] = []
            let byShard = Dictionary(grouping: pairs.indices, by: { pairs[$0].shard })
            var arrivals = 0
            for shard in shardOrder {
                for index in byShard[shard] ?? [] {
                    if buffer.count == Swift.max(1, bufferSize) {
                        let slot = Swift.min(buffer.count - 1, Int(draws[arrivals] * Double(buffer.count)))
                        stream.append(buffer[slot])
                        buffer[slot] = index
                    } else {
                        buffer.append(index)
                    }
                    arrivals += 1
                }
            }
            stream += generator.permutation(buffer.count).map { buffer[$0] }
        } else {
            stream = Array(pairs.indices)
        }
        let mine = stream.enumerated().filter { $0.offset % ranks == rank }.map(\.element)
        let perRank = dropLast ? stream.count / ranks / batchSize : (mine.count + batchSize - 1) / batchSize
        return (0..<perRank).map { Array(mine[($0 * batchSize)..<Swift.min(mine.count, ($0 + 1) * batchSize)]) }
    }

    /// Normalised inputs `[B, V, H, W]`, normalised targets `[B, V_out, H', W']` (cropped to
    /// `region` when given) and lead times `[B]` in hours/100.
    public func batch(_ indices: [Int], region: PatchRegion? = nil) throws -> (inputs: Tensor, targets: Tensor, leadTimes: Tensor) {
        let (h, w) = (height, width), size = height * width
        var inputs = [Float](repeating: 0, count: indices.count * variables.count * size)
        let rows = region?.rows ?? 0..<h, columns = region?.columns ?? 0..<w
        var targets = [Float](repeating: 0, count: indices.count * outVariables.count * rows.count * columns.count)
        var offset = 0, targetOffset = 0
        for index in indices {
            let (shard, t) = pairs[index]
            let grid = shards[shard]
            for (v, name) in variables.enumerated() {
                let frame = try grid.frame(name, t)
                if let coarsening, !grid.isConstant(name) {
                    normaliseInput(coarsening.seenCoarse(frame), variable: v, into: &inputs, at: offset)
                } else {
                    normaliseInput(frame, variable: v, into: &inputs, at: offset)
                }
                offset += size
            }
            for (v, name) in outVariables.enumerated() {
                let frame = try grid.frame(name, t + leadSteps), mean = Float(outputMean[v]), scale = Float(1 / outputStd[v])
                for row in rows {
                    for column in columns {
                        targets[targetOffset] = (frame[frame.startIndex + row * w + column] - mean) * scale
                        targetOffset += 1
                    }
                }
            }
        }
        let lead = Float(Double(leadHours) / 100)
        return (Tensor(inputs, shape: [indices.count, variables.count, h, w]),
                Tensor(targets, shape: [indices.count, outVariables.count, rows.count, columns.count]),
                Tensor([Float](repeating: lead, count: indices.count), shape: [indices.count]))
    }

    /// Writes input variable `v`'s `[H, W]` field, normalised, into `buffer` from `offset` on:
    /// batches read from the shards and rollouts feeding forecasts back both go through here.
    public func normaliseInput<Field: Collection<Float>>(_ field: Field, variable v: Int, into buffer: inout [Float], at offset: Int) {
        let mean = Float(inputMean[v]), scale = Float(1 / inputStd[v])
        var o = offset
        for value in field { buffer[o] = (value - mean) * scale; o += 1 }
    }

    /// The reference forecast of output `name` for the pair (shard, t): persistence (the frame at t),
    /// or for downscaling the coarse field interpolated (the frame at t seen coarse).
    public func baselineField(_ name: String, shard: Int, time t: Int) throws -> ArraySlice<Float> {
        let frame = try shards[shard].frame(name, t)
        guard let coarsening else { return frame }
        return coarsening.seenCoarse(frame)[...]
    }

    /// What the reference forecast is called in tables and log keys.
    public var baselineName: String { coarsening == nil ? "persistence" : "interpolation" }

    /// The cells of a `[H, W]` field inside `region`, row by row (the whole field when nil).
    public func cropped(_ field: ArraySlice<Float>, to region: PatchRegion?) -> [Float] {
        guard let region else { return Array(field) }
        var out: [Float] = []
        out.reserveCapacity(region.rows.count * region.columns.count)
        for row in region.rows { for column in region.columns { out.append(field[field.startIndex + row * width + column]) } }
        return out
    }

    /// Physical values of output variable `v` from normalised ones.
    public func denormalise(_ value: Float, variable v: Int) -> Float { value * Float(outputStd[v]) + Float(outputMean[v]) }
}
